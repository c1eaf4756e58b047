# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""The patch embeddings of a trained pretraining bundle (PEAC's or LD's) on any image file, with the map between the
file's pixels and the embedding's cells: what the correspondence and co-segmentation tools read."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch
from monai.transforms import Compose

from ld_monai.apps.bundle_files import bundle_parser, find_checkpoint
from ld_monai.networks.state_dict import load_pretrained

__all__ = ["EmbeddedImage", "PatchEmbedder"]


@dataclass
class EmbeddedImage:
    """One image's unit embedding map (D, h, w), the network input it came from (C, S, S), the affine map from
    the file's pixel indices (row, column) to the input's (4 x 4, homogeneous; the preprocessing's resize and crops,
    from the MetaTensor affines) and the file's size (rows, columns)."""

    path: str
    embedding: torch.Tensor
    image: torch.Tensor
    file_to_input: torch.Tensor
    file_shape: tuple[int, int]

    def input_pixels_per_cell(self) -> torch.Tensor:
        """Input pixels per embedding cell, (x, y)."""
        return torch.tensor([self.image.shape[-1] / self.embedding.shape[-1],
                             self.image.shape[-2] / self.embedding.shape[-2]], dtype=torch.float64)

    def cells_of(self, points: torch.Tensor) -> torch.Tensor:
        """(K, 2) points (x, y) in the file's pixels -> (x, y) in the embedding's cells (sub-cell values)."""
        points = torch.as_tensor(points, dtype=torch.float64)
        homogeneous = torch.stack([points[:, 1], points[:, 0], torch.zeros(len(points)), torch.ones(len(points))])
        row_column = (self.file_to_input @ homogeneous)[:2].T
        return (row_column.flip(1) + 0.5) / self.input_pixels_per_cell() - 0.5

    def input_pixels_of(self, cells: torch.Tensor) -> torch.Tensor:
        """(K, 2) cells (x, y) -> (x, y) in the network input's pixels."""
        return (torch.as_tensor(cells, dtype=torch.float64) + 0.5) * self.input_pixels_per_cell() - 0.5

    def pixels_of(self, cells: torch.Tensor) -> torch.Tensor:
        """The inverse of :meth:`cells_of`: (K, 2) cells (x, y) -> points (x, y) in the file's pixels."""
        xy = self.input_pixels_of(cells)
        homogeneous = torch.stack([xy[:, 1], xy[:, 0], torch.zeros(len(xy)), torch.ones(len(xy))])
        return (torch.linalg.inv(self.file_to_input) @ homogeneous)[:2].T.flip(1)

    def in_file_pixels(self, cell_map: torch.Tensor) -> torch.Tensor:
        """A (h, w) map over the embedding's cells -> (rows, columns) over the file's pixels: each pixel takes the
        value of the cell it lies in (pixels the input cropped away take the nearest cell's)."""
        rows, columns = self.file_shape
        y, x = torch.meshgrid(torch.arange(rows), torch.arange(columns), indexing="ij")
        cells = self.cells_of(torch.stack([x.flatten(), y.flatten()], dim=1)).round().long()
        column = cells[:, 0].clamp(0, cell_map.shape[1] - 1)
        row = cells[:, 1].clamp(0, cell_map.shape[0] - 1)
        return cell_map[row, column].view(rows, columns)


class PatchEmbedder:
    """A pretraining bundle's ``inference.json`` (``ld_pretraining``, ``peac_pretraining``) as a function from an
    image file to an :class:`EmbeddedImage`: its ``preprocessing``, its ``network`` with the checkpoint's weights
    (all of them must fit) and its ``embedding_network`` (a network giving ``{"embedding": (N, D, h, w)}``).

    Args:
        bundle_dir: a standalone bundle folder (``ld-monai bundle export`` writes one).
        checkpoint: default ``<bundle_dir>/models/model.pt``, else the bundle's ``ckpt_path``.
        device: e.g. ``"cpu"``; default the bundle's.
        overrides: bundle settings ``{key: value}`` (the network's size must be the training's).
    """

    def __init__(self, bundle_dir: str | os.PathLike, checkpoint: str | os.PathLike | None = None,
                 device: str | None = None, overrides: dict | None = None) -> None:
        bundle = Path(bundle_dir).resolve()
        parser = bundle_parser(bundle, ["inference.json"], overrides, device)
        self.checkpoint = find_checkpoint(bundle, parser.get_parsed_content("ckpt_path"), checkpoint)
        untouched = load_pretrained(parser.get_parsed_content("network"), self.checkpoint)
        if untouched:
            raise ValueError(f"{self.checkpoint} does not fit the network of {bundle.name}: {len(untouched)} weights "
                             f"missing (e.g. {untouched[0]}); give the training's network settings as overrides.")
        self.network = parser.get_parsed_content("embedding_network").eval()
        self.device = parser.get_parsed_content("device")
        self.preprocessing = Compose(parser.get_parsed_content("preprocessing"))

    @torch.no_grad()
    def __call__(self, path: str | os.PathLike) -> EmbeddedImage:
        data = {"image": os.fspath(path)}
        loaded = None
        for transform in self.preprocessing.transforms:
            data = transform(data)
            if loaded is None:  # the file's own geometry
                loaded, file_shape = data["image"].affine.clone(), tuple(data["image"].shape[-2:])
        image = data["image"]
        embedding = self.network(image[None].to(self.device))["embedding"][0].float().cpu()
        file_to_input = torch.linalg.inv(image.affine.double()) @ loaded.double()
        return EmbeddedImage(os.fspath(path), embedding, image.as_tensor().cpu(), file_to_input, file_shape)
