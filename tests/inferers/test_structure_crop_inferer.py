# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Two-stage segmentation: the square follows the locator's structure, the second network's output lands there."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ld_monai.inferers import StructureCropInferer
from ld_monai.networks import TransferSegmentationNet


class BlobLocator(nn.Module):
    """Logits +10 on a square blob (relative position), -10 elsewhere, plus a smaller distracting blob."""

    def __init__(self, rows: tuple[float, float], cols: tuple[float, float]) -> None:
        super().__init__()
        self.rows, self.cols = rows, cols

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2:]
        out = torch.full((x.shape[0], 2, height, width), -10.0)
        out[:, 0, int(self.rows[0] * height):int(self.rows[1] * height),
            int(self.cols[0] * width):int(self.cols[1] * width)] = 10.0
        out[:, 0, :2, :2] = 10.0  # a fragment: not the largest component
        return out


def test_output_is_the_second_network_inside_the_square_around_the_located_structure():
    inferer = StructureCropInferer(BlobLocator((0.5, 0.75), (0.25, 0.5)), side_fraction=0.5, size=16,
                                   locator_size=32)
    inputs = torch.rand(2, 3, 64, 64)
    mask = inferer.locate(inputs)
    assert mask.shape == (2, 64, 64) and mask[:, :2, :2].sum() == 0  # the fragment is dropped
    assert mask[0].sum() == 16 * 16
    calls = []

    def network(square):
        calls.append(square.shape)
        return torch.ones(square.shape[0], 2, *square.shape[-2:])

    out = inferer(inputs, network)
    assert calls == [(1, 3, 16, 16)] * 2  # one square per image, at the second network's size
    assert out.shape == (2, 2, 64, 64)
    # blob rows 32-47, columns 16-31: centre (39.5, 23.5); a 32-px square from (24, 8)
    inside = torch.zeros(64, 64, dtype=torch.bool)
    inside[24:56, 8:40] = True
    torch.testing.assert_close(out[:, :, inside], torch.ones(2, 2, int(inside.sum())))
    assert (out[:, :, ~inside] == -20.0).all()


def test_square_is_the_input_crop_resized_and_clipped_at_the_border():
    inferer = StructureCropInferer(BlobLocator((0.0, 0.25), (0.75, 1.0)), side_fraction=0.5, size=32,
                                   locator_size=64)
    inputs = torch.arange(64.0 * 64).view(1, 1, 64, 64)
    seen = []

    def network(square):
        seen.append(square)
        return square  # identity: the output is the input where the square lies inside the image

    out = inferer(inputs, network)
    # blob rows 0-15, columns 48-63: centre (7.5, 55.5); the square from (-8, 40) leaves the image at the top and right
    torch.testing.assert_close(seen[0][0, 0, 8:, :24], inputs[0, 0, :24, 40:64])  # same size: no resizing
    torch.testing.assert_close(out[0, 0, :24, 40:], inputs[0, 0, :24, 40:])
    assert (out[0, 0, 24:] == -20.0).all() and (out[0, 0, :, :40] == -20.0).all()


def test_from_checkpoint_loads_every_parameter(tmp_path):
    trained = TransferSegmentationNet(in_channels=3, out_channels=2)
    torch.save(trained.state_dict(), tmp_path / "model.pt")
    inferer = StructureCropInferer.from_checkpoint(TransferSegmentationNet(in_channels=3, out_channels=2),
                                                   str(tmp_path / "model.pt"), size=32, locator_size=32)
    for name, value in trained.state_dict().items():
        torch.testing.assert_close(inferer.locator.state_dict()[name], value)
    assert not inferer.locator.training
    torch.save({k: v for k, v in trained.state_dict().items() if not k.startswith("head")}, tmp_path / "part.pt")
    with pytest.raises(ValueError, match="lacks"):
        StructureCropInferer.from_checkpoint(TransferSegmentationNet(in_channels=3, out_channels=2),
                                             str(tmp_path / "part.pt"))
