"""All face crops of a list of items, as arrays, cached once as .npz.

Cropping (decode + Haar) costs far more than a training epoch on small crops, so it runs once; the
cache file is keyed by the items and the extraction settings and rebuilt when either changes.
Keep caches outside the repository (a /tmp or other ignored folder).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from api.contract import DEFAULT_CROP_SIZE
from api.pipeline.faces import HaarFaceDetector
from training.crops import MARGIN, Crops, media_crops
from training.data import Item

log = logging.getLogger(__name__)

TRAIN_FPS = 4.0  # more frames per clip than the gateway's default 2 fps: more training crops
MAX_FRAMES = 256  # the gateway's MAX_FRAMES default


@dataclass(frozen=True, slots=True)
class Extraction:
    target_fps: float = TRAIN_FPS
    max_frames: int = MAX_FRAMES
    margin: float = MARGIN
    # Look for a face inside each crop to flag doubtful ones (for training; ~5 ms a crop).
    flag_doubtful: bool = True
    crop_size: int = DEFAULT_CROP_SIZE  # the model's input size


@dataclass(slots=True)
class CropSet:
    """Crops with, per crop, the item it came from; per item, its path, label, group, source."""

    crops: np.ndarray  # uint8 [N, S, S, 3] RGB, S = DEFAULT_CROP_SIZE
    item: np.ndarray  # int32 [N]: index into the item arrays
    times: np.ndarray  # float32 [N]: seconds into the video (0 for images)
    confident: np.ndarray  # bool [N]: the cascade finds a face inside the crop itself
    paths: np.ndarray  # str [M]
    item_labels: np.ndarray  # int8 [M]: 0 real, 1 fake
    groups: np.ndarray  # str [M]
    sources: np.ndarray  # str [M]
    sampled: np.ndarray  # int32 [M]: frames looked at per item (detection rate = crops/sampled)

    def __len__(self) -> int:
        return len(self.crops)

    @property
    def labels(self) -> np.ndarray:
        """Per crop: 0 real, 1 fake."""
        labels: np.ndarray = self.item_labels[self.item]
        return labels

    @property
    def crop_groups(self) -> np.ndarray:
        groups: np.ndarray = self.groups[self.item]
        return groups

    @property
    def crop_sources(self) -> np.ndarray:
        sources: np.ndarray = self.sources[self.item]
        return sources

    def select(self, mask: np.ndarray) -> CropSet:
        """The crops where `mask` is true (item arrays are kept whole)."""
        return CropSet(
            crops=self.crops[mask],
            item=self.item[mask],
            times=self.times[mask],
            confident=self.confident[mask],
            paths=self.paths,
            item_labels=self.item_labels,
            groups=self.groups,
            sources=self.sources,
            sampled=self.sampled,
        )

    def of_items(self, paths: set[str]) -> CropSet:
        return self.select(np.isin(self.paths[self.item], sorted(paths)))

    def save(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {name: getattr(self, name) for name in self.__dataclass_fields__}
        np.savez(path, **arrays)
        return path

    @classmethod
    def load(cls, path: Path) -> CropSet:
        with np.load(path) as data:
            return cls(**{name: data[name] for name in cls.__dataclass_fields__})


def _extract(args: tuple[Item, Extraction]) -> Crops:
    item, settings = args
    try:
        return media_crops(
            item.path,
            HaarFaceDetector(),
            target_fps=settings.target_fps,
            max_frames=settings.max_frames,
            margin=settings.margin,
            check=settings.flag_doubtful,
            size=settings.crop_size,
        )
    except Exception as exc:  # one unreadable file must not sink a long preparation
        log.warning("skipping %s: %s", item.path, exc)
        return Crops()


def build(
    items: Sequence[Item],
    settings: Extraction | None = None,
    *,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> CropSet:
    """Crop every item (in `workers` processes); items without a face keep zero crops."""
    settings = settings or Extraction()
    jobs = [(item, settings) for item in items]
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            results = _collect(pool.map(_extract, jobs, chunksize=16), len(jobs), progress)
    else:
        results = _collect(map(_extract, jobs), len(jobs), progress)
    counts = [len(r.crops) for r in results]
    empty = np.zeros((0, settings.crop_size, settings.crop_size, 3), np.uint8)
    return CropSet(
        crops=np.stack([c for r in results for c in r.crops]) if sum(counts) else empty,
        item=np.repeat(np.arange(len(items), dtype=np.int32), counts),
        times=np.array([t for r in results for t in r.times], np.float32),
        confident=np.array([c for r in results for c in r.confident], bool),
        paths=np.array([str(i.path) for i in items]),
        item_labels=np.array([i.label for i in items], np.int8),
        groups=np.array([i.group for i in items]),
        sources=np.array([i.source for i in items]),
        sampled=np.array([r.sampled for r in results], np.int32),
    )


def _collect(
    results: Iterable[Crops], total: int, progress: Callable[[int, int], None] | None
) -> list[Crops]:
    out: list[Crops] = []
    for result in results:
        out.append(result)
        if progress is not None:
            progress(len(out), total)
    return out


def pipeline_fingerprint() -> str:
    """A hash of the code that cuts crops (the gateway's pipeline and training/crops.py): a cache
    written by other code is not reused, so training keeps seeing the gateway's crops."""
    import api.pipeline
    import training.crops

    digest = hashlib.sha256()
    for folder in (Path(api.pipeline.__file__).parent,):
        for source in sorted(folder.glob("*.py")):
            digest.update(source.read_bytes())
    digest.update(Path(training.crops.__file__).read_bytes())
    return digest.hexdigest()[:16]


def cache_key(items: Sequence[Item], settings: Extraction) -> str:
    payload = json.dumps(
        [[str(i.path.resolve()), i.label, i.group, i.source] for i in items]
        + [[settings.target_fps, settings.max_frames, settings.margin, settings.flag_doubtful]]
        # Only another size joins the key, so caches cut at the contract's default stay valid.
        + ([[settings.crop_size]] if settings.crop_size != DEFAULT_CROP_SIZE else [])
        + [pipeline_fingerprint()]
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def cached(
    items: Sequence[Item],
    cache_dir: Path,
    settings: Extraction | None = None,
    *,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> CropSet:
    """`build`, or the .npz a previous call with the same items and settings wrote."""
    settings = settings or Extraction()
    path = cache_dir / f"crops-{cache_key(items, settings)}.npz"
    if path.is_file():
        log.info("crops from cache %s", path)
        cropset = CropSet.load(path)
        # The key is on resolved paths; report them as this caller spelt them.
        cropset.paths = np.array([str(i.path) for i in items])
        return cropset
    cropset = build(items, settings, workers=workers, progress=progress)
    cropset.save(path)
    log.info("cached %d crops of %d items in %s", len(cropset), len(items), path)
    return cropset
