"""QueuePlaces: the queue places held by uploads still streaming."""

from __future__ import annotations

import pytest

from api.errors import JobQueueFull
from api.jobs.backend import QueuePlaces

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.parametrize(("waiting", "held"), [(0, 0), (1, 0), (0, 1)])
async def test_a_place_is_held_while_the_upload_streams(waiting: int, held: int) -> None:
    places = QueuePlaces(2)
    places.held = held
    async with places.hold(waiting):
        assert places.held == held + 1
    assert places.held == held


@pytest.mark.parametrize(
    ("waiting", "held"),
    [
        (2, 0),  # full of waiting jobs
        (1, 1),  # a place held by another upload counts as a waiting job
        (0, 2),
    ],
)
async def test_a_full_queue_refuses_a_place(waiting: int, held: int) -> None:
    places = QueuePlaces(2)
    places.held = held
    with pytest.raises(JobQueueFull, match=r"The job queue is full \(2 jobs waiting"):
        async with places.hold(waiting):
            pass
    assert places.held == held


async def test_a_place_is_given_back_when_the_upload_fails() -> None:
    places = QueuePlaces(1)
    with pytest.raises(RuntimeError):
        async with places.hold(0):
            raise RuntimeError("the client went away")
    assert places.held == 0
