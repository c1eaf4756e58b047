# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""``ld-monai correspondence`` and ``ld-monai cosegmentation``: what a pretraining bundle's patch embeddings (PEAC's
or LD's) say about a set of images, as tables and pictures (PEAC: Zhou et al., BMVC 2023, arXiv 2312.00335; method
spec B6).

* correspondences: the best buddies of two images spread to ``count`` well-separated pairs, or points annotated on
  one image carried to many (``correspondences.csv`` in file pixels, one picture per image pair);
* co-segmentation: the parts of a set of images (``<name>_parts.png`` at the image's size, part ``p`` stored as
  value ``p``, and
  ``cosegmentation.png``: image | parts | embedding PCA per image);
* t-SNE: the embeddings at annotated landmarks of many images in 2-D, coloured by landmark (``tsne.png``,
  ``tsne.csv``), with the share of landmark embeddings whose nearest neighbour in another image is the same
  landmark.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from tqdm import tqdm

from ld_monai.apps.patch_embeddings import EmbeddedImage, PatchEmbedder
from ld_monai.inferers.cosegmentation import cosegment
from ld_monai.data.landmark_table import read_landmark_table
from ld_monai.inferers.patch_correspondence import (
    mutual_nearest_neighbours,
    propagate_points,
    sample_cells,
    spread_pairs,
)
from ld_monai.visualize.cluster_embedding_figure import render_cluster_embedding_figure
from ld_monai.visualize.embedding_scatter import render_embedding_scatter
from ld_monai.visualize.landmark_overlay import render_landmark_overlay

__all__ = ["find_correspondences", "propagate_landmarks", "cosegment_images", "landmark_tsne",
           "nearest_neighbour_agreement"]

#: images shown in the co-segmentation picture (every image gets its part map)
PICTURE_ROWS = 8


def _shown(embedded: EmbeddedImage) -> torch.Tensor:
    """The network input as a (1, S, S) grey picture in [0, 1] (channels averaged, min-max scaled)."""
    grey = embedded.image.float().mean(0, keepdim=True)
    return (grey - grey.min()) / (grey.max() - grey.min()).clamp_min(1e-8)


def _side_by_side(first: EmbeddedImage, second: EmbeddedImage, cells1: torch.Tensor, cells2: torch.Tensor,
                  path: Path) -> Path:
    """Both inputs, pair ``k`` numbered ``k + 1`` in the same colour in each."""
    pictures = [render_landmark_overlay(_shown(e), e.input_pixels_of(c)).convert("RGB")
                for e, c in ((first, cells1), (second, cells2))]
    joined = Image.new("RGB", (sum(p.width for p in pictures) + 8, max(p.height for p in pictures)), "white")
    joined.paste(pictures[0], (0, 0))
    joined.paste(pictures[1], (pictures[0].width + 8, 0))
    joined.save(path)
    return path


def _same_size(maps: Sequence[torch.Tensor], size: Sequence[int], mode: str) -> torch.Tensor:
    """(C, h_i, w_i) maps resized to one size and stacked: images of other ratios in one picture."""
    return torch.stack([F.interpolate(m[None], size=tuple(size), mode=mode)[0] for m in maps])


