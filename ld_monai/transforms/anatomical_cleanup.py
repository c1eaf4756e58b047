# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Anatomical clean-up of binary structure channels (K, H, W), one sigmoid channel per structure: what MONAI's
``FillHoles`` and label logic lack for channels that are not one-hot (a cup lies inside its disc, both are 1 there).

* :class:`FillStructureHolesd`: MONAI ``FillHoles`` on each named channel alone (``FillHoles`` reads several
  channels as one-hot with channel 0 the background, which sigmoid structures are not);
* :class:`NestStructuresd`: an inner structure kept only inside its outer one (the optic cup inside the disc).

:func:`ld_monai.transforms.structure_cleanup` chains them after MONAI's ``KeepLargestConnectedComponentd``.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

import torch
from monai.config import KeysCollection
from monai.transforms import FillHoles, MapTransform

__all__ = ["FillStructureHolesd", "NestStructuresd"]


class FillStructureHolesd(MapTransform):
    """Fill the enclosed holes of channels ``channels`` of each key (binary (K, H, W)), each channel on its own
    (MONAI ``FillHoles`` of that channel as a one-label map; ``connectivity`` as there)."""

    def __init__(self, keys: KeysCollection, channels: Sequence[int], connectivity: int | None = None,
                 allow_missing_keys: bool = False) -> None:
        super().__init__(keys, allow_missing_keys)
        self.channels = [int(c) for c in channels]
        self.fill = FillHoles(applied_labels=[1], connectivity=connectivity)

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        d = dict(data)
        for key in self.key_iterator(d):
            structures = d[key].clone()
            for channel in self.channels:
                filled = self.fill((structures[channel : channel + 1] > 0).to(torch.uint8))
                structures[channel] = torch.as_tensor(filled[0]).to(structures.dtype)
            d[key] = structures
        return d


class NestStructuresd(MapTransform):
    """Keep channel ``inner`` of each key (binary (K, H, W)) only where channel ``outer`` is set: an optic cup
    outside its disc is not a cup."""

    def __init__(self, keys: KeysCollection, inner: int, outer: int, allow_missing_keys: bool = False) -> None:
        super().__init__(keys, allow_missing_keys)
        if inner == outer:
            raise ValueError(f"a structure cannot be nested in itself (channel {inner}).")
        self.inner, self.outer = int(inner), int(outer)

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        d = dict(data)
        for key in self.key_iterator(d):
            structures = d[key].clone()
            structures[self.inner] = structures[self.inner] * (structures[self.outer] > 0).to(structures.dtype)
            d[key] = structures
        return d
