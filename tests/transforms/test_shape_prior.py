# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
import numpy as np
import torch

from ld_monai.transforms import RandShapePriorMasksd, prior_mask_augmentation


def centred_disc(side: int = 200, radius_fraction: float = 0.3) -> np.ndarray:
    yy, xx = np.mgrid[:side, :side] + 0.5
    return ((yy - side / 2) ** 2 + (xx - side / 2) ** 2 < (radius_fraction * side) ** 2).astype(np.float32)


def test_items_carry_binary_masks_drawn_and_augmented_as_the_research_code():
    drawn = []

    def source(rng):
        drawn.append(rng.randint(1000))
        return centred_disc()

    transform = RandShapePriorMasksd(source, size=96).set_random_state(0)
    out = transform({"image": "kept"})
    assert out["image"] == "kept" and len(drawn) == 2
    assert out["prior"].shape == (4, 1, 96, 96) and type(out["prior"]) is torch.Tensor
    assert set(out["prior"].unique().tolist()) == {0.0, 1.0}
    again = RandShapePriorMasksd(source, size=96).set_random_state(0)({})
    torch.testing.assert_close(again["prior"], out["prior"])
    assert drawn[2:] == drawn[:2]


def test_augmentation_keeps_a_centred_disc_a_disc():
    """Flips and rotations leave a centred disc as it is; the crop keeps at least 80 % of each side, so the disc's
    share of the image grows by at most 1 / 0.8^2, and it is stretched by at most 1 / 0.8 along one axis."""
    augment = prior_mask_augmentation(size=128)
    augment.set_random_state(3)
    share = np.pi * 0.3**2
    for _ in range(10):
        mask = augment(torch.from_numpy(centred_disc())[None])[0]
        assert share * 0.97 < mask.mean().item() < share / 0.8**2 * 1.03
        rows, cols = torch.nonzero(mask, as_tuple=True)
        aspect = (rows.max() - rows.min()).item() / (cols.max() - cols.min()).item()
        assert 0.8 / 1.05 < aspect < 1.05 / 0.8


def test_augmentation_rotates_an_off_centre_shape():
    augment = prior_mask_augmentation(size=64)
    augment.set_random_state(0)
    corner = np.zeros((64, 64), np.float32)
    corner[4:20, 4:20] = 1.0
    quadrants = set()
    for _ in range(20):
        rows, cols = torch.nonzero(augment(torch.from_numpy(corner)[None])[0], as_tuple=True)
        quadrants.add((rows.float().mean().item() > 32, cols.float().mean().item() > 32))
    assert len(quadrants) == 4
