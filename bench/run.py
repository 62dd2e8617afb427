"""The gateway's speed, measured against the decoding floor and the original approach.

    make bench        (python -m bench.run --out bench-out)

In one run, on the same clips: the time to grab() every frame (the floor), the gateway as
configured (downscaled detection that follows faces, crops as PNG to serving_encoded, or the
model in-process) and an "original-style" gateway (full-resolution detection on every sampled
frame, JSON float lists), the TF Serving ones behind the same stand-in running the shipped
model; wall and CPU time per video; then 4 concurrent clients, the event loop's responsiveness
under that load, peak RSS with a 1 GB upload, face recall (also on every clip of
../shared/data/videos), and what reading provenance costs (bench.provenance). Prints a table
and writes bench-out/bench.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import httpx

from bench import provenance as provenance_cost
from bench import recall
from bench.clips import make_clips
from settings import PROJECT_ROOT, Settings
from tests.support.ports import free_port

# The default configuration (the model in-process), the production one (TF Serving, PNG
# crops) and the original service's approach (full-resolution detection on every sampled
# frame, JSON float lists to TF Serving), all with the same model.
CONFIGS = {
    "embedded": {"BACKEND": "embedded"},
    "tfserving": {},
    "original": {"DETECT_MAX_SIDE": "0", "REDETECT_EVERY": "1", "TF_SERVING_WIRE": "json"},
}
OURS = ("embedded", "tfserving")
GIB = 10**9


def decode_floor(path: Path) -> tuple[float, float]:
    """Seconds (wall, CPU of all this process's threads) to open the clip and grab() every
    frame: no conversion, no detection."""
    started, cpu = time.perf_counter(), _own_cpu()
    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    while cap.grab():
        pass
    cap.release()
    return time.perf_counter() - started, _own_cpu() - cpu


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Process:
    popen: subprocess.Popen[bytes]
    url: str
    log: Path
    # One kept-alive client, as a real caller has: a new httpx client per request would add
    # its own setup (~20 ms, SSL context) to every measured request.
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=300))

    def cpu_s(self) -> float:
        """CPU seconds the gateway process has used so far (all threads, user + system)."""
        fields = Path(f"/proc/{self.popen.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_mb(self, field: str = "VmRSS") -> float:
        """VmRSS (now) or VmHWM (peak since start) of the gateway process, in MB."""
        for line in Path(f"/proc/{self.popen.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def access_log(self) -> list[dict[str, Any]]:
        lines = []
        for line in self.log.read_text().splitlines():
            start = line.find('{"event":"request"')
            if start >= 0:
                lines.append(json.loads(line[start:]))
        return lines


@contextmanager
def started(command: list[str], env: dict[str, str], log: Path, ready: str) -> Iterator[Process]:
    url = ready.split("/", 3)
    base = "/".join(url[:3])
    with log.open("wb") as out:
        popen = subprocess.Popen(command, env=env, stdout=out, stderr=out, cwd=log.parent)
        process = Process(popen, base, log)
        try:
            deadline = time.monotonic() + 120
            while True:
                if popen.poll() is not None:
                    raise RuntimeError(f"{command[0]} exited:\n{log.read_text()[-2000:]}")
                try:
                    if httpx.get(ready, timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"not ready: {ready}\n{log.read_text()[-2000:]}")
                time.sleep(0.3)
            yield process
        finally:
            process.http.close()
            popen.terminate()
            popen.wait(timeout=30)


def base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    return {**env, "PYTHONPATH": str(PROJECT_ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}


@dataclass
class Result:
    clip: str
    floor_s: float
    floor_cpu_s: float = 0.0
    wall_s: dict[str, float] = field(default_factory=dict)
    cpu_s: dict[str, float] = field(default_factory=dict)  # the gateway process's, per request
    detect_rate: dict[str, float] = field(default_factory=dict)
    stages_ms: dict[str, dict[str, float]] = field(default_factory=dict)


def predict(process: Process, clip: Path) -> tuple[float, dict[str, Any]]:
    started_at = time.perf_counter()
    with clip.open("rb") as f:
        response = process.http.post(process.url + "/predict", files={"file": (clip.name, f)})
    wall = time.perf_counter() - started_at
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    body["request_id"] = response.headers["X-Request-ID"]
    return wall, body


def stages(process: Process, request_id: str) -> dict[str, float]:
    for line in reversed(process.access_log()):
        if line.get("request_id") == request_id:
            keys = ("decode_ms", "detect_ms", "score_ms", "duration_ms")
            return {k: line[k] for k in keys if k in line}
    return {}


async def concurrent(process: Process, clips: list[Path], clients: int) -> dict[str, Any]:
    """Every client uploads every clip; /health/live is timed all along."""
    live: list[float] = []
    statuses: list[int] = []
    done = asyncio.Event()

    async def client(http: httpx.AsyncClient) -> None:
        for clip in clips:
            response = await http.post("/predict", files={"file": (clip.name, clip.read_bytes())})
            statuses.append(response.status_code)

    async def probe(http: httpx.AsyncClient) -> None:
        while not done.is_set():
            started_at = time.perf_counter()
            await http.get("/health/live")
            live.append(time.perf_counter() - started_at)
            await asyncio.sleep(0.05)

    async with httpx.AsyncClient(base_url=process.url, timeout=300) as http:
        watcher = asyncio.create_task(probe(http))
        started_at = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(clients)))
        wall = time.perf_counter() - started_at
        done.set()
        await watcher
    return {
        "clients": clients,
        "requests": len(statuses),
        "statuses": {str(s): statuses.count(s) for s in sorted(set(statuses))},
        "wall_s": wall,
        "live_p50_ms": statistics.median(live) * 1000,
        "live_max_ms": max(live) * 1000,
    }


def big_upload(process: Process, size: int) -> dict[str, Any]:
    """Stream `size` bytes that sniff as MP4 but are not decodable: the gateway must take it
    all to disk (then refuse it with 415) without holding it in memory."""
    chunk = b"\0" * (1 << 20)

    def body() -> Iterator[bytes]:
        boundary = b"--bench\r\n"
        yield boundary + b'Content-Disposition: form-data; name="file"; filename="big.mp4"\r\n\r\n'
        yield b"\x00\x00\x00\x20ftypisom" + bytes(20)
        sent = 32
        while sent < size:
            piece = chunk[: min(len(chunk), size - sent)]
            sent += len(piece)
            yield piece
        yield b"\r\n--bench--\r\n"

    rss_before = process.rss_mb()
    started_at = time.perf_counter()
    response = httpx.post(
        process.url + "/predict",
        content=body(),
        headers={"Content-Type": "multipart/form-data; boundary=bench"},
        timeout=600,
    )
    return {
        "bytes": size,
        "status": response.status_code,
        "seconds": time.perf_counter() - started_at,
        "rss_before_mb": rss_before,
        "peak_rss_mb": process.rss_mb("VmHWM"),
    }


def table(results: list[Result], summary: dict[str, Any]) -> str:
    head = (
        f"{'clip':30} {'floor s':>8} {'embedded s':>11} {'x floor':>8} {'tfserving s':>12} "
        f"{'x floor':>8} {'original s':>11} {'speedup':>8} {'faces %':>8} {'orig %':>7}"
    )
    rows = [head, "-" * len(head)]
    for r in results:
        w = r.wall_s
        rows.append(
            f"{r.clip:30} {r.floor_s:8.2f} {w['embedded']:11.2f} {w['embedded'] / r.floor_s:8.2f} "
            f"{w['tfserving']:12.2f} {w['tfserving'] / r.floor_s:8.2f} {w['original']:11.2f} "
            f"{w['original'] / w['tfserving']:8.1f} "
            f"{100 * r.detect_rate['tfserving']:8.1f} {100 * r.detect_rate['original']:7.1f}"
        )
    t = summary["totals"]
    rows.append("-" * len(head))
    rows.append(
        f"{'total':30} {t['floor_s']:8.2f} {t['embedded_s']:11.2f} {t['embedded_x_floor']:8.2f} "
        f"{t['tfserving_s']:12.2f} {t['tfserving_x_floor']:8.2f} {t['original_s']:11.2f} "
        f"{t['speedup_vs_original']:8.1f}"
    )
    rows.append("(speedup: original-style vs tfserving, same TF Serving stand-in and model)")
    rows.append(
        f"CPU per video, gateway process only: decoding {t['floor_cpu_s']:.2f} s, embedded "
        f"{t['embedded_cpu_s']:.2f} s (x{t['embedded_cpu_x_floor']:.2f}), tfserving "
        f"{t['tfserving_cpu_s']:.2f} s (x{t['tfserving_cpu_x_floor']:.2f}), original "
        f"{t['original_cpu_s']:.2f} s"
    )
    for name in OURS:
        c = summary["concurrency"][name]
        rows.append(
            f"{name}, {c['clients']} clients: {c['requests']} requests in {c['wall_s']:.2f} s "
            f"({c['throughput_rps']:.2f}/s vs {c['sequential_rps']:.2f}/s sequential, "
            f"x{c['throughput_ratio']:.2f}); statuses {c['statuses']}; /health/live p50 "
            f"{c['live_p50_ms']:.1f} ms, max {c['live_max_ms']:.1f} ms"
        )
    for name in OURS:
        m = summary["memory"][name]
        rows.append(
            f"{name}: {m['bytes'] / GIB:.1f} GB upload: HTTP {m['status']} in {m['seconds']:.1f} s;"
            f" gateway RSS {m['rss_before_mb']:.0f} MB before, peak {m['peak_rss_mb']:.0f} MB"
        )
    rows.append(f"face recall vs full resolution: max gap {summary['recall_gap_pp']:.1f} pp")
    wide = summary.get("recall")
    if wide:
        rows.append(
            f"face recall on {wide['clips']} clips of ../shared/data/videos ({wide['frames']} "
            f"sampled frames): ours {wide['ours_pct']:.1f}%, full resolution every frame "
            f"{wide['full_pct']:.1f}% (gap {wide['ours_pct'] - wide['full_pct']:+.1f} pp, worst "
            f"clip {wide['worst_clip_gap_pp']:.1f} pp)"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "bench-out")
    parser.add_argument("--model-base", type=Path, default=PROJECT_ROOT / "models")
    parser.add_argument("--upload-gb", type=float, default=1.0)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=5, help="rounds per clip (median)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    clips = make_clips(args.out / "clips")
    env = base_env()
    python = sys.executable
    tfs_port = free_port()
    tfs = [python, "-m", "tests.support.tf_serving", "--model-base", str(args.model_base),
           "--port", str(tfs_port)]  # fmt: skip
    status = f"http://127.0.0.1:{tfs_port}/v1/models/deepfake/versions/1"
    with started(tfs, env, args.out / "tfserving.log", status):
        gateways: dict[str, Process] = {}
        with _gateways(args, env, tfs_port, gateways):
            results = _sequential(clips, gateways, args.repeat)
            conc = {n: asyncio.run(concurrent(gateways[n], clips, args.clients)) for n in OURS}
            memory = {n: big_upload(gateways[n], int(args.upload_gb * GIB)) for n in OURS}
    summary = _summary(results, conc, memory)
    summary["recall"] = recall.measure(
        PROJECT_ROOT.parent / "shared/data/videos", Settings(_env_file=None)
    )
    # What reading C2PA/XMP/watermarks costs per image and per 100 MB video (bench.provenance).
    summary["provenance"] = provenance_cost.run(args.out, args.repeat)
    summary["machine"] = {"cpus": os.cpu_count(), "python": sys.version.split()[0],
                          "opencv": cv2.__version__}  # fmt: skip
    (args.out / "bench.json").write_text(json.dumps(summary, indent=2))
    print(table(results, summary))
    print("\n".join(provenance_cost.lines(summary["provenance"])))
    print(f"\nwrote {args.out / 'bench.json'}")


@contextmanager
def _gateways(
    args: argparse.Namespace, env: dict[str, str], tfs_port: int, into: dict[str, Process]
) -> Iterator[None]:
    with _ExitAll() as stack:
        for name, overrides in CONFIGS.items():
            port = free_port()
            genv = {**env, "TF_SERVING_URL": f"http://127.0.0.1:{tfs_port}",
                    "MODEL_BASE_PATH": str(args.model_base), "PORT": str(port),
                    **overrides}  # fmt: skip
            # The gateway as deployed: its one entry point (h11, the server's flags).
            command = [sys.executable, "-m", "api.server"]
            ready = f"http://127.0.0.1:{port}/health/ready"
            into[name] = stack.enter(started(command, genv, args.out / f"{name}.log", ready))
        yield


class _ExitAll:
    def __init__(self) -> None:
        self._managers: list[Any] = []

    def enter(self, manager: Any) -> Any:
        value = manager.__enter__()
        self._managers.append(manager)
        return value

    def __enter__(self) -> _ExitAll:
        return self

    def __exit__(self, *exc: object) -> None:
        for manager in reversed(self._managers):
            manager.__exit__(None, None, None)


def _sequential(clips: list[Path], gateways: dict[str, Process], repeat: int) -> list[Result]:
    """Per clip, interleaved: the floor, then each gateway; the median of `repeat` rounds."""
    for process in gateways.values():
        predict(process, clips[0])  # warm up caches and the model server's first call
    results = []
    for clip in clips:
        floors: list[tuple[float, float]] = []
        walls: dict[str, list[float]] = {name: [] for name in gateways}
        cpus: dict[str, list[float]] = {name: [] for name in gateways}
        result = Result(clip.name, 0.0)
        for _ in range(repeat):
            floors.append(decode_floor(clip))
            for name, process in gateways.items():
                cpu = process.cpu_s()
                wall, body = predict(process, clip)
                cpus[name].append(process.cpu_s() - cpu)
                walls[name].append(wall)
                result.detect_rate[name] = body["meta"]["face_detect_rate"]
                result.stages_ms[name] = stages(process, body["request_id"])
        result.floor_s = statistics.median(wall for wall, _ in floors)
        result.floor_cpu_s = statistics.median(cpu for _, cpu in floors)
        result.wall_s = {name: statistics.median(w) for name, w in walls.items()}
        result.cpu_s = {name: statistics.median(c) for name, c in cpus.items()}
        results.append(result)
    return results


def _summary(
    results: list[Result], conc: dict[str, dict[str, Any]], memory: dict[str, Any]
) -> dict[str, Any]:
    floor = sum(r.floor_s for r in results)
    totals: dict[str, float] = {"floor_s": floor}
    for name in CONFIGS:
        totals[f"{name}_s"] = sum(r.wall_s[name] for r in results)
    totals["floor_cpu_s"] = sum(r.floor_cpu_s for r in results)
    for name in CONFIGS:
        totals[f"{name}_cpu_s"] = sum(r.cpu_s[name] for r in results)
    for name in OURS:
        totals[f"{name}_x_floor"] = totals[f"{name}_s"] / floor
        totals[f"{name}_cpu_x_floor"] = totals[f"{name}_cpu_s"] / totals["floor_cpu_s"]
        c = conc[name]
        c["sequential_rps"] = len(results) / totals[f"{name}_s"]
        c["throughput_rps"] = c["requests"] / c["wall_s"]
        c["throughput_ratio"] = c["throughput_rps"] / c["sequential_rps"]
    totals["speedup_vs_original"] = totals["original_s"] / totals["tfserving_s"]
    return {
        "clips": [r.__dict__ for r in results],
        "totals": totals,
        "concurrency": conc,
        "memory": memory,
        "recall_gap_pp": max(
            100 * abs(r.detect_rate[name] - r.detect_rate["original"])
            for r in results
            for name in OURS
        ),
    }


if __name__ == "__main__":
    main()
