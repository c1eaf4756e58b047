# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
import pytest
import torch

from ld_monai.networks.peac_net import PEACNet, PEACTokenMap, expander
from ld_monai.networks.swin_tokens import SwinTokenEncoder

SMALL = {"view_size": 64, "embed_dim": 8, "depths": (1, 1, 1, 1), "num_heads": (1, 1, 2, 2), "window_size": 2,
         "global_features": (16, 12), "local_features": (10, 6)}


def test_outputs_and_shapes():
    torch.manual_seed(0)
    network = PEACNet(in_channels=3, **SMALL)  # 4 x 4 tokens of 16-px cells
    out = network(torch.rand(2, 3, 64, 64))
    assert {k: tuple(v.shape) for k, v in out.items()} == {
        "tokens": (2, 16, 64), "order": (2, 16, 16), "restoration": (2, 3, 64, 64), "global": (2, 12),
        "local": (2, 16, 6)}
    with pytest.raises(ValueError, match="views of 64 x 64 px"):
        network(torch.rand(1, 3, 48, 48))


def test_restoration_of_a_cell_comes_from_its_own_token():
    """Token j (row-major) rebuilds the pixels of cell j and no other: the order of tokens is the order of the
    grid cells that the overlap masks index."""
    torch.manual_seed(0)
    network = PEACNet(**SMALL).eval()
    tokens = torch.randn(1, 16, 64)
    changed = tokens.clone()
    changed[0, 6] += 1.0  # cell (1, 2) of the 4 x 4 grid
    rebuild = lambda t: network.restoration_head(t.transpose(1, 2).reshape(1, 64, 4, 4))  # noqa: E731
    difference = (rebuild(changed) - rebuild(tokens)).abs()[0, 0] > 0
    expected = torch.zeros(64, 64, dtype=torch.bool)
    expected[16:32, 32:48] = True
    assert torch.equal(difference, expected)


def test_research_configuration_has_the_research_sizes():
    """Swin-B at 448 px: 14 x 14 tokens of 1024 channels, 32-px cells; weights as counted in method spec B3 (encoder
    86.74 M, order 0.20 M, restoration 3.15 M, global 142.7 M, local 1.05 M)."""
    network = PEACNet(in_channels=3, view_size=448, embed_dim=128, depths=(2, 2, 18, 2),
                      num_heads=(4, 8, 16, 32), patch_size=4, global_features=(8192,) * 3,
                      local_features=(512,) * 3)
    count = {name: sum(p.numel() for p in getattr(network, name).parameters()) / 1e6
             for name in ("encoder", "order_head", "restoration_head", "global_expander", "local_expander")}
    assert network.grid == (14, 14) and network.cell_size == 32 and network.encoder.dim == 1024
    assert count == pytest.approx({"encoder": 86.74, "order_head": 0.20, "restoration_head": 3.15,
                                   "global_expander": 142.66, "local_expander": 1.05}, abs=0.01)


def test_expander_layers():
    mlp = expander(8, (16, 16, 4))
    assert [type(m).__name__ for m in mlp] == ["Linear", "LayerNorm", "ReLU"] * 2 + ["Linear"]
    assert mlp[-1].bias is None and mlp(torch.rand(3, 8)).shape == (3, 4)


def test_encoder_needs_whole_cells():
    with pytest.raises(ValueError, match="whole cells of 16 px"):
        SwinTokenEncoder(embed_dim=8, num_heads=(1, 1, 2, 2))(torch.rand(1, 1, 40, 48))
    with pytest.raises(ValueError, match="four stages"):
        SwinTokenEncoder(depths=(2, 2, 2))


def test_token_map_is_the_unit_tokens_on_their_grid():
    torch.manual_seed(0)
    network = PEACNet(**SMALL).eval()
    x = torch.rand(2, 1, 64, 64)
    with torch.no_grad():
        embedding, tokens = PEACTokenMap(network)(x)["embedding"], network(x)["tokens"]
    assert embedding.shape == (2, 64, 4, 4)
    torch.testing.assert_close(embedding.norm(dim=1), torch.ones(2, 4, 4))
    torch.testing.assert_close(embedding[:, :, 1, 2], torch.nn.functional.normalize(tokens[:, 6], dim=-1))
    with torch.no_grad():  # a whole image in whole cells, wider than a training view
        assert PEACTokenMap(network)(torch.rand(1, 1, 64, 96))["embedding"].shape == (1, 64, 4, 6)
