# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""``ld_monai.distributed`` in two Gloo processes: known values of every collective and its gradient."""

from __future__ import annotations

import pytest
import torch
import torch.distributed as dist
from torch import nn

from ld_monai import distributed


def _collectives(rank: int, store: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=2)
    try:
        assert distributed.is_distributed() and distributed.is_main_process() == (rank == 0)
        x = torch.full((2, 3), float(rank + 1), requires_grad=True)
        gathered = distributed.gather_with_gradient(x)
        assert torch.equal(gathered, torch.tensor([[1.0] * 3] * 2 + [[2.0] * 3] * 2))
        # the same loss in both processes: this rank's rows get the sum of both copies' gradients, 2 dL/dx
        (gathered * torch.arange(4.0)[:, None]).sum().backward()
        assert torch.equal(x.grad, 2 * torch.arange(4.0)[2 * rank:2 * rank + 2, None].expand(2, 3))
        assert torch.equal(distributed.gather(torch.tensor([rank])), torch.tensor([0, 1]))
        value = torch.tensor(float(rank), requires_grad=True)
        mean = distributed.mean_value_over_processes(3 * value)
        mean.backward()
        assert float(mean) == 1.5 and float(value.grad) == 3.0  # the mean's value, this process's gradient
        layer = nn.Linear(2, 1)
        nn.init.constant_(layer.weight, float(rank))
        distributed.broadcast_parameters(layer)
        assert torch.equal(layer.weight, torch.zeros(1, 2))  # rank 0's
        layer.weight.grad = torch.full((1, 2), float(rank))
        distributed.average_gradients(layer)
        assert torch.equal(layer.weight.grad, torch.full((1, 2), 0.5))
        with pytest.raises(ValueError, match="distinct_images holds within one process"):
            distributed.refuse_under_several_processes("distinct_images", True)
        distributed.refuse_under_several_processes("distinct_images", False)
    finally:
        dist.destroy_process_group()


def test_collectives_and_their_gradients_in_two_processes(tmp_path):
    torch.multiprocessing.spawn(_collectives, args=(str(tmp_path / "store"),), nprocs=2)


def test_one_process_passes_through():
    x = torch.ones(2, requires_grad=True)
    assert distributed.gather_with_gradient(x) is x and distributed.gather(x) is x
    assert distributed.mean_value_over_processes(x) is x and distributed.is_main_process()
    assert distributed.distributed_device() == torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
