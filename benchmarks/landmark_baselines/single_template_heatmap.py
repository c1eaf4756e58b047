# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""One-shot landmark detection by a heatmap regressor trained on the single template: baseline (b).

Baseline (b) of one-shot landmark detection: "a heatmap regressor trained on the single template with
augmentation". A small MONAI ``BasicUNet`` learns to regress one Gaussian heatmap per landmark (heatmap
regression as in Payer et al., "Regressing heatmaps for multiple landmark localization using CNNs", MICCAI 2016)
from random affine and intensity augmentations of the one annotated image; the landmarks follow the image
through the same affine matrix. A landmark is the heatmap's maximum, refined by a local soft-argmax. Learned
local features pretrained on unlabelled images (:class:`ld_monai.inferers.OneShotLandmarkInferer`, Chen et al.,
arXiv 2108.09440) should beat it: it sees one image only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from monai.networks.nets import BasicUNet
from monai.transforms import GenerateHeatmap
from tqdm import tqdm

from ld_monai.inferers.template_landmarks import check_template_landmarks, rescale_points

__all__ = [
    "HeatmapTemplate",
    "SingleTemplateHeatmapRegressor",
    "affine_matrix",
    "warp_affine",
    "random_affine",
    "random_intensity",
    "landmark_heatmaps",
    "local_soft_argmax",
]


def _uniform(generator: torch.Generator, low: float, high: float) -> float:
    return low + (high - low) * float(torch.rand((), generator=generator, dtype=torch.float64))


def _pixel_to_normalized(size: tuple[int, int]) -> torch.Tensor:
    """(3, 3) map from pixel (x, y) of an (H, W) image to ``grid_sample``'s [-1, 1] (``align_corners=False``)."""
    h, w = size
    return torch.tensor([[2 / w, 0, 1 / w - 1], [0, 2 / h, 1 / h - 1], [0, 0, 1]], dtype=torch.float64)


def affine_matrix(size: Sequence[int], angle: float = 0.0, scale: float = 1.0,
                  shift: Sequence[float] = (0.0, 0.0)) -> torch.Tensor:
    """(3, 3) float64 forward map of pixel coordinates (x, y, 1) of an (H, W) image: rotation by ``angle`` degrees
    (clockwise as displayed, y down) and scaling by ``scale`` about the image centre, then a shift (dx, dy) px.
    A point p goes to ``M @ p``."""
    h, w = size
    a = math.radians(angle)
    linear = scale * torch.tensor([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]], dtype=torch.float64)
    centre = torch.tensor([(w - 1) / 2, (h - 1) / 2], dtype=torch.float64)
    matrix = torch.eye(3, dtype=torch.float64)
    matrix[:2, :2] = linear
    matrix[:2, 2] = centre - linear @ centre + torch.as_tensor(shift, dtype=torch.float64)
    return matrix


def warp_affine(image: torch.Tensor, matrix: torch.Tensor) -> torch.Tensor:
    """Image (C, H, W) resampled (bilinear, zeros outside) so that the content at pixel p moves to ``matrix @ p``."""
    size = image.shape[-2:]
    to_grid = _pixel_to_normalized(size)
    theta = (to_grid @ torch.linalg.inv(matrix.double()) @ torch.linalg.inv(to_grid))[:2]
    grid = F.affine_grid(theta[None].float().to(image.device), [1, *image.shape], align_corners=False)
    return F.grid_sample(image[None].float(), grid, mode="bilinear", padding_mode="zeros", align_corners=False)[0]


