# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Refinement of a one-shot landmark template on unlabeled images (pseudo-labels; our addition to the matching of
Chen et al., "Unsupervised Local Discrimination for Medical Images", arXiv 2108.09440, method spec A9, in the spirit
of CC2D, Yao et al., "One-shot medical landmark detection", MICCAI 2021):

* :func:`adapt_template`: each landmark's embeddings averaged with the query embeddings at its most confident
  matches;
* :func:`self_train_template`: each landmark's fine vector learned from those matches, as the direction that scores
  each match above its neighbours;
* :class:`TemplateRefinement`: both in turn, with every setting.

Each returns a new :class:`ld_monai.inferers.LandmarkTemplate`; the one it was given is left as it was.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import torch
from tqdm import tqdm

from ld_monai.inferers.landmark_direction import fit_landmark_direction
from ld_monai.inferers.landmark_template import LandmarkTemplate
from ld_monai.inferers.one_shot_landmark import OneShotLandmarkInferer, pooled_embedding_at
from ld_monai.layers.pooling import l2_normalize

__all__ = ["TemplateRefinement", "adapt_template", "self_train_template"]


def adapt_template(inferer: OneShotLandmarkInferer, template: LandmarkTemplate, images: Sequence,
                   fraction: float = 0.25, rounds: int = 1, load: Callable[[object], torch.Tensor] | None = None,
                   progress: bool = False) -> LandmarkTemplate:
    """The template with its landmark embeddings averaged over their matches in unlabeled images.

    Each landmark's coarse and fine embeddings become the normalised mean of the template's own and of the query
    embeddings at that landmark's ``fraction`` most confident matches among ``images``: a prototype of the landmark
    over many patients instead of one. Repeated ``rounds`` times, matching with the latest prototypes and averaging
    from the template's own embedding again. Starts from the template's own embeddings (an adapted or self-trained
    template is adapted afresh).

    Args:
        inferer: the matcher that made ``template``.
        images: (C, H, W) images in [0, 1], or items ``load`` turns into them (e.g. file names with
            :class:`ld_monai.transforms.LoadRadiograph`), loaded once per round.
        fraction: share of the images whose matches make a landmark's prototype, in (0, 1].
        rounds: matching-and-averaging rounds.
        progress: show a progress bar.

    Raises:
        ValueError: no image, ``fraction`` outside (0, 1] or ``rounds`` < 1, and every check of a query
            (:meth:`ld_monai.inferers.LandmarkTemplate.check_query`).
    """
    if len(images) == 0:
        raise ValueError("adaptation needs at least one unlabeled image.")
    if not 0 < fraction <= 1 or rounds < 1:
        raise ValueError(f"fraction must be in (0, 1] and rounds at least 1, got {fraction} and {rounds}.")
    own = {"coarse": template.own_coarse, "fine": template.own_fine}
    template = replace(template, **own)
    count = max(1, round(fraction * len(images)))
    for round_ in range(rounds):
        vectors = {key: [] for key in own}
        confidences = []
        for item in tqdm(images, desc=f"adapting the template ({round_ + 1}/{rounds})", disable=not progress):
            embedding = inferer.embed(load(item) if load is not None else item, template)
            found, confidence = inferer.locate(embedding, template)
            points = found.to(inferer.device)
            vectors["coarse"].append(pooled_embedding_at(inferer.coarse_pool, embedding, points))
            vectors["fine"].append(pooled_embedding_at(inferer.fine_pool, embedding, points))
            confidences.append(confidence)
        best = torch.tensor(confidences).argsort(dim=0, descending=True)[:count]  # (count, K)
        prototypes = {}
        for key, own_vectors in own.items():
            stacked = torch.stack(vectors[key])  # (images, K, D)
            chosen = stacked.gather(0, best[..., None].expand(-1, -1, stacked.shape[2]).to(stacked.device))
            prototypes[key] = l2_normalize(own_vectors + chosen.sum(0), dim=1)
        template = replace(template, **prototypes)
    return template


