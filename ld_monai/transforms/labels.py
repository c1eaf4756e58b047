# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Checks of binary segmentation labels for the transfer experiments (``CheckSegmentationLabel``).

The segmentation transfer of local discrimination (Chen et al., arXiv 2108.09440, Appendix A7: retinal
vessels, optic disc/cup, lungs) is scored by per-image Dice, so a label that is silently wrong (a JPEG with
blurred edges, a mask of another size, an RGB mask whose channels disagree) corrupts the result. These
checks run right after ``LoadImaged`` and turn every label into a float32 {0, 1} mask or raise an error that
names the file.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping

import torch
from monai.config import KeysCollection
from monai.config.type_definitions import NdarrayOrTensor
from monai.data.meta_obj import get_track_meta
from monai.transforms.transform import MapTransform, Transform
from monai.utils import TransformBackends, convert_to_tensor

from ld_monai.transforms.channels import source_name

__all__ = [
    "CheckSegmentationLabel",
    "CheckSegmentationLabeld",
    "CheckSegmentationLabelD",
    "CheckSegmentationLabelDict",
]

_EMPTY_MODES = ("error", "allow")
_SHOWN_VALUES = 5


class CheckSegmentationLabel(Transform):
    """Check a channel-first binary label and return it as float32 {0., 1.}.

    Rules for a label (C, *spatial), e.g. straight from ``LoadImage(ensure_channel_first=True)``:

    * ``image`` given: the spatial shape must equal the image's (error names both files and shapes);
    * C > 1 (e.g. an RGB PNG of a binary mask): all channels must be identical and are collapsed to one,
      otherwise ``ValueError``;
    * values: exactly {0, v} with v > 0 (0/1, 0/255, ...), or only {0}; anything else (several foreground
      values, negative values, a label without background) is a ``ValueError`` listing up to 5 of the values;
    * no foreground: ``empty="error"`` raises, ``empty="allow"`` passes it. The Dice of an empty label and an
      empty prediction counts 1 (:func:`ld_monai.metrics.dice_per_image`).

    Output: (1, *spatial) float32 with v -> 1; MetaTensor in, MetaTensor out (meta preserved).

    Args:
        empty: ``"error"`` or ``"allow"`` a label without foreground.

    Example::

        label = CheckSegmentationLabel()(LoadImage(ensure_channel_first=True)("21_manual1.gif"), image=image)
    """

    backend = [TransformBackends.TORCH]

    def __init__(self, empty: str = "error") -> None:
        if empty not in _EMPTY_MODES:
            raise ValueError(f"empty must be one of {_EMPTY_MODES}, got {empty!r}.")
        self.empty = empty

    def __call__(self, label: NdarrayOrTensor, image: NdarrayOrTensor | None = None) -> torch.Tensor:
        """``label``: (C, *spatial) -> (1, *spatial) float32 in {0, 1}; ``image``: (C', *spatial) reference."""
        name = source_name(label)
        lab = convert_to_tensor(label, track_meta=get_track_meta())
        if lab.ndim < 2:
            raise ValueError(f"{name}: expected a channel-first label (C, *spatial), got shape {tuple(lab.shape)}.")
        if image is not None and tuple(image.shape[1:]) != tuple(lab.shape[1:]):
            raise ValueError(
                f"{name}: label spatial shape {tuple(lab.shape[1:])} differs from the image spatial shape "
                f"{tuple(image.shape[1:])} of {source_name(image)}."
            )
        if lab.shape[0] > 1:
            if not all(torch.equal(lab[0], lab[c]) for c in range(1, lab.shape[0])):
                raise ValueError(
                    f"{name}: label has {lab.shape[0]} channels with different content; expected a single-channel "
                    "binary mask (or identical channels, e.g. an RGB PNG of a mask)."
                )
            lab = lab[:1]
        values = torch.unique(lab.as_tensor() if hasattr(lab, "as_tensor") else lab)
        if len(values) > 2 or values[0] != 0 or (len(values) == 2 and values[1] <= 0):
            shown = ", ".join(f"{v:g}" for v in values[:_SHOWN_VALUES].tolist())
            more = f", ... ({len(values)} distinct values)" if len(values) > _SHOWN_VALUES else ""
            raise ValueError(
                f"{name}: non-binary label with values [{shown}{more}]; expected 0 and one foreground value "
                "(e.g. 0/255); prepare the dataset with `ld-monai prepare`."
            )
        if len(values) == 1 and self.empty == "error":
            raise ValueError(
                f"{name}: label has no foreground (all 0); pass empty='allow' if empty labels are expected."
            )
        return (lab > 0).to(torch.float32)


class CheckSegmentationLabeld(MapTransform):
    """Dictionary twin of :class:`CheckSegmentationLabel`: checks every label key against ``data[image_key]``.

    Args:
        keys: the label keys.
        image_key: key of the image whose spatial shape the labels must have; ``None`` skips that check.
        empty: ``"error"`` or ``"allow"`` a label without foreground.
        allow_missing_keys: don't raise if a label key is missing.
    """

    backend = CheckSegmentationLabel.backend

    def __init__(
        self,
        keys: KeysCollection,
        image_key: str | None = "image",
        empty: str = "error",
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.image_key = image_key
        self.checker = CheckSegmentationLabel(empty=empty)

    def __call__(self, data: Mapping[Hashable, NdarrayOrTensor]) -> dict[Hashable, torch.Tensor]:
        d = dict(data)
        if self.image_key is not None and self.image_key not in d:
            raise KeyError(f"image_key {self.image_key!r} not found in the data (keys: {list(d)}).")
        image = None if self.image_key is None else d[self.image_key]
        for key in self.key_iterator(d):
            d[key] = self.checker(d[key], image=image)
        return d


CheckSegmentationLabelD = CheckSegmentationLabelDict = CheckSegmentationLabeld
