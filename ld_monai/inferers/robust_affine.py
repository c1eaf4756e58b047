# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""A robust affine fit between two point sets with outliers: the shape check of one-shot landmark matching.

Every landmark matched independently can jump to a look-alike structure far away; the matches that agree on one
affine map of the template's landmark configuration are the trustworthy ones. The fit is RANSAC (Fischler and
Bolles, CACM 1981) made deterministic: every triple of matches (or a seeded sample of ``max_triples``) proposes
an affine map, the one with the most matches within ``tolerance`` wins (ties: the smaller inlier residual), and
it is refitted on its inliers by least squares.
"""

from __future__ import annotations

import itertools

import numpy as np

__all__ = ["fit_affine", "apply_affine", "robust_affine"]


def fit_affine(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Least-squares affine map (2, 3) with ``target ≈ A @ [x, y, 1]`` for (N, 2) point sets, N ≥ 3."""
    design = np.concatenate([source, np.ones((len(source), 1))], axis=1)
    solution, *_ = np.linalg.lstsq(design, target, rcond=None)
    return solution.T


def apply_affine(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(N, 2) points mapped by a (2, 3) affine matrix."""
    return points @ matrix[:, :2].T + matrix[:, 2]


def robust_affine(source: np.ndarray, target: np.ndarray, tolerance: float, max_triples: int = 5000,
                  seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The affine map (2, 3) agreed on by most of the correspondences ``source[i] -> target[i]`` ((N, 2), N ≥ 3)
    and the boolean inlier mask (distance to ``target`` within ``tolerance``) of the refitted map.

    Raises:
        ValueError: fewer than 3 correspondences, or all of them collinear.
    """
    source, target = np.asarray(source, dtype=np.float64), np.asarray(target, dtype=np.float64)
    if len(source) < 3 or source.shape != target.shape:
        raise ValueError(f"an affine fit needs >= 3 matching (N, 2) points, got {source.shape} and {target.shape}.")
    triples = np.array(list(itertools.combinations(range(len(source)), 3)))
    if len(triples) > max_triples:
        triples = triples[np.random.default_rng(seed).choice(len(triples), max_triples, replace=False)]
    design = np.concatenate([source[triples], np.ones(triples.shape + (1,))], axis=2)  # (T, 3, 3)
    usable = np.abs(np.linalg.det(design)) > 1e-6 * max(1.0, np.ptp(source)) ** 2
    if not usable.any():
        raise ValueError("the points are collinear: no affine map is determined.")
    matrices = np.linalg.solve(design[usable], target[triples[usable]]).transpose(0, 2, 1)  # (T, 2, 3)
    mapped = np.einsum("tij,nj->tni", matrices[:, :, :2], source) + matrices[:, None, :, 2]
    distances = np.linalg.norm(mapped - target, axis=2)
    inliers = distances <= tolerance
    count = inliers.sum(axis=1)
    residual = np.where(inliers, distances, 0.0).sum(axis=1)
    best = np.lexsort((residual, -count))[0]
    chosen = inliers[best]
    matrix = fit_affine(source[chosen], target[chosen]) if chosen.sum() >= 3 else matrices[best]
    return matrix, np.linalg.norm(apply_affine(matrix, source) - target, axis=1) <= tolerance
