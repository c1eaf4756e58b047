# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Colour jitter and random grayscale in plain torch (no torchvision).

The view augmentation T1 of local discrimination (Chen et al., arXiv 2108.09440; research code
``step1_train_pd_mixup.py``) uses torchvision's ``ColorJitter(0.4, 0.4, 0.4, 0.02)`` followed by
``RandomGrayscale(0.2)``. torchvision cannot be installed next to the CPU torch build this project
targets, and MONAI has no hue/saturation jitter, so :class:`RandColorJitter` re-implements
torchvision's float-tensor functional ops (``adjust_brightness``, ``adjust_contrast``,
``adjust_saturation``, ``adjust_hue``, ``rgb_to_grayscale``) with the same formulas, drawing all
randomness from MONAI's ``self.R``.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import NamedTuple

import torch
from monai.config import KeysCollection
from monai.config.type_definitions import NdarrayOrTensor
from monai.data import MetaTensor
from monai.data.meta_obj import get_track_meta
from monai.transforms.transform import MapTransform, RandomizableTransform
from monai.utils import TransformBackends, convert_to_dst_type, convert_to_tensor

from ld_monai.transforms.channels import source_name

__all__ = [
    "ColorJitterParams",
    "RandColorJitter",
    "RandColorJitterd",
    "RandColorJitterD",
    "RandColorJitterDict",
    "rgb_to_grayscale",
    "rgb_to_hsv",
    "hsv_to_rgb",
    "adjust_brightness",
    "adjust_contrast",
    "adjust_saturation",
    "adjust_hue",
]

# torchvision's rgb_to_grayscale weights (ITU-R 601-2 as rounded by torchvision)
_GRAY_WEIGHTS = (0.2989, 0.587, 0.114)
_OPS = ("brightness", "contrast", "saturation", "hue")

# hsv -> rgb: offsets n of the closed form for R, G, B
_HSV_N = torch.tensor([5.0, 3.0, 1.0])


def rgb_to_grayscale(img: torch.Tensor) -> torch.Tensor:
    """(..., 3, H, W) RGB -> (..., 1, H, W) luma with torchvision's weights; 1-channel input is returned as is."""
    if img.shape[-3] == 1:
        return img
    r, g, b = img.unbind(dim=-3)
    return (_GRAY_WEIGHTS[0] * r + _GRAY_WEIGHTS[1] * g + _GRAY_WEIGHTS[2] * b).unsqueeze(-3)


def _blend(img1: torch.Tensor, img2: torch.Tensor | float, ratio: float) -> torch.Tensor:
    return (ratio * img1 + (1.0 - ratio) * img2).clamp_(0.0, 1.0)


def adjust_brightness(img: torch.Tensor, factor: float) -> torch.Tensor:
    """``clamp(factor * img, 0, 1)`` (torchvision ``adjust_brightness``)."""
    return (img * factor).clamp_(0.0, 1.0)


def adjust_contrast(img: torch.Tensor, factor: float) -> torch.Tensor:
    """Blend with the mean of the grayscale image (torchvision ``adjust_contrast``)."""
    mean = rgb_to_grayscale(img).mean(dim=(-3, -2, -1), keepdim=True)
    return _blend(img, mean, factor)


def adjust_saturation(img: torch.Tensor, factor: float) -> torch.Tensor:
    """Blend with the grayscale image (torchvision ``adjust_saturation``); identity for 1 channel."""
    if img.shape[-3] == 1:
        return img
    return _blend(img, rgb_to_grayscale(img), factor)


def rgb_to_hsv(img: torch.Tensor) -> torch.Tensor:
    """(..., 3, H, W) RGB in [0, 1] -> HSV in [0, 1] (hue as a fraction of a turn), vectorised."""
    r, g, b = img.unbind(dim=-3)
    maxc = img.amax(dim=-3)
    minc = img.amin(dim=-3)
    eqc = maxc == minc
    cr = maxc - minc
    ones = torch.ones_like(maxc)
    s = cr / torch.where(eqc, ones, maxc)
    cr_div = torch.where(eqc, ones, cr)
    rc = (maxc - r) / cr_div
    gc = (maxc - g) / cr_div
    bc = (maxc - b) / cr_div
    is_r = maxc == r
    is_g = (maxc == g) & ~is_r
    is_b = ~(is_r | is_g)
    h = is_r * (bc - gc) + is_g * (2.0 + rc - bc) + is_b * (4.0 + gc - rc)
    h = torch.fmod(h / 6.0 + 1.0, 1.0)
    return torch.stack((h, s, maxc), dim=-3)


