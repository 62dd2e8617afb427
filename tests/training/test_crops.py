"""Training crops are the gateway's crops: same extraction code, same pixels."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from api.contract import DEFAULT_CROP_SIZE as SIZE
from api.pipeline.extract import extract_faces, extract_image_faces
from api.pipeline.faces import HaarFaceDetector
from tests.support.training_data import face_crops, scene
from tests.support.videos import astronaut_bgr, blank_frame
from training.crops import face_in_crop, image_crops, media_crops, video_crops
from training.cropset import CropSet, Extraction, build, cached
from training.data import Item


def test_video_crops_are_exactly_what_the_gateway_scores(videos: dict[str, Path]) -> None:
    gateway = extract_faces(
        videos["mixed"], target_fps=4, max_frames=256, detector=HaarFaceDetector(), margin=0.2
    )
    ours = video_crops(videos["mixed"], HaarFaceDetector(), target_fps=4, max_frames=256)
    assert ours.sampled == gateway.sampled_frames == 20  # 10 fps, every 2nd frame
    assert len(ours.crops) == gateway.face_frames == 10
    assert all(np.array_equal(a, b) for a, b in zip(ours.crops, gateway.crops, strict=True))
    assert ours.times == gateway.times
    assert ours.confident == [True] * 10  # a face inside every crop


def test_image_crop_is_the_gateways_largest_face(tmp_path: Path) -> None:
    path = tmp_path / "photo.png"
    cv2.imwrite(str(path), scene(np.random.default_rng(0), 480, 360))
    gateway = extract_image_faces(path, detector=HaarFaceDetector(), margin=0.2)
    got = image_crops(path, HaarFaceDetector())
    assert got.sampled == 1
    assert len(got.crops) == 1
    assert np.array_equal(got.crops[0], gateway.frames[0].faces[0].crop)
    assert got.confident == [True]


def test_a_tight_face_photo_is_found_with_a_border(tmp_path: Path) -> None:
    frame = scene(np.random.default_rng(0), 480, 360)
    box = HaarFaceDetector().detect_all(frame)[0]
    x, y, w, h = box
    inset = round(0.1 * w)  # nothing but the inner face: tighter than UTKFace
    path = tmp_path / "tight.png"
    cv2.imwrite(str(path), frame[y + inset : y + h - inset, x + inset : x + w - inset])
    assert extract_image_faces(path, detector=HaarFaceDetector(), margin=0.2).face_frames == 0
    assert len(image_crops(path, HaarFaceDetector()).crops) == 1


def test_no_face_no_crop(tmp_path: Path) -> None:
    path = tmp_path / "wall.png"
    cv2.imwrite(str(path), blank_frame(320, 240))
    assert image_crops(path, HaarFaceDetector()).crops == []
    with pytest.raises(ValueError, match="neither"):
        media_crops(tmp_path / "x.txt", HaarFaceDetector(), target_fps=2, max_frames=4)


def test_the_in_crop_check_tells_faces_from_walls() -> None:
    faces = face_crops(4)
    assert all(face_in_crop(c) for c in faces)
    wall = cv2.cvtColor(blank_frame(SIZE, SIZE), cv2.COLOR_BGR2RGB)
    assert not face_in_crop(wall)
    # The corner of the photo (hair, suit, sky): no face inside, though Haar may fire on it.
    corner = cv2.resize(cv2.cvtColor(astronaut_bgr()[300:, 300:], cv2.COLOR_BGR2RGB), (SIZE, SIZE))
    assert not face_in_crop(corner)


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
