# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""PEAC's sampler: two overlapping crops on a shared grid of cells, and which cells of each are the same image cells
(Zhou et al., "Learning Anatomically Consistent Embedding for Chest Radiography", BMVC 2023, arXiv 2312.00335;
research code ``utils/build_loader_global_local.py``, ``GridRandomCrop``, ``PatchCrop`` and ``get_index``; method
spec B2).

Every cell is ``cell_size`` pixels square: one token of a backbone of stride ``cell_size`` (32 for Swin's last stage).
The research code crops the two views at cell offsets ``(x, y)`` with x the *row* offset, but fills the overlap
masks as ``mask[y-range, x-range]``: the masks are transposed, and the k-th matched tokens are the same image cell
only when ``x1 - x2 == y1 - y2`` (for offsets uniform in {0..4}, 85/625 of the draws: 86 % are wrong; method spec B4,
"Grid-matching index bug"). Here offsets are named by axis (``row``, ``column``) and the masks index the cells they
name (:func:`grid_overlap_masks`).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

import torch
from monai.config import KeysCollection
from monai.transforms import SpatialCrop
from monai.transforms.transform import MapTransform, RandomizableTransform

__all__ = ["grid_overlap_masks", "RandGridCropPaird", "RandGridCropPairD", "RandGridCropPairDict"]


def grid_overlap_masks(offset1: Sequence[int], offset2: Sequence[int], view_cells: int) -> tuple[torch.Tensor, ...]:
    """The overlap of two square views of ``view_cells`` x ``view_cells`` cells whose top-left cells are at
    ``offset1`` and ``offset2`` (row, column) on a common grid: two boolean vectors of length ``view_cells**2``
    (row-major over each view's cells) marking the shared cells. Matching is by order: the k-th True of the first
    and the k-th True of the second are the same grid cell, because both enumerate the shared cells row by row.
    """
    masks = []
    rows = range(max(offset1[0], offset2[0]), min(offset1[0], offset2[0]) + view_cells)
    columns = range(max(offset1[1], offset2[1]), min(offset1[1], offset2[1]) + view_cells)
    for row, column in (offset1, offset2):
        mask = torch.zeros(view_cells, view_cells, dtype=torch.bool)
        if len(rows) and len(columns):
            mask[rows.start - row: rows.stop - row, columns.start - column: columns.stop - column] = True
        masks.append(mask.flatten())
    return tuple(masks)


class RandGridCropPaird(RandomizableTransform, MapTransform):
    """Two views of ``keys`` (channel-first (C, H, W)) on a common grid, and the cells they share (PEAC, method
    spec B2 steps 4-6).

    From the top-left corner, a grid phase ``(p_r, p_c)`` is drawn uniform in ``[0, cell_size - 1]`` (``jitter``;
    the research code's ``GridRandomCrop``), then each view's top-left cell ``(row, column)`` uniform in
    ``{0..max_offset}`` (``PatchCrop``). View ``i`` is the image's pixels
    ``[p_r + row_i * cell_size, + view_cells * cell_size) x [p_c + column_i * cell_size, + view_cells * cell_size)``,
    written to ``view_keys[i]`` (a MetaTensor whose affine follows the crop, :class:`monai.transforms.SpatialCrop`;
    the image itself is dropped);
    ``overlap_keys[i]`` gets view ``i``'s boolean overlap mask (:func:`grid_overlap_masks`) and ``offset_key`` the
    offsets as ``[[p_r, p_c], [row_1, column_1], [row_2, column_2]]``. The research defaults: 32-px cells, 14-cell
    views (448 px) and offsets up to 4, after a centre crop of 19 cells (608 px), so that every overlap has at least
    10 x 10 cells.

    The image must hold ``(view_cells + max_offset) * cell_size`` pixels per side, plus ``cell_size - 1`` with
    ``jitter``.

    Example::

        crops = RandGridCropPaird("image")
        out = crops({"image": torch.rand(1, 608, 608)})
        out["view1"].shape, out["overlap1"].sum()  # (1, 448, 448), at least 100 shared cells
    """

    def __init__(self, keys: KeysCollection, cell_size: int = 32, view_cells: int = 14, max_offset: int = 4,
                 jitter: bool = True, view_keys: Sequence[str] = ("view1", "view2"),
                 overlap_keys: Sequence[str] = ("overlap1", "overlap2"), offset_key: str = "grid_offsets",
                 allow_missing_keys: bool = False) -> None:
        MapTransform.__init__(self, keys, allow_missing_keys)
        RandomizableTransform.__init__(self, prob=1.0)
        if len(self.keys) != 1:
            raise ValueError(f"RandGridCropPaird crops one image key into two views, got keys {self.keys}.")
        if cell_size < 1 or view_cells < 1 or max_offset < 0:
            raise ValueError(f"need cell_size >= 1, view_cells >= 1, max_offset >= 0; got {cell_size}, {view_cells}, "
                             f"{max_offset}.")
        if len(view_keys) != 2 or len(overlap_keys) != 2:
            raise ValueError("view_keys and overlap_keys name two views each.")
        self.cell_size, self.view_cells, self.max_offset, self.jitter = cell_size, view_cells, max_offset, jitter
        self.view_keys, self.overlap_keys, self.offset_key = tuple(view_keys), tuple(overlap_keys), offset_key
        self.phase, self.offsets = (0, 0), ((0, 0), (0, 0))

    @property
    def required_size(self) -> int:
        """The least image side, in pixels."""
        return (self.view_cells + self.max_offset) * self.cell_size + (self.cell_size - 1 if self.jitter else 0)

    def randomize(self, data=None) -> None:
        high = self.cell_size if self.jitter else 1
        self.phase = tuple(int(v) for v in self.R.randint(0, high, size=2))
        drawn = self.R.randint(0, self.max_offset + 1, size=4)
        self.offsets = ((int(drawn[0]), int(drawn[1])), (int(drawn[2]), int(drawn[3])))

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict:
        d = dict(data)
        self.randomize()
        for key in self.key_iterator(d):
            image = d.pop(key)
            if min(image.shape[1:]) < self.required_size:
                raise ValueError(f"RandGridCropPaird: {key!r} is {tuple(image.shape[1:])} px, needs at least "
                                 f"{self.required_size} px per side ({self.view_cells} + {self.max_offset} cells of "
                                 f"{self.cell_size} px{', plus the grid phase' if self.jitter else ''}).")
            side = self.view_cells * self.cell_size
            for view_key, (row, column) in zip(self.view_keys, self.offsets):
                start = (self.phase[0] + row * self.cell_size, self.phase[1] + column * self.cell_size)
                # a copy: SpatialCrop slices, and the views overlap (a corruption of one would reach the other)
                d[view_key] = SpatialCrop(roi_start=start, roi_end=(start[0] + side, start[1] + side))(image).clone()
            masks = grid_overlap_masks(*self.offsets, self.view_cells)
            d.update(zip(self.overlap_keys, masks))
            d[self.offset_key] = torch.tensor([self.phase, *self.offsets])
        return d


RandGridCropPairD = RandGridCropPairDict = RandGridCropPaird
