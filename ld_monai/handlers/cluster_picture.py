# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""The per-epoch picture of LD pretraining: cluster maps and embedding PCA of fixed images
(:func:`ld_monai.visualize.render_cluster_embedding_figure`, Chen et al., arXiv 2108.09440, Fig. 4-5).

A picture of rings about the centre or frames along the border is the position shortcut:
:class:`ClusterEmbeddingPicture` therefore also measures how much of the embedding pixel position alone explains
(:func:`ld_monai.metrics.position_leakage`) and writes it on the picture and into the engine's metrics.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ld_monai.networks.unwrap import unwrap_network
from ld_monai.metrics.position_leakage import field_of_view_foreground, position_leakage as measure_position_leakage
from ld_monai.utils import atomic_write
from ld_monai.visualize.cluster_embedding_figure import render_cluster_embedding_figure

__all__ = ["ClusterEmbeddingPicture"]

logger = logging.getLogger(__name__)

LEAKAGE_METRIC_KEYS = {
    "xy": "position_leakage_xy",
    "polar": "position_leakage_polar",
    "clusters_xy": "position_leakage_clusters_xy",
    "clusters_polar": "position_leakage_clusters_polar",
}


def _leakage_text(leakage: dict[str, float], digits: int) -> str:
    """"embedding xy 0.06, polar 0.08; clusters xy 0.31, polar 0.29" (the clusters part when measured)."""
    text = f"embedding xy {leakage['xy']:.{digits}f}, polar {leakage['polar']:.{digits}f}"
    if "clusters_xy" in leakage:
        text += f"; clusters xy {leakage['clusters_xy']:.{digits}f}, polar {leakage['clusters_polar']:.{digits}f}"
    return text


