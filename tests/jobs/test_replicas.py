"""Jobs across replicas, with real processes: two gateways and workers against one real Redis.
Any gateway answers for any job; a killed worker loses no job; Redis going away answers 503
and jobs resume when it is back. Waiting is polling with generous deadlines."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.jobs.conftest import (
    Cluster,
    ended,
    holder,
    running_with_frames,
    submit,
    wait_job,
    wait_started,
    wait_until,
    worker_metric,
)
from tests.routes.test_jobs import read_events
from tests.support.receiver import Receiver, receiver

DONE = 'gateway_jobs_finished_total{status="done"}'
CANCELLED = 'gateway_jobs_finished_total{status="cancelled"}'


def without_latency(answer: dict[str, Any]) -> dict[str, Any]:
    """The answer less its timings (latency_ms, provenance.seconds)."""
    timed = {**answer["provenance"], "seconds": None}
    return {**{k: v for k, v in answer.items() if k != "latency_ms"}, "provenance": timed}


def test_any_gateway_serves_any_job(
    cluster: Callable[..., Cluster], videos: dict[str, Path], long_clip: Path
) -> None:
    with receiver() as hook:
        _any_gateway_serves_any_job(cluster, videos, long_clip, hook)


def _any_gateway_serves_any_job(
    cluster: Callable[..., Cluster], videos: dict[str, Path], long_clip: Path, hook: Receiver
) -> None:
    c = cluster(CALLBACK_SECRET="s3cret", CALLBACK_ALLOW_HOSTS="127.0.0.1")
    a, b, worker = c.gateway("a"), c.gateway("b"), c.worker("w1")
    wait_started(a, b, worker)
    clip = videos["faces"]

    created = submit(a.url, clip, fps=5, callback_url=hook.url)
    assert created.status_code == 202, created.text
    job = created.json()
    assert created.headers["Location"] == f"/jobs/{job['id']}"
    assert (job["status"], job["attempts"]) == ("queued", 0)
    assert job["callback"] == {"status": "pending", "attempts": 0, "last_error": None}
    # Read and streamed on B: every change until the end, then the stream closes itself.
    with httpx.Client(base_url=b.url, timeout=60) as http:
        with http.stream("GET", f"/jobs/{job['id']}/events") as stream:
            assert stream.status_code == 200
            states = [json.loads(e["data"]) for e in read_events(stream.iter_lines())]
        done = http.get(f"/jobs/{job['id']}").json()
    assert states[-1] == done
    assert done["status"] == "done", done["error"]
    assert done["attempts"] == 1
    assert done["progress"] == {"frames": 20, "expected_frames": 20, "percent": 100.0}
    ids = [s["progress"]["frames"] for s in states]
    assert ids == sorted(ids)
    # The same answer as the in-process path for the same upload.
    with clip.open("rb") as f:
        direct = httpx.post(a.url + "/predict", params={"fps": 5}, files={"file": f}, timeout=60)
    assert without_latency(done["result"]) == without_latency(direct.json())
    assert c.storage_files() == []
    # The worker delivered the callback: what GET answers, its callback state aside.
    (sent,) = hook.wait_for(1, timeout=60)
    body = json.loads(sent.body)
    assert body["callback"]["attempts"] == 1
    delivered = wait_job(b.url, job["id"], lambda j: j["callback"]["status"] == "delivered")
    assert delivered["callback"] == {"status": "delivered", "attempts": 1, "last_error": None}
    drop = ("callback", "expires_at")  # expires_at: the record was re-saved with its TTL
    assert {k: v for k, v in body.items() if k not in drop} == {
        k: v for k, v in delivered.items() if k not in drop
    }
    assert worker_metric(worker, 'gateway_callback_deliveries_total{outcome="delivered"}') == 1

    # Created on A, cancelled on B while it runs: gone everywhere, its file too, the worker
    # stops (and counts it cancelled) instead of running the clip to its end.
    long = submit(a.url, long_clip, fps=10).json()
    wait_job(b.url, long["id"], running_with_frames)
    assert c.storage_files() == [f"job-{long['id']}.bin"]
    assert httpx.delete(f"{b.url}/jobs/{long['id']}", timeout=30).status_code == 204
    assert c.storage_files() == []
    for url in (a.url, b.url):
        gone = httpx.get(f"{url}/jobs/{long['id']}", timeout=30)
        assert (gone.status_code, gone.json()["code"]) == (404, "job_not_found")
    wait_until(lambda: worker_metric(worker, CANCELLED) == 1, "the worker never stopped")
    assert worker_metric(worker, DONE) == 1

    # A gateway restart forgets nothing: created on A, read on the restarted A.
    kept = submit(a.url, videos["short"]).json()
    a.stop()
    a2 = c.gateway("a2")
    wait_started(a2)
    assert wait_job(a2.url, kept["id"], ended)["status"] == "done"
    assert c.storage_files() == []


def test_a_killed_worker_loses_no_job(
    cluster: Callable[..., Cluster], long_clip: Path, videos: dict[str, Path]
) -> None:
    c = cluster()
    gateway = c.gateway("gw")
    workers = [c.worker("w1"), c.worker("w2")]
    wait_started(gateway, *workers)
    long = submit(gateway.url, long_clip, fps=10).json()
    wait_job(gateway.url, long["id"], running_with_frames)
    pid = holder(c, long["id"])
    victim, survivor = sorted(workers, key=lambda w: w.process.pid != pid)
    other = submit(gateway.url, videos["short"]).json()  # runs on the survivor meanwhile
    victim.kill()

    done = wait_job(gateway.url, long["id"], ended)
    assert (done["status"], done["attempts"]) == ("done", 2), done["error"]
    assert done["progress"]["frames"] == done["progress"]["expected_frames"] == 256  # MAX_FRAMES
    assert wait_job(gateway.url, other["id"], ended)["status"] == "done"
    # Each job ended once, on the survivor; nothing left behind.
    assert worker_metric(survivor, DONE) == 2
    assert c.storage_files() == []


def test_a_job_whose_workers_keep_dying_fails_with_a_clear_error(
    cluster: Callable[..., Cluster], long_clip: Path
) -> None:
    c = cluster(JOB_MAX_ATTEMPTS="1")
    gateway, first = c.gateway("gw"), c.worker("w1")
    wait_started(gateway, first)
    job = submit(gateway.url, long_clip, fps=10).json()
    wait_job(gateway.url, job["id"], running_with_frames)
    first.kill()
    second = c.worker("w2")
    wait_started(second)

    failed = wait_job(gateway.url, job["id"], ended)
    assert failed["status"] == "failed"
    assert failed["error"]["code"] == "worker_lost"
    assert failed["error"]["error"].startswith("A worker stopped 1 time while running this job")
    assert "JOB_MAX_ATTEMPTS=1" in failed["error"]["error"]
    assert (failed["attempts"], failed["error_status"], failed["result"]) == (1, 500, None)
    assert c.storage_files() == []


def test_redis_away_answers_503_and_jobs_resume_when_it_is_back(
    cluster: Callable[..., Cluster], long_clip: Path, videos: dict[str, Path]
) -> None:
    c = cluster(appendonly=True)
    gateway, worker = c.gateway("gw"), c.worker("w1")
    wait_started(gateway, worker)
    running = submit(gateway.url, long_clip, fps=10).json()
    waiting = submit(gateway.url, videos["short"]).json()  # JOB_WORKERS=1: queued behind
    wait_job(gateway.url, running["id"], running_with_frames)

    c.redis.stop()
    refused = submit(gateway.url, videos["short"])
    assert refused.status_code == 503, refused.text
    assert refused.json()["code"] == "jobs_unavailable"
    assert "Redis" in refused.json()["error"]
    assert refused.headers["Retry-After"] == "5"
    read = httpx.get(f"{gateway.url}/jobs/{running['id']}", timeout=30)
    assert (read.status_code, read.json()["code"]) == (503, "jobs_unavailable")
    ready = httpx.get(gateway.url + "/health/ready", timeout=30)
    assert ready.status_code == 503
    checks = ready.json()["checks"]
    assert checks["pipeline"] == "ok"
    assert "unreachable" in checks["jobs"]

    c.redis.start()  # same port, same append-only file
    wait_until(
        lambda: httpx.get(gateway.url + "/health/ready", timeout=30).status_code == 200,
        "never ready again",
    )
    after = submit(gateway.url, videos["short"])
    assert after.status_code == 202, after.text
    for job in (running, waiting, after.json()):
        assert wait_job(gateway.url, job["id"], ended)["status"] == "done"
    assert c.storage_files() == []