def self_train_template(inferer: OneShotLandmarkInferer, template: LandmarkTemplate, images: Sequence,
                        fraction: float = 0.25, max_images: int = 64, radius: int = 24, temperature: float = 20.0,
                        steps: int = 200, learning_rate: float = 0.05, pull: float = 1e-3,
                        load: Callable[[object], torch.Tensor] | None = None,
                        progress: bool = False) -> LandmarkTemplate:
    """The template with each landmark's fine matching vector learned from its matches in unlabeled images: our
    linear, frozen-descriptor form of the self-training stage of CC2D (Yao et al., MICCAI 2021).

    Every image is matched with the current vectors. For each landmark, the windows of fine descriptors within
    ``radius`` network pixels of its ``fraction`` most confident matches (at most ``max_images``) train a new
    direction that scores the match above every neighbouring pixel
    (:func:`ld_monai.inferers.landmark_direction.fit_landmark_direction` with ``temperature``, ``steps``,
    ``learning_rate`` and ``pull``, started from the current vector); the coarse vectors are kept. Averaging
    (:func:`adapt_template`) makes a prototype of what the matches look like; this learns what tells them from their
    neighbours: best after adaptation (its prototypes find better pseudo-labels). The windows kept take
    ``max_images x K x D x (2 radius + 1)^2`` floats (64 images, 19 landmarks, D = 64: 750 MB).

    Args:
        inferer: the matcher that made ``template``.
        images: (C, H, W) images in [0, 1], or items ``load`` turns into them, loaded once.
        fraction: share of the images whose matches train a landmark's direction, in (0, 1].
        max_images: at most this many images per landmark.
        radius: half the side of the training windows (network pixels), at least the inferer's ``search_radius``:
            the neighbours the match must beat.
        progress: show a progress bar.

    Raises:
        ValueError: no image, ``fraction`` outside (0, 1], ``max_images`` < 1, ``radius`` < ``search_radius``, and
            every check of a query (:meth:`ld_monai.inferers.LandmarkTemplate.check_query`).
    """
    if len(images) == 0:
        raise ValueError("self-training needs at least one unlabeled image.")
    if not 0 < fraction <= 1 or max_images < 1 or radius < inferer.search_radius:
        raise ValueError(f"fraction must be in (0, 1], max_images at least 1 and radius at least search_radius "
                         f"({inferer.search_radius}), got {fraction}, {max_images} and {radius}.")
    count = min(max_images, max(1, round(fraction * len(images))))
    kept: list[list] = [[] for _ in range(template.num_landmarks)]  # (confidence, order, window)
    for order, item in enumerate(tqdm(images, desc="self-training the template", disable=not progress)):
        embedding = inferer.embed(load(item) if load is not None else item, template)
        found, confidence = inferer.locate(embedding, template)
        windows = inferer.pooled_windows(embedding, found.round().long().tolist(), radius)
        for k, heap in enumerate(kept):  # the count most confident so far: memory bounded by count windows
            entry = (confidence[k], order, windows[k].flatten(1).T.clone())
            (heapq.heappush if len(heap) < count else heapq.heappushpop)(heap, entry)
    centre = radius * (2 * radius + 1) + radius
    return replace(template, fine=torch.stack([
        fit_landmark_direction(torch.stack([window for _, _, window in heap]), template.fine[k], centre,
                               temperature=temperature, steps=steps, learning_rate=learning_rate, pull=pull)
        for k, heap in enumerate(kept)]))


@dataclass(frozen=True)
class TemplateRefinement:
    """Refine a :class:`ld_monai.inferers.LandmarkTemplate` on unlabeled images: ``adapt_rounds`` of
    :func:`adapt_template`, then :func:`self_train_template`; ``adapt_rounds=0`` or ``self_train_fraction=0``
    switches a step off. ``refinement(inferer, template, images, load=None, progress=False)`` returns the new
    template.

    Args:
        adapt_rounds: :func:`adapt_template`'s ``rounds`` (0: no adaptation).
        adapt_fraction: :func:`adapt_template`'s ``fraction``.
        self_train_fraction: :func:`self_train_template`'s ``fraction`` (0: no self-training).
        self_train_max_images: :func:`self_train_template`'s ``max_images``.
        self_train_radius: :func:`self_train_template`'s ``radius``.
        direction_temperature: the ``temperature`` of each landmark's direction fit in self-training
            (:func:`ld_monai.inferers.landmark_direction.fit_landmark_direction`).
        direction_steps: the fit's ``steps``.
        direction_learning_rate: the fit's ``learning_rate``.
        direction_pull: the fit's ``pull``.

    Raises:
        ValueError: ``adapt_rounds`` or ``self_train_fraction`` negative, a direction setting out of range
            (temperature, steps, learning rate not positive, pull negative); the other settings are checked by
            the steps.
    """

    adapt_rounds: int = 1
    adapt_fraction: float = 0.25
    self_train_fraction: float = 0.25
    self_train_max_images: int = 64
    self_train_radius: int = 24
    direction_temperature: float = 20.0
    direction_steps: int = 200
    direction_learning_rate: float = 0.05
    direction_pull: float = 1e-3

    def __post_init__(self) -> None:
        if self.adapt_rounds < 0 or self.self_train_fraction < 0:
            raise ValueError(f"adapt_rounds and self_train_fraction must be >= 0 (0: the step is off), got "
                             f"{self.adapt_rounds} and {self.self_train_fraction}.")
        if (self.direction_temperature <= 0 or self.direction_steps < 1 or self.direction_learning_rate <= 0
                or self.direction_pull < 0):
            raise ValueError(f"direction_temperature, direction_learning_rate > 0, direction_steps >= 1 and "
                             f"direction_pull >= 0 needed, got {self.direction_temperature}, "
                             f"{self.direction_learning_rate}, {self.direction_steps} and {self.direction_pull}.")

    @property
    def enabled(self) -> bool:
        """Whether any step is on (otherwise a refinement returns the template it is given)."""
        return self.adapt_rounds > 0 or self.self_train_fraction > 0

    def __call__(self, inferer: OneShotLandmarkInferer, template: LandmarkTemplate, images: Sequence,
                 load: Callable[[object], torch.Tensor] | None = None, progress: bool = False) -> LandmarkTemplate:
        """``template`` refined on ``images`` ((C, H, W) in [0, 1], or items ``load`` turns into them): a new
        template, or ``template`` itself when both steps are off."""
        if self.adapt_rounds > 0:
            template = adapt_template(inferer, template, images, self.adapt_fraction, self.adapt_rounds, load,
                                      progress)
        if self.self_train_fraction > 0:
            template = self_train_template(
                inferer, template, images, self.self_train_fraction, self.self_train_max_images,
                self.self_train_radius, temperature=self.direction_temperature, steps=self.direction_steps,
                learning_rate=self.direction_learning_rate, pull=self.direction_pull, load=load, progress=progress)
        return template
