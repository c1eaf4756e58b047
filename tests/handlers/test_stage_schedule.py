# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""One stage-schedule handler for every phase switch: the generic schedule, the transfer protocol (frozen encoder,
then fine-tuning from the best frozen model) and LD pretraining's two stages (see also the LD engine test)."""

from __future__ import annotations

import pytest
import torch
from ignite.engine import Engine, Events
from monai.engines import SupervisedTrainer
from monai.losses import DiceLoss

from ld_monai.handlers import Stage, StageSchedule, local_discrimination_stages, transfer_stages
from ld_monai.networks import TransferSegmentationNet


def run_schedule(stages, max_epochs, resume_epoch=0):
    """The (epoch, stage, first_epoch) of every ``enter`` call of a run of ``max_epochs`` (resumed after
    ``resume_epoch`` epochs)."""
    calls = []
    schedule = StageSchedule([Stage(name, epochs, lambda e, first, name=name: calls.append(
        (e.state.epoch, name, first))) for name, epochs in stages])
    engine = Engine(lambda e, b: None)
    schedule.attach(engine)
    engine.state.max_epochs, engine.state.epoch, engine.state.iteration = max_epochs, resume_epoch, resume_epoch * 2
    engine.state.epoch_length = 2
    engine.run([0, 1], max_epochs=max_epochs)
    return calls


def test_stages_are_entered_once_at_their_first_epoch():
    assert run_schedule([("a", 2), ("b", 3), ("c", None)], 7) == [(1, "a", True), (3, "b", True), (6, "c", True)]
    assert run_schedule([("a", 0), ("b", None)], 2) == [(1, "b", True)]  # a stage of 0 epochs is skipped
    assert run_schedule([("a", 1), ("b", 1)], 3) == [(1, "a", True), (2, "b", True)]  # the last stage goes on


def test_a_resumed_run_enters_its_stage_without_the_one_off_switches():
    assert run_schedule([("a", 2), ("b", None)], 5, resume_epoch=3) == [(4, "b", False)]
    assert run_schedule([("a", 2), ("b", None)], 5, resume_epoch=2) == [(3, "b", True)]  # resumed at the switch


def test_schedules_are_checked():
    with pytest.raises(ValueError, match="at least one stage"):
        StageSchedule([Stage("a", 0, lambda e, f: None)])
    with pytest.raises(ValueError, match="only the last stage"):
        StageSchedule([Stage("a", None, lambda e, f: None), Stage("b", 1, lambda e, f: None)])
    with pytest.raises(ValueError, match="epochs must be"):
        Stage("a", -1, lambda e, f: None)
    with pytest.raises(ValueError, match="frozen_epochs"):
        transfer_stages(-1)


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

    transfer_stages(frozen_epochs=2, best_checkpoint=str(best)).attach(trainer)
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
    transfer_stages(frozen_epochs=0).attach(trainer)
    trainer.run()
    assert not net.encoder_frozen
    assert len(trainer.optimizer.state) == sum(1 for _ in net.parameters())


def test_local_discrimination_stages_switch_the_objective_and_restart_adam():
    engine = Engine(lambda e, b: None)
    engine.optimizer = torch.optim.Adam([torch.nn.Parameter(torch.ones(1))])
    engine.optimizer.state["x"] = 1
    local_discrimination_stages(2).attach(engine)
    states = []
    engine.add_event_handler(Events.EPOCH_STARTED,
                             lambda e: states.append((e.clustering_stage, len(e.optimizer.state))))
    engine.add_event_handler(Events.EPOCH_COMPLETED, lambda e: e.optimizer.state.__setitem__("x", 1))
    engine.run([0], max_epochs=4)
    assert states == [(False, 1), (False, 1), (True, 0), (True, 1)]  # Adam's state cleared at the switch only
