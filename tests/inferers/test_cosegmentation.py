# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
import pytest
import torch

from ld_monai.inferers.cosegmentation import cosegment


def scene(layout: torch.Tensor, codes: torch.Tensor, noise: float = 0.05) -> torch.Tensor:
    """An embedding map (D, h, w) whose cells show part ``layout[y, x]`` (its code plus a little noise)."""
    return codes[layout].permute(2, 0, 1) + noise * torch.randn(codes.shape[1], *layout.shape)


def test_parts_are_found_and_labelled_alike_in_every_image():
    """Three parts (background, left and right 'lung') placed differently in three images, in 64 dimensions: the
    elbow finds three parts and each part gets one label in all images."""
    torch.manual_seed(0)
    codes = torch.randn(3, 64)
    layouts = []
    for shift in (0, 1, 2):
        layout = torch.zeros(8, 10, dtype=torch.long)
        layout[2:6, 1 + shift:4 + shift] = 1
        layout[2:6, 5 + shift:8] = 2
        layouts.append(layout)
    result = cosegment([scene(layout, codes) for layout in layouts])
    assert result.num_parts == 3
    mapping = {}
    for layout, parts in zip(layouts, result.parts):
        for truth, found in zip(layout.flatten().tolist(), parts.flatten().tolist()):
            assert mapping.setdefault(truth, found) == found  # one label per part across the images
    assert len(set(mapping.values())) == 3


def test_foreground_vote_and_a_given_number_of_parts():
    torch.manual_seed(0)
    codes = torch.randn(2, 16)
    layout = torch.zeros(6, 6, dtype=torch.long)
    layout[1:5, 1:5] = 1
    maps = [scene(layout, codes) for _ in range(4)]
    body = [layout == 1 for _ in range(4)]
    result = cosegment(maps, num_parts=2, foreground=body)
    inside = int(result.parts[0][2, 2])
    assert result.foreground_parts == [inside]
    assert all(torch.equal(mask, layout == 1) for mask in result.foreground())
    with pytest.raises(ValueError, match="2 foreground masks for 4 images"):
        cosegment(maps, num_parts=2, foreground=body[:2])
