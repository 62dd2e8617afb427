"""The Redis jobs deployment end to end on this machine, and its numbers: `python -m bench.jobs`
(`make bench-jobs`).

A real redis-server, two gateways (`python -m api.server`) on two ports and workers
(`python -m api.jobs.worker`), all sharing one job directory, with the shipped model in-process
in each worker. It shows, in order:

1. a job created on gateway A with a `callback_url`, followed on gateway B (its event stream:
   progress as frames are read), its result read on B, and the signed callback received and
   verified (`api.callbacks.verify`);
2. a worker SIGKILLed mid-job and a second worker finishing that job (attempt 2);
3. throughput: the same batch of jobs with one worker, then two: jobs per minute and queue
   latency (created -> started) p50/p95.

It prints each step and writes bench-out/jobs.json. A program, not a test: the numbers depend on
the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from api.callbacks import verify
from bench.run import Process, base_env, started
from settings import PROJECT_ROOT
from tests.support.ports import free_port
from tests.support.receiver import receiver
from tests.support.redis_server import RedisServer
from tests.support.videos import make_video

SECRET = "bench-callback-secret"
JOB_TIMEOUT = 600.0


@dataclass
class Deployment:
    redis: RedisServer
    storage: Path
    logs: Path
    stack: ExitStack

    def env(self, **extra: str) -> dict[str, str]:
        return {
            **base_env(),
            "MODEL_BASE_PATH": str(PROJECT_ROOT / "models"),
            "BACKEND": "embedded",
            "JOBS_BACKEND": "redis",
            "REDIS_URL": self.redis.url,
            "JOB_STORAGE_DIR": str(self.storage),
            "JOB_VISIBILITY_TIMEOUT": "4",
            "CALLBACK_SECRET": SECRET,
            "CALLBACK_ALLOW_HOSTS": "127.0.0.1",
            "MALLOC_ARENA_MAX": "2",
            "JOB_QUEUE_SIZE": "1000",  # the throughput batch is queued at once
            "LOG_LEVEL": "WARNING",
            **extra,
        }

    def start(self, name: str, module: str, ready: str, **extra: str) -> Process:
        # The log's folder is the working directory: outside the repository, so no
        # developer's .env is read.
        command = [sys.executable, "-m", module]
        log = self.logs / f"{name}.log"
        return self.stack.enter_context(started(command, self.env(**extra), log, ready))

    def gateway(self, name: str) -> str:
        port = free_port()
        ready = f"http://127.0.0.1:{port}/health/live"
        return self.start(name, "api.server", ready, HOST="127.0.0.1", PORT=str(port)).url

    def worker(self, name: str) -> subprocess.Popen[bytes]:
        port = free_port()
        ready = f"http://127.0.0.1:{port}/metrics"
        return self.start(name, "api.jobs.worker", ready, WORKER_METRICS_PORT=str(port)).popen


@contextmanager
def deployment(folder: Path) -> Iterator[Deployment]:
    with ExitStack() as stack:
        redis = stack.enter_context(RedisServer(folder / "redis"))
        storage, logs = folder / "jobs", folder / "logs"
        storage.mkdir()
        logs.mkdir()
        yield Deployment(redis, storage, logs, stack)


def submit(gateway: str, clip: Path, **params: str) -> dict[str, Any]:
    with clip.open("rb") as f:
        response = httpx.post(
            gateway + "/jobs",
            params={"fps": "5", **params},
            files={"file": (clip.name, f, "video/mp4")},
            timeout=60,
        )
    response.raise_for_status()
    job: dict[str, Any] = response.json()
    return job


def get(gateway: str, job_id: str) -> dict[str, Any]:
    response = httpx.get(f"{gateway}/jobs/{job_id}", timeout=30)
    response.raise_for_status()
    job: dict[str, Any] = response.json()
    return job


def wait_until(
    gateway: str, job_id: str, done: Any, timeout: float = JOB_TIMEOUT
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        job = get(gateway, job_id)
        if done(job):
            return job
        if time.monotonic() > deadline:
            raise RuntimeError(f"job {job_id} stuck: {job['status']} {job['progress']}")
        time.sleep(0.1)


def ended(job: dict[str, Any]) -> bool:
    return job["status"] in {"done", "failed", "cancelled"}


def follow_events(gateway: str, job_id: str) -> list[dict[str, Any]]:
    """Every `status` event of the job's stream, until the one in which it has ended."""
    events = []
    with httpx.stream("GET", f"{gateway}/jobs/{job_id}/events", timeout=JOB_TIMEOUT) as stream:
        for line in stream.iter_lines():
            if line.startswith("data:"):
                events.append(json.loads(line.removeprefix("data:")))
                if ended(events[-1]):
                    break
    return events


