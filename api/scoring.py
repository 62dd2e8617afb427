"""Score a video's faces while the video is still being read.

Without this the backend idles while frames are decoded and searched, then the whole request
waits for one big scoring call. Crops are sent in batches as frames come instead, so TF Serving
(or the embedded model's thread) works alongside the decoder and, after the last frame, only
the last batch is left to score.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from api.backends import Scored, ScoringBackend
from api.pipeline.extract import SampledFrame


@dataclass(frozen=True, slots=True)
class FrameScores:
    """A video's scores, frame by frame: `frames[i][j]` is the score of face j of the i-th
    frame added (an empty list for a frame without a face), all from `version`."""

    frames: list[list[float]]
    version: str


class ScoreStream:
    """Crops in (from the extraction thread), scores out (on the event loop), in order.

    `add` may be called from any thread, once per frame; everything else runs on the loop. Use
    as an async context manager so that batches still in flight are cancelled when the request
    fails.
    """

    def __init__(
        self,
        backend: ScoringBackend,
        batch: int,
        on_call: Callable[[float], None] | None = None,
    ) -> None:
        self._backend = backend
        self._batch = batch  # 0: send nothing before `result`
        self._on_call = on_call
        self._loop = asyncio.get_running_loop()
        self._pending: list[np.ndarray] = []
        self._sizes: list[int] = []  # crops per frame, in the order the frames came
        self._sent: list[tuple[np.ndarray, asyncio.Task[Scored]]] = []
        self._closed = False
        self.crops = 0
        self.batches = 0  # sent so far
        self.seconds = 0.0  # summed over backend calls, overlapping ones included

    async def __aenter__(self) -> ScoreStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._closed = True
        tasks = [task for _, task in self._sent]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def add(self, crops: Sequence[np.ndarray]) -> None:
        """Queue one frame's crops, in order (thread-safe). A frame without a face still
        counts: the scores come back aligned with the frames."""
        self._loop.call_soon_threadsafe(self._take, list(crops))

    def add_frame(self, frame: SampledFrame) -> None:
        """Queue one sampled frame's crops, largest face first (thread-safe)."""
        self.add([face.crop for face in frame.faces])

    def _take(self, crops: list[np.ndarray]) -> None:
        if self._closed:  # the request is over; the extraction thread has not noticed yet
            return
        self._sizes.append(len(crops))
        self._pending.extend(crops)
        self.crops += len(crops)
        if self._batch and len(self._pending) >= self._batch:
            self._send()

    def _send(self) -> None:
        chunk = np.stack(self._pending)
        self._pending = []
        self._sent.append((chunk, self._loop.create_task(self._call(chunk))))
        self.batches += 1

    async def _call(self, crops: np.ndarray) -> Scored:
        started = time.perf_counter()
        try:
            return await self._backend.predict(crops)
        finally:
            seconds = time.perf_counter() - started
            self.seconds += seconds
            if self._on_call is not None:
                self._on_call(seconds)

    async def result(self) -> FrameScores:
        """Every frame's scores, in the order added. Call once extraction has returned: the
        loop runs the extraction thread's `add` callbacks before it resumes this caller."""
        scored = await self._scored()
        # Python floats, as the answer and the verdict have always computed with.
        bounds = np.cumsum(self._sizes)[:-1]
        frames: list[list[float]] = [part.tolist() for part in np.split(scored.scores, bounds)]
        return FrameScores(frames, scored.version)

    async def _scored(self) -> Scored:
        """Every crop's score, flat, in the order added."""
        if self._pending:
            self._send()
        if not self._sent:
            raise ValueError("no crops were added")
        results = [await task for _, task in self._sent]
        if len({r.version for r in results}) > 1:
            # A version label moved mid-video: one version must score the whole video. (The
            # backend refuses the crops if the version it now resolves takes another size.)
            return await self._call(np.concatenate([crops for crops, _ in self._sent]))
        return Scored(np.concatenate([r.scores for r in results]), results[0].version)
