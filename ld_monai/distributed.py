# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Training in several processes (``torchrun``): the device and backend of each process, and the all-gather that lets
a contrastive loss see the whole distributed batch.

With ``torchrun --nproc_per_node=N`` every process runs the bundle's ``multi_gpu_train.json`` with its own
``LOCAL_RANK``: NCCL and one GPU per process with CUDA, Gloo and the CPU without (so the multi-process path runs and
is tested on any machine).
"""

from __future__ import annotations

import os

import ignite.distributed as idist
import torch
import torch.distributed as dist

__all__ = [
    "distributed_device", "init_distributed", "is_distributed", "gather_with_gradient", "gather",
    "mean_value_over_processes", "broadcast_parameters", "average_gradients", "is_main_process",
    "refuse_under_several_processes",
]


def distributed_device() -> torch.device:
    """This process's device: ``cuda:<LOCAL_RANK>`` when CUDA is present, else the CPU."""
    if torch.cuda.is_available():
        return torch.device(f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}")
    return torch.device("cpu")


def init_distributed() -> torch.device:
    """Join the process group that ``torchrun`` describes (its environment variables), NCCL with CUDA and Gloo on
    the CPU, unless already joined; select this process's GPU. Returns :func:`distributed_device`."""
    device = distributed_device()
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    return device


def is_distributed() -> bool:
    """Whether this process is one of several in an initialised process group."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def is_main_process() -> bool:
    """Whether this process writes the run's files: rank 0, or the only process."""
    return idist.get_rank() == 0


def refuse_under_several_processes(setting: str, value: object) -> None:
    """Raise if a setting that holds only in one process (e.g. ``distinct_images``: distinct photographs within a
    batch of consecutive indices, which a ``DistributedSampler`` deals out round-robin) is on under ``torchrun``."""
    if value and is_distributed():
        raise ValueError(f"{setting} holds within one process only; switch it off under torchrun.")


class _GatherWithGradient(torch.autograd.Function):
    """All-gather along dim 0 whose backward sums the gradients of every process's copy and returns this process's
    slice (what ``torch.distributed.nn.functional.all_gather`` does by reduce-scatter, which Gloo lacks)."""

    @staticmethod
    def forward(ctx, tensor: torch.Tensor) -> torch.Tensor:
        ctx.rank, ctx.size = dist.get_rank(), tensor.shape[0]
        parts = [torch.empty_like(tensor) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, tensor.contiguous())
        return torch.cat(parts)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.contiguous().clone()
        dist.all_reduce(grad)
        return grad[ctx.rank * ctx.size:(ctx.rank + 1) * ctx.size]


def gather_with_gradient(tensor: torch.Tensor) -> torch.Tensor:
    """The tensors of every process concatenated along dim 0 in rank order (equal shapes), differentiable.

    When every process computes the same loss ``L`` of the gathered batch, this process's input receives the sum of
    the gradients of the N copies, ``N dL/dx``; ``DistributedDataParallel`` averages the parameter gradients over
    the N processes, so the update is that of ``L`` computed by one process on the whole batch."""
    return _GatherWithGradient.apply(tensor) if is_distributed() else tensor


def gather(tensor: torch.Tensor) -> torch.Tensor:
    """The tensors of every process concatenated along dim 0 in rank order (equal shapes), without gradient
    (Ignite's ``idist.all_gather``)."""
    return idist.all_gather(tensor) if is_distributed() else tensor


def mean_value_over_processes(value: torch.Tensor) -> torch.Tensor:
    """``value`` with the mean of every process's value but this process's gradient: a loss term that is a mean over
    the batch then reads as on the whole batch, and ``DistributedDataParallel``'s averaging of the gradients makes
    the update that of the whole batch."""
    if not is_distributed():
        return value
    mean = value.detach().clone()
    dist.all_reduce(mean)
    return value + (mean / dist.get_world_size() - value).detach()


def broadcast_parameters(module: torch.nn.Module) -> torch.nn.Module:
    """Give every process rank 0's parameters and buffers (what ``DistributedDataParallel`` does for the module it
    wraps), for a module trained beside it with :func:`average_gradients`."""
    if is_distributed():
        for tensor in [*module.parameters(), *module.buffers()]:
            dist.broadcast(tensor.data, src=0)
    return module


def average_gradients(module: torch.nn.Module) -> None:
    """Average the gradients of ``module``'s parameters over the processes (after ``backward``, before the step)."""
    if not is_distributed():
        return
    for parameter in module.parameters():
        if parameter.grad is not None:
            dist.all_reduce(parameter.grad)
            parameter.grad /= dist.get_world_size()
