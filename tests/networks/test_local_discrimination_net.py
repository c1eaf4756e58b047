# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
from __future__ import annotations

import pytest
import torch

from ld_monai.networks import (
    LocalDiscriminationNet,
    VGGBNTinyEncoder,
    load_matching_state_dict,
    load_pretrained,
)


def test_paper_encoder_size_and_feature_pyramid():
    enc = VGGBNTinyEncoder(in_channels=3)
    assert sum(p.numel() for p in enc.parameters()) == 922_896  # spec A3.1: RGB 922,896
    assert sum(p.numel() for p in VGGBNTinyEncoder(in_channels=1).parameters()) == 922_608
    feats = enc(torch.zeros(1, 3, 64, 64))
    assert [tuple(f.shape[1:]) for f in feats] == [(16, 64, 64), (32, 32, 32), (64, 16, 16), (128, 8, 8), (128, 4, 4)]


def test_full_model_size_matches_paper():
    net = LocalDiscriminationNet(in_channels=3, embedding_dim=32, num_clusters=16)
    assert abs(sum(p.numel() for p in net.parameters()) - 1.43e6) < 0.01e6  # spec A3.2: about 1.43 M


@pytest.mark.parametrize("encoder", ["vgg_bn_tiny", "resnet10"])
@pytest.mark.parametrize("in_channels", [1, 3])
def test_outputs_unit_embedding_and_assignment_simplex(encoder, in_channels):
    torch.manual_seed(0)
    net = LocalDiscriminationNet(in_channels=in_channels, embedding_dim=8, num_clusters=5, encoder=encoder)
    out = net(torch.rand(2, in_channels, 64, 48))
    z, a = out["embedding"], out["assignment"]
    assert z.shape == (2, 8, 64, 48) and a.shape == (2, 5, 64, 48)
    torch.testing.assert_close(z.norm(dim=1), torch.ones(2, 64, 48), atol=1e-5, rtol=0)
    torch.testing.assert_close(a.sum(dim=1), torch.ones(2, 64, 48), atol=1e-5, rtol=0)
    assert (a >= 0).all()


def test_patch_discrimination_stage_has_no_assignment_and_bad_input_raises():
    net = LocalDiscriminationNet(num_clusters=0)
    assert set(net(torch.rand(1, 3, 32, 32))) == {"embedding"}
    with pytest.raises(ValueError, match="expected input"):
        net(torch.rand(1, 1, 32, 32))


def test_encoder_exports_alone_by_name():
    net = LocalDiscriminationNet()
    fresh = VGGBNTinyEncoder(in_channels=3)
    fresh.load_state_dict(net.encoder.state_dict(), strict=True)
    x = torch.rand(1, 3, 32, 32)
    net.eval(), fresh.eval()
    torch.testing.assert_close(fresh(x)[-1], net.encoder(x)[-1])


def test_load_matching_state_dict_by_name_not_position():
    torch.manual_seed(0)
    stage1 = LocalDiscriminationNet(num_clusters=0)
    stage2 = LocalDiscriminationNet(num_clusters=16)
    head_before = stage2.clustering_head[1].weight.clone()
    missing = load_matching_state_dict(stage2, {"module." + k: v for k, v in stage1.state_dict().items()})
    assert missing and all(name.startswith("clustering_head.") for name in missing)
    for name, value in stage1.state_dict().items():
        torch.testing.assert_close(stage2.state_dict()[name], value)
    torch.testing.assert_close(stage2.clustering_head[1].weight, head_before)  # new head keeps its init
    wrong = {"embedding_head.1.weight": torch.zeros(3, 3, 3, 3)}
    with pytest.raises(ValueError, match="embedding_head.1.weight"):
        load_matching_state_dict(stage2, wrong)


def test_load_pretrained_accepts_model_checkpoint_and_encoder_export(tmp_path):
    torch.manual_seed(0)
    trained = LocalDiscriminationNet()
    torch.save(trained.state_dict(), tmp_path / "model.pt")
    torch.save({"model": trained.state_dict(), "optimizer": {}}, tmp_path / "checkpoint.pt")
    torch.save({"encoder": trained.encoder.state_dict(), "in_channels": 3}, tmp_path / "encoder.pt")
    for name in ("model.pt", "checkpoint.pt"):
        fresh = LocalDiscriminationNet()
        assert load_pretrained(fresh, tmp_path / name) == []
        torch.testing.assert_close(fresh.state_dict(), trained.state_dict())
    fresh = LocalDiscriminationNet()
    missing = load_pretrained(fresh, tmp_path / "encoder.pt")
    assert missing and not any(name.startswith("encoder.") for name in missing)  # only the encoder was loaded
    torch.testing.assert_close(fresh.encoder.state_dict(), trained.encoder.state_dict())
    with pytest.raises(FileNotFoundError, match="nothing.pt"):
        load_pretrained(fresh, tmp_path / "nothing.pt")


@pytest.mark.parametrize("mode", ["reflect", "replicate"])
def test_padding_mode_hides_the_border(mode):
    """A constant image gives a constant embedding with reflect/replicate padding; zero padding marks the border."""
    torch.manual_seed(0)
    padded = LocalDiscriminationNet(in_channels=3, padding_mode=mode).eval()
    zeros = LocalDiscriminationNet(in_channels=3).eval()
    zeros.load_state_dict(padded.state_dict())  # same weights, same keys
    x = torch.full((1, 3, 48, 48), 0.3)
    with torch.no_grad():
        z_padded, z_zeros = padded(x)["embedding"], zeros(x)["embedding"]
    spread = lambda z: float((z - z[..., 24:25, 24:25]).abs().max())  # noqa: E731
    assert spread(z_padded) < 1e-5
    assert spread(z_zeros) > 1e-2
    assert all(m.padding_mode == mode for m in padded.modules() if isinstance(m, torch.nn.Conv2d) and m.padding[0])
    with pytest.raises(ValueError, match="padding mode"):
        LocalDiscriminationNet(padding_mode="edge")