def hsv_to_rgb(img: torch.Tensor) -> torch.Tensor:
    """(..., 3, H, W) HSV in [0, 1] -> RGB in [0, 1], vectorised (inverse of :func:`rgb_to_hsv`).

    Uses the closed form ``c_n = v - v*s*clamp(min(k, 4 - k), 0, 1)``, ``k = (n + 6h) mod 6`` with
    n = 5, 3, 1 for R, G, B, which equals torchvision's sector table (``_hsv2rgb``) and is cheaper.
    """
    h, s, v = img.unbind(dim=-3)
    shape = [3] + [1] * h.ndim
    k = torch.remainder(_HSV_N.to(device=img.device, dtype=img.dtype).view(shape) + 6.0 * h.unsqueeze(0), 6.0)
    ramp = torch.minimum(k, 4.0 - k).clamp_(0.0, 1.0)
    out = v.unsqueeze(0) * (1.0 - s.unsqueeze(0) * ramp)  # (3, ..., H, W)
    return torch.movedim(out, 0, -3).clamp_(0.0, 1.0)


def adjust_hue(img: torch.Tensor, hue_factor: float) -> torch.Tensor:
    """Rotate the hue by ``hue_factor`` (in turns, [-0.5, 0.5]) via HSV (torchvision ``adjust_hue``).

    Identity for 1-channel images.
    """
    if img.shape[-3] == 1:
        return img
    hsv = rgb_to_hsv(img)
    h = torch.remainder(hsv[..., 0:1, :, :] + hue_factor, 1.0)
    return hsv_to_rgb(torch.cat((h, hsv[..., 1:, :, :]), dim=-3))


def _factor_range(value: float | Sequence[float], name: str) -> tuple[float, float] | None:
    """torchvision's ``_check_input``: a number v -> [max(0, 1-v), 1+v]; None when it is the identity."""
    if isinstance(value, (int, float)):
        if value < 0:
            raise ValueError(f"{name} must be non-negative, got {value}.")
        lo, hi = max(0.0, 1.0 - float(value)), 1.0 + float(value)
    else:
        lo, hi = (float(v) for v in value)
        if not 0.0 <= lo <= hi:
            raise ValueError(f"{name} range must satisfy 0 <= min <= max, got {value}.")
    return None if lo == hi == 1.0 else (lo, hi)


def _hue_range(value: float | Sequence[float]) -> tuple[float, float] | None:
    if isinstance(value, (int, float)):
        lo, hi = -float(value), float(value)
    else:
        lo, hi = (float(v) for v in value)
    if not -0.5 <= lo <= hi <= 0.5:
        raise ValueError(f"hue must be in [0, 0.5] (or a range within [-0.5, 0.5]), got {value}.")
    return None if lo == hi == 0.0 else (lo, hi)


class ColorJitterParams(NamedTuple):
    """One draw of :class:`RandColorJitter`: op order (indices into brightness, contrast, saturation, hue),
    the factors (``None`` = op disabled) and whether the output is converted to grayscale."""

    order: tuple[int, ...]
    brightness: float | None
    contrast: float | None
    saturation: float | None
    hue: float | None
    grayscale: bool


