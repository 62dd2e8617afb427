"""Prometheus metrics, one registry per app (so several apps in one process do not collide)."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
COUNT_BUCKETS = (0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
SCORE_BUCKETS = tuple(i / 10 for i in range(1, 11))
JOB_BUCKETS = (1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
ATTEMPT_BUCKETS = (1, 2, 3, 4, 5, 10, 20)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "gateway_requests",
            "HTTP requests by route and status",
            ["route", "method", "status"],
            registry=r,
        )
        self.request_seconds = Histogram(
            "gateway_request_seconds",
            "HTTP request duration",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.in_flight = Gauge(
            "gateway_requests_in_flight", "HTTP requests being served", registry=r
        )
        # Admission's two counts (api/admission.py), read at scrape time: stalled uploads show
        # as receiving without taking processing slots.
        self.uploads_receiving = Gauge(
            "gateway_uploads_receiving", "Uploads whose body is still arriving", registry=r
        )
        self.predictions_processing = Gauge(
            "gateway_predictions_processing",
            "Predictions being processed (MAX_INFLIGHT_REQUESTS slots)",
            registry=r,
        )
        self.stage_seconds = Histogram(
            "gateway_stage_seconds",
            "Time per pipeline stage of /predict",
            ["stage"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.frames = Histogram(
            "gateway_sampled_frames", "Frames sampled per video", buckets=COUNT_BUCKETS, registry=r
        )
        self.faces = Histogram(
            "gateway_face_frames", "Frames with a face per video", buckets=COUNT_BUCKETS, registry=r
        )
        self.backend_errors = Counter(
            "gateway_backend_errors", "Scoring backend failures by kind", ["code"], registry=r
        )
        self.provenance = Counter(
            "gateway_provenance",
            "Answers by what the file declares about its origin (provenance.summary)",
            ["summary"],
            registry=r,
        )
        self.provenance_errors = Counter(
            "gateway_provenance_errors",
            "Uploads whose provenance could not be read (corrupt or hostile manifests), by code",
            ["code"],
            registry=r,
        )
        self.scores = Histogram(
            "gateway_video_score",
            "Video scores (P(fake)) by model version, to watch drift",
            ["model_version"],
            buckets=SCORE_BUCKETS,
            registry=r,
        )

        # Jobs (POST /jobs). The queue depth is the gateway's view (memory: this process;
        # Redis: the shared queue, read every few seconds); the rest is counted by whoever ran
        # the job: the gateway (memory) or a `deepfake-worker` (Redis, on WORKER_METRICS_PORT).
        self.jobs_queued = Gauge(
            "gateway_jobs_queued", "Jobs waiting to run (JOB_QUEUE_SIZE bounds it)", registry=r
        )
        self.jobs_finished = Counter(
            "gateway_jobs_finished", "Jobs ended, by final status", ["status"], registry=r
        )
        self.job_seconds = Histogram(
            "gateway_job_seconds",
            "Run time of a job's last attempt, start to end",
            buckets=JOB_BUCKETS,
            registry=r,
        )
        self.job_attempts = Histogram(
            "gateway_job_attempts",
            "Attempts per ended job (more than 1: a worker was lost mid-job)",
            buckets=ATTEMPT_BUCKETS,
            registry=r,
        )
        self.callbacks = Counter(
            "gateway_callback_deliveries",
            "Job callbacks by outcome (delivered, failed)",
            ["outcome"],
            registry=r,
        )

    def watch_job_queue(self, waiting: Callable[[], int]) -> None:
        """Report the job queue's depth on every scrape (memory backend)."""
        self.jobs_queued.set_function(waiting)

    def job_finished(
        self, status: str, started_at: float | None, finished_at: float, attempts: int
    ) -> None:
        self.jobs_finished.labels(status).inc()
        if started_at is not None:
            self.job_seconds.observe(max(0.0, finished_at - started_at))
        self.job_attempts.observe(attempts)

    def watch_admission(self, receiving: Callable[[], int], processing: Callable[[], int]) -> None:
        """Report admission's counts on every scrape."""
        self.uploads_receiving.set_function(receiving)
        self.predictions_processing.set_function(processing)
