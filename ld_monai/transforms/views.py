# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""The two-image, five-view sampler of patch discrimination + mixup (local discrimination, stage 1).

Chen et al., "Unsupervised Local Discrimination for Medical Images" (arXiv 2108.09440), Sec. 3.1-3.2;
research code ``my_utils.py:34-124`` and ``step1_train_pd_mixup.py:99-118`` (method spec A4.1).
From two images I1, I2 each call makes

    [T1(T0 I1), T1(T0 I2), rot(T1(T0 I1)), rot(T1(T0 I2)), lam*T1(T0 I1) + (1-lam)*T1(T0 I2)]

where T0 (flips, rotation, random resized crop) is drawn once per image, T1 (small rotation, colour
jitter, random grayscale) once per view, and ``rot`` is a recorded multiple of 90 degrees (optionally after a
left-right mirror) that lets the patch features of the second views be realigned exactly
(:func:`ld_monai.losses.realign_second_view`). Two options close position shortcuts that the research recipe
leaves open: a true mirror between the two views (``mirror=True``) and a crop placed independently for each view
(``independent_crops=True``; the crop boxes are recorded so that cells can be matched by their overlap).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from monai.config import KeysCollection
from monai.data import MetaTensor
from monai.transforms.transform import MapTransform, RandomizableTransform
from monai.utils import TransformBackends, convert_to_tensor, ensure_tuple

from ld_monai.data.ld_batch import LDKeys
from ld_monai.transforms.channels import source_name
from ld_monai.transforms.color import ColorJitterParams, RandColorJitter
from ld_monai.transforms.normalization import IMAGENET_MEAN, IMAGENET_STD

__all__ = [
    "LocalDiscriminationViewsd",
    "LocalDiscriminationViewsD",
    "LocalDiscriminationViewsDict",
]

# pre-shrink an image with antialiasing when the crop is more than this many times larger than the output
_ANTIALIAS_FACTOR = 1.25


