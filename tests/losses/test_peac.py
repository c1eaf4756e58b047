# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
import math

import pytest
import torch

from ld_monai.losses.peac import PEACLoss, global_consistency, local_consistency
from ld_monai.transforms.grid_crop_pair import RandGridCropPaird

N, CELL, VIEW = 9, 2, 3  # 3 x 3 tokens of 2-px cells


def outputs(batch: int = 2, requires_grad: bool = False, **given) -> dict:
    out = {"order": torch.zeros(batch, N, N), "restoration": torch.zeros(batch, 1, 6, 6),
           "global": torch.randn(batch, 4), "local": torch.randn(batch, N, 5)}
    out.update(given)
    return {k: v.clone().requires_grad_(requires_grad) for k, v in out.items()}


def cell_identity_views(offset1, offset2):
    """Two views of an image whose cells each hold their own grid index; each token's local embedding is a one-hot
    of the grid cell it sees, so matched tokens agree exactly when they are the same cell."""
    side = (VIEW + 2) * CELL
    image = torch.arange((VIEW + 2) ** 2, dtype=torch.float32).reshape(VIEW + 2, VIEW + 2)
    image = image.repeat_interleave(CELL, 0).repeat_interleave(CELL, 1)[None]
    crops = RandGridCropPaird("image", cell_size=CELL, view_cells=VIEW, max_offset=2, jitter=False)
    crops.randomize = lambda data=None: None
    crops.offsets = (offset1, offset2)
    out = crops({"image": image[:, :side, :side]})
    embed = [torch.nn.functional.one_hot(out[v][0, ::CELL, ::CELL].flatten().long(), (VIEW + 2) ** 2).float()[None]
             for v in ("view1", "view2")]
    return embed, out["overlap1"][None], out["overlap2"][None]


def test_order_and_restoration_known_values():
    permutation = torch.stack([torch.randperm(N), torch.arange(N)])
    uniform = PEACLoss()(outputs(), outputs(), outputs(), outputs(), permutation, torch.ones(2, 1, 6, 6),
                         torch.tensor([True, False]), torch.zeros(2, N, dtype=torch.bool),
                         torch.zeros(2, N, dtype=torch.bool))
    assert uniform["order"].item() == pytest.approx(math.log(N))  # zero logits: log of the number of positions
    assert uniform["restoration"].item() == pytest.approx(1.0)  # zeros against ones
    sure = outputs(order=torch.nn.functional.one_hot(permutation, N).float() * 50)
    certain = PEACLoss()(sure, outputs(), outputs(), outputs(), permutation, torch.zeros(2, 1, 6, 6),
                         torch.tensor([True, False]), torch.zeros(2, N, dtype=torch.bool),
                         torch.zeros(2, N, dtype=torch.bool))
    assert certain["order"].item() < 1e-6 and certain["restoration"].item() == 0


def test_global_consistency_known_values():
    """Same directions (any length): 0. Orthogonal unit vectors in G = 4 dimensions: (2 - 2 cos) / G = 1/2 each."""
    a = torch.tensor([[3.0, 0, 0, 0]])
    assert global_consistency(a, a * 0.1, a * 2, a).item() == pytest.approx(0.0)
    b = torch.tensor([[0.0, 1, 0, 0]])
    assert global_consistency(a, b, a, b).item() == pytest.approx(1.0)


@pytest.mark.parametrize("offset1, offset2", [((0, 1), (2, 0)), ((1, 0), (0, 2)), ((2, 2), (0, 1))])
def test_local_consistency_is_zero_for_the_same_cells_and_not_for_the_research_codes_transposed_masks(offset1,
                                                                                                       offset2):
    (first, second), overlap1, overlap2 = cell_identity_views(offset1, offset2)
    unshuffled = torch.tensor([False])
    assert local_consistency(first, second, second, first, overlap1, overlap2, unshuffled).item() == 0
    transposed = [m.reshape(1, VIEW, VIEW).transpose(1, 2).reshape(1, -1) for m in (overlap1, overlap2)]
    assert local_consistency(first, second, second, first, *transposed, unshuffled).item() > 0


def test_local_consistency_uses_unshuffled_samples_only():
    local = torch.randn(2, N, 5, requires_grad=True)
    mask = torch.ones(2, N, dtype=torch.bool)
    assert local_consistency(local, local + 1, local, local, mask, mask, torch.tensor([True, True])).item() == 0
    one = local_consistency(local, local + 1, local, local, mask, mask, torch.tensor([True, False]))
    assert one.item() == pytest.approx(0.5)  # (1 + 0) / 2 on the unshuffled sample
    with pytest.raises(ValueError, match="different numbers"):
        local_consistency(local, local, local, local, mask, ~mask, torch.tensor([False, False]))


def test_weights_and_no_gradient_to_the_teacher():
    student1, student2 = outputs(requires_grad=True), outputs(requires_grad=True)
    teacher1, teacher2 = outputs(requires_grad=True), outputs(requires_grad=True)
    mask = torch.ones(2, N, dtype=torch.bool)
    args = (torch.arange(N).repeat(2, 1), torch.rand(2, 1, 6, 6), torch.tensor([False, False]), mask, mask)
    terms = PEACLoss(order_weight=2, restoration_weight=3, global_weight=5, local_weight=7)(
        student1, teacher1, student2, teacher2, *args)
    expected = 2 * terms["order"] + 3 * terms["restoration"] + 5 * terms["global"] + 7 * terms["local"]
    assert terms["loss"].item() == pytest.approx(expected.item())
    terms["loss"].backward()
    assert all(v.grad is None for t in (teacher1, teacher2) for v in t.values())
    assert student1["local"].grad is not None and student2["global"].grad is not None