class RandColorJitter(RandomizableTransform):
    """torchvision ``ColorJitter`` + ``RandomGrayscale`` on a float image in [0, 1], in plain torch.

    The view augmentation of local discrimination (Chen et al., arXiv 2108.09440, Sec. 4.1; research:
    ``ColorJitter(0.4, 0.4, 0.4, 0.02)`` then ``RandomGrayscale(0.2)``). Per call:

    * brightness factor ~ U(max(0, 1-b), 1+b): ``img * f``;
    * contrast factor ~ U(max(0, 1-c), 1+c): blend with the mean of the grayscale image;
    * saturation factor ~ U(max(0, 1-s), 1+s): blend with the grayscale image;
    * hue shift ~ U(-h, h) turns: RGB -> HSV, ``h + shift mod 1``, -> RGB;
    * the four in a random order (torchvision's ``randperm``; ``random_order=False`` keeps this order),
      each clamped to [0, 1]; a strength of 0 disables its op;
    * then, with probability ``grayscale_prob``, the grayscale image replicated to 3 channels.

    For 1-channel images only brightness and contrast apply (saturation, hue and grayscale are identities,
    as in torchvision). Each strength may also be a ``(min, max)`` range (hue within [-0.5, 0.5]).
    All randomness comes from ``self.R``. ``prob`` is MONAI's probability of applying the whole transform.

    Input: (C, H, W) float in [0, 1], C = 1 or 3. Output: same shape, float32 in [0, 1];
    MetaTensor in, MetaTensor out.

    Example::

        jitter = RandColorJitter().set_random_state(0)
        out = jitter(torch.rand(3, 64, 64))
    """

    backend = [TransformBackends.TORCH]

    def __init__(
        self,
        brightness: float | Sequence[float] = 0.4,
        contrast: float | Sequence[float] = 0.4,
        saturation: float | Sequence[float] = 0.4,
        hue: float | Sequence[float] = 0.02,
        grayscale_prob: float = 0.2,
        random_order: bool = True,
        prob: float = 1.0,
    ) -> None:
        RandomizableTransform.__init__(self, prob)
        if not 0.0 <= grayscale_prob <= 1.0:
            raise ValueError(f"grayscale_prob must be in [0, 1], got {grayscale_prob}.")
        self.ranges = (
            _factor_range(brightness, "brightness"),
            _factor_range(contrast, "contrast"),
            _factor_range(saturation, "saturation"),
            _hue_range(hue),
        )
        self.grayscale_prob = float(grayscale_prob)
        self.random_order = bool(random_order)
        self.params: ColorJitterParams | None = None

    def randomize(self, data: object = None) -> None:
        """Draw whether to apply, the op order, the four factors and the grayscale flag into ``self.params``."""
        super().randomize(None)
        if not self._do_transform:
            self.params = None
            return
        order = tuple(int(i) for i in self.R.permutation(4)) if self.random_order else (0, 1, 2, 3)
        factors = [None if r is None else float(self.R.uniform(r[0], r[1])) for r in self.ranges]
        gray = bool(self.grayscale_prob > 0 and self.R.rand() < self.grayscale_prob)
        self.params = ColorJitterParams(order, *factors, gray)

    @staticmethod
    def apply(img: torch.Tensor, params: ColorJitterParams | None) -> torch.Tensor:
        """Apply one parameter draw to a plain tensor (C, H, W) or (B, C, H, W), C = 1 or 3."""
        if params is None:
            return img
        factors = (params.brightness, params.contrast, params.saturation, params.hue)
        ops = (adjust_brightness, adjust_contrast, adjust_saturation, adjust_hue)
        out = img
        for idx in params.order:
            if factors[idx] is not None:
                out = ops[idx](out, factors[idx])
        if params.grayscale and out.shape[-3] == 3:
            out = rgb_to_grayscale(out).expand_as(out).contiguous()
        return out

    def __call__(self, img: NdarrayOrTensor, randomize: bool = True) -> torch.Tensor:
        """``img``: (C, H, W) float in [0, 1], C = 1 or 3 -> same shape, float32 in [0, 1]."""
        img_t = convert_to_tensor(img, track_meta=get_track_meta())
        if img_t.ndim != 3 or img_t.shape[0] not in (1, 3):
            raise ValueError(
                f"{source_name(img_t)}: expected a (C, H, W) image with C = 1 or 3, got shape {tuple(img_t.shape)}."
            )
        if randomize:
            self.randomize(None)
        raw = img_t.as_tensor() if isinstance(img_t, MetaTensor) else img_t
        out = self.apply(raw.to(torch.float32), self.params if self._do_transform else None)
        return convert_to_dst_type(out, img_t, dtype=torch.float32)[0]


class RandColorJitterd(RandomizableTransform, MapTransform):
    """Dictionary twin of :class:`RandColorJitter`: one draw per call, applied to every key.

    (Same factors, order and grayscale flag for all keys, e.g. several images of one scene.)
    """

    backend = RandColorJitter.backend

    def __init__(
        self,
        keys: KeysCollection,
        brightness: float | Sequence[float] = 0.4,
        contrast: float | Sequence[float] = 0.4,
        saturation: float | Sequence[float] = 0.4,
        hue: float | Sequence[float] = 0.02,
        grayscale_prob: float = 0.2,
        random_order: bool = True,
        prob: float = 1.0,
        allow_missing_keys: bool = False,
    ) -> None:
        MapTransform.__init__(self, keys, allow_missing_keys)
        RandomizableTransform.__init__(self, prob)
        self.jitter = RandColorJitter(
            brightness=brightness,
            contrast=contrast,
            saturation=saturation,
            hue=hue,
            grayscale_prob=grayscale_prob,
            random_order=random_order,
            prob=1.0,
        )

    def set_random_state(self, seed: int | None = None, state=None) -> RandColorJitterd:
        super().set_random_state(seed, state)
        self.jitter.set_random_state(seed, state)
        return self

    def __call__(self, data: Mapping[Hashable, NdarrayOrTensor]) -> dict[Hashable, torch.Tensor]:
        d = dict(data)
        self.randomize(None)
        if self._do_transform:
            self.jitter.randomize(None)
        for key in self.key_iterator(d):
            if self._do_transform:
                d[key] = self.jitter(d[key], randomize=False)
            else:
                d[key] = convert_to_tensor(d[key], track_meta=get_track_meta())
        return d


RandColorJitterD = RandColorJitterDict = RandColorJitterd
