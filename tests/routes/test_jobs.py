"""Jobs end to end: real clips through the real pipeline and model, both in the app (TestClient)
and on a real uvicorn server for the event stream. Waiting is polling with a deadline."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from settings import Settings
from tests.conftest import AppFactory
from tests.support.live_server import serve
from tests.support.videos import make_video

Client = TestClient | httpx.Client


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """20 s at 10 fps: ~5 s of work at fps=10, so a job is reliably caught while it runs."""
    return make_video(tmp_path_factory.mktemp("jobs") / "long.mp4", seconds=20, fps=10)


def submit(client: Client, path: Path, token: str | None = None, **params: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with path.open("rb") as f:
        return client.post(
            "/jobs", params=params, headers=headers, files={"file": (path.name, f, "video/mp4")}
        )


def wait_for(
    client: Client, job_id: str, until: Callable[[dict[str, Any]], bool], timeout: float = 60
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        response = client.get(f"/jobs/{job_id}")
        assert response.status_code == 200, response.text
        job: dict[str, Any] = response.json()
        if until(job):
            return job
        assert time.monotonic() < deadline, f"job stuck: {job['status']} {job['progress']}"
        time.sleep(0.02)


def status_is(*statuses: str) -> Callable[[dict[str, Any]], bool]:
    return lambda job: job["status"] in statuses


def running_with_frames(job: dict[str, Any]) -> bool:
    assert job["status"] in {"queued", "running"}, job
    return bool(job["status"] == "running" and job["progress"]["frames"] > 0)


def upload_dir(client: TestClient) -> Path:
    directory = client.app.state.settings.UPLOAD_DIR  # type: ignore[attr-defined]
    assert isinstance(directory, Path)
    return directory


def decoding_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "decode"]


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def test_a_job_ends_with_the_answer_predict_gives(
    make_client: AppFactory, videos: dict[str, Path]
) -> None:
    client = make_client(BACKEND="embedded")
    clip = videos["faces"]
    response = submit(client, clip, fps=5, include="crops")
    assert response.status_code == 202, response.text
    job = response.json()
    assert response.headers["Location"] == f"/jobs/{job['id']}" == job["links"]["self"]
    assert job["links"]["events"] == f"/jobs/{job['id']}/events"
    assert job["status"] in {"queued", "running"}
    assert (job["filename"], job["size_bytes"]) == ("faces.mp4", clip.stat().st_size)
    assert (job["fps"], job["max_frames"], job["include"]) == (5, 256, "crops")

    done = wait_for(client, job["id"], status_is("done", "failed"))
    assert done["status"] == "done", done["error"]
    with clip.open("rb") as f:
        params = {"fps": 5, "include": "crops"}
        direct = client.post("/predict", params=params, files={"file": f}).json()
    for answer in (done["result"], direct):
        answer.pop("latency_ms")
        answer["provenance"].pop("seconds")  # a timing, like latency_ms
    assert done["result"] == direct
    assert all(face["crop"] for frame in direct["frames"] for face in frame["faces"])
    assert done["progress"] == {"frames": 20, "expected_frames": 20, "percent": 100.0}
    assert done["error"] is None
    assert done["started_at"] <= done["finished_at"] < done["expires_at"]
    assert list(upload_dir(client).iterdir()) == []


def test_a_failed_job_carries_the_error_predict_gives(
    make_client: AppFactory, tmp_path: Path
) -> None:
    client = make_client(BACKEND="embedded")
    path = tmp_path / "notes.mp4"
    path.write_text("not a video at all\n" * 10)
    job = submit(client, path).json()
    failed = wait_for(client, job["id"], status_is("done", "failed"))
    direct = client.post("/predict", files={"file": path.read_bytes()})
    status = 415
    assert direct.status_code == status
    assert failed["status"] == "failed"
    assert (failed["error"], failed["error_status"]) == (direct.json(), status)
    assert failed["result"] is None
    assert list(upload_dir(client).iterdir()) == []


@pytest.mark.parametrize("path", ["/predict", "/jobs"])
def test_an_unknown_operating_point_is_refused_before_the_upload_is_read(
    make_client: AppFactory, videos: dict[str, Path], path: str
) -> None:
    # MAX_UPLOAD_BYTES below the clip: reading the upload would have answered 413.
    client = make_client(BACKEND="embedded", MAX_UPLOAD_BYTES=100)
    response = submit_to(client, path, videos["short"], operating_point="fpr0")
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "invalid_request"
    assert "Unknown operating_point 'fpr0' for model version 1" in response.json()["error"]
    assert list(upload_dir(client).iterdir()) == []
    assert client.app.state.jobs.waiting == 0  # type: ignore[attr-defined]


def submit_to(client: Client, route: str, path: Path, **params: Any) -> httpx.Response:
    with path.open("rb") as f:
        return client.post(route, params=params, files={"file": (path.name, f, "video/mp4")})


def test_progress_is_pushed_as_server_sent_events(
    make_settings: Callable[..., Settings], videos: dict[str, Path], long_clip: Path
) -> None:
    settings = make_settings(BACKEND="embedded", JOB_WORKERS=1)
    with serve(settings) as url, httpx.Client(base_url=url, timeout=60) as http:
        blocker = submit(http, long_clip, fps=10).json()
        job = submit(http, videos["faces"], fps=10).json()
        assert job["status"] == "queued"
        events = []
        with http.stream("GET", f"/jobs/{job['id']}/events") as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            for event in read_events(stream.iter_lines()):
                events.append(event)
                if len(events) == 1:  # seen waiting: now let it run
                    assert http.delete(f"/jobs/{blocker['id']}").status_code == 204
        # The stream ended by itself after the last event.
        assert [e["event"] for e in events] == ["status"] * len(events)
        ids = [int(e["id"]) for e in events]
        assert ids == sorted(set(ids))
        states = [json.loads(e["data"]) for e in events]
        assert states[0]["status"] == "queued"
        assert states[0]["queue_position"] == 1
        assert states[-1]["status"] == "done"
        assert states[-1] == http.get(f"/jobs/{job['id']}").json()
        running = [s["progress"] for s in states if s["status"] == "running"]
        frames = [p["frames"] for p in running]
        assert frames == sorted(frames)
        assert any(0 < p["frames"] < 40 and p["expected_frames"] == 40 for p in running)
        assert any(0 < (p["percent"] or 0) < 100 for p in running)
    assert list(settings.UPLOAD_DIR.iterdir()) == []  # type: ignore[union-attr]


def read_events(lines: Iterator[str]) -> Iterator[dict[str, str]]:
    """Server-Sent Events as {field: value}; comments (keep-alives) skipped."""
    event: dict[str, str] = {}
    for line in lines:
        if not line:
            if event:
                yield event
            event = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(":")
            event[name] = value.removeprefix(" ")


def test_delete_cancels_queued_and_running_jobs_and_removes_their_files(
    make_client: AppFactory, long_clip: Path
) -> None:
    client = make_client(BACKEND="embedded", JOB_WORKERS=1)
    first = submit(client, long_clip, fps=10).json()
    second = submit(client, long_clip, fps=10).json()
    wait_for(client, first["id"], running_with_frames)
    assert client.get(f"/jobs/{second['id']}").json()["status"] == "queued"
    directory = upload_dir(client)
    assert len(list(directory.iterdir())) == 2

    assert client.delete(f"/jobs/{second['id']}").status_code == 204
    assert [p.name for p in directory.iterdir()] == [f"job-{first['id']}.bin"]
    assert client.delete(f"/jobs/{first['id']}").status_code == 204
    assert list(directory.iterdir()) == []
    for job in (first, second):
        gone = client.get(f"/jobs/{job['id']}")
        assert gone.status_code == 404
        assert gone.json()["code"] == "job_not_found"
    # The cancelled job stops decoding at its next frame instead of running on for seconds.
    wait_until(lambda: not decoding_threads(), 2.0, "the cancelled job kept decoding")


def test_a_full_queue_refuses_new_jobs_at_once(
    make_client: AppFactory, long_clip: Path, videos: dict[str, Path]
) -> None:
    client = make_client(BACKEND="embedded", JOB_WORKERS=1, JOB_QUEUE_SIZE=1)
    running = submit(client, long_clip, fps=10).json()
    wait_for(client, running["id"], running_with_frames)
    queued = submit(client, videos["short"]).json()
    refused = submit(client, videos["short"])
    assert refused.status_code == 503
    assert refused.headers["Retry-After"] == "5"
    assert refused.json()["code"] == "queue_full"
    assert "JOB_QUEUE_SIZE" in refused.json()["error"]
    assert len(list(upload_dir(client).iterdir())) == 2  # nothing kept of the refused upload

    assert client.delete(f"/jobs/{queued['id']}").status_code == 204
    assert submit(client, videos["short"]).status_code == 202  # its place is free again


def test_results_expire(make_client: AppFactory, videos: dict[str, Path]) -> None:
    client = make_client(BACKEND="embedded", JOB_TTL_SECONDS=0.3)
    job = submit(client, videos["short"]).json()
    done = wait_for(client, job["id"], status_is("done", "failed"))
    assert done["status"] == "done"
    kept = _seconds(done["expires_at"]) - _seconds(done["finished_at"])
    assert kept == pytest.approx(0.3, abs=0.01)
    wait_until(
        lambda: client.get(f"/jobs/{job['id']}").status_code == 404, 5.0, "result never expired"
    )
    assert list(upload_dir(client).iterdir()) == []


def _seconds(timestamp: str) -> float:
    return datetime.fromisoformat(timestamp).timestamp()


def test_shutdown_cancels_jobs_and_removes_their_files(
    make_settings: Callable[..., Settings], long_clip: Path
) -> None:
    settings = make_settings(BACKEND="embedded", JOB_WORKERS=1)
    with TestClient(create_app(settings)) as client:
        running = submit(client, long_clip, fps=10).json()
        submit(client, long_clip, fps=10)
        wait_for(client, running["id"], running_with_frames)
        job = client.app.state.jobs.get(running["id"], "")  # type: ignore[attr-defined]
        assert len(list(upload_dir(client).iterdir())) == 2
    # Stopped at its next frame, not run to the end: shutdown did not wait for the decoding.
    assert job.status == "cancelled"
    assert job.expected_frames is not None
    assert job.frames < job.expected_frames
    assert list(upload_dir(client).iterdir()) == []
    wait_until(lambda: not decoding_threads(), 10.0, "a job kept decoding after shutdown")


def test_a_job_belongs_to_the_token_that_created_it(
    make_client: AppFactory, videos: dict[str, Path]
) -> None:
    client = make_client(BACKEND="embedded", REQUIRE_AUTH=True, API_KEYS="alice,bob")
    refused = submit(client, videos["short"])
    assert (refused.status_code, refused.json()["code"]) == (401, "unauthorized")
    job = submit(client, videos["short"], token="alice").json()
    path = f"/jobs/{job['id']}"
    alice, bob = ({"Authorization": f"Bearer {key}"} for key in ("alice", "bob"))
    assert client.get(path, headers=bob).status_code == 404
    assert client.get(path + "/events", headers=bob).status_code == 404
    assert client.delete(path, headers=bob).status_code == 404
    assert client.get(path).status_code == 401
    assert client.get(path, headers=alice).status_code == 200
    assert client.delete(path, headers=alice).status_code == 204


def test_bad_requests_get_the_error_shape_and_free_their_queue_place(
    make_client: AppFactory, videos: dict[str, Path]
) -> None:
    client = make_client(BACKEND="embedded", JOB_QUEUE_SIZE=1, JOB_WORKERS=1, MAX_FRAMES=50)
    cases = [
        (client.post("/jobs", params={"max_frames": 51}, files={"file": b"x"}), 422),
        (client.post("/jobs", params={"fps": 0}, files={"file": b"x"}), 422),
        (client.post("/jobs", files={"other": b"x"}), 422),
        (client.post("/jobs", files={"file": b""}), 400),
        (client.get("/jobs/no-such-job"), 404),
        (client.delete("/jobs/no-such-job"), 404),
    ]
    for response, status in cases:
        assert response.status_code == status, response.text
        assert set(response.json()) >= {"error", "code"}
    # With one queue place, this is accepted only if every refusal above gave it back.
    assert submit(client, videos["short"]).status_code == 202


def test_openapi_documents_the_jobs_api(make_client: AppFactory) -> None:
    paths = make_client().get("/openapi.json").json()["paths"]
    post = paths["/jobs"]["post"]
    assert post["responses"]["202"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/JobResponse"
    }
    assert post["requestBody"]["content"]["multipart/form-data"]["schema"]["required"] == ["file"]
    assert {p["name"] for p in post["parameters"]} >= {"fps", "max_frames"}
    assert {"get", "delete"} <= set(paths["/jobs/{job_id}"])
    events = paths["/jobs/{job_id}/events"]["get"]["responses"]["200"]["content"]
    assert "text/event-stream" in events
    for operation in (post, paths["/jobs/{job_id}"]["get"], paths["/jobs/{job_id}"]["delete"]):
        assert operation["security"] == [{"HTTPBearer": []}]
        assert "401" in operation["responses"]
    assert "/" not in paths  # the page is not part of the API
