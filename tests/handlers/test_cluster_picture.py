# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Tests of ld_monai.handlers.cluster_picture."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ignite.engine import Engine, Events
from PIL import Image

from ld_monai.handlers import ClusterEmbeddingPicture
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
    # position leakage of the fixed images: finite R² values in the engine's metrics
    leakage = handler.last_leakage
    clusters = {"clusters_xy", "clusters_polar"} if num_clusters else set()  # the assignments, with a head
    assert set(leakage) == {"xy", "polar"} | clusters
    for name in leakage:
        assert engine.state.metrics[f"position_leakage_{name}"] == leakage[name]
    assert all(np.isfinite(v) and v <= 1 for v in leakage.values())


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
    assert np.isfinite(engine.state.metrics["position_leakage_xy"])


class _RecordingWriter:
    """Stands in for a TensorBoard SummaryWriter: records (tag, value, step)."""

    def __init__(self):
        self.scalars = []

    def add_scalar(self, tag, value, step):
        self.scalars.append((tag, float(value), int(step)))

    def flush(self):
        pass


def test_leakage_reaches_stats_handlers_attached_before_it(tmp_path):
    """The bundle attaches TensorBoardStatsHandler before the picture handler: the leakage must still reach it
    at the epoch it was measured (not one evaluation late), and the network runs once per epoch."""
    from monai.handlers import StatsHandler, TensorBoardStatsHandler

    torch.manual_seed(0)
    net = LocalDiscriminationNet(in_channels=3, embedding_dim=8, num_clusters=4)
    calls = []
    net.register_forward_hook(lambda module, args, out: calls.append(args[0].shape[0]))
    images = (torch.rand(3, 3, 48, 48) - torch.tensor(MEAN)[:, None, None]) / torch.tensor(STD)[:, None, None]

    def step(engine, batch):  # the weights change every iteration, so every epoch has other values
        with torch.no_grad():
            for p in net.parameters():
                p.add_(0.05 * torch.randn_like(p))

    engine = Engine(step)
    writer = _RecordingWriter()
    TensorBoardStatsHandler(summary_writer=writer, iteration_log=False).attach(engine)
    StatsHandler(iteration_log=False, tag_name="val").attach(engine)
    handler = ClusterEmbeddingPicture(images, tmp_path, network=net, mean=MEAN, std=STD)
    handler.attach(engine)
    measured = []
    engine.add_event_handler(Events.EPOCH_COMPLETED, lambda e: measured.append(dict(handler.last_leakage)))
    engine.run([0, 1, 2], max_epochs=3)

    logged = {(tag, step): value for tag, value, step in writer.scalars}
    for epoch, leakage in enumerate(measured, start=1):
        assert logged[("position_leakage_xy", epoch)] == pytest.approx(leakage["xy"], abs=1e-12)
        assert logged[("position_leakage_polar", epoch)] == pytest.approx(leakage["polar"], abs=1e-12)
    assert len({m["xy"] for m in measured}) == 3  # three different measurements, each logged at its epoch
    assert calls == [3, 3, 3]  # the picture reuses the outputs of the measurement: one forward per epoch
    assert sorted(p.name for p in tmp_path.iterdir())[-1] == "clusters_latest.png"


def test_leakage_foreground_and_options(tmp_path, caplog):
    net = LocalDiscriminationNet(in_channels=3, embedding_dim=4, num_clusters=0)
    raw = torch.zeros(2, 3, 40, 40)
    raw[:, :, 5:35, 5:35] = 0.5  # a bright square on a black surround
    images = (raw - torch.tensor(MEAN)[:, None, None]) / torch.tensor(STD)[:, None, None]
    handler = ClusterEmbeddingPicture(images, tmp_path / "a", network=net, mean=MEAN, std=STD)
    assert handler.foreground.shape == (2, 40, 40)
    assert int(handler.foreground[0].sum()) == 26 * 26  # the square, eroded by 2 px
    engine = Engine(lambda e, b: None)
    handler(engine)  # called directly: measures and draws
    assert np.isfinite(engine.state.metrics["position_leakage_polar"])

    everything = ClusterEmbeddingPicture(images, tmp_path / "b", network=net, leakage_foreground_threshold=None)
    assert everything.foreground is None

    off = ClusterEmbeddingPicture(images, tmp_path / "c", network=net, position_leakage=False)
    engine = Engine(lambda e, b: None)
    off.attach(engine)
    engine.run([0], max_epochs=1)
    assert "position_leakage_xy" not in engine.state.metrics and off.last_path.is_file()

    with caplog.at_level("WARNING"):
        single = ClusterEmbeddingPicture(images[:1], tmp_path / "d", network=net)
    assert not single.position_leakage and "at least 2 images" in caplog.text


def test_non_finite_embedding_still_draws(tmp_path):
    class NaNNet(torch.nn.Module):
        def forward(self, x):
            return {"embedding": torch.full((x.shape[0], 4, x.shape[2], x.shape[3]), float("nan"))}

    engine = Engine(lambda e, b: None)
    handler = ClusterEmbeddingPicture(torch.rand(2, 3, 32, 32), tmp_path, network=NaNNet())
    handler.attach(engine)
    engine.run([0], max_epochs=1)
    assert np.isnan(engine.state.metrics["position_leakage_xy"])
    assert (tmp_path / "clusters_epoch001.png").is_file()
