"""Scoring while the video is read: batches go out early, scores come back in order, frame by
frame."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import numpy as np
import pytest

from api.backends import TFServingBackend
from api.errors import BackendError
from api.scoring import FrameScores, ScoreStream
from tests.conftest import MODEL
from tests.support.models import expected_scores, random_crops
from tests.support.tf_serving import Fault, TFServingTestServer

pytestmark = pytest.mark.anyio
CROPS = random_crops(10, seed=3)
FRAMES = [CROPS[0:1], CROPS[1:4], CROPS[4:5], CROPS[5:8], CROPS[8:10]]  # 1-3 faces per frame


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def backend(serving: TFServingTestServer) -> AsyncIterator[TFServingBackend]:
    # ttl=0: every request resolves the label again, so a test can move it between batches.
    async with httpx.AsyncClient(timeout=5.0) as client:
        yield TFServingBackend(client, serving.url, MODEL, 1, version_label="stable", label_ttl=0)


def flat(scored: FrameScores) -> list[float]:
    """Every face's score in frame order, after checking each frame got one per face."""
    assert [len(scores) for scores in scored.frames] == [len(crops) for crops in FRAMES]
    return [score for scores in scored.frames for score in scores]


def predicts(serving: TFServingTestServer) -> int:
    return sum(1 for method, path in serving.state.requests if method == "POST")


async def add_from_a_thread(stream: ScoreStream, frames: list[np.ndarray]) -> None:
    """As the extraction thread does: one call per frame, off the event loop."""

    def extract() -> None:
        for crops in frames:
            stream.add(list(crops))

    await asyncio.to_thread(extract)


async def test_batches_go_out_while_crops_come_and_scores_keep_their_order(
    serving: TFServingTestServer, backend: TFServingBackend
) -> None:
    serving.state.set_label(MODEL, "stable", 1)
    before = predicts(serving)
    async with ScoreStream(backend, batch=4) as stream:
        await add_from_a_thread(stream, FRAMES)
        assert (stream.crops, stream.batches) == (10, 2)  # 4 + 4 sent, 2 still pending
        scored = await stream.result()
    assert stream.batches == 3
    assert predicts(serving) - before == 3
    assert scored.version == "1"
    np.testing.assert_allclose(flat(scored), expected_scores(CROPS, "red"), atol=1e-5)
    assert stream.seconds > 0


async def test_batch_0_scores_everything_in_one_call_at_the_end(
    serving: TFServingTestServer, backend: TFServingBackend
) -> None:
    serving.state.set_label(MODEL, "stable", 1)
    before = predicts(serving)
    async with ScoreStream(backend, batch=0) as stream:
        await add_from_a_thread(stream, FRAMES)
        assert stream.batches == 0
        scored = await stream.result()
    assert predicts(serving) - before == 1
    np.testing.assert_allclose(flat(scored), expected_scores(CROPS, "red"), atol=1e-5)


async def test_a_label_that_moves_mid_video_has_one_version_score_the_whole_video(
    serving: TFServingTestServer, backend: TFServingBackend
) -> None:
    serving.state.set_label(MODEL, "stable", 1)
    async with ScoreStream(backend, batch=4) as stream:
        await add_from_a_thread(stream, FRAMES[:2])  # 4 crops: the first batch, to v1
        first = stream._sent[0][1]
        assert (await first).version == "1"
        serving.state.set_label(MODEL, "stable", 2)  # rolled forward while the video is read
        await add_from_a_thread(stream, FRAMES[2:])
        scored = await stream.result()
    assert scored.version == "2"
    np.testing.assert_allclose(flat(scored), expected_scores(CROPS, "green"), atol=1e-5)


async def test_a_failed_batch_fails_the_video_and_leaves_nothing_running(
    serving: TFServingTestServer, backend: TFServingBackend
) -> None:
    serving.state.set_label(MODEL, "stable", 1)
    serving.state.inject(Fault(status=400, method="POST"))  # not retried: a bad request
    async with ScoreStream(backend, batch=4) as stream:
        await add_from_a_thread(stream, FRAMES)
        with pytest.raises(BackendError):
            await stream.result()
    assert stream.batches == 3
    assert all(task.done() for _, task in stream._sent)
    calls = [t for t in asyncio.all_tasks() if "ScoreStream._call" in repr(t.get_coro())]
    assert calls == []


async def test_crops_that_arrive_after_the_request_ended_are_dropped(
    serving: TFServingTestServer, backend: TFServingBackend
) -> None:
    serving.state.set_label(MODEL, "stable", 1)
    async with ScoreStream(backend, batch=1) as stream:
        pass
    before = predicts(serving)
    await add_from_a_thread(stream, FRAMES)  # the extraction thread outlived the request
    await asyncio.sleep(0.05)
    assert (stream.crops, stream.batches) == (0, 0)
    assert predicts(serving) == before
    with pytest.raises(ValueError, match="no crops"):
        await stream.result()


async def test_a_frame_without_a_face_keeps_its_place(
    serving: TFServingTestServer, backend: TFServingBackend
) -> None:
    serving.state.set_label(MODEL, "stable", 1)
    frames = [CROPS[0:2], CROPS[2:2], CROPS[2:5], CROPS[5:5]]  # the 2nd and the 4th: no face
    async with ScoreStream(backend, batch=2) as stream:
        await add_from_a_thread(stream, frames)
        scored = await stream.result()
    assert [len(scores) for scores in scored.frames] == [2, 0, 3, 0]
    scores = [score for scores in scored.frames for score in scores]
    np.testing.assert_allclose(scores, expected_scores(CROPS[:5], "red"), atol=1e-5)
