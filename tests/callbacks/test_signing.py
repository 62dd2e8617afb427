"""Signing: what a delivered callback carries, and what `verify` refuses."""

from __future__ import annotations

import json

import pytest

import api
from api.callbacks import check_callback_url, sign, verify
from tests.callbacks.conftest import Send
from tests.support.callbacks import JOB_ID, NOW, SECRET, allowing_loopback, local_only
from tests.support.receiver import Receiver

KEY = SECRET.encode()


@pytest.mark.anyio
async def test_signed_delivery_is_verified_by_the_receiver(hook: Receiver, send: Send) -> None:
    settings = allowing_loopback()
    url = await check_callback_url(hook.url, settings, resolve=local_only)
    assert url == hook.url
    state = await send(url, settings, job_id=JOB_ID, clock=lambda: NOW + 0.7)
    assert (state.status, state.attempts, state.last_error) == ("delivered", 1, None)
    (got,) = hook.wait_for(1)

    assert verify(got.body, got.headers, KEY, max_age=300, now=NOW + 60)
    headers = {name.lower(): value for name, value in got.headers.items()}
    assert headers["x-signature"] == sign(got.body, KEY)
    assert headers["x-signature-timestamp"] == str(NOW)
    assert headers["content-type"] == "application/json"
    assert headers["user-agent"] == f"deepfake-gateway/{api.__version__}"
    assert headers["x-callback-attempt"] == "1"
    assert headers["x-job-id"] == JOB_ID
    assert json.loads(got.body)["callback"] == {
        "status": "pending",
        "attempts": 1,
        "last_error": None,
        "sent_at": NOW,
    }
    # Forgeries and replays a receiver must refuse:
    assert not verify(got.body, got.headers, b"another-secret", max_age=300, now=NOW)
    assert not verify(got.body.replace(b"done", b"fail"), got.headers, KEY, max_age=300, now=NOW)
    assert not verify(got.body, got.headers, KEY, max_age=300, now=NOW + 301)  # too old
    moved = {**got.headers, "X-Signature-Timestamp": str(NOW + 3600)}  # a replay, re-dated
    assert not verify(got.body, moved, KEY, max_age=300, now=NOW + 3600)


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        pytest.param(b'{"callback": {"sent_at": 1}}', {}, id="no headers"),
        pytest.param(b'{"id": "j"}', {"X-Signature-Timestamp": str(NOW)}, id="no sent_at"),
        pytest.param(b"not json", {"X-Signature-Timestamp": str(NOW)}, id="not json"),
        pytest.param(
            b'{"callback": {"sent_at": "%d"}}' % NOW,
            {"X-Signature-Timestamp": str(NOW)},
            id="sent_at as text",
        ),
        pytest.param(
            b'{"callback": {"sent_at": %d}}' % NOW,
            {"X-Signature-Timestamp": "soon"},
            id="header not a number",
        ),
    ],
)
def test_verify_refuses_bodies_without_a_matching_signed_timestamp(
    body: bytes, headers: dict[str, str]
) -> None:
    if headers:
        headers = {**headers, "x-signature": sign(body, KEY)}  # any case of header name
    assert not verify(body, headers, KEY, max_age=300, now=NOW)


def test_verify_accepts_lowercase_header_names() -> None:
    body = b'{"callback": {"sent_at": %d}}' % NOW
    headers = {"x-signature": sign(body, b"k"), "x-signature-timestamp": str(NOW)}
    assert verify(body, headers, b"k", max_age=300, now=NOW - 10)  # a slightly slow receiver clock
