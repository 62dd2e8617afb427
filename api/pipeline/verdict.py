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

Then what the file declares about itself (its C2PA manifest or XMP metadata, read by
api.provenance) is applied by `apply_provenance`. Evidence that lowers trust counts whoever
signed it; evidence that raises trust never overrides the detector:
- declared_ai_generated: the verdict is "fake", decision rule "provenance", whatever the
  detector found (a face the file says was generated is generated, scored or not);
- declared_ai_edited, edited_after_signing: a "real" verdict becomes "uncertain" (the detector
  may have judged an edit it cannot see); "fake" and "uncertain" stay;
- declared_captured, no_provenance: no change and no reason. A capture claim, even from a
  trusted signer, is reported under `provenance` only: it never overrides a detector's "fake"
  (a signed file can show a screen or a print of a deepfake), and a "real" needs no support.
The detector's own numbers (decision score, track) are kept in every case.
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
    "declared_ai_generated",
    "declared_ai_edited",
    "edited_after_signing",
]
# The summaries api.provenance gives (its `Summary`; tests check that the two agree). Spelt out
# here because the pipeline depends on nothing above it.
ProvenanceSummary = Literal[
    "declared_ai_generated",
    "declared_ai_edited",
    "declared_captured",
    "edited_after_signing",
    "no_provenance",
]
DecisionRule = Literal["most_suspicious_track", "provenance"]

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
    blocking: bool  # makes the verdict "uncertain" (provenance reasons: see apply_provenance)


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
    rule: DecisionRule = "most_suspicious_track"


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


def apply_provenance(
    assessment: Assessment, summary: ProvenanceSummary, declared_by: str
) -> Assessment:
    """The verdict once the file's own declarations are counted (rules in the module's doc).

    `declared_by` names where the declaration was read, e.g. "its C2PA manifest (signed by
    Example CA, not a trusted signer)", for the reason's message."""
    if summary == "declared_ai_generated":
        assessment.reasons.append(
            Doubt(
                "declared_ai_generated",
                f"The file declares itself AI-generated in {declared_by}: the verdict is fake "
                "whatever the detector scored. Ask the source for the original if you "
                "believe it was captured by a camera.",
                blocking=False,  # it decides the verdict rather than weakening it
            )
        )
        assessment.verdict, assessment.rule = "fake", "provenance"
    elif summary in ("declared_ai_edited", "edited_after_signing"):
        assessment.reasons.append(_lowered_trust(summary, declared_by))
        if assessment.verdict == "real":
            assessment.verdict = "uncertain"
    return assessment


def _lowered_trust(summary: ProvenanceSummary, declared_by: str) -> Doubt:
    if summary == "declared_ai_edited":
        message = (
            f"The file declares that AI edited it, in {declared_by}: the detector may not see "
            "such edits, so a real verdict is reported as uncertain. Check what was edited "
            "(the manifest's actions) or ask the source for the unedited original."
        )
        return Doubt("declared_ai_edited", message, blocking=False)
    message = (
        f"The file was changed after it was signed: {declared_by} no longer matches its "
        "content, so what the signer vouched for is not what was uploaded and a real verdict "
        "is reported as uncertain. Ask the source for the file as it was signed."
    )
    return Doubt("edited_after_signing", message, blocking=False)
