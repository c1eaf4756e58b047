# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Pictures of what local discrimination learns: cluster maps and embedding PCA of fixed images.

For each image the figure shows (1) the image, (2) the argmax of the clustering head's soft assignments
overlaid as a translucent colour map (one fixed colour per cluster), (3) the per-pixel embedding's first
three principal components as RGB. Chen et al. (arXiv 2108.09440, Fig. 4-5) inspect LD this way: clusters
should follow anatomy (vessels, optic disc, background) and the embedding should vary smoothly within
structures. A cluster map that collapses to one colour, or an embedding picture that is flat, is the
first sign of a failed run. A picture of rings about the centre or frames along the border is the position
shortcut: :class:`ClusterEmbeddingPicture` therefore also measures how much of the embedding pixel position alone
explains (:func:`ld_monai.metrics.position_leakage`) and writes it on the picture and into the engine's metrics.

Rendering uses matplotlib's object-oriented API with the Agg canvas (``Figure`` + ``FigureCanvasAgg``), not
``pyplot``: it needs no display, does not switch the user's global backend (which ``matplotlib.use("Agg")``
would do inside a notebook), and keeps no figures alive between calls.
"""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ld_monai.handlers.encoder_exporter import unwrap_network
from ld_monai.metrics.position_leakage import field_of_view_foreground, position_leakage as measure_position_leakage
from ld_monai.utils import atomic_write

__all__ = ["ClusterEmbeddingPicture", "render_cluster_embedding_figure", "embedding_pca_rgb", "cluster_palette"]

logger = logging.getLogger(__name__)

_PANEL_INCHES = 2.5
_DPI = 100
_OVERLAY_ALPHA = 0.45


def cluster_palette(num_clusters: int) -> np.ndarray:
    """``(num_clusters, 3)`` RGB colours in [0, 1], fixed per cluster index.

    The 20 colours of matplotlib's ``tab20`` come first, saturated ones before their light twins so that
    neighbouring indices differ in hue, then ``tab20b`` and ``tab20c``; beyond 60 clusters colours repeat.
    """
    import matplotlib

    tab20 = np.asarray(matplotlib.colormaps["tab20"].colors)
    colours = [tab20[0::2], tab20[1::2]]
    colours += [np.asarray(matplotlib.colormaps[name].colors) for name in ("tab20b", "tab20c")]
    table = np.concatenate(colours, axis=0)[:, :3]
    return table[np.arange(max(int(num_clusters), 1)) % len(table)]


def embedding_pca_rgb(embedding: torch.Tensor, max_pixels: int = 20000, seed: int = 0) -> np.ndarray:
    """First three principal components of a per-pixel embedding, as RGB images in [0, 1].

    The PCA is fitted jointly on the pixels of all images (a fixed random subsample of at most ``max_pixels``
    pixels, via SVD), so colours are comparable across the images of one picture. Each component's sign is
    fixed (largest loading positive) and it is min-max scaled to [0, 1] over all pixels. Non-finite values
    are replaced by 0; an embedding with fewer than three channels gives black for the missing components.

    Args:
        embedding: (N, D, H, W).

    Returns:
        (N, H, W, 3) float array.
    """
    if embedding.ndim != 4:
        raise ValueError(f"embedding must be (N, D, H, W), got {tuple(embedding.shape)}.")
    n, d, h, w = embedding.shape
    x = torch.nan_to_num(embedding.detach().float().cpu(), nan=0.0, posinf=0.0, neginf=0.0)
    x = x.permute(0, 2, 3, 1).reshape(-1, d)
    g = torch.Generator().manual_seed(seed)
    sample = x[torch.randperm(x.shape[0], generator=g)[:max_pixels]] if x.shape[0] > max_pixels else x
    mu = sample.mean(dim=0, keepdim=True)
    k = min(3, d, sample.shape[0])
    _, _, vh = torch.linalg.svd(sample - mu, full_matrices=False)
    comps = vh[:k]
    signs = torch.sign(comps.gather(1, comps.abs().argmax(dim=1, keepdim=True)))
    comps = comps * torch.where(signs == 0, torch.ones_like(signs), signs)
    proj = (x - mu) @ comps.T
    lo, hi = proj.min(dim=0).values, proj.max(dim=0).values
    proj = ((proj - lo) / (hi - lo).clamp_min(1e-12)).clamp(0, 1)
    rgb = torch.zeros(x.shape[0], 3)
    rgb[:, :k] = proj
    return rgb.reshape(n, h, w, 3).numpy()


def _display_images(
    images: torch.Tensor, mean: Sequence[float] | float | None, std: Sequence[float] | float | None
) -> np.ndarray:
    """(N, C, H, W) normalised images -> (N, H, W, 3) in [0, 1] for display."""
    x = images.detach().float().cpu()
    c = x.shape[1]
    if std is not None:
        x = x * torch.as_tensor(std, dtype=torch.float32).reshape(-1, 1, 1)
    if mean is not None:
        x = x + torch.as_tensor(mean, dtype=torch.float32).reshape(-1, 1, 1)
    x = x[:, :3] if c >= 3 else x[:, :1].expand(-1, 3, -1, -1)
    x = torch.nan_to_num(x)
    out = []
    for img in x:
        lo, hi = float(img.min()), float(img.max())
        if lo < -1e-3 or hi > 1 + 1e-3:  # not a [0, 1] image: stretch its range for display
            img = (img - lo) / max(hi - lo, 1e-12)
        out.append(img.clamp(0, 1))
    return torch.stack(out).permute(0, 2, 3, 1).numpy()


def _resize_labels(labels: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    if tuple(labels.shape[-2:]) == tuple(size):
        return labels
    return torch.nn.functional.interpolate(labels[:, None].float(), size=tuple(size), mode="nearest")[:, 0].long()


def render_cluster_embedding_figure(
    images: torch.Tensor,
    embedding: torch.Tensor,
    assignment: torch.Tensor | None,
    path: str | os.PathLike,
    mean: Sequence[float] | float | None = None,
    std: Sequence[float] | float | None = None,
    title: str | None = None,
) -> Path:
    """Write one PNG with a row per image: image | cluster argmax overlay | embedding PCA as RGB.

    Args:
        images: (N, C, H, W) network inputs (normalised); C = 1 is shown in grey, C >= 3 uses the first three.
        embedding: (N, D, h, w) per-pixel embedding (``"embedding"`` of :class:`ld_monai.networks.LocalDiscriminationNet`).
        assignment: (N, M, h, w) soft cluster assignments, or None (no clustering head: the middle column then
            shows the image titled "no clustering head").
        path: output PNG (written atomically; parent folders are created).
        mean, std: per-channel (or scalar) normalisation to undo for display, ``image * std + mean``. Images
            outside [0, 1] afterwards are min-max scaled per image.
        title: optional figure title (suptitle) above the panels; the picture size does not change.

    Returns:
        ``path`` as a :class:`pathlib.Path`. Each panel is 2.5 in at 100 dpi (a 4-row picture is about 750 x 1000
        pixels and well under 1 MiB).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if images.ndim != 4 or embedding.ndim != 4 or images.shape[0] != embedding.shape[0]:
        raise ValueError(
            f"images (N, C, H, W) and embedding (N, D, h, w) expected, got {tuple(images.shape)} "
            f"and {tuple(embedding.shape)}."
        )
    if assignment is not None and (assignment.ndim != 4 or assignment.shape[0] != images.shape[0]):
        raise ValueError(f"assignment must be (N, M, h, w) with N = {images.shape[0]}, got {tuple(assignment.shape)}.")
    n = images.shape[0]
    shown = _display_images(images, mean, std)
    pca = embedding_pca_rgb(embedding)

    fig = Figure(figsize=(3 * _PANEL_INCHES, n * _PANEL_INCHES), dpi=_DPI)
    FigureCanvasAgg(fig)
    axes = fig.subplots(n, 3, squeeze=False)
    if assignment is not None:
        num_clusters = assignment.shape[1]
        palette = cluster_palette(num_clusters)
        labels = _resize_labels(assignment.detach().float().cpu().argmax(dim=1), shown.shape[1:3]).numpy()
    for i in range(n):
        axes[i, 0].imshow(shown[i])
        axes[i, 0].set_title("image" if i == 0 else "", fontsize=9)
        if assignment is None:
            axes[i, 1].imshow(shown[i])
            axes[i, 1].set_title("no clustering head", fontsize=9)
        else:
            overlay = (1 - _OVERLAY_ALPHA) * shown[i] + _OVERLAY_ALPHA * palette[labels[i]]
            axes[i, 1].imshow(np.clip(overlay, 0, 1), interpolation="nearest")
            used = len(np.unique(labels[i]))
            axes[i, 1].set_title(f"clusters ({used} of {num_clusters} used)", fontsize=9)
        axes[i, 2].imshow(pca[i], interpolation="nearest")
        axes[i, 2].set_title("embedding PCA (RGB)" if i == 0 else "", fontsize=9)
        for ax in axes[i]:
            ax.set_axis_off()
    top = 1.0
    if title:  # a line of text above the panels; tight_layout does not make room for a suptitle by itself
        height = n * _PANEL_INCHES
        fig.suptitle(title, fontsize=9, y=1 - 0.04 / height, va="top")
        top = 1 - 0.22 / height
    fig.tight_layout(pad=0.4, rect=(0, 0, 1, top))
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=_DPI)
    return atomic_write(path, lambda f: f.write(buf.getvalue()))


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
        mean, std: per-channel normalisation of ``images``, undone for display and for the field of view.
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
            foreground = _resize_labels(foreground.long(), embedding.shape[-2:]).bool()
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
