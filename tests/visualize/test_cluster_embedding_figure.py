# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from ld_monai.visualize import cluster_palette, embedding_pca_rgb, render_cluster_embedding_figure

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MEAN, STD = (0.5, 0.4, 0.3), (0.2, 0.2, 0.2)


def test_render_title_keeps_size(tmp_path):
    img, emb = torch.rand(2, 3, 32, 32), torch.rand(2, 4, 32, 32)
    plain = render_cluster_embedding_figure(img, emb, None, tmp_path / "plain.png")
    title = "position leakage R²: xy 0.50, polar 0.40"
    titled = render_cluster_embedding_figure(img, emb, None, tmp_path / "titled.png", title=title)
    text_pixels = []
    for path in (plain, titled):
        with Image.open(path) as im:
            assert im.size == (750, 500)
            grey = np.asarray(im.convert("L")).astype(float)
        first_image_row = int(np.argmax((grey[:, 30:220] < 250).mean(axis=1) > 0.9))
        text_pixels.append(int((grey[:first_image_row] < 128).sum()))  # text above the first row of panels
    assert text_pixels[1] > text_pixels[0] + 100  # the title adds a line of text at the top


def test_render_function_columns(tmp_path):
    # two images: left half cluster 0, right half cluster 1; embedding differs between halves
    img = torch.zeros(1, 3, 40, 40)
    assignment = torch.zeros(1, 2, 40, 40)
    assignment[:, 0, :, :20] = 1
    assignment[:, 1, :, 20:] = 1
    emb = torch.zeros(1, 4, 40, 40)
    emb[:, 0, :, :20] = 1
    emb[:, 1, :, 20:] = 1
    path = render_cluster_embedding_figure(img, emb, assignment, tmp_path / "x" / "fig.png")
    assert path.is_file()
    with Image.open(path) as im:
        rgb = np.asarray(im.convert("RGB")).astype(float)
    assert rgb.shape == (250, 750, 3)
    palette = cluster_palette(2)
    mid = rgb[:, 250:500]
    # the overlay on a black image shows the two cluster colours at 45 % opacity
    for colour in palette:
        target = 0.45 * colour * 255
        assert (np.abs(mid - target).sum(axis=2) < 6).sum() > 1000
    with pytest.raises(ValueError):
        render_cluster_embedding_figure(img, emb[:, :, None], None, tmp_path / "bad.png")
    assert not (tmp_path / "bad.png").exists()


def test_embedding_pca_rgb_and_palette():
    emb = torch.zeros(2, 5, 6, 6)
    emb[0, 2] = 1.0
    emb[1, 3] = torch.linspace(0, 1, 6)
    rgb = embedding_pca_rgb(emb)
    assert rgb.shape == (2, 6, 6, 3) and rgb.min() >= 0 and rgb.max() <= 1
    # each component spans [0, 1] over all pixels of all images (joint scaling)
    assert np.allclose(rgb.reshape(-1, 3).min(0), 0) and np.allclose(rgb.reshape(-1, 3).max(0)[:2], 1)
    # pixels with equal embeddings get equal colours
    assert np.allclose(rgb[0], rgb[0, :1, :1])
    pal = cluster_palette(25)
    assert pal.shape == (25, 3)
    assert len({tuple(c) for c in pal[:20]}) == 20


def test_render_without_clustering_head_undoes_normalisation(tmp_path):
    colour = torch.tensor([0.8, 0.2, 0.4])
    img = ((colour - torch.tensor(MEAN)) / torch.tensor(STD))[None, :, None, None].expand(1, 3, 32, 32)
    path = render_cluster_embedding_figure(img, torch.rand(1, 6, 32, 32), None, tmp_path / "f.png", mean=MEAN, std=STD)
    with Image.open(path) as im:
        rgb = np.asarray(im.convert("RGB")).astype(float)
    target = colour.numpy() * 255
    left, mid = rgb[:, :250], rgb[:, 250:500]
    for panel in (left, mid):  # the image, and the image again in the middle ("no clustering head")
        assert (np.abs(panel - target).sum(axis=2) < 6).sum() > 20000
