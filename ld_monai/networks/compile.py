# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Whether ``torch.compile`` works here: the default of the LD bundle's ``"compile"`` setting.

``"compile": "$ld_monai.networks.compile_available(@device)"`` makes MONAI's ``SupervisedTrainer`` wrap the
network in ``torch.compile`` where that works and keeps the eager (channels-last) path elsewhere. On 2 CPU cores
the compiled network makes one LD iteration 1.1-1.3x faster than eager channels-last and takes less memory
(``benchmarks/ld_step.py --variants channels_last default``); compiling costs 20-120 s once, at the first
iteration (less when inductor's on-disk cache already holds the graph). Channels-last on top of compilation was
not faster (10x256² views: 6.93 s against 6.60 s per iteration, median of 3 interleaved rounds), so the bundle
keeps ``"channels_last": "$not @compile"``.

**Only the network is compiled, not the loss.** With torch 2.13 (CPU, inductor) a compiled
:class:`ld_monai.losses.LocalDiscriminationLoss` returns the right values but wrong gradients: the backward of
the invariant-spreading loss (``ld_monai.losses.invariant_spreading_loss``) loses the ``log P_i`` part when the
compiled graph also returns a sum of the terms (the LD total) as another output. The patch-discrimination and
mixup gradients to the embedding then keep only the ``log(1 - Q_ik)`` part (in float64, 0.017 instead of 0.64
for a random embedding; the region and entropy terms are right), so training silently optimises another
objective. It needs inductor (``backend="aot_eager"`` is right) and two ``gather`` calls with the same index on
``log_q`` and on ``log1p(-exp(log_q))``; this reproduces it without ``ld_monai``::

    import torch
    torch.manual_seed(0)
    y0, r0 = torch.randn(8, 8, dtype=torch.float64), torch.randn(8, 8, dtype=torch.float64)
    idx = torch.arange(8).roll(4).unsqueeze(1)

    def f(y, r):
        log_q = y - torch.logsumexp(y, dim=1, keepdim=True)
        log_not = torch.log1p(-log_q.exp())
        pd = -(log_q.gather(1, idx).squeeze(1) + log_not.sum(1) - log_not.gather(1, idx).squeeze(1)).mean()
        other = (r * y).sum()
        return pd, other, pd + other  # without the third output the gradient is right

    for fn in (f, torch.compile(f)):
        y = y0.clone().requires_grad_()
        print(torch.autograd.grad(fn(y, r0)[0], y)[0].norm())  # 0.437 eager, 0.066 compiled

Replacing either ``gather`` (``log_p`` from the rowwise product with the rolled, detached rows, or the
positive's ``log(1 - Q)`` as ``log1p(-exp(log_p))``) gives the right gradient compiled. The loss is a small part
of an iteration, so compiling it would gain little; ``tests/engines/test_compiled_step.py`` checks that the
compiled path (network compiled, loss eager) gives eager's loss and every parameter's gradient.
"""

from __future__ import annotations

import functools
import logging
import os
import sys

import torch

__all__ = ["compile_available"]

logger = logging.getLogger(__name__)


def compile_available(device: str | torch.device | None = None) -> bool:
    """``True`` when ``torch.compile`` (inductor) compiles and runs a small training step on ``device`` here.

    Checks, in order: not Windows (inductor there needs MSVC and is experimental), ``torch.compile`` not disabled
    (``TORCH_COMPILE_DISABLE=1``), TorchDynamo supports this Python, a C++ compiler for the CPU backend
    (``g++``, or ``$CXX``) or Triton for CUDA, and finally compiles and runs a tiny function forward and backward
    (this catches missing Python headers, OpenMP or a broken toolchain). Takes a few seconds the first time;
    the answer is cached per device type. When compilation is not available the reason is logged (INFO) and the
    caller should run eagerly.

    Args:
        device: the training device (``"cpu"``, ``"cuda:0"``, a ``torch.device``); ``None`` means the CPU.

    Example::

        trainer = SupervisedTrainer(..., compile=ld_monai.networks.compile_available(device))
    """
    device_type = torch.device(device).type if device is not None else "cpu"
    return _compile_available(device_type)


@functools.lru_cache(maxsize=None)
def _compile_available(device_type: str) -> bool:
    reason = _unavailable_reason(device_type)
    if reason:
        logger.info(f"torch.compile is not available on {device_type} ({reason}): training runs eagerly.")
        return False
    logger.info(f"torch.compile works on {device_type}: the network is compiled (20-120 s at the first iteration).")
    return True


def _unavailable_reason(device_type: str) -> str | None:
    if sys.platform == "win32":
        return "Windows"
    if os.environ.get("TORCH_COMPILE_DISABLE", "0") not in ("", "0"):
        return "TORCH_COMPILE_DISABLE is set"
    if not hasattr(torch, "compile"):
        return f"torch {torch.__version__} has no torch.compile"
    try:
        from torch._dynamo import is_dynamo_supported

        if not is_dynamo_supported():
            return f"TorchDynamo does not support Python {sys.version.split()[0]}"
        if device_type == "cpu":
            from torch._inductor.cpp_builder import get_cpp_compiler

            get_cpp_compiler()
        elif device_type == "cuda":
            from torch.utils._triton import has_triton

            if not has_triton():
                return "Triton is not installed"
        else:
            return f"not tried on {device_type!r} devices"
    except Exception as e:  # the private helpers above may move between torch versions: then try the real thing
        if type(e).__name__ == "InvalidCxxCompiler":
            return "no C++ compiler found for the inductor CPU backend (install g++ or set CXX)"
        logger.debug(f"torch.compile pre-checks failed ({e!r}); trying a compilation.")
    return _smoke_test(device_type)


def _smoke_test(device_type: str) -> str | None:
    """Compile and run ``x -> sum(relu(x * w))`` forward and backward; ``None`` if the result is right."""

    def step(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return torch.relu(x * w).sum()

    try:
        x = torch.linspace(-1.0, 1.0, 16, device=device_type)
        w = torch.full((16,), 2.0, device=device_type, requires_grad=True)
        value = torch.compile(step, dynamic=False)(x, w)
        value.backward()
        expected_grad = (x > 0).to(x.dtype) * x
        if not (torch.isclose(value.detach().cpu(), torch.tensor(step(x, w.detach()).item()))
                and torch.allclose(w.grad, expected_grad)):
            return "a test compilation gave wrong values"
    except Exception as e:  # any failure of the toolchain means: run eagerly
        first_line = str(e).strip().splitlines()[0][:200] if str(e).strip() else ""
        return f"a test compilation failed: {type(e).__name__}: {first_line}"
    return None