def _write_rows(path: Path, header: Sequence[str], rows: list) -> Path:
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def find_correspondences(bundle_dir: str | os.PathLike, first: str | os.PathLike, second: str | os.PathLike,
                         output_dir: str | os.PathLike, count: int = 10, checkpoint: str | os.PathLike | None = None,
                         device: str | None = None, overrides: dict | None = None) -> Path:
    """``count`` well-separated best-buddy pairs of two images (:func:`ld_monai.inferers.mutual_nearest_neighbours`,
    :func:`ld_monai.inferers.spread_pairs`): ``correspondences.csv`` (pair, x and y in each file's pixels, cosine
    similarity) and ``correspondences.png``. Returns the table's path."""
    output = Path(output_dir)
    output.mkdir(parents=True, exist_ok=True)
    embedder = PatchEmbedder(bundle_dir, checkpoint, device, overrides)
    a, b = embedder(first), embedder(second)
    pairs, scores = mutual_nearest_neighbours(a.embedding, b.embedding)
    chosen = spread_pairs(a.embedding, b.embedding, pairs, scores, count)
    cells1, cells2 = pairs[chosen, :2].double(), pairs[chosen, 2:].double()
    points1, points2 = a.pixels_of(cells1), b.pixels_of(cells2)
    rows = [[k + 1, *np.round(points1[k].tolist(), 2), *np.round(points2[k].tolist(), 2), round(float(scores[i]), 4)]
            for k, i in enumerate(chosen.tolist())]
    _side_by_side(a, b, cells1, cells2, output / "correspondences.png")
    return _write_rows(output / "correspondences.csv", ["pair", "x1", "y1", "x2", "y2", "similarity"], rows)


def propagate_landmarks(bundle_dir: str | os.PathLike, template: str | os.PathLike, points: torch.Tensor,
                        targets: Sequence[str | os.PathLike], output_dir: str | os.PathLike,
                        checkpoint: str | os.PathLike | None = None, device: str | None = None,
                        overrides: dict | None = None, pictures: bool = True) -> Path:
    """Carry ``points`` (K, 2) (x, y in the template file's pixels) to every target file
    (:func:`ld_monai.inferers.propagate_points` on the patch embeddings): ``propagated.csv`` (image, point, x, y in
    the target's pixels, cosine similarity) and, with ``pictures``, ``<target>_propagated.png`` (the template and the
    target, point ``k`` numbered ``k + 1``). Returns the table's path."""
    output = Path(output_dir)
    output.mkdir(parents=True, exist_ok=True)
    embedder = PatchEmbedder(bundle_dir, checkpoint, device, overrides)
    source = embedder(template)
    template_cells = source.cells_of(torch.as_tensor(points, dtype=torch.float64))
    rows = []
    for target in tqdm(targets, desc="propagating points"):
        embedded = embedder(target)
        cells, similarity = propagate_points(source.embedding, template_cells.float(), embedded.embedding)
        found = embedded.pixels_of(cells)
        name = Path(target).stem
        rows += [[name, k + 1, *np.round(found[k].tolist(), 2), round(float(similarity[k]), 4)]
                 for k in range(len(found))]
        if pictures:
            _side_by_side(source, embedded, template_cells, cells.double(), output / f"{name}_propagated.png")
    return _write_rows(output / "propagated.csv", ["image", "point", "x", "y", "similarity"], rows)


def cosegment_images(bundle_dir: str | os.PathLike, images: Sequence[str | os.PathLike],
                     output_dir: str | os.PathLike, num_parts: int | None = None, max_parts: int = 14,
                     checkpoint: str | os.PathLike | None = None, device: str | None = None,
                     overrides: dict | None = None) -> Path:
    """The parts of ``images`` (:func:`ld_monai.inferers.cosegment`: ``num_parts``, or the elbow up to
    ``max_parts``): ``<name>_parts.png`` per image at the image's size (each pixel takes its cell's part) and
    ``cosegmentation.png``.
    Returns the picture's path."""
    output = Path(output_dir)
    output.mkdir(parents=True, exist_ok=True)
    embedder = PatchEmbedder(bundle_dir, checkpoint, device, overrides)
    embedded = [embedder(path) for path in tqdm(images, desc="patch embeddings")]
    result = cosegment([e.embedding for e in embedded], num_parts=num_parts, max_parts=max_parts)
    for e, parts in zip(embedded, result.parts):
        in_file = e.in_file_pixels(parts).numpy().astype(np.uint8)
        Image.fromarray(in_file).save(output / f"{Path(e.path).stem}_parts.png")
    shown = range(min(len(embedded), PICTURE_ROWS))
    image_size, cells = embedded[0].image.shape[1:], embedded[0].embedding.shape[1:]
    assignment = [F.one_hot(result.parts[i], result.num_parts).permute(2, 0, 1).float() for i in shown]
    return render_cluster_embedding_figure(_same_size([embedded[i].image for i in shown], image_size, "bilinear"),
                                           _same_size([embedded[i].embedding for i in shown], cells, "bilinear"),
                                           _same_size(assignment, cells, "nearest"), output / "cosegmentation.png",
                                           title=f"{result.num_parts} parts over {len(images)} images (the first "
                                                 f"{len(shown)} shown)")


