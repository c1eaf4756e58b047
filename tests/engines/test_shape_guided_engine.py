# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
from __future__ import annotations

import copy

import pytest
import torch
from ignite.engine import Events

from ld_monai.engines import ShapeGuidedTrainer
from ld_monai.handlers import local_discrimination_stages
from ld_monai.losses import LocalDiscriminationLoss, ShapePriorAdversarialLoss, ShapePriorKLLoss
from ld_monai.networks import LocalDiscriminationNet, ShapeDiscriminator

from tests.engines.test_local_discrimination_engine import make_batch

SIZE = 160  # the discriminator's smallest input


def prior_batch(b: int = 1) -> dict:
    """An LD batch whose items carry 4 prior masks each: centred discs."""
    batch = make_batch(b=b, size=SIZE)
    yy, xx = torch.meshgrid(torch.arange(SIZE), torch.arange(SIZE), indexing="ij")
    disc = (((yy - SIZE / 2) ** 2 + (xx - SIZE / 2) ** 2) < (SIZE / 5) ** 2).float()
    batch["prior"] = disc.expand(b, 4, 1, SIZE, SIZE).clone()
    return batch


def trainer_for(prior_loss, network, iterations=3, **kwargs) -> tuple[ShapeGuidedTrainer, list[dict]]:
    optimizer = torch.optim.Adam(network.parameters(), lr=1e-3)
    trainer = ShapeGuidedTrainer(device="cpu", max_epochs=1, epoch_length=iterations,
                                 train_data_loader=[prior_batch()] * iterations, network=network, optimizer=optimizer,
                                 loss_function=LocalDiscriminationLoss(grid=(4, 4)), prior_loss=prior_loss, **kwargs)
    history = []
    trainer.add_event_handler(Events.ITERATION_COMPLETED, lambda e: history.append(dict(e.state.output["terms"])))
    return trainer, history


def test_adversarial_prior_steps_the_network_and_then_the_discriminator():
    torch.manual_seed(0)
    network = LocalDiscriminationNet(embedding_dim=8, num_clusters=4)
    discriminator = ShapeDiscriminator()
    d_before = copy.deepcopy(discriminator.state_dict())
    trainer, history = trainer_for(ShapePriorAdversarialLoss(), network, discriminator=discriminator,
                                   discriminator_optimizer=torch.optim.Adam(discriminator.parameters(), lr=1e-3))
    trainer.run()
    assert set(history[0]) == {"pd", "mixup", "region", "entropy", "loss", "prior", "discriminator"}
    assert history[0]["prior"].item() == pytest.approx(history[0]["discriminator"].item(), rel=0.5)  # both ~log 2
    assert any(not torch.equal(d_before[k], v) for k, v in discriminator.state_dict().items())
    # the discriminator learns to tell the fixed discs from the cluster maps: its loss falls, the generator's rises
    assert history[-1]["discriminator"] < history[0]["discriminator"]
    assert history[-1]["prior"] > history[0]["prior"]


def test_prior_term_changes_the_network_step():
    """The same first step with prior_weight 0 and 1: only the weight differs, so the prior's gradient did it."""
    stepped = []
    for weight in (0.0, 1.0):
        torch.manual_seed(0)
        network = LocalDiscriminationNet(embedding_dim=8, num_clusters=4)
        trainer, _ = trainer_for(ShapePriorKLLoss(), network, iterations=1, prior_weight=weight)
        trainer.run()
        stepped.append(torch.cat([p.detach().flatten() for p in network.parameters()]))
    assert not torch.allclose(stepped[0], stepped[1])


def test_kl_prior_falls_when_it_dominates():
    torch.manual_seed(0)
    network = LocalDiscriminationNet(embedding_dim=8, num_clusters=4)
    trainer, history = trainer_for(ShapePriorKLLoss(), network, iterations=8, prior_weight=100.0)
    trainer.run()
    assert "discriminator" not in history[0]
    assert history[-1]["prior"] < 0.8 * history[0]["prior"]


def test_no_prior_term_in_the_patch_discrimination_stage_and_clear_errors():
    network = LocalDiscriminationNet(embedding_dim=8, num_clusters=4)
    discriminator = ShapeDiscriminator()
    trainer, history = trainer_for(ShapePriorAdversarialLoss(), network, iterations=2, discriminator=discriminator,
                                   discriminator_optimizer=torch.optim.SGD(discriminator.parameters(), lr=0.1))
    local_discrimination_stages(patch_discrimination_epochs=1).attach(trainer)
    d_before = copy.deepcopy(discriminator.state_dict())
    trainer.run()
    assert set(history[0]) == {"pd", "mixup", "loss"}
    assert all(torch.equal(d_before[k], v) for k, v in discriminator.state_dict().items())
    with pytest.raises(ValueError, match="discriminator"):
        trainer_for(ShapePriorAdversarialLoss(), network)
    trainer, _ = trainer_for(ShapePriorKLLoss(), network, iterations=1)
    trainer.data_loader = [make_batch(b=1, size=SIZE)]
    with pytest.raises(KeyError, match="prior"):
        trainer.run()
