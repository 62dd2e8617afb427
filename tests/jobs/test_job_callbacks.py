"""callback_url on POST /jobs: checked before the upload is read, delivered once the job has
ended, by the memory backend's task here (the Redis worker's in test_replicas), its state in
GET /jobs/{id}, its body what GET answers."""

from __future__ import annotations

import json
import time
from pathlib import Path

from api.callbacks import verify
from tests.conftest import AppFactory
from tests.routes.test_jobs import status_is, submit, upload_dir, wait_for, wait_until
from tests.support.receiver import receiver

SECRET = "callback-test-secret"


def test_a_job_posts_its_answer_to_the_callback_url(
    make_client: AppFactory, videos: dict[str, Path]
) -> None:
    client = make_client(
        BACKEND="embedded",
        CALLBACK_SECRET=SECRET,
        CALLBACK_ALLOW_HOSTS="127.0.0.1",
        CALLBACK_RETRY_BACKOFF=0.05,
    )
    with receiver() as hook:
        hook.answer_with(503, 200)  # the first delivery fails and is retried
        job = submit(client, videos["short"], callback_url=hook.url).json()
        assert job["callback"] == {"status": "pending", "attempts": 0, "last_error": None}
        first, second = hook.wait_for(2, timeout=60)

        def delivered() -> bool:
            body = client.get(f"/jobs/{job['id']}").json()
            return bool(body["callback"]["status"] == "delivered")

        wait_until(delivered, 30, "the delivery never showed in GET")
    final = client.get(f"/jobs/{job['id']}").json()
    assert final["status"] == "done"
    assert final["callback"] == {"status": "delivered", "attempts": 2, "last_error": None}
    sent = json.loads(second.body)
    assert sent["callback"].pop("sent_at") == int(second.headers["X-Signature-Timestamp"])
    assert (sent["callback"]["status"], sent["callback"]["attempts"]) == ("pending", 2)
    assert sent["callback"]["last_error"]  # why the first attempt failed
    # Apart from the callback field, the body is what GET /jobs/{id} answers.
    assert {k: v for k, v in sent.items() if k != "callback"} == {
        k: v for k, v in final.items() if k != "callback"
    }
    assert json.loads(first.body)["callback"]["attempts"] == 1
    assert verify(second.body, second.headers, SECRET.encode(), max_age=3600, now=time.time())
    assert list(upload_dir(client).iterdir()) == []


def test_a_refused_callback_url_is_refused_before_the_upload_is_read(
    make_client: AppFactory, videos: dict[str, Path]
) -> None:
    # MAX_UPLOAD_BYTES below the clip: reading the upload would have answered 413.
    client = make_client(BACKEND="embedded", CALLBACK_SECRET=SECRET, MAX_UPLOAD_BYTES=100)
    response = submit(client, videos["short"], callback_url="http://127.0.0.1:9/hook")
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "invalid_request"
    assert "callback_url refused" in response.json()["error"]
    assert list(upload_dir(client).iterdir()) == []
    assert client.app.state.jobs.waiting == 0  # type: ignore[attr-defined]


def test_a_job_without_callback_url_has_no_callback(
    make_client: AppFactory, videos: dict[str, Path]
) -> None:
    client = make_client(BACKEND="embedded")
    job = submit(client, videos["short"]).json()
    assert job["callback"] is None
    assert wait_for(client, job["id"], status_is("done", "failed"))["callback"] is None
