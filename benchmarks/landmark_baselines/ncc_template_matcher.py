# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""One-shot landmark detection by normalised cross-correlation (NCC) of template patches: the baseline.

Baseline (a) of one-shot landmark detection: classic intensity template matching, no learning. Each landmark
of the single annotated template image is described by the patch of raw intensities around it, and is found
in a new image where that patch correlates best (zero-mean normalised cross-correlation, computed quickly with
FFTs and running sums as in J. P. Lewis, "Fast normalized cross-correlation", Vision Interface 1995; here by
:func:`skimage.feature.match_template`). Learned local features (e.g. local discrimination embeddings) should
beat it; it needs no training and sets the bar.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import uniform_filter

from ld_monai.inferers.template_landmarks import check_template_landmarks

__all__ = ["NCCTemplate", "NCCTemplateMatcher"]

_SUBPIXEL_METHODS = ("parabola", "quadratic")
# a window whose standard deviation is below this fraction of the image's largest |value| is flat: its NCC is
# rounding noise (it can even exceed 1), so it is neither matched against nor searched
_FLAT = 1e-4
# least-squares fit of f(x, y) = a + b x + c y + d x^2 + e x y + g y^2 to a 3x3 neighbourhood (row-major, y then x)
_Y3, _X3 = np.mgrid[-1:2, -1:2]
_QUADRATIC_FIT = np.linalg.pinv(
    np.stack([np.ones(9), _X3.ravel(), _Y3.ravel(), _X3.ravel() ** 2, (_X3 * _Y3).ravel(), _Y3.ravel() ** 2], 1)
)


def _as_image(x, what: str) -> np.ndarray:
    """A 2-D float64 image from an (H, W) or (1, H, W) array or tensor; ``ValueError`` otherwise or on NaN."""
    if hasattr(x, "detach"):  # torch.Tensor / MetaTensor
        x = x.detach().cpu().numpy()
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 3 and x.shape[0] == 1:
        x = x[0]
    if x.ndim != 2:
        raise ValueError(f"{what} must be a 2-D image (H, W) or (1, H, W), got shape {x.shape}.")
    if not np.isfinite(x).all():
        raise ValueError(f"{what} contains NaN or infinite values.")
    return x


def _parabola_offset(left: float, centre: float, right: float) -> float:
    """Sub-pixel offset in [-0.5, 0.5] of the vertex of the parabola through (-1, left), (0, centre), (1, right)."""
    if not (np.isfinite(left) and np.isfinite(right)):
        return 0.0
    curvature = left - 2.0 * centre + right
    if curvature >= 0:  # not a strict maximum (flat or a saddle): keep the integer peak
        return 0.0
    return float(np.clip(0.5 * (left - right) / curvature, -0.5, 0.5))


def _quadratic_offset(window: np.ndarray) -> np.ndarray | None:
    """Sub-pixel (dx, dy) of the maximum of the 2-D quadratic fitted to a 3x3 ``window``; None when the fit has
    no maximum within one pixel (then the 1-D parabolas are used)."""
    _, b, c, d, e, g = _QUADRATIC_FIT @ window.ravel()
    hessian = np.array([[2.0 * d, e], [e, 2.0 * g]])
    if not (hessian[0, 0] < 0 and np.linalg.det(hessian) > 0):  # not negative definite: no maximum
        return None
    offset = np.linalg.solve(hessian, [-b, -c])
    return offset if np.abs(offset).max() <= 1.0 else None


@dataclass(frozen=True)
class NCCTemplate:
    """The template of :class:`NCCTemplateMatcher`: the intensity patch around each landmark.

    Args:
        patches: (K, P, P) the template's patches, centred on ``centres`` (zero beyond the template's borders).
        centres: (K, 2) int (x, y) pixel each patch is centred on (the landmark's nearest).
        offsets: (K, 2) each landmark's position relative to its patch centre.
        flat: (K,) the patches with no defined NCC (standard deviation below 1e-4 of the template's largest |value|).
    """

    patches: np.ndarray
    centres: np.ndarray
    offsets: np.ndarray
    flat: np.ndarray


