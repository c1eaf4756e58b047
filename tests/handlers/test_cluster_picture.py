# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Tests of ld_monai.handlers.cluster_picture."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ignite.engine import Engine
from PIL import Image

from ld_monai.handlers import ClusterEmbeddingPicture, cluster_palette, embedding_pca_rgb, render_cluster_embedding_figure
from ld_monai.networks import LocalDiscriminationNet

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MEAN, STD = (0.5, 0.4, 0.3), (0.2, 0.2, 0.2)


@pytest.mark.parametrize("num_clusters", [8, 0])
def test_cluster_picture_handler(tmp_path, num_clusters):
    torch.manual_seed(0)
    net = LocalDiscriminationNet(in_channels=3, embedding_dim=8, num_clusters=num_clusters)
    images = (torch.rand(2, 3, 64, 64) - torch.tensor(MEAN)[:, None, None]) / torch.tensor(STD)[:, None, None]
    modes = []

    def step(engine, batch):
        modes.append(engine.network.training)

    engine = Engine(step)
    engine.network = net
    net.train()
    handler = ClusterEmbeddingPicture(images, tmp_path / "pics", mean=MEAN, std=STD)
    handler.attach(engine)
    bn = net.encoder.stages[0][0].bn
    stats_before = bn.running_mean.clone()
    engine.run([0], max_epochs=2)

    names = sorted(p.name for p in (tmp_path / "pics").iterdir())
    assert names == ["clusters_epoch001.png", "clusters_epoch002.png", "clusters_latest.png"]
    for name in names:
        path = tmp_path / "pics" / name
        data = path.read_bytes()
        assert data[:8] == PNG_MAGIC and len(data) < 1024 * 1024
        with Image.open(path) as im:
            w, h = im.size
        assert (w, h) == (750, 500)  # 3 panels x 2 rows of 2.5 in at 100 dpi
    assert (tmp_path / "pics" / "clusters_latest.png").read_bytes() == (tmp_path / "pics" / "clusters_epoch002.png").read_bytes()
    assert handler.last_path == tmp_path / "pics" / "clusters_epoch002.png"
    assert net.training and modes == [True, True]  # back in train mode after each picture
    assert torch.equal(bn.running_mean, stats_before)  # eval mode: BatchNorm statistics untouched


def test_cluster_picture_every_n_epochs_and_eval_mode_kept(tmp_path):
    net = LocalDiscriminationNet(in_channels=1, embedding_dim=4, num_clusters=3).eval()
    engine = Engine(lambda e, b: None)
    handler = ClusterEmbeddingPicture(torch.rand(5, 1, 32, 32), tmp_path, network=net, every_n_epochs=2, max_images=3)
    assert handler.images.shape[0] == 3
    handler.attach(engine)
    engine.run([0], max_epochs=4)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clusters_epoch002.png", "clusters_epoch004.png", "clusters_latest.png"]
    assert not net.training
    with Image.open(tmp_path / "clusters_latest.png") as im:
        assert im.size == (750, 750)


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
