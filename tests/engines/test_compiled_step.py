# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""The compiled LD training path (the bundle's default where ``torch.compile`` works) computes what eager does."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import default_collate

from ld_monai.engines import LocalDiscriminationTrainer
from ld_monai.losses import LocalDiscriminationLoss
from ld_monai.networks import LocalDiscriminationNet, compile_available
from ld_monai.transforms import LocalDiscriminationViewsd

#: |compiled - eager| of each parameter's gradient, relative to the norm of the whole eager gradient. The comparison
#: runs in float64: in float32 the gradient of the LD objective is ill-conditioned (the 0.1 and 0.2 softmax
#: temperatures, the unit normalisations, BatchNorm on 10 views): eager float32 itself is 1.3e-3 of the gradient
#: norm away from float64 (first convolution's weight), and compiled float32 as far (1.4e-3), so float32 cannot
#: tell a reordered sum from a dropped small term (the region term is about 2 % of the gradient at initialisation).
#: In float64 compiled and eager agree to about 2e-14; a dropped or wrong term differs by 1e-3 to 1. The capture,
#: the autograd partition and the inductor lowering (where torch's wrong gradients of a compiled loss came from,
#: see ld_monai/networks/compile.py) do not depend on the dtype. Relative to the whole gradient, not to each
#: parameter's own: the convolution biases before a BatchNorm have a gradient that is zero up to rounding.
GRAD_TOL = 1e-5


def ld_batch(pairs: int = 2, size: int = 64) -> dict[str, torch.Tensor]:
    """A collated batch of ``pairs`` image pairs as the bundle's data loader makes it: (pairs, 5, 3, size, size)."""
    views = LocalDiscriminationViewsd(keys=("image1", "image2"), spatial_size=size).set_random_state(0)
    g = torch.Generator().manual_seed(0)
    items = []
    for _ in range(pairs):
        # smooth random images in [0, 1] (a little larger than the crop), so that views and cells differ
        images = [torch.nn.functional.interpolate(torch.rand(1, 3, 10, 10, generator=g), size=(80, 80),
                                                  mode="bilinear")[0] for _ in range(2)]
        items.append(views({"image1": images[0], "image2": images[1]}))
    return default_collate(items)


def train_one_iteration(state: dict, batch: dict, compile: bool) -> tuple[dict, dict[str, torch.Tensor]]:
    """One float64 iteration of the bundle's trainer (full LD objective: region and entropy terms included) with
    lr 0, from the weights ``state``; returns the loss terms and every parameter's gradient."""
    net = LocalDiscriminationNet(in_channels=3, embedding_dim=32, num_clusters=16)
    net.load_state_dict(state)
    net = net.double()
    batch = {**batch, "views": batch["views"].double()}
    trainer = LocalDiscriminationTrainer(
        device=torch.device("cpu"),
        max_epochs=1,
        epoch_length=1,
        train_data_loader=[batch],
        network=net,
        optimizer=torch.optim.SGD(net.parameters(), lr=0.0),  # keeps the weights: the gradients stay comparable
        loss_function=LocalDiscriminationLoss(),
        compile=compile,
    )
    trainer.run()
    if compile:
        assert isinstance(trainer.network, torch._dynamo.eval_frame.OptimizedModule)
    terms = {name: float(value) for name, value in trainer.state.output["terms"].items()}
    grads = {name: p.grad.detach().clone() for name, p in net.named_parameters()}
    return terms, grads


def test_compiled_training_step_equals_eager():
    if not compile_available("cpu"):
        pytest.skip("torch.compile does not work here (see the log of ld_monai.networks.compile_available)")
    torch.manual_seed(0)
    state = LocalDiscriminationNet(in_channels=3, embedding_dim=32, num_clusters=16).state_dict()
    batch = ld_batch()
    assert batch["views"].shape == (2, 5, 3, 64, 64)

    eager_terms, eager_grads = train_one_iteration(state, batch, compile=False)
    compiled_terms, compiled_grads = train_one_iteration(state, batch, compile=True)

    assert set(eager_terms) == {"pd", "mixup", "region", "entropy", "loss"}
    for name, value in eager_terms.items():
        assert compiled_terms[name] == pytest.approx(value, rel=1e-10), name

    assert set(compiled_grads) == set(eager_grads)
    total = torch.sqrt(sum(g.square().sum() for g in eager_grads.values()))
    assert total > 0
    worst = 0.0
    for name, g in eager_grads.items():
        assert torch.isfinite(compiled_grads[name]).all(), name
        error = float(torch.linalg.vector_norm(compiled_grads[name] - g) / total)
        worst = max(worst, error)
        assert error <= GRAD_TOL, f"{name}: |compiled - eager| = {error:.2e} of the gradient norm"
    print(f"largest gradient difference: {worst:.2e} of the gradient norm {float(total):.3g}")