def nearest_neighbour_agreement(vectors: torch.Tensor, labels: Sequence[str], images: Sequence[str]) -> float:
    """The share of vectors (N, D) whose most similar vector (cosine) of *another* image has the same label: how
    consistently an embedding names the same anatomy across patients."""
    unit = F.normalize(vectors.float(), dim=1)
    similarity = unit @ unit.T
    image_ids = torch.as_tensor(np.unique(np.asarray(images), return_inverse=True)[1])
    label_ids = torch.as_tensor(np.unique(np.asarray(labels), return_inverse=True)[1])
    similarity[image_ids[:, None] == image_ids[None, :]] = -float("inf")
    return float((label_ids[similarity.argmax(1)] == label_ids).float().mean())


def landmark_tsne(bundle_dir: str | os.PathLike, images: Sequence[str | os.PathLike],
                  landmarks: str | os.PathLike, output_dir: str | os.PathLike, annotator: str | None = None,
                  perplexity: float = 30.0, iterations: int = 1000, checkpoint: str | os.PathLike | None = None,
                  device: str | None = None, overrides: dict | None = None) -> dict:
    """The patch embedding at every annotated landmark (a CSV of ``image_id, label, x, y`` and optionally
    ``annotator``, :func:`ld_monai.data.read_landmark_table`; images matched by file stem) of ``images``, mapped to
    2-D by t-SNE (scikit-learn, ``perplexity``, ``iterations`` of at least 250, PCA start, seed 0; the research
    code uses perplexity 50):
    ``tsne.png`` coloured by landmark and ``tsne.csv``. Returns ``{"picture", "table",
    "nearest_neighbour_agreement"}`` (:func:`nearest_neighbour_agreement`, in the full embedding)."""
    from sklearn.manifold import TSNE

    output = Path(output_dir)
    output.mkdir(parents=True, exist_ok=True)
    table = read_landmark_table(landmarks, annotator=annotator, duplicates="drop")
    annotated = [path for path in images if Path(path).stem in table]
    if len(annotated) < 2:
        raise ValueError(f"t-SNE needs at least 2 images annotated in {landmarks}; {len(annotated)} of "
                         f"{len(images)} are (matched by file stem).")
    embedder = PatchEmbedder(bundle_dir, checkpoint, device, overrides)
    vectors, labels, names = [], [], []
    for path in tqdm(annotated, desc="landmark embeddings"):
        embedded = embedder(path)
        points = table[Path(path).stem]
        cells = embedded.cells_of(torch.tensor(list(points.values()), dtype=torch.float64))
        vectors.append(sample_cells(embedded.embedding, cells.float()))
        labels += list(points)
        names += [Path(path).stem] * len(points)
    vectors = torch.cat(vectors)
    agreement = nearest_neighbour_agreement(vectors, labels, names)
    coordinates = TSNE(n_components=2, perplexity=min(perplexity, len(vectors) - 1), max_iter=iterations, init="pca",
                       random_state=0).fit_transform(vectors.numpy())
    picture = render_embedding_scatter(coordinates, labels, output / "tsne.png",
                                       title=f"{len(annotated)} images; nearest neighbour in another image is the "
                                             f"same landmark: {agreement:.0%}")
    rows = [[name, label, *np.round(xy, 3)] for name, label, xy in zip(names, labels, coordinates.tolist())]
    table_path = _write_rows(output / "tsne.csv", ["image", "label", "tsne_x", "tsne_y"], rows)
    return {"picture": picture, "table": table_path, "nearest_neighbour_agreement": agreement}