class NCCTemplateMatcher:
    """Find the landmarks of one annotated template image in new images by NCC template matching; implements
    :class:`ld_monai.inferers.OneShotLandmarkDetector`.

    Baseline (a) of one-shot landmark detection: for every landmark, the ``patch_size`` x ``patch_size`` patch
    of the template centred on it (on the nearest pixel; zero padding beyond the template's borders, like the
    query's padding in :func:`skimage.feature.match_template`) is matched against the query; the position of
    maximal NCC (Lewis 1995, "Fast normalized cross-correlation") is refined to sub-pixel precision by a 1-D
    parabola fit along x and along y through the peak and its two neighbours (``subpixel="parabola"``), or, by
    default, by a 2-D quadratic fitted to the 3x3 neighbourhood of the peak (``subpixel="quadratic"``), which
    follows peaks elongated along a diagonal (landmarks on oblique edges) that the two 1-D fits miss by up to
    ~0.4 px.

    Args:
        patch_size: odd side of the square patches, in pixels.
        search_radius: ``None`` searches the whole query; a number only considers positions within that
            Euclidean distance (pixels) of each landmark's template position (the query is assumed roughly
            aligned with the template, e.g. same field of view). Also faster: only a crop is correlated.
        subpixel: ``"parabola"`` (two 1-D parabolas) or ``"quadratic"`` (one 2-D quadratic, the default, falling
            back to the parabolas where it has no maximum within a pixel of the peak).

    ``make_template(image, landmarks)``: the annotated image, (H, W) or (1, H, W), array or tensor, and its (K, 2)
    landmark positions (x, y) in its pixels, x = column, y = row, inside the image -> :class:`NCCTemplate`.
    ``matcher(query, template)`` on a query image (2-D, any size, at least ``patch_size`` on each side) returns
    ``{"landmarks": float64 (K, 2) positions (x, y) in query pixels, "confidence": float64 (K,) NCC at the integer
    peak, in [-1, 1]}``. Flat windows (standard deviation below 1e-4 of the largest absolute value of their
    image, e.g. saturated background) have no defined NCC: a query window that is flat is never chosen, and a
    landmark whose template patch is flat, or whose search region is flat or lies outside the query, gets a NaN
    position and confidence.

    Example::

        matcher = NCCTemplateMatcher(patch_size=65, search_radius=100)
        template = matcher.make_template(template_image, template_landmarks)
        found = matcher(new_image, template)
    """

    def __init__(self, patch_size: int = 65, search_radius: float | None = None, subpixel: str = "quadratic") -> None:
        if isinstance(patch_size, bool) or int(patch_size) != patch_size or patch_size < 3 or patch_size % 2 == 0:
            raise ValueError(f"patch_size must be an odd integer >= 3, got {patch_size!r}.")
        if search_radius is not None and not (np.isfinite(search_radius) and search_radius >= 0):
            raise ValueError(f"search_radius must be None or a non-negative number of pixels, got {search_radius!r}.")
        if subpixel not in _SUBPIXEL_METHODS:
            raise ValueError(f"subpixel must be one of {_SUBPIXEL_METHODS}, got {subpixel!r}.")
        self.subpixel = subpixel
        self.patch_size = int(patch_size)
        self.search_radius = None if search_radius is None else float(search_radius)

    def make_template(self, image, landmarks) -> NCCTemplate:
        """The patches of ``image`` (H, W) or (1, H, W) around its ``landmarks`` (K, 2) (x, y) px."""
        image = _as_image(image, "template")
        points = check_template_landmarks(landmarks, *image.shape)
        centres = np.rint(points).astype(int)
        half = self.patch_size // 2
        padded = np.pad(image, half, mode="constant")
        # centre (cx, cy) of the template is (cx + half, cy + half) in ``padded``
        patches = np.stack([padded[cy : cy + self.patch_size, cx : cx + self.patch_size] for cx, cy in centres])
        return NCCTemplate(patches, centres, points - centres, patches.std(axis=(1, 2)) <= _FLAT * np.abs(image).max())

    def __call__(self, query, template: NCCTemplate) -> dict[str, np.ndarray]:
        """Positions (K, 2) (x, y) and peak NCC scores (K,) of the template's landmarks in ``query`` (2-D)."""
        image = _as_image(query, "query")
        if min(image.shape) < self.patch_size:
            raise ValueError(f"query of shape {image.shape} is smaller than the patch size {self.patch_size}.")
        positions = np.full((len(template.patches), 2), np.nan)
        scores = np.full(len(template.patches), np.nan)
        # window variance E[x^2] - E[x]^2 around every pixel, zero padding like match_template's
        mean = uniform_filter(image, self.patch_size, mode="constant")
        variance = uniform_filter(image**2, self.patch_size, mode="constant") - mean**2
        flat = variance <= (_FLAT * np.abs(image).max()) ** 2
        for k, patch in enumerate(template.patches):
            if template.flat[k]:
                continue
            found = self._match(image, patch, template.centres[k], flat)
            if found is not None:
                positions[k] = found[0] + template.offsets[k]
                scores[k] = found[1]
        return {"landmarks": positions, "confidence": scores}

    def _match(self, image: np.ndarray, patch: np.ndarray, centre: np.ndarray, flat: np.ndarray):
        """Sub-pixel (x, y) of the best match of ``patch`` and its NCC, or None when nothing can be searched."""
        height, width = image.shape
        x0, y0 = 0, 0
        region = image
        if self.search_radius is not None:
            reach = int(np.floor(self.search_radius))
            boxes = []
            for c, size in ((centre[0], width), (centre[1], height)):
                lo, hi = max(0, c - reach), min(size, c + reach + 1)  # candidate centres
                if lo >= hi:
                    return None
                # the crop also holds the half patch around every candidate, and at least one patch
                lo, hi = max(0, lo - self.patch_size // 2), min(size, hi + self.patch_size // 2)
                if hi - lo < self.patch_size:
                    lo, hi = (0, self.patch_size) if lo == 0 else (size - self.patch_size, size)
                boxes.append((lo, hi))
            (x0, x1), (y0, y1) = boxes
            region = image[y0:y1, x0:x1]
        from skimage.feature import match_template  # scikit-image loads slowly: only when a baseline runs

        ncc = match_template(region, patch, pad_input=True)  # ncc[r, c]: patch centred on region[r, c]
        ncc[flat[y0 : y0 + ncc.shape[0], x0 : x0 + ncc.shape[1]]] = -np.inf
        if self.search_radius is not None:
            rows, cols = np.mgrid[y0 : y0 + ncc.shape[0], x0 : x0 + ncc.shape[1]]
            far = (cols - centre[0]) ** 2 + (rows - centre[1]) ** 2 > self.search_radius**2
            ncc = np.where(far, -np.inf, ncc)
        row, col = np.unravel_index(int(np.argmax(ncc)), ncc.shape)
        peak = float(ncc[row, col])
        if not np.isfinite(peak):
            return None
        inside_x, inside_y = 0 < col < ncc.shape[1] - 1, 0 < row < ncc.shape[0] - 1
        if self.subpixel == "quadratic" and inside_x and inside_y:
            window = ncc[row - 1 : row + 2, col - 1 : col + 2]
            offset = _quadratic_offset(window) if np.isfinite(window).all() else None
            if offset is not None:
                return np.array([x0 + col, y0 + row]) + offset, peak
        dx = _parabola_offset(*(ncc[row, col - 1 : col + 2] if inside_x else (np.nan,) * 3))
        dy = _parabola_offset(*(ncc[row - 1 : row + 2, col] if inside_y else (np.nan,) * 3))
        return np.array([x0 + col + dx, y0 + row + dy]), peak