def random_affine(image: torch.Tensor, points: torch.Tensor, generator: torch.Generator, max_rotation: float = 10.0,
                  scale_range: Sequence[float] = (0.9, 1.1),
                  max_translation: float = 0.08) -> tuple[torch.Tensor, torch.Tensor]:
    """Random rotation (+-``max_rotation`` degrees), scaling and translation (+-``max_translation`` of the size)
    of an image (C, H, W) and of its points (K, 2) (x, y) px by the same matrix -> (image, points (K, 2) float64)."""
    h, w = image.shape[-2:]
    angle = _uniform(generator, -max_rotation, max_rotation)
    scale = _uniform(generator, *scale_range)
    shift = (_uniform(generator, -max_translation, max_translation) * w,
             _uniform(generator, -max_translation, max_translation) * h)
    matrix = affine_matrix((h, w), angle, scale, shift)
    moved = points.double() @ matrix[:2, :2].T + matrix[:2, 2]
    return warp_affine(image, matrix), moved


def random_intensity(image: torch.Tensor, generator: torch.Generator, gamma_range: Sequence[float] = (0.7, 1.5),
                     contrast_range: Sequence[float] = (0.75, 1.25)) -> torch.Tensor:
    """Random gamma ``x ** g`` then contrast about the mean ``m + c (x - m)`` of an image in [0, 1], clipped."""
    gamma = _uniform(generator, *gamma_range)
    contrast = _uniform(generator, *contrast_range)
    image = image.clamp(0, 1) ** gamma
    mean = image.mean()
    return (mean + contrast * (image - mean)).clamp(0, 1)


def landmark_heatmaps(points: torch.Tensor, size: Sequence[int], sigma: float) -> torch.Tensor:
    """(K, H, W) Gaussian heatmaps of peak 1 at the points (K, 2) (x, y) px, by MONAI ``GenerateHeatmap`` (which
    takes (row, column) points and places each on its nearest pixel). A point outside the image gives zeros."""
    generate = GenerateHeatmap(sigma=sigma, spatial_shape=tuple(size), normalize=True, dtype=torch.float32)
    return generate(points.flip(-1).float())


