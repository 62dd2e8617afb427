"""From face scores to an honest verdict: tracks, coverage, reasons to doubt, real/fake/uncertain.

The rule, as documented in the README:
- every face gets a score; faces are linked into tracks (one per person) and a track's score
  is the mean of its faces' scores;
- the most suspicious track decides: decision score = the highest track score among tracks seen
  in at least MIN_TRACK_FRAMES sampled frames (all tracks when none is that long), so one
  manipulated face among real ones is not averaged away;
- the verdict is "uncertain" when any weakness reason applies (no face, faces too small, too
  few frames with a face, too dark, too blurry, a truncated file) or the decision score lies in
  the uncertainty band around the threshold; otherwise "fake" when the decision score >=
  threshold, else "real".
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Literal

from api.pipeline.extract import FaceSamples
from api.pipeline.quality import BLUR_VARIANCE, DARK_MEAN, brightness, sharpness
from api.pipeline.tracks import Track, link

Verdict = Literal["real", "fake", "uncertain"]
ReasonCode = Literal[
    "no_face",
    "faces_too_small",
    "few_frames",
    "too_dark",
    "too_blurry",
    "near_threshold",
    "low_coverage",
    "truncated_input",
]

MIN_TRACK_FRAMES = 2
MIN_FACE_FRAMES = 3  # a video judged on fewer frames with a face is a weak answer
SMALL_FACE_PX = 48  # below this (source pixels) the 64x64 crop is an upscaled blur
LOW_COVERAGE = 0.5
# A video whose decoder ran out before this share of its declared length is called truncated.
# Each of 486 complete clips that declare a length (39 real clips in 12 containers/codecs, the
# tests' clips and fixtures) decoded all of it, by frames or by time; each of 468 cut copies
# (mp4 with the index first, avi, mkv, webm, cut to 10/50/85%) decoded about the share it kept.
TRUNCATED_BELOW = 0.9


@dataclass(frozen=True, slots=True)
class Doubt:
    code: ReasonCode
    message: str
    blocking: bool  # makes the verdict "uncertain"


@dataclass(slots=True)
class ScoredTrack:
    track: Track
    scores: list[float]
    times: list[float]

    @property
    def score(self) -> float:
        return sum(self.scores) / len(self.scores)


@dataclass(slots=True)
class Assessment:
    verdict: Verdict
    decision_score: float | None  # the deciding track's score; None when nothing was scored
    deciding_track: int | None
    tracks: list[ScoredTrack]
    reasons: list[Doubt] = field(default_factory=list)
    smallest_face_px: int | None = None
    median_face_px: float | None = None


def assess(
    samples: FaceSamples,
    face_scores: list[list[float]],
    threshold: float,
    band: tuple[float, float],
) -> Assessment:
    """`face_scores[i][j]` is the score of face j of sampled frame i."""
    tracks = _tracks(samples, face_scores)
    widths = [face.box[2] for frame in samples.frames for face in frame.faces]
    reasons = _weaknesses(samples, widths) + _truncation(samples)
    if not tracks:
        return Assessment("uncertain", None, None, [], reasons)
    long_enough = [t for t in tracks if len(t.scores) >= MIN_TRACK_FRAMES] or tracks
    deciding = max(long_enough, key=lambda t: t.score)
    score = deciding.score
    if band[0] <= score < band[1]:
        reasons.append(
            Doubt(
                "near_threshold",
                f"The deciding score {score:.3f} lies in the uncertainty band "
                f"[{band[0]:.3f}, {band[1]:.3f}) around the threshold {threshold:.3f}.",
                blocking=True,
            )
        )
    verdict: Verdict = "fake" if score >= threshold else "real"
    if any(r.blocking for r in reasons):
        verdict = "uncertain"
    return Assessment(
        verdict,
        score,
        deciding.track.id,
        tracks,
        reasons,
        smallest_face_px=min(widths),
        median_face_px=float(statistics.median(widths)),
    )


def _tracks(samples: FaceSamples, face_scores: list[list[float]]) -> list[ScoredTrack]:
    boxes = [[face.box for face in frame.faces] for frame in samples.frames]
    results = []
    for track in link(boxes):
        scores = [face_scores[f][j] for f, j in track.members]
        times = [samples.frames[f].t for f, _ in track.members]
        results.append(ScoredTrack(track, scores, times))
    return results


def _weaknesses(samples: FaceSamples, widths: list[int]) -> list[Doubt]:
    if not widths:
        return [
            Doubt(
                "no_face",
                f"No face was found in any of the {samples.sampled_frames} sampled frames, so "
                "nothing was scored. Use footage where a face is visible, frontal and well lit.",
                blocking=True,
            )
        ]
    reasons = []
    crops = [face.crop for frame in samples.frames for face in frame.faces]
    if statistics.median(widths) < SMALL_FACE_PX:
        reasons.append(
            Doubt(
                "faces_too_small",
                f"Faces are {statistics.median(widths):.0f} px wide (median); below "
                f"{SMALL_FACE_PX} px the model sees too little detail to judge.",
                blocking=True,
            )
        )
    if samples.media == "video" and samples.face_frames < MIN_FACE_FRAMES:
        reasons.append(
            Doubt(
                "few_frames",
                f"Only {samples.face_frames} sampled frame(s) showed a face; at least "
                f"{MIN_FACE_FRAMES} are needed for a firm answer (try a higher fps).",
                blocking=True,
            )
        )
    if statistics.median(brightness(c) for c in crops) < DARK_MEAN:
        reasons.append(Doubt("too_dark", "The faces are too dark to judge.", blocking=True))
    if statistics.median(sharpness(c) for c in crops) < BLUR_VARIANCE:
        reasons.append(Doubt("too_blurry", "The faces are too blurry to judge.", blocking=True))
    rate = samples.face_frames / samples.sampled_frames
    if samples.media == "video" and rate < LOW_COVERAGE:
        reasons.append(
            Doubt(
                "low_coverage",
                f"A face was found in {rate:.0%} of the sampled frames; the verdict speaks for "
                "those frames only.",
                blocking=False,
            )
        )
    return reasons


def _truncation(samples: FaceSamples) -> list[Doubt]:
    """A file cut short (an interrupted upload or copy) decodes as far as it goes; judging the
    part that is left as if it were the whole would be a confident answer about a fragment."""
    share = decoded_share(samples)
    if share is None or share >= TRUNCATED_BELOW:
        return []
    fps, declared = samples.info.src_fps, samples.info.total_frames
    if fps > 0:
        seconds = declared / fps
        decoded = f"{share * seconds:.1f} s of the declared {seconds:.1f} s"
    else:
        decoded = f"{round(share * declared)} of the declared {declared} frames"
    return [
        Doubt(
            "truncated_input",
            f"Only {decoded} could be decoded ({share:.0%}): the file is truncated or damaged.",
            blocking=True,
        )
    ]


def decoded_share(samples: FaceSamples) -> float | None:
    """How much of the declared length the decoder delivered before it ran out; None when it
    did not run out (it was stopped) or nothing was declared.

    The larger of two measures: frames, and time (the last frame's timestamp), since a frame
    count a container only estimates (Matroska: duration x nominal rate) overstates the frames
    of variable-rate video, whose timestamps still reach the declared duration."""
    end, declared, fps = samples.end, samples.info.total_frames, samples.info.src_fps
    if end is None or end.reason != "decoder_ended" or declared <= 0:
        return None
    by_frames = end.frames_walked / declared
    if fps <= 0 or end.last_t is None:
        return min(1.0, by_frames)
    by_time = (end.last_t + 1 / fps) / (declared / fps)
    return min(1.0, max(by_frames, by_time))
