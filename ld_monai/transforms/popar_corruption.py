# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""POPAR's corruption of PEAC's first view: its cells put out of order, or its appearance corrupted, and the clean
view to restore (Zhou et al., BMVC 2023, arXiv 2312.00335, research code ``utils/build_loader_global_local.py``
lines 129-141 and the model's in-place patch permutation, ``global_local_popar_swin.py`` lines 168-175; method spec
B2 step 8 and B3).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping

import torch
from monai.config import KeysCollection
from monai.transforms.transform import MapTransform, Randomizable, RandomizableTransform

from ld_monai.transforms.appearance_corruption import appearance_corruption

__all__ = ["shuffle_cells", "RandPopARCorruptiond", "RandPopARCorruptionD", "RandPopARCorruptionDict"]


def _cell_grid(image: torch.Tensor, cell_size: int) -> tuple[int, int]:
    """Rows and columns of ``cell_size`` cells in a (C, H, W) image made of whole cells."""
    height, width = image.shape[1:]
    if height % cell_size or width % cell_size:
        raise ValueError(f"a {height} x {width} view is not made of whole cells of {cell_size} px.")
    return height // cell_size, width // cell_size


def shuffle_cells(image: torch.Tensor, permutation: torch.Tensor, cell_size: int) -> torch.Tensor:
    """The image (C, H, W) re-assembled from its ``cell_size`` cells so that cell ``j`` (row-major) of the output
    is cell ``permutation[j]`` of the input, as the research model's ``x_b[j] <- x_b[pi_b(j)]``."""
    channels, height, width = image.shape
    rows, columns = _cell_grid(image, cell_size)
    if permutation.numel() != rows * columns:
        raise ValueError(f"shuffle_cells: {permutation.numel()} positions for {rows * columns} cells.")
    cells = image.reshape(channels, rows, cell_size, columns, cell_size).permute(1, 3, 0, 2, 4)
    cells = cells.reshape(rows * columns, channels, cell_size, cell_size)[permutation]
    out = cells.reshape(rows, columns, channels, cell_size, cell_size).permute(2, 0, 3, 1, 4)
    return out.reshape(channels, height, width)


class RandPopARCorruptiond(RandomizableTransform, MapTransform):
    """Corrupt the view ``keys`` (C, H, W) in [0, 1], whole ``cell_size`` cells, one of two ways (POPAR):

    * with probability ``order_prob`` (0.5), **order**: its cells are permuted by a uniform random permutation ``pi``
      (:func:`shuffle_cells`), appearance untouched;
    * otherwise, **appearance**: ``appearance`` (default :func:`~ld_monai.transforms.appearance_corruption` for the
      view's size) with the cells in order (``pi`` the identity).

    Writes the clean view to ``target_key`` (what the restoration head must give back: appearance and order),
    ``pi`` to ``permutation_key`` (a LongTensor of one position per cell, row-major: the order head's target for
    token ``j`` is ``pi[j]``) and whether the order was shuffled to ``shuffled_key`` (PEAC's local consistency uses
    only unshuffled views). Example::

        corrupt = RandPopARCorruptiond("view1", cell_size=32)
        out = corrupt({"view1": torch.rand(1, 448, 448)})
        out["permutation"].shape  # (196,)
    """

    def __init__(self, keys: KeysCollection, cell_size: int = 32, order_prob: float = 0.5,
                 appearance: Callable[[torch.Tensor], torch.Tensor] | None = None,
                 target_key: str = "restoration_target", permutation_key: str = "permutation",
                 shuffled_key: str = "shuffled", allow_missing_keys: bool = False) -> None:
        MapTransform.__init__(self, keys, allow_missing_keys)
        RandomizableTransform.__init__(self, prob=order_prob)
        if len(self.keys) != 1:
            raise ValueError(f"RandPopARCorruptiond corrupts one view, got keys {self.keys}.")
        self.cell_size, self.appearance = cell_size, appearance
        self.target_key, self.permutation_key, self.shuffled_key = target_key, permutation_key, shuffled_key
        self._appearance_by_size: dict[int, Callable] = {}

    def set_random_state(self, seed: int | None = None, state=None) -> RandPopARCorruptiond:
        super().set_random_state(seed, state)
        self._appearance_by_size.clear()  # rebuilt from self.R, so that the whole corruption repeats with the seed
        if isinstance(self.appearance, Randomizable):
            self.appearance.set_random_state(state=self.R)
        return self

    def _appearance_for(self, size: int) -> Callable[[torch.Tensor], torch.Tensor]:
        if self.appearance is not None:
            return self.appearance
        if size not in self._appearance_by_size:
            self._appearance_by_size[size] = appearance_corruption(size).set_random_state(state=self.R)
        return self._appearance_by_size[size]

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict:
        d = dict(data)
        self.randomize(None)
        for key in self.key_iterator(d):
            view = d[key]
            rows, columns = _cell_grid(view, self.cell_size)
            cells = rows * columns
            d[self.target_key] = view
            if self._do_transform:
                permutation = torch.as_tensor(self.R.permutation(cells), dtype=torch.long)
                d[key] = shuffle_cells(view, permutation, self.cell_size)
            else:
                permutation = torch.arange(cells)
                d[key] = self._appearance_for(view.shape[1])(view.clone())  # some corruptions work in place
            d[self.permutation_key] = permutation
            d[self.shuffled_key] = torch.tensor(bool(self._do_transform))
        return d


RandPopARCorruptionD = RandPopARCorruptionDict = RandPopARCorruptiond
