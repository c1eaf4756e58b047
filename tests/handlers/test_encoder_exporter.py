# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Tests of ld_monai.handlers.EncoderExporter and ld_monai.utils.atomic_torch_save."""

from __future__ import annotations

import logging

import pytest
import torch
from ignite.engine import Engine, Events
from torch import nn

from ld_monai.handlers import EncoderExporter
from ld_monai.networks import LocalDiscriminationNet, TransferSegmentationNet, VGGBNTinyEncoder, load_pretrained
from ld_monai.utils import atomic_torch_save


def test_atomic_torch_save(tmp_path):
    path = tmp_path / "a" / "b" / "ckpt.pt"
    obj = {"w": torch.arange(4.0), "name": "x", "n": 3}
    assert atomic_torch_save(obj, path) == path
    loaded = torch.load(path, weights_only=True)
    assert torch.equal(loaded["w"], obj["w"]) and loaded["name"] == "x" and loaded["n"] == 3
    assert [p.name for p in path.parent.iterdir()] == ["ckpt.pt"]


def test_atomic_torch_save_failure_keeps_old_file(tmp_path):
    path = tmp_path / "ckpt.pt"
    atomic_torch_save({"v": 1}, path)

    class Unpicklable:
        def __reduce__(self):
            raise RuntimeError("cannot pickle")

    with pytest.raises(RuntimeError, match="cannot pickle"):
        atomic_torch_save({"bad": Unpicklable()}, path)
    assert torch.load(path, weights_only=True) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.pt"]


def _train_step(engine, batch):
    net = engine.network
    net.train()
    opt = engine.optimizer
    opt.zero_grad()
    loss = net(torch.rand(2, 3, 32, 32))["embedding"].sum()
    loss.backward()
    opt.step()


def test_encoder_exporter_round_trip(tmp_path, caplog):
    torch.manual_seed(0)
    engine = Engine(_train_step)
    engine.network = LocalDiscriminationNet(in_channels=3)
    engine.optimizer = torch.optim.SGD(engine.network.parameters(), lr=0.1)
    exporter = EncoderExporter(tmp_path / "out")
    exporter.attach(engine)
    epochs = []
    engine.add_event_handler(
        Events.EPOCH_COMPLETED, lambda e: epochs.append(torch.load(exporter.last_path, weights_only=True)["epoch"])
    )
    with caplog.at_level(logging.INFO, logger="ld_monai.handlers.encoder_exporter"):
        engine.run([0], max_epochs=2)
    assert epochs == [1, 2]
    path = tmp_path / "out" / "encoder.pt"
    assert exporter.last_path == path and str(path) in caplog.text

    ckpt = torch.load(path, weights_only=True)
    assert ckpt["epoch"] == 2 and ckpt["in_channels"] == 3
    assert ckpt["encoder_class"] == "ld_monai.networks.vgg_bn_tiny.VGGBNTinyEncoder"
    assert ckpt["out_channels"] == [16, 32, 64, 128, 128]
    fresh = VGGBNTinyEncoder(in_channels=3)
    fresh.load_state_dict(ckpt["encoder"], strict=True)
    for name, value in engine.network.encoder.state_dict().items():
        assert torch.equal(fresh.state_dict()[name], value), name
    # the weights really changed during training (the export is of the trained encoder, not a fresh one)
    fresh_values = VGGBNTinyEncoder(3).state_dict().values()
    assert not all(torch.equal(a, b) for a, b in zip(fresh_values, ckpt["encoder"].values()))


def test_encoder_exporter_unwraps_dataparallel_and_formats_filename(tmp_path):
    net = LocalDiscriminationNet(in_channels=1, num_clusters=0)
    engine = Engine(lambda e, b: None)
    EncoderExporter(tmp_path, network=nn.DataParallel(net), filename="enc_{epoch}.pt", event="completed").attach(engine)
    engine.run([0], max_epochs=3)
    assert [p.name for p in tmp_path.iterdir()] == ["enc_3.pt"]  # only at COMPLETED
    ckpt = torch.load(tmp_path / "enc_3.pt", weights_only=True)
    assert ckpt["in_channels"] == 1
    assert set(ckpt["encoder"]) == set(net.encoder.state_dict())  # no "module." prefix


def test_encoder_exporter_needs_an_encoder(tmp_path):
    engine = Engine(lambda e, b: None)
    engine.network = nn.Linear(2, 2)
    EncoderExporter(tmp_path).attach(engine)
    with pytest.raises(ValueError, match="encoder"):
        engine.run([0], max_epochs=1)
    assert not any(tmp_path.iterdir())


def test_encoder_exporter_only_on_best_follows_the_key_metric(tmp_path):
    net = LocalDiscriminationNet(in_channels=3, num_clusters=0)
    engine = Engine(lambda e, b: None)
    engine.network = net
    best_epochs = {1: 1, 2: 1, 3: 3}  # the metric improved at epochs 1 and 3

    @engine.on(Events.EPOCH_COMPLETED)
    def fake_metric(e):
        e.state.best_metric_epoch = best_epochs[e.state.epoch]

    exporter = EncoderExporter(tmp_path, filename="enc_{epoch}.pt", only_on_best=True)
    exporter.attach(engine)
    engine.run([0], max_epochs=3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["enc_1.pt", "enc_3.pt"]


def test_transfer_network_adopts_the_exported_padding_mode(tmp_path):
    """An encoder pretrained with reflect padding is fine-tuned with reflect padding, decoder included."""
    engine = Engine(lambda e, b: None)
    EncoderExporter(tmp_path, network=LocalDiscriminationNet(in_channels=3, padding_mode="reflect"),
                    event="completed").attach(engine)
    engine.run([0], max_epochs=1)
    assert torch.load(tmp_path / "encoder.pt", weights_only=True)["padding_mode"] == "reflect"
    net = TransferSegmentationNet(in_channels=3)  # zeros by default
    load_pretrained(net, tmp_path / "encoder.pt")
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d) and m.padding[0]]
    assert net.padding_mode == "reflect" and all(m.padding_mode == "reflect" for m in convs)
    kept = TransferSegmentationNet(in_channels=3)
    load_pretrained(kept, tmp_path / "encoder.pt", adopt_padding=False)
    assert all(m.padding_mode == "zeros" for m in kept.modules() if isinstance(m, nn.Conv2d))
