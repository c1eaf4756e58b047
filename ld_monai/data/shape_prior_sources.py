# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Sources of shape-prior masks for LD's shape-guided segmentation (method spec A8): each draws one binary
mask (H, W), float32 in {0, 1}, from a ``numpy.random.RandomState``.

* :class:`MaskFolderPrior`: masks of another modality or data set (the research code's OCTA and DSA vessel masks,
  SCR lung masks, drawn shapes), any 2-D image format MONAI reads;
* :class:`EllipsePrior`: simulated ellipses (the paper's prior for the optic disc);
* :func:`scr_lung_masks`: the left and right lung masks of the SCR annotations merged into one per radiograph;
* :func:`prior_foreground_fraction`: the mean foreground fraction of a source's masks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from monai.transforms import LoadImage

from ld_monai.data.image_folder import PIL_EXTENSIONS, image_folder_datalist

__all__ = ["MaskFolderPrior", "EllipsePrior", "scr_lung_masks", "prior_foreground_fraction"]


def _binary(image: np.ndarray, max_side: int | None = None) -> np.ndarray:
    """Any 2-D (or channel-last) mask -> bool: foreground where above half its maximum (0/255 and 0/1 files
    alike), area-downsampled first so that its longer side is at most ``max_side``."""
    array = np.asarray(image, dtype=np.float32)
    if array.ndim == 3:
        array = array.max(axis=-1)
    if array.ndim != 2:
        raise ValueError(f"a shape-prior mask must be 2-D, got shape {array.shape}.")
    peak = array.max()
    if peak <= 0:
        raise ValueError("a shape-prior mask is empty.")
    array = array / peak
    if max_side and max(array.shape) > max_side:
        size = [max(1, round(n * max_side / max(array.shape))) for n in array.shape]
        array = F.interpolate(torch.from_numpy(array)[None, None], size=size, mode="area")[0, 0].numpy()
    return array > 0.5


class MaskFolderPrior:
    """Binary masks read once from files (a folder, searched recursively, or a list of files, or arrays); each
    draw returns one of them, uniformly, as the research code draws its prior masks.

    Args:
        masks: a folder, a sequence of files, or a sequence of 2-D arrays.
        max_side: masks with a longer side are downsampled (area) to it on reading; they are augmented and resized
            to the training size anyway, and 247 SCR masks at 1024 px would otherwise take 250 MB.

    Raises:
        ValueError: no mask found, or a mask is empty or not 2-D.
    """

    def __init__(self, masks: str | Path | Sequence[str | Path | np.ndarray] | None,
                 max_side: int | None = 512) -> None:
        if masks is None:
            raise ValueError("no shape-prior masks: give a folder of binary masks (the bundles' prior_dir).")
        if isinstance(masks, (str, Path)):
            masks = [entry["image"] for entry in image_folder_datalist(masks, extensions=PIL_EXTENSIONS)]
        read = LoadImage(image_only=True, reader="PILReader", reverse_indexing=False)  # (H, W) or (H, W, C)
        self.masks = [_binary(m if isinstance(m, np.ndarray) else read(str(m)), max_side) for m in masks]
        if not self.masks:
            raise ValueError("no shape-prior masks given.")

    def __len__(self) -> int:
        return len(self.masks)

    def __call__(self, rng: np.random.RandomState) -> np.ndarray:
        return self.masks[rng.randint(len(self.masks))].astype(np.float32)


class EllipsePrior:
    """Filled ellipses at random sizes, aspect ratios, angles and centres: the simulated optic-disc prior.

    The centre is uniform in the middle ``centre_range`` fraction of the image, the semi-major axis a
    ``radius_range`` fraction of the side, the minor one ``aspect_range`` times it, the angle uniform.
    """

    def __init__(self, size: int = 256, radius_range: tuple[float, float] = (0.08, 0.2),
                 aspect_range: tuple[float, float] = (0.8, 1.0), centre_range: float = 0.5) -> None:
        self.size, self.radius_range, self.aspect_range = size, radius_range, aspect_range
        self.centre_range = centre_range
        self._yy, self._xx = np.mgrid[:size, :size].astype(np.float32) + 0.5  # pixel centres, made once

    def __call__(self, rng: np.random.RandomState) -> np.ndarray:
        side = self.size
        cy, cx = (0.5 + (rng.uniform(size=2) - 0.5) * self.centre_range) * side
        major = rng.uniform(*self.radius_range) * side
        minor = major * rng.uniform(*self.aspect_range)
        angle = rng.uniform(0, np.pi)
        yy, xx = self._yy, self._xx
        u = (xx - cx) * np.cos(angle) + (yy - cy) * np.sin(angle)
        v = -(xx - cx) * np.sin(angle) + (yy - cy) * np.cos(angle)
        return ((u / major) ** 2 + (v / minor) ** 2 <= 1.0).astype(np.float32)


def scr_lung_masks(scr_dir: str | Path | None, max_side: int | None = 512) -> list[np.ndarray]:
    """Both lungs of each SCR-annotated JSRT radiograph as one mask (``masks/left_lung`` and ``masks/right_lung``,
    matched by file name), for :class:`MaskFolderPrior`."""
    if scr_dir is None:
        raise ValueError("no SCR annotations: give the folder holding masks/left_lung and masks/right_lung "
                         "(the bundle's prior_dir).")
    folder = Path(scr_dir) / "masks"
    left, right = ({Path(entry["image"]).name: entry["image"]
                    for entry in image_folder_datalist(folder / side, extensions=PIL_EXTENSIONS)}
                   for side in ("left_lung", "right_lung"))
    names = sorted(set(left) & set(right))
    if not names:
        raise ValueError(f"no radiograph has both lung masks under {folder}.")
    prior = MaskFolderPrior([left[n] for n in names] + [right[n] for n in names], max_side)
    half = len(names)
    return [prior.masks[i] | prior.masks[half + i] for i in range(half)]


def prior_foreground_fraction(source: Callable[[np.random.RandomState], np.ndarray], draws: int = 64,
                              seed: int = 0) -> float:
    """The mean foreground fraction of ``draws`` masks of ``source`` (seeded): the share of the image that the
    prior's structure covers, e.g. about 0.3 for the SCR lungs, 0.06 for the simulated discs."""
    rng = np.random.RandomState(seed)
    return float(np.mean([np.asarray(source(rng), dtype=np.float32).mean() for _ in range(draws)]))