def local_soft_argmax(heatmaps: torch.Tensor, radius: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    """Per channel of heatmaps (K, H, W): the maximum refined to the centroid of the (2 radius + 1)^2 window around
    it weighted by the positive heatmap values -> (positions (K, 2) (x, y) float64, peak values (K,))."""
    k, h, w = heatmaps.shape
    peaks, index = heatmaps.reshape(k, -1).max(dim=1)
    positions = torch.stack([index % w, index // w], dim=1).double()
    for i in range(k):
        cx, cy = int(positions[i, 0]), int(positions[i, 1])
        x0, x1, y0, y1 = max(cx - radius, 0), min(cx + radius + 1, w), max(cy - radius, 0), min(cy + radius + 1, h)
        weights = heatmaps[i, y0:y1, x0:x1].double().clamp(min=0)
        if weights.sum() > 0:
            ys, xs = torch.meshgrid(torch.arange(y0, y1), torch.arange(x0, x1), indexing="ij")
            positions[i] = torch.stack([(weights * xs).sum(), (weights * ys).sum()]) / weights.sum()
    return positions, peaks


def _check_image(image: torch.Tensor, what: str) -> torch.Tensor:
    image = torch.as_tensor(image)
    if image.ndim != 3 or image.shape[0] != 1:
        raise ValueError(f"the {what} must be a (1, H, W) grayscale image, got shape {tuple(image.shape)}.")
    image = image.as_tensor() if hasattr(image, "as_tensor") else image
    if not torch.isfinite(image).all():
        raise ValueError(f"the {what} contains NaN or infinite values.")
    return image.float()


@dataclass(frozen=True)
class HeatmapTemplate:
    """The template of :class:`SingleTemplateHeatmapRegressor`: the network trained on the augmented template
    (eval mode) and its training losses, one per iteration."""

    network: BasicUNet
    losses: list[float]


class SingleTemplateHeatmapRegressor:
    """Baseline (b): a heatmap regressor trained on the single template with augmentation; implements
    :class:`ld_monai.inferers.OneShotLandmarkDetector`, its template the trained network (:class:`HeatmapTemplate`).

    ``make_template(image, landmarks)`` trains a MONAI ``BasicUNet`` (features 16, 16, 32, 64, 128, 16; one output
    channel per landmark) from scratch to regress Gaussian heatmaps of peak 1 (Payer et al., MICCAI 2016,
    "Regressing heatmaps for multiple landmark localization using CNNs") with Adam on ``batch_size`` random
    augmentations of the template per iteration: :func:`random_affine` (rotation +-10 degrees, scale 0.9-1.1,
    translation +-8 %), the landmarks moved by the same matrix, and :func:`random_intensity` (gamma 0.7-1.5,
    contrast 0.75-1.25). Seeded: on the CPU two fits with the same ``seed`` give the same network.

    The loss is the MSE weighted towards the peaks, ``mean((y - t)^2 (1 + foreground_weight t))`` for target
    heatmaps t. The Gaussians cover under 1 % of the image, and with the plain MSE (``foreground_weight=0``) the
    network first learns to output zeros: on Hamedan cephalogram 001 at 128 x 104 px it still missed the
    template's own landmarks by a median 20 px after 300 iterations, against 1.3 px after 100 iterations with
    ``foreground_weight=20``; fitted at 256 x 208 px and tested on 14 other Hamedan images, the mean radial error
    was 479 px with the plain MSE and 148 px (median 15 px) with the weighting, at the 1024 x 821 px scale.

    ``regressor(image, template)`` -> ``{"landmarks": (K, 2) float64 (x, y) px in the query's pixels,
    "confidence": (K,) the heatmap's peak value (about 1 for a confident detection)}``: per channel the maximum,
    refined by the weighted centroid of its 5 x 5 neighbourhood (:func:`local_soft_argmax`).

    Images are (1, H, W) tensors in [0, 1] (e.g. from :class:`ld_monai.transforms.LoadRadiograph`), any size:
    they are resized (area interpolation) to ``image_size`` (H, W) for the network, and pixel coordinates are
    mapped with the pixel-centre convention ``x' = (x + 0.5) W' / W - 0.5``.

    Args:
        image_size: (H, W) of the network input (any size: ``BasicUNet`` pads odd sizes).
        sigma: standard deviation of the target heatmaps, in network pixels.
        iterations, batch_size, learning_rate: training of :meth:`make_template`.
        foreground_weight: extra weight of the loss at the heatmaps' peaks (0: plain MSE).
        augment: random affine and intensity augmentation; ``False`` trains on the template as is.
        seed: seeds the network's initialisation and the augmentations.
        device: where the network runs (default: CUDA when available, else CPU).
        progress: show a progress bar during :meth:`make_template`.

    Raises:
        ValueError: an image not (1, H, W) or with NaN, landmarks not (K, 2), not finite or outside the template.
    """

    def __init__(
        self,
        image_size: Sequence[int] = (256, 208),
        sigma: float = 3.0,
        iterations: int = 300,
        batch_size: int = 4,
        learning_rate: float = 1e-3,
        foreground_weight: float = 20.0,
        augment: bool = True,
        seed: int = 0,
        device: torch.device | str | None = None,
        progress: bool = False,
    ) -> None:
        self.image_size = (int(image_size[0]), int(image_size[1]))
        if min(self.image_size) < 16:
            raise ValueError(f"image_size must be at least 16 x 16 (the U-Net's four poolings), got {image_size}.")
        if sigma <= 0 or learning_rate <= 0 or foreground_weight < 0 or iterations < 1 or batch_size < 1:
            raise ValueError(f"sigma, learning_rate > 0, foreground_weight >= 0, iterations, batch_size >= 1 needed, "
                             f"got {sigma}, {learning_rate}, {foreground_weight}, {iterations}, {batch_size}.")
        self.sigma = float(sigma)
        self.iterations = int(iterations)
        self.batch_size = int(batch_size)
        self.learning_rate = float(learning_rate)
        self.foreground_weight = float(foreground_weight)
        self.augment = bool(augment)
        self.seed = int(seed)
        self.device = torch.device(device if device is not None else ("cuda" if torch.cuda.is_available() else "cpu"))
        self.progress = bool(progress)

    def _resize(self, image: torch.Tensor) -> torch.Tensor:
        return F.interpolate(image[None], size=self.image_size, mode="area")[0]

    def _sample(self, image: torch.Tensor, points: torch.Tensor,
                generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """One training pair: (augmented image (1, H, W), its heatmaps (K, H, W))."""
        if self.augment:
            image, points = random_affine(image, points, generator)
            image = random_intensity(image, generator)
        return image, landmark_heatmaps(points, self.image_size, self.sigma)

    def make_template(self, image: torch.Tensor, landmarks) -> HeatmapTemplate:
        """A new network trained on the template ``image`` (1, H, W) and its ``landmarks`` (K, 2) (x, y) px."""
        return self.fit([image], [landmarks])

    def fit(self, images: Sequence[torch.Tensor], landmarks: Sequence) -> HeatmapTemplate:
        """A new network trained on several ``images`` (1, H, W each) and their ``landmarks`` (K, 2 each): each
        training sample is a random one of them, augmented. With a one-shot detector's pseudo-labels of unlabeled
        images (and the template with its own landmarks), this is the second stage of CC2D (Yao et al., MICCAI 2021:
        a heatmap network trained on the first stage's predictions)."""
        if not images or len(images) != len(landmarks):
            raise ValueError(f"need as many landmark sets as images (at least one), got {len(landmarks)} for "
                             f"{len(images)} images.")
        pairs = []
        for image, points in zip(images, landmarks):
            image = _check_image(image, "training")
            h0, w0 = image.shape[-2:]
            points = torch.from_numpy(check_template_landmarks(points, h0, w0))
            pairs.append((self._resize(image), rescale_points(points, (h0, w0), self.image_size)))
        if len({len(points) for _, points in pairs}) != 1:
            raise ValueError("every image needs the same landmarks.")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            network = BasicUNet(spatial_dims=2, in_channels=1, out_channels=len(pairs[0][1]),
                                features=(16, 16, 32, 64, 128, 16)).to(self.device)
        optimizer = torch.optim.Adam(network.parameters(), lr=self.learning_rate)
        generator = torch.Generator().manual_seed(self.seed)
        network.train()
        losses = []
        for _ in tqdm(range(self.iterations), desc="fit", disable=not self.progress):
            # one image: no draw, so the augmentations (and the figures of record) are those of the template alone
            chosen = ([0] * self.batch_size if len(pairs) == 1 else
                      torch.randint(len(pairs), (self.batch_size,), generator=generator).tolist())
            samples = [self._sample(*pairs[i], generator) for i in chosen]
            inputs = torch.stack([p[0] for p in samples]).to(self.device)
            targets = torch.stack([p[1] for p in samples]).to(self.device)
            error = (network((inputs - 0.5) / 0.5) - targets) ** 2
            loss = (error * (1 + self.foreground_weight * targets)).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        return HeatmapTemplate(network.eval(), losses)

    @torch.no_grad()
    def predict_heatmaps(self, image: torch.Tensor, template: HeatmapTemplate) -> torch.Tensor:
        """The template network's heatmaps (K, h, w) (``image_size``) of a query (1, H, W) in [0, 1]."""
        image = _check_image(image, "query")
        x = self._resize(image)[None].to(self.device)
        return template.network((x - 0.5) / 0.5)[0].float().cpu()

    def __call__(self, image: torch.Tensor, template: HeatmapTemplate) -> dict[str, np.ndarray]:
        """(1, H, W) query in [0, 1] -> ``{"landmarks": (K, 2) (x, y) px, "confidence": (K,)}``."""
        heatmaps = self.predict_heatmaps(image, template)
        positions, peaks = local_soft_argmax(heatmaps)
        points = rescale_points(positions, self.image_size, image.shape[-2:])
        return {"landmarks": points.numpy(), "confidence": peaks.double().numpy()}
