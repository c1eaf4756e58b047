# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Channel-count checks for 2D medical photographs and radiographs (``EnsureChannels``).

Local discrimination (Chen et al., arXiv 2108.09440) pretrains on 3-channel colour fundus photographs
and on 1-channel chest X-rays. Image files do not always come with the channel count the model needs:
PNGs are often saved as RGBA, and grayscale radiographs are often stored as RGB with three identical
channels. :class:`EnsureChannels` applies the few safe repairs and refuses everything else with an error
that names the file.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping

import torch
from monai.config import KeysCollection
from monai.config.type_definitions import NdarrayOrTensor
from monai.data import MetaTensor
from monai.data.meta_obj import get_track_meta
from monai.transforms.transform import MapTransform, Transform
from monai.utils import TransformBackends, convert_to_tensor

__all__ = ["EnsureChannels", "EnsureChannelsd", "EnsureChannelsD", "EnsureChannelsDict", "source_name"]


def source_name(img: object) -> str:
    """The file an image came from, for error messages.

    Reads ``img.meta["filename_or_obj"]`` of a :class:`monai.data.MetaTensor`; returns ``"<unknown file>"``
    when the image carries no file name (plain tensors and arrays).
    """
    if isinstance(img, MetaTensor):
        name = img.meta.get("filename_or_obj")
        if name is not None and str(name) != "":
            return str(name)
    return "<unknown file>"


class EnsureChannels(Transform):
    """Check (and, where it is safe, repair) the channel count of a channel-first image.

    LD pretraining (Chen et al., arXiv 2108.09440, Sec. 4.1) uses RGB fundus photographs (3 channels)
    and grayscale chest X-rays (1 channel). The rules, for an input of shape ``(C, *spatial)``:

    * ``C == num_channels``: returned unchanged;
    * ``C == 4`` and 3 wanted (RGBA): the alpha channel is dropped;
    * ``C == 3`` and 1 wanted, the three channels identical (a grayscale image saved as RGB) and
      ``collapse_identical_rgb=True``: the first channel is kept. RGBA with identical RGB channels is
      treated the same way after the alpha channel is dropped;
    * ``C == 1`` and 3 wanted: ``ValueError``. Colour is not faked by replicating the gray channel;
    * anything else: ``ValueError`` naming the file (``meta["filename_or_obj"]``), the expected and the
      found channel count.

    Values are not changed. MetaTensor in, MetaTensor out (meta preserved).

    Args:
        num_channels: the channel count the model expects, 1 or 3.
        collapse_identical_rgb: allow 3 identical channels -> 1 channel.

    Example::

        EnsureChannels(3)(torch.rand(4, 64, 64)).shape  # (3, 64, 64)
    """

    backend = [TransformBackends.TORCH]

    def __init__(self, num_channels: int = 3, collapse_identical_rgb: bool = True) -> None:
        if num_channels not in (1, 3):
            raise ValueError(f"num_channels must be 1 or 3, got {num_channels}.")
        self.num_channels = int(num_channels)
        self.collapse_identical_rgb = bool(collapse_identical_rgb)

    def __call__(self, img: NdarrayOrTensor) -> torch.Tensor:
        """``img``: (C, H, W) (or (C, *spatial)) -> (num_channels, H, W), same values and dtype."""
        name = source_name(img)
        img_t = convert_to_tensor(img, track_meta=get_track_meta())
        if img_t.ndim < 3:
            raise ValueError(
                f"{name}: expected a channel-first image (C, H, W) with C = {self.num_channels}, "
                f"got shape {tuple(img_t.shape)}."
            )
        found = int(img_t.shape[0])
        want = self.num_channels
        if found == want:
            return img_t
        if found == 4 and want == 3:
            return img_t[:3]
        if found == 1 and want == 3:
            raise ValueError(
                f"{name}: expected {want} channels (colour), found {found} (grayscale); "
                "refusing to fake colour by replicating the gray channel."
            )
        if found in (3, 4) and want == 1:
            rgb = img_t[:3]
            if not self.collapse_identical_rgb:
                raise ValueError(
                    f"{name}: expected {want} channel, found {found} "
                    "(collapse_identical_rgb=False, so RGB is not collapsed to one channel)."
                )
            if torch.equal(rgb[0], rgb[1]) and torch.equal(rgb[0], rgb[2]):
                return rgb[:1]
            raise ValueError(
                f"{name}: expected {want} channel, found {found} channels whose RGB content differs "
                "(a colour image); convert it to grayscale explicitly if that is intended."
            )
        raise ValueError(f"{name}: expected {want} channels, found {found} (image shape {tuple(img_t.shape)}).")


class EnsureChannelsd(MapTransform):
    """Dictionary twin of :class:`EnsureChannels`: the same rules for every key in ``keys``."""

    backend = EnsureChannels.backend

    def __init__(
        self,
        keys: KeysCollection,
        num_channels: int = 3,
        collapse_identical_rgb: bool = True,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.checker = EnsureChannels(num_channels=num_channels, collapse_identical_rgb=collapse_identical_rgb)

    def __call__(self, data: Mapping[Hashable, NdarrayOrTensor]) -> dict[Hashable, torch.Tensor]:
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = self.checker(d[key])
        return d


EnsureChannelsD = EnsureChannelsDict = EnsureChannelsd
