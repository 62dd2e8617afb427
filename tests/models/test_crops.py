"""Training crops are the gateway's crops: same extraction code, same pixels."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from api.pipeline.extract import extract_faces
from api.pipeline.faces import HaarFaceDetector, crop, expand, largest
from models.crops import ConfidenceDetector, image_crops, iou, media_crops, video_crops
from models.cropset import CropSet, Extraction, build, cached
from models.data import Item
from tests.support.training_data import scene
from tests.support.videos import blank_frame, face_frame


def test_video_crops_are_exactly_what_the_gateway_scores(videos: dict[str, Path]) -> None:
    gateway = extract_faces(
        videos["mixed"], target_fps=4, max_frames=256, detector=HaarFaceDetector(), margin=0.2
    )
    ours = video_crops(videos["mixed"], ConfidenceDetector(), target_fps=4, max_frames=256)
    assert ours.sampled == gateway.sampled_frames == 20  # 10 fps, every 2nd frame
    assert len(ours.crops) == gateway.face_frames == 10
    assert all(np.array_equal(a, b) for a, b in zip(ours.crops, gateway.crops, strict=True))
    assert ours.times == gateway.times
    # Mostly one clear face; where the cascade also fires on the background with a larger box,
    # the gateway crops that box and the flag says so.
    assert len(ours.confident) == 10
    assert sum(ours.confident) >= 8


def test_the_surest_box_beats_a_larger_false_detection() -> None:
    # In this frame the cascade also fires on the photo's background with a bigger box (level
    # weight ~0.8 vs ~5 for the face): "largest" picks the wrong one, the flag catches it.
    frame = face_frame(18, 40)
    detector = ConfidenceDetector()
    boxes = detector.detect(frame)
    assert len(boxes) == 2
    face = detector.confident[-1]
    assert face is not None
    assert iou(face, (260, 71, 57, 57)) > 0.9
    wrong = largest(boxes)
    assert wrong is not None
    assert iou(wrong, face) == 0.0


def test_image_crop_is_the_gateway_crop(tmp_path: Path) -> None:
    frame = scene(np.random.default_rng(0), 480, 360)
    path = tmp_path / "photo.png"
    cv2.imwrite(str(path), frame)
    detector = HaarFaceDetector()
    box = largest(detector.detect(frame))
    assert box is not None
    expected = crop(frame, expand(box, 480, 360, 0.2))
    got = image_crops(path, ConfidenceDetector())
    assert got.sampled == 1
    assert len(got.crops) == 1
    assert np.array_equal(got.crops[0], expected)


def test_no_face_no_crop(tmp_path: Path) -> None:
    path = tmp_path / "wall.png"
    cv2.imwrite(str(path), blank_frame(320, 240))
    assert image_crops(path, HaarFaceDetector()).crops == []
    with pytest.raises(ValueError, match="neither"):
        media_crops(tmp_path / "x.txt", HaarFaceDetector(), target_fps=2, max_frames=4)


def test_iou() -> None:
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (5, 0, 10, 10)) == pytest.approx(50 / 150)
    assert iou((0, 0, 10, 10), (20, 20, 5, 5)) == 0.0


def test_cropset_build_cache_and_select(tmp_path: Path, videos: dict[str, Path]) -> None:
    image = tmp_path / "photo.png"
    cv2.imwrite(str(image), scene(np.random.default_rng(1), 480, 360))
    items = [
        Item(videos["faces"], 0, "v1", "clips"),
        Item(videos["no_face"], 1, "v2", "clips"),
        Item(image, 1, "p1", "photos"),
    ]
    settings = Extraction(target_fps=2, max_frames=256)
    first = cached(items, tmp_path / "cache", settings)
    assert len(list((tmp_path / "cache").glob("*.npz"))) == 1
    assert first.sampled.tolist() == [8, 4, 1]
    assert first.item.tolist() == [0] * 8 + [2]  # the faceless clip has no crops
    assert first.labels.tolist() == [0] * 8 + [1]
    # The same files spelt another way hit the cache and come back spelt the caller's way.
    relative = [Item(Path(os.path.relpath(i.path)), i.label, i.group, i.source) for i in items]
    again = cached(relative, tmp_path / "cache", settings)
    assert len(list((tmp_path / "cache").glob("*.npz"))) == 1
    assert again.paths.tolist() == [str(i.path) for i in relative]
    assert np.array_equal(again.crops, first.crops)
    assert again.crop_sources.tolist() == ["clips"] * 8 + ["photos"]
    photos = first.of_items({str(image)})
    assert (len(photos), photos.item.tolist()) == (1, [2])
    plain = build(items[:1], Extraction(target_fps=2, flag_doubtful=False))
    assert np.array_equal(plain.crops, first.crops[:8])
    assert isinstance(CropSet.load(next((tmp_path / "cache").glob("*.npz"))), CropSet)
