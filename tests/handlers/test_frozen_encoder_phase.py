# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
from __future__ import annotations

import torch
from ignite.engine import Events
from monai.engines import SupervisedTrainer
from monai.losses import DiceLoss

from ld_monai.handlers import FrozenEncoderPhase
from ld_monai.networks import TransferSegmentationNet


def make_trainer(max_epochs):
    torch.manual_seed(0)
    net = TransferSegmentationNet(in_channels=1, out_channels=1)
    data = [{"image": torch.rand(1, 32, 32), "label": (torch.rand(1, 32, 32) > 0.5).float()} for _ in range(2)]
    optimizer = torch.optim.Adam(net.parameters(), 1e-3)
    trainer = SupervisedTrainer(
        device=torch.device("cpu"), max_epochs=max_epochs, train_data_loader=torch.utils.data.DataLoader(data, 2),
        network=net, optimizer=optimizer, loss_function=DiceLoss(sigmoid=True),
    )
    return trainer, net


def test_encoder_frozen_then_fine_tuned_from_the_best_frozen_model(tmp_path):
    trainer, net = make_trainer(max_epochs=3)
    encoder_start = {k: v.clone() for k, v in net.encoder.state_dict().items()}
    best = tmp_path / "model.pt"
    seen = []

    @trainer.on(Events.EPOCH_COMPLETED)
    def record(engine):
        seen.append((engine.state.epoch, net.encoder_frozen, len(engine.optimizer.state), net.head[-1].weight.clone()))
        if engine.state.epoch == 1:
            torch.save(net.state_dict(), best)  # what the best-model saver does after validation

    FrozenEncoderPhase(frozen_epochs=2, best_checkpoint=str(best)).attach(trainer)
    restored = []
    trainer.add_event_handler(Events.EPOCH_STARTED, lambda e: restored.append(net.head[-1].weight.clone()))
    trainer.run()
    assert [s[:2] for s in seen] == [(1, True), (2, True), (3, False)]
    # frozen epochs leave the encoder untouched; Adam only holds decoder state
    n_decoder_params = sum(1 for n, p in net.named_parameters() if not n.startswith("encoder."))
    assert seen[1][2] == n_decoder_params
    best_head = torch.load(best, weights_only=True)["head.2.weight"]
    assert not torch.equal(seen[1][3], best_head)  # epoch 2 trained on after the save...
    assert torch.equal(restored[2], best_head)  # ...but fine-tuning (epoch 3) restarted from the best model
    assert any(not torch.equal(v, encoder_start[k]) for k, v in net.encoder.state_dict().items())


def test_zero_frozen_epochs_trains_everything():
    trainer, net = make_trainer(max_epochs=1)
    FrozenEncoderPhase(frozen_epochs=0).attach(trainer)
    trainer.run()
    assert not net.encoder_frozen
    assert len(trainer.optimizer.state) == sum(1 for _ in net.parameters())