def _seconds(timestamp: str) -> float:
    return datetime.fromisoformat(timestamp).timestamp()


def demo(run: Deployment, clip: Path) -> dict[str, Any]:
    a, b = run.gateway("gateway-a"), run.gateway("gateway-b")
    run.worker("worker-1")
    with receiver(path="/hook") as hook:
        job = submit(a, clip, callback_url=hook.url)
        print(f"1. created {job['id']} on A ({a}): {job['status']}")
        events = follow_events(b, job["id"])
        frames = [e["progress"]["frames"] for e in events if e["status"] == "running"]
        print(f"   B's event stream: {len(events)} events, frames {frames[:3]} ... {frames[-1:]}")
        result = get(b, job["id"])
        print(f"   result on B: {result['status']}, verdict {result['result']['verdict']}")
        call = hook.wait_for(1, timeout=60)[0]
        signed = verify(call.body, call.headers, SECRET.encode(), max_age=300, now=time.time())
        final = wait_until(a, job["id"], lambda j: (j["callback"] or {}).get("status") != "pending")
        print(f"   callback received: signature valid {signed}, job says {final['callback']}")
    return {
        "events_on_b": len(events),
        "progress_frames": frames,
        "status": result["status"],
        "verdict": result["result"]["verdict"],
        "callback_signature_valid": signed,
        "callback": final["callback"],
    }


def kill_demo(run: Deployment, clip: Path) -> dict[str, Any]:
    gateway = run.gateway("gateway-kill")
    first = run.worker("worker-doomed")
    job = submit(gateway, clip, fps="10")
    wait_until(gateway, job["id"], lambda j: j["status"] == "running" and j["progress"]["frames"])
    first.send_signal(signal.SIGKILL)
    first.wait()
    killed = time.monotonic()
    print(f"2. SIGKILLed the worker running {job['id']} mid-job; starting another")
    run.worker("worker-rescue")
    done = wait_until(gateway, job["id"], ended)
    recovered = time.monotonic() - killed
    leftovers = sorted(p.name for p in run.storage.iterdir())
    print(
        f"   {done['status']} after {recovered:.1f} s, attempts {done['attempts']}, "
        f"files left in JOB_STORAGE_DIR: {leftovers}"
    )
    return {"status": done["status"], "attempts": done["attempts"], "recovered_s": recovered}


def throughput(run: Deployment, clip: Path, workers: int, jobs: int) -> dict[str, Any]:
    gateway = run.gateway(f"gateway-{workers}w")
    for i in range(workers):
        run.worker(f"worker-{workers}w-{i}")
    started = time.monotonic()
    ids = [submit(gateway, clip)["id"] for _ in range(jobs)]
    finished = [wait_until(gateway, job_id, ended) for job_id in ids]
    wall = time.monotonic() - started
    assert all(job["status"] == "done" for job in finished), [j["status"] for j in finished]
    waits = sorted(_seconds(j["started_at"]) - _seconds(j["created_at"]) for j in finished)
    quantiles = statistics.quantiles(waits, n=20)
    out = {
        "workers": workers,
        "jobs": jobs,
        "wall_s": round(wall, 2),
        "jobs_per_minute": round(jobs / wall * 60, 1),
        "queue_latency_p50_s": round(statistics.median(waits), 2),
        "queue_latency_p95_s": round(quantiles[18], 2),
    }
    print(
        f"3. {workers} worker(s): {jobs} jobs in {wall:.1f} s = {out['jobs_per_minute']} jobs/min, "
        f"queue latency p50 {out['queue_latency_p50_s']} s, p95 {out['queue_latency_p95_s']} s"
    )
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("bench-out"))
    parser.add_argument("--jobs", type=int, default=20, help="jobs per throughput run")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {"cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="bench-jobs-") as tmp:
        folder = Path(tmp)
        short = make_video(folder / "short.mp4", seconds=8, fps=25)
        follow = make_video(folder / "follow.mp4", seconds=30, fps=25)
        long = make_video(folder / "long.mp4", seconds=40, fps=25)
        report["clips"] = {"short_s": 8, "follow_s": 30, "long_s": 40, "fps": 25, "size": "640x360"}
        with deployment(folder / "demo") as run:
            report["demo"] = demo(run, follow)
        with deployment(folder / "kill") as run:
            report["kill"] = kill_demo(run, long)
        report["throughput"] = []
        for workers in (1, 2):
            with deployment(folder / f"throughput-{workers}") as run:
                report["throughput"].append(throughput(run, short, workers, args.jobs))
    (args.out / "jobs.json").write_text(json.dumps(report, indent=2))
    print(f"wrote {args.out / 'jobs.json'}")


if __name__ == "__main__":
    main()
