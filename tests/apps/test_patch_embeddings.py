# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Patch embeddings of the pretraining bundles on real cephalograms, and the map between file pixels and cells."""

from __future__ import annotations

import pytest
import torch

from ld_monai.apps.bundles import export_bundle
from ld_monai.apps.patch_embeddings import PatchEmbedder
from ld_monai.networks import LocalDiscriminationNet, PEACNet

PEAC_TINY = {"embed_dim": 8, "depths": [1, 1, 1, 1], "num_heads": [1, 1, 2, 2], "view_cells": 4,
             "global_features": [16, 16], "local_features": [8, 8]}


@pytest.fixture
def cephalogram(data_dir):
    return data_dir / "ceph" / "Hamedan" / "images" / "001.png"  # 821 x 1024 pixels


def test_peac_cells_cover_the_whole_radiograph(cephalogram, tmp_path):
    bundle = export_bundle("peac_pretraining", tmp_path)
    torch.save(PEACNet(view_size=64, **{k: v for k, v in PEAC_TINY.items() if k != "view_cells"}).state_dict(),
               tmp_path / "model.pt")
    embedder = PatchEmbedder(bundle, tmp_path / "model.pt", device="cpu", overrides=PEAC_TINY)
    embedded = embedder(cephalogram)
    # the short side (821 px wide) to 64 px, 4 cells of 16; the 1024 rows to 79.8 px, rounded to 5 whole cells
    assert embedded.embedding.shape == (64, 5, 4) and embedded.image.shape == (1, 80, 64)
    torch.testing.assert_close(embedded.embedding.norm(dim=0), torch.ones(5, 4))
    corners = torch.tensor([[-0.5, -0.5], [820.5, 1023.5], [410.0, 511.5]])
    torch.testing.assert_close(embedded.cells_of(corners), torch.tensor([[-0.5, -0.5], [3.5, 4.5], [1.5, 2.0]],
                                                                        dtype=torch.float64), atol=1e-6, rtol=0)
    points = torch.tensor([[100.0, 200.0], [700.5, 900.25]], dtype=torch.float64)
    torch.testing.assert_close(embedded.pixels_of(embedded.cells_of(points)), points)
    # each file pixel takes its cell's value: 821 / 4 = 205.25 columns and 1024 / 5 = 204.8 rows a cell
    assert embedded.file_shape == (1024, 821)
    in_file = embedded.in_file_pixels(torch.arange(20).view(5, 4))
    assert in_file.shape == (1024, 821) and in_file[0, 0] == 0 and in_file[1023, 820] == 19
    assert in_file[204, 204] == 0 and in_file[205, 204] == 4 and in_file[204, 205] == 1
    assert torch.bincount(in_file.flatten()).tolist()[:4] == [205 * 205, 205 * 205, 205 * 206, 205 * 205]


def test_ld_embedding_is_per_pixel_of_the_square_resized_image(cephalogram, tmp_path):
    bundle = export_bundle("ld_pretraining", tmp_path)
    overrides = {"modality": "xray", "image_size": 64}
    torch.save(LocalDiscriminationNet(in_channels=1, embedding_dim=32, num_clusters=16).state_dict(),
               tmp_path / "model.pt")
    embedded = PatchEmbedder(bundle, tmp_path / "model.pt", device="cpu", overrides=overrides)(cephalogram)
    assert embedded.embedding.shape == (32, 64, 64)
    corners = torch.tensor([[-0.5, -0.5], [820.5, 1023.5]])
    torch.testing.assert_close(embedded.cells_of(corners), torch.tensor([[-0.5, -0.5], [63.5, 63.5]],
                                                                        dtype=torch.float64), atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match="cannot load .*checkpoint shape"):
        PatchEmbedder(bundle, tmp_path / "model.pt", device="cpu", overrides={**overrides, "embedding_dim": 8})
