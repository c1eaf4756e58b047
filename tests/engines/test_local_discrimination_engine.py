# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
from __future__ import annotations

import pytest
import torch
from ignite.engine import Events

from ld_monai.engines import (
    LocalDiscriminationEvaluator,
    LocalDiscriminationTrainer,
    local_discrimination_lr_lambda,
    prepare_local_discrimination_batch,
)
from ld_monai.handlers import local_discrimination_stages
from ld_monai.losses import LocalDiscriminationLoss
from ld_monai.networks import LocalDiscriminationNet


def make_batch(b=2, size=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    base = torch.rand(b, 2, 3, size, size, generator=g)
    k = torch.randint(0, 4, (b, 2), generator=g)
    views = torch.empty(b, 5, 3, size, size)
    lam = torch.full((b,), 0.5)
    for i in range(b):
        views[i, 0], views[i, 1] = base[i, 0], base[i, 1]
        views[i, 2] = torch.rot90(base[i, 0], int(k[i, 0]), dims=(1, 2))
        views[i, 3] = torch.rot90(base[i, 1], int(k[i, 1]), dims=(1, 2))
        views[i, 4] = 0.5 * base[i, 0] + 0.5 * base[i, 1]
    return {"views": views, "rotation_k": k, "mix_lambda": lam}


def test_prepare_batch_is_view_major_and_checks_keys():
    batch = make_batch(b=2)
    inputs, targets = prepare_local_discrimination_batch(batch)
    assert inputs.shape == (10, 3, 32, 32)
    torch.testing.assert_close(inputs[1], batch["views"][1, 0])  # second image's first view
    torch.testing.assert_close(inputs[2], batch["views"][0, 1])  # first image's second-image view
    assert targets["rotation_k"].shape == (2, 2)
    with pytest.raises(KeyError, match="views"):
        prepare_local_discrimination_batch({"rotation_k": 0})
    bad = make_batch(b=1)
    bad["views"][0, 0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        prepare_local_discrimination_batch(bad)


def test_lr_lambda_halves_and_restarts_at_ld_stage():
    f = local_discrimination_lr_lambda(20, 10)
    assert [f(e) for e in (0, 9, 10, 19, 20, 29, 30, 99)] == [1, 1, 0.5, 0.5, 1, 1, 0.5, 0.5**7]  # final 1e-3 * 0.5**7 = 7.8e-6 (spec A6)


def test_trainer_two_stages_loss_falls_and_optimizer_restarts():
    torch.manual_seed(0)
    net = LocalDiscriminationNet(embedding_dim=8, num_clusters=4)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    batch = make_batch()
    trainer = LocalDiscriminationTrainer(
        device="cpu", max_epochs=2, epoch_length=6, train_data_loader=[batch] * 6, network=net, optimizer=opt,
        loss_function=LocalDiscriminationLoss(grid=(4, 4)),
    )
    local_discrimination_stages(patch_discrimination_epochs=1).attach(trainer)
    history = []
    trainer.add_event_handler(Events.ITERATION_COMPLETED, lambda e: history.append(dict(e.state.output["terms"])))
    restarted = []
    trainer.add_event_handler(Events.EPOCH_STARTED, lambda e: restarted.append(len(opt.state) == 0))
    trainer.run()
    first, second = history[:6], history[6:]
    assert set(first[0]) == {"pd", "mixup", "loss"}  # stage 1: patch discrimination + mixup
    assert set(second[0]) == {"pd", "mixup", "region", "entropy", "loss"}
    assert first[-1]["loss"] < first[0]["loss"]  # the loss falls on a fixed batch
    assert second[-1]["loss"] < second[0]["loss"]
    assert restarted == [True, True]  # fresh Adam at the start of each stage
    assert all(torch.isfinite(p.grad).all() for p in net.parameters() if p.grad is not None)


def test_evaluator_reports_validation_loss_lower_is_better():
    torch.manual_seed(0)
    net = LocalDiscriminationNet(embedding_dim=8, num_clusters=4)
    loss = LocalDiscriminationLoss(grid=(4, 4))
    evaluator = LocalDiscriminationEvaluator(
        device="cpu", val_data_loader=[make_batch(seed=1)], network=net, loss_function=loss
    )
    evaluator.run()
    value = evaluator.state.metrics["val_loss"]
    net.eval()
    with torch.no_grad():
        inputs, targets = prepare_local_discrimination_batch(make_batch(seed=1))
        out = net(inputs)
        expected = loss(out["embedding"], out["assignment"], targets["rotation_k"], targets["mix_lambda"])["loss"]
    assert value == pytest.approx(float(expected), rel=1e-5)
    assert evaluator.metric_cmp_fn(1.0, 2.0) and not evaluator.metric_cmp_fn(2.0, 1.0)