class ClusterEmbeddingPicture:
    """Ignite handler drawing cluster maps and embedding PCA of fixed images every ``every_n_epochs`` epochs,
    and measuring the embedding's position leakage.

    At each chosen ``EPOCH_COMPLETED`` (or when called as ``handler(engine)``) the network runs on ``images``
    in eval mode under ``torch.no_grad()`` (its previous mode is restored afterwards) and
    :func:`render_cluster_embedding_figure` writes ``save_dir/{filename_prefix}_epoch{epoch:03d}.png``, copied
    to ``save_dir/{filename_prefix}_latest.png``. Both writes are atomic; in distributed runs only rank 0
    draws. ``self.last_path`` is the last epoch picture.

    Position leakage (``position_leakage=True``, needs at least 2 images): the held-out R² of predicting the
    embedding of the fixed images from pixel position alone, :func:`ld_monai.metrics.position_leakage` (``"xy"``:
    (row, col) Fourier features; ``"polar"``: radius x angle about the field-of-view centre), inside the field of
    view of each image (:func:`ld_monai.metrics.field_of_view_foreground` of the un-normalised images: any channel >
    ``leakage_foreground_threshold``, eroded by ``leakage_erosion`` pixels; ``None`` counts every pixel; an image
    without foreground counts every pixel). ~1 means the embedding is a position code (the zero-padding shortcut of
    LD on small data), ~0 that position tells nothing about it. The same is measured for the soft cluster
    assignments when the network has a clustering head (``"clusters_xy"``, ``"clusters_polar"``: the shortcut's
    rings show there first). The values are written in the picture's title ("position leakage R²: embedding xy 0.06,
    polar 0.08; clusters xy 0.31, polar 0.29"), logged, kept in ``self.last_leakage`` and stored in
    ``engine.state.metrics`` (``position_leakage_xy``, ``position_leakage_polar``, ``position_leakage_clusters_xy``,
    ``position_leakage_clusters_polar``). A non-finite embedding (a diverged run) gives NaN values and a warning
    instead of an exception, so the picture is still drawn.

    Handler order: MONAI's ``StatsHandler`` and ``TensorBoardStatsHandler`` log ``engine.state.metrics`` at
    ``EPOCH_COMPLETED``, and Ignite calls the handlers of one event in the order they were attached. The LD
    bundle lists this handler after them, so metrics written at ``EPOCH_COMPLETED`` would reach them one
    evaluation late (``state.metrics`` persists across an evaluator's runs). :meth:`attach` therefore runs the
    network and the measurement at the ``ITERATION_COMPLETED`` of the epoch's last iteration (the weights are
    those of ``EPOCH_COMPLETED``: evaluators do not change them, trainers have taken their last step), before any
    ``EPOCH_COMPLETED`` handler; the picture is drawn at ``EPOCH_COMPLETED`` from the same outputs, so the network
    runs once. The metrics are thus logged to TensorBoard under their own names at the right epoch wherever the
    handler sits in the list. (Called directly as ``handler(engine)`` everything happens in that call.)

    Args:
        images: (N, C, H, W) fixed, already normalised images (e.g. fixed validation views); the first
            ``max_images`` are used. Kept on the CPU and moved to ``device`` at each call.
        save_dir: output folder (created).
        network: the LD network; default ``engine.network``. DataParallel / DDP wrappers are unwrapped. Its
            output is a dict with ``"embedding"`` (B, D, H, W) and optionally ``"assignment"`` (B, M, H, W),
            or an embedding tensor.
        filename_prefix: picture file name prefix.
        every_n_epochs: draw every this many epochs.
        max_images: rows of the picture.
        mean: per-channel normalisation mean of ``images``, undone for display and for the field of view.
        std: per-channel normalisation standard deviation of ``images``.
        device: where to run the network; default the device of its first parameter.
        position_leakage: measure the position leakage (see above).
        leakage_foreground_threshold: field-of-view threshold on the un-normalised [0, 1] images; None: all pixels.
        leakage_erosion: erosion of the field of view in pixels.

    Example::

        >>> handler = ClusterEmbeddingPicture(val_views, "./runs/ld_fundus/pictures", mean=MEAN, std=STD)  # doctest: +SKIP
        >>> handler.attach(evaluator)  # doctest: +SKIP
        >>> evaluator.state.metrics["position_leakage_xy"]  # doctest: +SKIP
    """

    def __init__(
        self,
        images: torch.Tensor,
        save_dir: str | os.PathLike,
        network: nn.Module | None = None,
        filename_prefix: str = "clusters",
        every_n_epochs: int = 1,
        max_images: int = 4,
        mean: Sequence[float] | float | None = None,
        std: Sequence[float] | float | None = None,
        device: str | torch.device | None = None,
        position_leakage: bool = True,
        leakage_foreground_threshold: float | None = 0.04,
        leakage_erosion: int = 2,
    ) -> None:
        images = torch.as_tensor(images)
        if hasattr(images, "as_tensor"):  # MetaTensor -> plain tensor
            images = images.as_tensor()
        if images.ndim != 4 or images.shape[0] == 0:
            raise ValueError(f"images must be a non-empty (N, C, H, W) tensor, got shape {tuple(images.shape)}.")
        if int(every_n_epochs) < 1 or int(max_images) < 1:
            raise ValueError(f"every_n_epochs and max_images must be >= 1, got {every_n_epochs}, {max_images}.")
        if int(leakage_erosion) < 0:
            raise ValueError(f"leakage_erosion must be >= 0, got {leakage_erosion}.")
        self.images = images[: int(max_images)].detach().float().cpu()
        self.save_dir = Path(save_dir)
        self.network = network
        self.filename_prefix = filename_prefix
        self.every_n_epochs = int(every_n_epochs)
        self.mean = mean
        self.std = std
        self.device = device
        self.last_path: Path | None = None
        self.last_leakage: dict[str, float] | None = None
        self.position_leakage = bool(position_leakage)
        if self.position_leakage and self.images.shape[0] < 2:
            logger.warning("ClusterEmbeddingPicture: position leakage needs at least 2 images, got 1: not measured.")
            self.position_leakage = False
        self.foreground: torch.Tensor | None = None
        if self.position_leakage and leakage_foreground_threshold is not None:
            fg = field_of_view_foreground(
                self.images, float(leakage_foreground_threshold), mean=mean, std=std, erosion=int(leakage_erosion)
            )
            empty = (~fg.flatten(1).any(1)).nonzero()[:, 0].tolist()
            if empty:
                logger.warning(
                    "ClusterEmbeddingPicture: images %s have no pixel above leakage_foreground_threshold=%g after "
                    "un-normalising: their position leakage counts every pixel.",
                    empty,
                    leakage_foreground_threshold,
                )
                fg[empty] = True
            self.foreground = fg
        self._pending: tuple[tuple[int, int, int], tuple[Any, ...]] | None = None

    def attach(self, engine: Any) -> None:
        """Measure at the last iteration and draw at every ``every_n_epochs``-th ``EPOCH_COMPLETED`` of ``engine``."""
        from ignite.engine import Events

        if self.position_leakage:
            engine.add_event_handler(Events.ITERATION_COMPLETED(event_filter=self._last_iteration_filter), self.measure)
        engine.add_event_handler(Events.EPOCH_COMPLETED(every=self.every_n_epochs), self)

    def _last_iteration_filter(self, engine: Any, iteration: int) -> bool:
        length = engine.state.epoch_length
        return bool(length) and iteration % length == 0 and engine.state.epoch % self.every_n_epochs == 0

    def _outputs(self, network: nn.Module) -> tuple[torch.Tensor, torch.Tensor | None]:
        device = self.device
        if device is None:
            param = next(iter(network.parameters()), None)
            device = param.device if param is not None else torch.device("cpu")
        was_training = network.training
        network.eval()
        try:
            with torch.no_grad():
                out = network(self.images.to(device))
        finally:
            network.train(was_training)
        if isinstance(out, torch.Tensor):
            return out.float().cpu(), None
        if not isinstance(out, dict) or "embedding" not in out:
            raise ValueError(
                "ClusterEmbeddingPicture: the network must return an embedding tensor or a dict with 'embedding', "
                f"got {type(out).__name__}{' with keys ' + str(list(out)) if isinstance(out, dict) else ''}."
            )
        assignment = out.get("assignment")
        return out["embedding"].float().cpu(), None if assignment is None else assignment.float().cpu()

    def _leakage(self, embedding: torch.Tensor) -> dict[str, float]:
        foreground = self.foreground
        if foreground is not None and tuple(foreground.shape[-2:]) != tuple(embedding.shape[-2:]):
            size = tuple(embedding.shape[-2:])
            foreground = F.interpolate(foreground[:, None].float(), size=size, mode="nearest")[:, 0] > 0
        try:
            return measure_position_leakage(embedding, foreground=foreground)
        except ValueError as err:
            logger.warning("ClusterEmbeddingPicture: position leakage not measured: %s", err)
            return {"xy": float("nan"), "polar": float("nan")}

    def _run(self, engine: Any) -> tuple[torch.Tensor, torch.Tensor | None, dict[str, float] | None]:
        network = self.network if self.network is not None else getattr(engine, "network", None)
        if network is None:
            raise ValueError("ClusterEmbeddingPicture: no `network` given and the engine has no `network` attribute.")
        embedding, assignment = self._outputs(unwrap_network(network))
        leakage = None
        if self.position_leakage:
            leakage = self._leakage(embedding)
            if assignment is not None:
                leakage.update({f"clusters_{name}": value for name, value in self._leakage(assignment).items()})
            self.last_leakage = leakage
            for name, value in leakage.items():
                engine.state.metrics[LEAKAGE_METRIC_KEYS[name]] = value
            logger.info("epoch %d: position leakage R2: %s", int(engine.state.epoch), _leakage_text(leakage, 3))
        return embedding, assignment, leakage

    @staticmethod
    def _key(engine: Any) -> tuple[int, int, int]:
        return id(engine), int(engine.state.epoch), int(engine.state.iteration)

    def measure(self, engine: Any) -> dict[str, float] | None:
        """Run the network and measure the position leakage now (stored in ``engine.state.metrics``); the next
        ``handler(engine)`` call at the same epoch and iteration draws from these outputs. Returns the leakage."""
        import ignite.distributed as idist

        if idist.get_rank() != 0:
            return None
        outputs = self._run(engine)
        self._pending = (self._key(engine), outputs)
        return outputs[2]

    def __call__(self, engine: Any) -> None:
        import ignite.distributed as idist

        if idist.get_rank() != 0:
            return
        pending, self._pending = self._pending, None
        if pending is not None and pending[0] == self._key(engine):
            embedding, assignment, leakage = pending[1]
        else:
            embedding, assignment, leakage = self._run(engine)
        epoch = int(engine.state.epoch)
        title = None
        if leakage is not None:
            title = f"position leakage R²: {_leakage_text(leakage, 2)}"
        path = self.save_dir / f"{self.filename_prefix}_epoch{epoch:03d}.png"
        render_cluster_embedding_figure(
            self.images, embedding, assignment, path, mean=self.mean, std=self.std, title=title
        )
        data = path.read_bytes()
        atomic_write(self.save_dir / f"{self.filename_prefix}_latest.png", lambda f: f.write(data))
        self.last_path = path
        logger.info("epoch %d: wrote cluster/embedding picture %s", epoch, path)
