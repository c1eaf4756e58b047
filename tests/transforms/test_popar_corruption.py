# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
import pytest
import torch

from ld_monai.transforms.popar_corruption import RandPopARCorruptiond, shuffle_cells


def test_shuffle_cells_known_values_and_inverse():
    image = torch.arange(16.0).reshape(1, 4, 4)  # four 2 x 2 cells: 0 top-left, 1 top-right, 2, 3 below
    out = shuffle_cells(image, torch.tensor([3, 0, 1, 2]), cell_size=2)
    assert out[0].tolist() == [[10, 11, 0, 1], [14, 15, 4, 5], [2, 3, 8, 9], [6, 7, 12, 13]]
    permutation = torch.randperm(16)
    image = torch.rand(3, 32, 32)
    torch.testing.assert_close(shuffle_cells(shuffle_cells(image, permutation, 8), torch.argsort(permutation), 8),
                               image)


def test_order_corruption_permutes_whole_cells_and_appearance_keeps_the_order():
    corrupt = RandPopARCorruptiond("view1", cell_size=8).set_random_state(0)
    image = torch.rand(1, 32, 32)
    clean = image.clone()
    shuffled = 0
    for _ in range(60):
        out = corrupt({"view1": image})
        assert torch.equal(image, clean)  # the input is left as it was (in-painting works in place)
        assert torch.equal(out["restoration_target"], clean)  # always the clean view in its own order
        if out["shuffled"]:
            shuffled += 1
            assert sorted(out["permutation"].tolist()) == list(range(16))
            assert torch.equal(out["view1"], shuffle_cells(image, out["permutation"], 8))
        else:
            assert torch.equal(out["permutation"], torch.arange(16)) and not torch.equal(out["view1"], image)
    assert 15 < shuffled < 45  # order for about half of the views


def test_the_whole_corruption_repeats_with_the_seed():
    image = torch.rand(1, 32, 32)
    first = RandPopARCorruptiond("view1", cell_size=8).set_random_state(4)
    second = RandPopARCorruptiond("view1", cell_size=8).set_random_state(4)
    for _ in range(6):
        a, b = first({"view1": image}), second({"view1": image})
        assert torch.equal(a["view1"], b["view1"]) and torch.equal(a["permutation"], b["permutation"])


def test_clear_errors():
    with pytest.raises(ValueError, match="whole cells of 8 px"):
        RandPopARCorruptiond("view1", cell_size=8)({"view1": torch.rand(1, 30, 32)})
    with pytest.raises(ValueError, match="one view"):
        RandPopARCorruptiond(["view1", "view2"])
    with pytest.raises(ValueError, match="3 positions for 4 cells"):
        shuffle_cells(torch.rand(1, 4, 4), torch.arange(3), 2)