def _affine_grid(theta: np.ndarray, size: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``F.affine_grid(theta, (n, *, size, size), align_corners=False)`` for (n, 2, 3) ``theta``, by broadcasting.

    (Same values as ``affine_grid``, several times faster on CPU than its batched matrix product.)
    """
    base = (torch.arange(size, dtype=torch.float64) * 2.0 + 1.0) / size - 1.0
    t = torch.as_tensor(theta, dtype=torch.float64)[:, :, :, None, None]  # (n, 2, 3, 1, 1)
    grid = t[:, :, 0] * base.view(1, 1, 1, size) + t[:, :, 1] * base.view(1, 1, size, 1) + t[:, :, 2]
    return grid.permute(0, 2, 3, 1).to(dtype)  # (n, size, size, 2)


def _pixel_to_norm(size_h: int, size_w: int) -> np.ndarray:
    """3x3 map from pixel coordinates (x, y, 1) to grid_sample coordinates (align_corners=False)."""
    return np.array([[2.0 / size_w, 0.0, 1.0 / size_w - 1.0], [0.0, 2.0 / size_h, 1.0 / size_h - 1.0], [0, 0, 1]])


class LocalDiscriminationViewsd(RandomizableTransform, MapTransform):
    """Make the five network inputs of LD stage 1 (patch discrimination + mixup) from two images.

    Chen et al., arXiv 2108.09440, Sec. 3.1-3.2 (method spec A4.1). Per call, all randomness from ``self.R``:

    * **T0, once per image**: horizontal flip (p=0.5), vertical flip (p=0.5), rotation ~ U(+-rotate_range)
      (bilinear, zero padding, same-size output, about the image centre), then a random resized crop like
      torchvision's ``RandomResizedCrop`` (area fraction ~ U(crop_scale), aspect ratio log-uniform in
      crop_ratio, 10 attempts then a centre crop), resized to ``spatial_size`` (bilinear).
      The four steps and the T1 rotation below are one affine map per view, applied with a single
      ``grid_sample`` (one interpolation instead of torchvision's three or four, and several times faster;
      this is why MONAI's Flip/Rotate/Resize are not chained). The zero padding of the T1 rotation is
      reproduced with its exact bilinear border weight.
      When the crop is more than 1.25x the output size, the image is first shrunk with antialiasing
      (``F.interpolate(antialias=True)``), as PIL's resize would.
    * **T1, per view, two views per image**: rotation ~ U(+-view_rotate_range) (bilinear, zero padding),
      then :class:`~ld_monai.transforms.RandColorJitter` (``color_jitter`` = brightness, contrast,
      saturation, hue strengths, random op order, ``grayscale_prob``).
    * **second view of each image**: ``k ~ U{0,1,2,3}`` and a flip with p=0.5. By default the flip is the
      research code's ``flip(dims=(1, 2))``, a 180-degree turn: ``code = (k + 2*flip) % 4`` is applied as
      ``torch.rot90(view, code, dims=(-2, -1))``. With ``mirror=True`` the flip is a true left-right mirror
      applied before the turn: ``code = k + 4*flip``, the view is ``torch.rot90(view.flip(-1), k)``. A
      rotation-symmetric (radial) position code satisfies the research code's positives; the mirror does not
      change that, but it makes the positives of a chiral code (one that tells clockwise from anticlockwise)
      disagree. The code is recorded, and :func:`ld_monai.losses.realign_second_view` undoes it exactly.
    * **crops**: by default both views of an image share T0's crop (the research code). With
      ``independent_crops=True`` the second view's crop box has the size of the first view's but its own place,
      drawn uniformly in the image (same flips and rotation, so the boxes live in one frame; use a
      ``crop_scale`` below 1 to leave room to move); a grid cell then no longer sits at the same place of both
      views, so a code of the position in the crop cannot satisfy the positives. The boxes are recorded for the
      overlap matching of :class:`ld_monai.losses.LocalDiscriminationLoss`.
    * **mixup**: ``mix = lam * img1_view1 + (1 - lam) * img2_view1`` in [0, 1], ``lam ~ U(mix_range)``.
    * all five views normalised with ``(v - mean) / std`` per channel.

    Input: ``data[keys[0]]``, ``data[keys[1]]``: (C, H, W) float images in [0, 1], C = 1 or 3 (the same for
    both), H, W >= spatial_size.
    Output: the input dict plus

    * ``views_key``: (5, C, S, S) float32, order [img1_view1, img2_view1, img1_view2 (rotated),
      img2_view2 (rotated), mix], normalised;
    * ``rotation_key``: int64 (2,), the code of img1_view2 and img2_view2 (0-3 quarter turns, +4 when mirrored);
    * ``lambda_key``: float32 0-d, the mixup weight lam;
    * ``crop_boxes_key``: float32 (2, 2, 4), ``[image, view, (top, left, height, width)]`` of each view's crop in
      the flipped and rotated image, in input pixels (both views equal unless ``independent_crops``);

    and without the two image keys unless ``keep_inputs=True``. The views are plain tensors (a stack of
    differently augmented crops has no single affine).

    Args:
        keys: the two image keys.
        spatial_size: output side S (paper: 448 = 8 cells of 56 px).
        crop_scale: range of the crop's area fraction (paper: (0.9, 1.0)).
        crop_ratio: range of the crop's aspect ratio w/h (torchvision default (3/4, 4/3)).
        rotate_range: T0 rotation range in radians (paper: pi, i.e. +-180 degrees).
        view_rotate_range: T1 rotation range in radians (paper: 2 degrees).
        color_jitter: (brightness, contrast, saturation, hue) strengths (paper: (0.4, 0.4, 0.4, 0.02)).
        grayscale_prob: probability of a grayscale view (paper: 0.2).
        mix_range: range of lam (paper: (0.2, 0.8)).
        mean: per-channel normalisation mean (a number or a sequence of length 1 or C); ImageNet statistics by
            default (fundus), use 0.5 for 1-channel X-rays.
        std: per-channel normalisation standard deviation, as ``mean`` (0.5 for X-rays).
        mirror: the flip of the second view is a left-right mirror instead of a 180-degree turn.
        independent_crops: place the crop of the second view of each image independently of the first's.
        views_key: output key of the views.
        rotation_key: output key of the second views' turns.
        lambda_key: output key of the mixup weights.
        crop_boxes_key: output key of the crop boxes.
        keep_inputs: keep the two input images in the output dict.
        allow_missing_keys: if an image key is missing, return the data unchanged instead of raising KeyError.

    Raises:
        ValueError: wrong shape, channel count, value range or an image smaller than ``spatial_size``; the
            message names the file (``meta["filename_or_obj"]``) and both sizes.

    Example::

        views = LocalDiscriminationViewsd(spatial_size=448).set_random_state(0)
        out = views({"image1": img1, "image2": img2})  # img*: (3, 512, 512) in [0, 1]
        out["views"].shape  # (5, 3, 448, 448)
    """

    backend = [TransformBackends.TORCH]

    def __init__(
        self,
        keys: KeysCollection = (LDKeys.IMAGE1, LDKeys.IMAGE2),
        spatial_size: int = 448,
        crop_scale: tuple[float, float] = (0.9, 1.0),
        crop_ratio: tuple[float, float] = (3.0 / 4.0, 4.0 / 3.0),
        rotate_range: float = np.pi,
        view_rotate_range: float = float(np.deg2rad(2.0)),
        color_jitter: Sequence[float] = (0.4, 0.4, 0.4, 0.02),
        grayscale_prob: float = 0.2,
        mix_range: tuple[float, float] = (0.2, 0.8),
        mean: float | Sequence[float] = IMAGENET_MEAN,
        std: float | Sequence[float] = IMAGENET_STD,
        views_key: str = LDKeys.VIEWS,
        rotation_key: str = LDKeys.ROTATION,
        lambda_key: str = LDKeys.MIX_LAMBDA,
        mirror: bool = False,
        independent_crops: bool = False,
        crop_boxes_key: str = LDKeys.CROP_BOXES,
        keep_inputs: bool = False,
        allow_missing_keys: bool = False,
    ) -> None:
        MapTransform.__init__(self, keys, allow_missing_keys)
        RandomizableTransform.__init__(self, prob=1.0)
        if len(self.keys) != 2:
            raise ValueError(f"keys must name exactly two images, got {self.keys}.")
        if int(spatial_size) < 1:
            raise ValueError(f"spatial_size must be positive, got {spatial_size}.")
        if not 0.0 < crop_scale[0] <= crop_scale[1] <= 1.0:
            raise ValueError(f"crop_scale must satisfy 0 < min <= max <= 1, got {crop_scale}.")
        if not 0.0 < crop_ratio[0] <= crop_ratio[1]:
            raise ValueError(f"crop_ratio must satisfy 0 < min <= max, got {crop_ratio}.")
        if not 0.0 <= mix_range[0] <= mix_range[1] <= 1.0:
            raise ValueError(f"mix_range must satisfy 0 <= min <= max <= 1, got {mix_range}.")
        if len(color_jitter) != 4:
            raise ValueError(f"color_jitter must be (brightness, contrast, saturation, hue), got {color_jitter}.")
        self.spatial_size = int(spatial_size)
        self.crop_scale = (float(crop_scale[0]), float(crop_scale[1]))
        self.crop_ratio = (float(crop_ratio[0]), float(crop_ratio[1]))
        self.rotate_range = abs(float(rotate_range))
        self.view_rotate_range = abs(float(view_rotate_range))
        self.mix_range = (float(mix_range[0]), float(mix_range[1]))
        self.mean = tuple(float(m) for m in ensure_tuple(mean))
        self.std = tuple(float(s) for s in ensure_tuple(std))
        if any(s <= 0 for s in self.std):
            raise ValueError(f"std must be positive, got {std}.")
        self.views_key = views_key
        self.rotation_key = rotation_key
        self.lambda_key = lambda_key
        self.mirror = bool(mirror)
        self.independent_crops = bool(independent_crops)
        self.crop_boxes_key = crop_boxes_key
        self.keep_inputs = bool(keep_inputs)
        b, c, s, h = color_jitter
        self.jitter = RandColorJitter(
            brightness=b, contrast=c, saturation=s, hue=h, grayscale_prob=grayscale_prob, prob=1.0
        )
        self.jitter.set_random_state(state=self.R)
        # parameters of the last draw (see randomize)
        self.base_params: list[dict] = []
        self.second_crops: list[tuple[int, int, int, int]] = []
        self.view_angles: list[float] = []
        self.jitter_params: list[ColorJitterParams | None] = []
        self.rotations: list[int] = []
        self.mix_lambda: float = 0.5

    def set_random_state(
        self, seed: int | None = None, state: np.random.RandomState | None = None
    ) -> LocalDiscriminationViewsd:
        super().set_random_state(seed, state)
        self.jitter.set_random_state(state=self.R)  # one stream for everything
        return self

    # ------------------------------------------------------------------ random draws
    def _crop_params(self, height: int, width: int) -> tuple[int, int, int, int]:
        """torchvision ``RandomResizedCrop.get_params`` with ``self.R``: (top, left, h, w)."""
        area = height * width
        log_ratio = (math.log(self.crop_ratio[0]), math.log(self.crop_ratio[1]))
        for _ in range(10):
            target_area = area * self.R.uniform(*self.crop_scale)
            aspect = math.exp(self.R.uniform(*log_ratio))
            w = int(round(math.sqrt(target_area * aspect)))
            h = int(round(math.sqrt(target_area / aspect)))
            if 0 < w <= width and 0 < h <= height:
                top = int(self.R.randint(0, height - h + 1))
                left = int(self.R.randint(0, width - w + 1))
                return top, left, h, w
        in_ratio = width / height  # fallback: centre crop
        if in_ratio < self.crop_ratio[0]:
            w, h = width, int(round(width / self.crop_ratio[0]))
        elif in_ratio > self.crop_ratio[1]:
            h, w = height, int(round(height * self.crop_ratio[1]))
        else:
            w, h = width, height
        return (height - h) // 2, (width - w) // 2, h, w

    def _second_crop(self, p: dict) -> tuple[int, int, int, int]:
        """The second view's crop: the size of the first view's, placed anywhere in the image (uniformly)."""
        height, width = p["size"]
        _, _, h, w = p["crop"]
        return int(self.R.randint(0, height - h + 1)), int(self.R.randint(0, width - w + 1)), h, w

    def randomize(self, data: Sequence[tuple[int, int]]) -> None:  # type: ignore[override]
        """Draw all parameters of one call. ``data``: the (H, W) of the two images."""
        super().randomize(None)
        self.base_params = []
        for height, width in data:
            hflip = bool(self.R.rand() < 0.5)
            vflip = bool(self.R.rand() < 0.5)
            angle = float(self.R.uniform(-self.rotate_range, self.rotate_range)) if self.rotate_range > 0 else 0.0
            top, left, h, w = self._crop_params(height, width)
            self.base_params.append(
                {"hflip": hflip, "vflip": vflip, "angle": angle, "crop": (top, left, h, w), "size": (height, width)}
            )
        self.second_crops = [self._second_crop(p) if self.independent_crops else p["crop"] for p in self.base_params]
        # views in output order: img1_view1, img2_view1, img1_view2, img2_view2
        self.view_angles, self.jitter_params = [], []
        for _ in range(4):
            r = self.view_rotate_range
            self.view_angles.append(float(self.R.uniform(-r, r)) if r > 0 else 0.0)
            self.jitter.randomize(None)
            self.jitter_params.append(self.jitter.params)
        self.rotations = []
        for _ in range(2):
            k = int(self.R.randint(4))
            flip = bool(self.R.rand() < 0.5)
            self.rotations.append(k + 4 * int(flip) if self.mirror else (k + 2 * int(flip)) % 4)
        self.mix_lambda = float(self.R.uniform(*self.mix_range))

    # ------------------------------------------------------------------ geometry
    def _base_theta(self, p: dict) -> np.ndarray:
        """2x3 grid_sample theta (output -> input, normalised coords) of flips + rotation + resized crop."""
        height, width = p["size"]
        top, left, h, w = p["crop"]
        size = self.spatial_size
        # output pixel (x, y) -> pixel in the rotated image (bilinear resize, half-pixel centres)
        crop = np.array([[w / size, 0.0, left + 0.5 * w / size - 0.5], [0.0, h / size, top + 0.5 * h / size - 0.5]])
        crop = np.vstack([crop, [0.0, 0.0, 1.0]])
        # rotated image -> flipped image: inverse rotation about the centre (zero padding outside)
        cx, cy = (width - 1) / 2.0, (height - 1) / 2.0
        cos, sin = math.cos(p["angle"]), math.sin(p["angle"])
        to_c = np.array([[1.0, 0.0, -cx], [0.0, 1.0, -cy], [0.0, 0.0, 1.0]])
        rot_inv = np.array([[cos, sin, 0.0], [-sin, cos, 0.0], [0.0, 0.0, 1.0]])
        from_c = np.array([[1.0, 0.0, cx], [0.0, 1.0, cy], [0.0, 0.0, 1.0]])
        # flipped image -> original image
        unflip = np.diag([-1.0 if p["hflip"] else 1.0, -1.0 if p["vflip"] else 1.0, 1.0])
        unflip[0, 2] = width - 1.0 if p["hflip"] else 0.0
        unflip[1, 2] = height - 1.0 if p["vflip"] else 0.0
        pix = unflip @ from_c @ rot_inv @ to_c @ crop
        theta = _pixel_to_norm(height, width) @ pix @ np.linalg.inv(_pixel_to_norm(size, size))
        return theta[:2]

    def _sample_views(self, img: torch.Tensor, p: dict, angles: Sequence[float]) -> torch.Tensor:
        """T0 then the T1 rotations of one image: (C, H, W) -> (len(angles), C, S, S).

        Each view is ONE bilinear ``grid_sample`` of the (possibly antialias-shrunk) image with the composed
        map [T1 rotation about the view centre] -> [T0]. The zero padding of the T1 rotation (the corners
        that fall outside the T0 view) is reproduced with its exact bilinear weight, so the result is that
        of rotating the T0 view, with one interpolation instead of two.
        """
        size = self.spatial_size
        _, _, h, w = p["crop"]
        src = img
        shrink = min(h, w) / size
        if shrink > _ANTIALIAS_FACTOR:  # normalised grid coordinates do not depend on the resolution
            height, width = p["size"]
            new_size = (max(1, round(height / shrink)), max(1, round(width / shrink)))
            src = F.interpolate(img[None], size=new_size, mode="bilinear", align_corners=False, antialias=True)[0]
        base = self._base_theta(p)  # (2, 3): T0 view -> image, normalised coordinates
        rots = np.stack([[[math.cos(a), math.sin(a), 0.0], [-math.sin(a), math.cos(a), 0.0]] for a in angles])
        # rotated positions q in the T0 view (square: the rotation is isotropic in normalised coordinates).
        # Rotating the T0 view V with zero padding gives, at a position q outside V's pixel centres,
        # wx * wy * V(clamp(q)) (the bilinear mass of the in-frame pixels): clamp, map with T0, then weight.
        q = _affine_grid(rots, size)
        inner = 1.0 - 1.0 / size
        qc = q.clamp(-inner, inner)
        qx, qy = qc[..., 0], qc[..., 1]
        grid = torch.stack(
            [base[0, 0] * qx + base[0, 1] * qy + base[0, 2], base[1, 0] * qx + base[1, 1] * qy + base[1, 2]], dim=-1
        )
        n = len(angles)
        out = F.grid_sample(
            src[None].expand(n, -1, -1, -1), grid, mode="bilinear", padding_mode="zeros", align_corners=False
        )
        if any(a != 0.0 for a in angles):
            pix = q.add_(1.0).mul_(size / 2.0)  # pixel coordinates + 0.5 in the T0 view
            weight = torch.minimum(pix + 0.5, (size + 0.5) - pix).clamp_(0.0, 1.0).prod(dim=-1)
            out = out * weight[:, None]
        return out

    @staticmethod
    def _turn(view: torch.Tensor, code: int) -> torch.Tensor:
        """The second view's turn: ``code % 4`` quarter turns, after a left-right mirror when ``code >= 4``."""
        if code >= 4:
            view = view.flip(-1)
        return torch.rot90(view, code % 4, dims=(-2, -1))

    # ------------------------------------------------------------------ call
    def _check_image(self, key: Hashable, img: object) -> torch.Tensor:
        name = source_name(img)
        t = convert_to_tensor(img, track_meta=False)
        if isinstance(t, MetaTensor):
            t = t.as_tensor()
        if t.ndim != 3 or t.shape[0] not in (1, 3):
            raise ValueError(f"{name}: {key!r} must be a (C, H, W) image with C = 1 or 3, got shape {tuple(t.shape)}.")
        if not torch.is_floating_point(t):
            raise ValueError(f"{name}: {key!r} must be a float image in [0, 1], got dtype {t.dtype}.")
        size = self.spatial_size
        if t.shape[1] < size or t.shape[2] < size:
            raise ValueError(
                f"{name}: {key!r} has size {tuple(t.shape[1:])} (H, W), smaller than spatial_size "
                f"({size}, {size}); expected H, W >= {size}."
            )
        t = t.to(torch.float32)
        lo, hi = torch.aminmax(t)
        if not (lo >= -1e-6 and hi <= 1.0 + 1e-6):  # also catches NaN
            raise ValueError(
                f"{name}: {key!r} must have values in [0, 1], got range [{float(lo):g}, {float(hi):g}] "
                "(scale it first, e.g. with monai.transforms.ScaleIntensity)."
            )
        return t

    def _norm_stats(self, channels: int) -> tuple[torch.Tensor, torch.Tensor]:
        out = []
        for name, vals in (("mean", self.mean), ("std", self.std)):
            if len(vals) not in (1, channels):
                raise ValueError(
                    f"{name} has {len(vals)} values but the images have {channels} channel(s); "
                    f"pass {channels} value(s) (e.g. mean=0.5, std=0.5 for 1-channel X-rays)."
                )
            out.append(torch.tensor(vals, dtype=torch.float32).expand(channels).reshape(channels, 1, 1))
        return out[0], out[1]

    def __call__(self, data: Mapping[Hashable, object]) -> dict[Hashable, object]:
        d = dict(data)
        missing = [k for k in self.keys if k not in d]
        if missing:
            if self.allow_missing_keys:
                return d
            raise KeyError(f"LocalDiscriminationViewsd: missing image key(s) {missing} (keys: {list(d)}).")
        k1, k2 = self.keys
        img1, img2 = self._check_image(k1, d[k1]), self._check_image(k2, d[k2])
        if img1.shape[0] != img2.shape[0]:
            raise ValueError(
                f"{source_name(d[k1])} has {img1.shape[0]} channel(s) but {source_name(d[k2])} has "
                f"{img2.shape[0]}; expected the same channel count for both images."
            )
        mean, std = self._norm_stats(img1.shape[0])
        self.randomize([tuple(img1.shape[1:]), tuple(img2.shape[1:])])

        a = self.view_angles  # output order: img1_v1, img2_v1, img1_v2, img2_v2
        p1, p2 = self.base_params
        if self.independent_crops:
            first = [self._sample_views(img, p, [angle]) for img, p, angle in ((img1, p1, a[0]), (img2, p2, a[1]))]
            seconds = [
                self._sample_views(img, {**p, "crop": crop}, [angle])
                for img, p, crop, angle in zip((img1, img2), (p1, p2), self.second_crops, a[2:])
            ]
            views = torch.cat(first + seconds)
        elif self.view_rotate_range == 0:  # both views of an image share T0 exactly: sample once
            v1 = self._sample_views(img1, p1, [0.0])
            v2 = self._sample_views(img2, p2, [0.0])
            views = torch.cat([v1, v2, v1, v2])
        else:
            v1 = self._sample_views(img1, p1, [a[0], a[2]])
            v2 = self._sample_views(img2, p2, [a[1], a[3]])
            views = torch.stack([v1[0], v2[0], v1[1], v2[1]])
        views = torch.stack([RandColorJitter.apply(v, p) for v, p in zip(views, self.jitter_params)])
        second = [self._turn(views[2 + i], self.rotations[i]) for i in range(2)]
        lam = self.mix_lambda
        mix = lam * views[0] + (1.0 - lam) * views[1]
        out = torch.stack([views[0], views[1], second[0], second[1], mix])
        out = ((out - mean) / std).to(torch.float32).contiguous()

        d[self.views_key] = out
        d[self.rotation_key] = torch.tensor(self.rotations, dtype=torch.int64)
        d[self.lambda_key] = torch.tensor(lam, dtype=torch.float32)
        boxes = [[p1["crop"], self.second_crops[0]], [p2["crop"], self.second_crops[1]]]
        d[self.crop_boxes_key] = torch.tensor(boxes, dtype=torch.float32)
        if not self.keep_inputs:
            for key in self.keys:
                d.pop(key, None)
        return d


LocalDiscriminationViewsD = LocalDiscriminationViewsDict = LocalDiscriminationViewsd
