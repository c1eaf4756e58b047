# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""LD in two Gloo processes trains as one process with the doubled batch (issue 21), and does not without the
gathered loss."""

from __future__ import annotations

import torch

from benchmarks.scale import five_view_batch, ld_equivalence, rank_share


def test_the_ranks_share_the_pairs_of_every_view():
    batch = five_view_batch(pairs=4, size=8)
    shares = [rank_share(batch, rank, 2) for rank in range(2)]
    views = torch.cat([s["views"].unflatten(0, (5, 2)) for s in shares], dim=1).flatten(0, 1)
    assert torch.equal(views, batch["views"])
    assert torch.equal(torch.cat([s["source_index"] for s in shares]), batch["source_index"])


def test_two_gloo_processes_equal_one_with_the_doubled_batch():
    gathered = ld_equivalence(world=2, pairs=4, steps=2)
    assert gathered["loss_terms"] < 1e-5 and gathered["first_step_gradients"] < 1e-5
    assert gathered["weights_after_steps"] < 1e-5
    alone = ld_equivalence(world=2, pairs=4, steps=1, gather=False)  # each process's own pairs only
    assert alone["loss_terms"] > 1e-2 and alone["first_step_gradients"] > 1e-4
