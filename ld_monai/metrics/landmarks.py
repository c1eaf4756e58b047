# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Landmark detection metrics: radial error, mean radial error (MRE) and success detection rates (SDR).

The usual scores of cephalometric landmark detection (Wang et al., ISBI 2015 challenge): the Euclidean
distance between each predicted and true landmark (in mm when the pixel spacing is known, otherwise in pixels),
its mean over all points, and the fraction of points found within 2, 2.5, 3 and 4 mm.

Conventions: coordinates are (x, y) in pixels, x = column, y = row. A NaN coordinate marks a missing landmark
(not annotated or not predicted); its error is NaN and it is left out of every summary.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["radial_errors", "mean_radial_error", "success_detection_rates"]


def _as_numpy(x, what: str) -> np.ndarray:
    """``x`` (array, tensor or nested sequence) as a float64 numpy array."""
    if hasattr(x, "detach"):  # torch.Tensor / MetaTensor
        x = x.detach().cpu().numpy()
    try:
        return np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{what} must be numeric, got {type(x).__name__}: {e}") from e


def _as_errors(errors) -> np.ndarray:
    e = _as_numpy(errors, "errors")
    if e.ndim != 2:
        raise ValueError(f"errors must have shape (N, K) (images, landmarks), got {e.shape}.")
    if (e < 0).any():  # NaN compares False
        raise ValueError("errors must be non-negative distances (or NaN for a missing landmark).")
    return e


def radial_errors(pred, target, spacing=None) -> np.ndarray:
    """Euclidean distance between predicted and true landmarks of each image.

    Args:
        pred: predicted landmarks (N, K, 2), (x, y) in pixels; numpy array or torch tensor.
        target: true landmarks, same shape as ``pred``.
        spacing: ``None`` (errors in pixels), ``(sx, sy)`` mm per pixel along x and y for every image, or an
            (N, 2) array of per-image ``(sx, sy)``. With a spacing the errors are in mm:
            ``sqrt((sx * dx)^2 + (sy * dy)^2)``.

    Returns:
        float64 array (N, K); NaN where a coordinate of ``pred`` or ``target`` is NaN (a missing landmark).

    Example::

        radial_errors([[[3.0, 4.0]]], [[[0.0, 0.0]]])  # array([[5.]])
        radial_errors([[[3.0, 4.0]]], [[[0.0, 0.0]]], spacing=(0.5, 2.0))  # sqrt(1.5^2 + 8^2)
    """
    p, t = _as_numpy(pred, "pred"), _as_numpy(target, "target")
    if p.ndim != 3 or p.shape[-1] != 2 or p.shape != t.shape:
        raise ValueError(
            f"pred and target must have the same shape (N, K, 2) with (x, y) last, got {p.shape} and {t.shape}."
        )
    delta = p - t
    if spacing is not None:
        s = _as_numpy(spacing, "spacing")
        if s.shape == (2,):
            s = s[None]
        if s.shape not in ((1, 2), (p.shape[0], 2)):
            raise ValueError(
                f"spacing must be (sx, sy) or have shape (N, 2) = ({p.shape[0]}, 2) (mm per pixel), got {s.shape}."
            )
        if not np.isfinite(s).all() or (s <= 0).any():
            raise ValueError(f"spacing must be finite and positive (mm per pixel), got {s.tolist()}.")
        delta = delta * s[:, None, :]
    return np.hypot(delta[..., 0], delta[..., 1])


def mean_radial_error(errors) -> dict:
    """Summary of radial errors (N, K) (from :func:`radial_errors`), NaNs (missing landmarks) excluded.

    Returns:
        ``{"mre": mean, "std": standard deviation (ddof=0), "median": median, "per_landmark": [K means],
        "num_points": number of non-NaN errors}``; values are Python floats, NaN when there is no error to
        average (overall, or for one landmark).

    Example::

        mean_radial_error([[1.0, 5.0], [3.0, float("nan")]])
        # {"mre": 3.0, "std": 1.633, "median": 3.0, "per_landmark": [2.0, 5.0], "num_points": 3}
    """
    e = _as_errors(errors)
    valid = e[~np.isnan(e)]
    per_landmark = []
    for k in range(e.shape[1]):
        column = e[:, k][~np.isnan(e[:, k])]
        per_landmark.append(float(column.mean()) if column.size else float("nan"))
    if valid.size == 0:
        nan = float("nan")
        return {"mre": nan, "std": nan, "median": nan, "per_landmark": per_landmark, "num_points": 0}
    return {
        "mre": float(valid.mean()),
        "std": float(valid.std()),
        "median": float(np.median(valid)),
        "per_landmark": per_landmark,
        "num_points": int(valid.size),
    }


def success_detection_rates(errors, radii: float | Sequence[float]) -> dict:
    """Success detection rate (SDR): fraction of the non-NaN errors ``<= r`` (inclusive) for each radius ``r``.

    Args:
        errors: radial errors (N, K), NaN for missing landmarks (excluded from numerator and denominator).
        radii: one radius or several, in the unit of ``errors`` (e.g. ``(2, 2.5, 3, 4)`` mm).

    Returns:
        ``{"overall": {r: rate}, "per_landmark": {r: [K rates]}}`` with float keys ``r`` in the given order;
        a rate is NaN when there is no non-NaN error to count.

    Example::

        success_detection_rates([[1.0, 2.0], [3.0, float("nan")]], [2.0])
        # {"overall": {2.0: 0.6667}, "per_landmark": {2.0: [0.5, 1.0]}}
    """
    e = _as_errors(errors)
    radii_list = [radii] if np.isscalar(radii) else list(radii)
    if not radii_list:
        raise ValueError("radii must name at least one radius.")
    keys = []
    for r in radii_list:
        r = float(r)
        if not np.isfinite(r) or r < 0:
            raise ValueError(f"radii must be finite and non-negative, got {radii_list}.")
        keys.append(r)
    valid = ~np.isnan(e)
    counts = valid.sum(axis=0)
    overall, per_landmark = {}, {}
    for r in keys:
        hits = (e <= r) & valid
        overall[r] = float(hits.sum() / valid.sum()) if valid.any() else float("nan")
        per_landmark[r] = [float(h / n) if n else float("nan") for h, n in zip(hits.sum(axis=0), counts)]
    return {"overall": overall, "per_landmark": per_landmark}
