# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
from __future__ import annotations

import pytest
import torch

from ld_monai.networks import (
    LocalDiscriminationNet,
    PEACNet,
    SwinFeatureEncoder,
    TransferSegmentationNet,
    load_pretrained,
)


def test_logits_shape_and_decoder_size_of_the_paper():
    net = TransferSegmentationNet(in_channels=3, out_channels=2)
    assert net(torch.rand(2, 3, 64, 48)).shape == (2, 2, 64, 48)
    decoder = sum(p.numel() for n, p in net.named_parameters() if not n.startswith("encoder."))
    assert decoder == 492_001 + 16 * 9 + 1  # research vgg16_decoder (1 output): 0.492 M; a 2nd 3x3 output adds 145


def test_frozen_encoder_gets_no_gradient_and_keeps_batchnorm_statistics():
    torch.manual_seed(0)
    net = TransferSegmentationNet(in_channels=1, out_channels=1)
    net.freeze_encoder(True)
    net.train()  # what SupervisedTrainer does every iteration
    assert not net.encoder.training and net.decoder.training
    stats = {k: v.clone() for k, v in net.encoder.state_dict().items() if "running" in k}
    net(torch.rand(2, 1, 32, 32)).sum().backward()
    assert all(p.grad is None for p in net.encoder.parameters())
    assert any(p.grad is not None for p in net.head.parameters())
    assert all(torch.equal(stats[k], v) for k, v in net.encoder.state_dict().items() if k in stats)
    net.freeze_encoder(False)
    net.train()
    assert net.encoder.training and all(p.requires_grad for p in net.encoder.parameters())
    net(torch.rand(2, 1, 32, 32)).sum().backward()
    assert all(p.grad is not None for p in net.encoder.parameters())


def test_encoder_weights_transfer_from_a_pretraining_model(tmp_path):
    pretrained = LocalDiscriminationNet(in_channels=3)
    torch.save(pretrained.state_dict(), tmp_path / "model.pt")
    net = TransferSegmentationNet(in_channels=3)
    untouched = load_pretrained(net, tmp_path / "model.pt")
    assert all(not k.startswith("encoder.") for k in untouched)
    for key, value in pretrained.encoder.state_dict().items():
        assert torch.equal(net.encoder.state_dict()[key], value)


def test_a_peac_encoder_export_loads_into_the_swin_segmentation_network_with_the_same_tokens(tmp_path):
    torch.manual_seed(0)
    pretrained = PEACNet(embed_dim=8, depths=(1, 1, 1, 1), num_heads=(1, 1, 2, 2), global_features=(16,),
                         local_features=(8,)).eval()
    torch.save({"encoder": pretrained.encoder.state_dict()}, tmp_path / "encoder.pt")  # as EncoderExporter writes
    net = TransferSegmentationNet(in_channels=1, encoder=SwinFeatureEncoder(embed_dim=8, depths=(1, 1, 1, 1),
                                                                             num_heads=(1, 1, 2, 2))).eval()
    untouched = load_pretrained(net, tmp_path / "encoder.pt")
    assert untouched and all(not k.startswith("encoder.") for k in untouched)
    x = torch.rand(2, 1, 64, 48)
    features = net.encoder(x)
    assert [tuple(f.shape[1:]) for f in features] == [(8, 32, 24), (16, 16, 12), (32, 8, 6), (64, 4, 3), (64, 4, 3)]
    assert net.encoder.out_channels == (8, 16, 32, 64, 64)
    with torch.no_grad():  # the deepest feature is PEAC's token map, cell for cell
        torch.testing.assert_close(features[-1].flatten(2).transpose(1, 2), pretrained.encoder(x))
    assert net(x).shape == (2, 1, 64, 48)
    assert isinstance(TransferSegmentationNet(in_channels=1, encoder="swin").encoder, SwinFeatureEncoder)


def test_weights_load_into_a_data_parallel_wrapper(tmp_path):
    pretrained = LocalDiscriminationNet(in_channels=1)
    torch.save(pretrained.state_dict(), tmp_path / "model.pt")
    wrapped = torch.nn.DataParallel(TransferSegmentationNet(in_channels=1))  # as DistributedDataParallel wraps it
    load_pretrained(wrapped, tmp_path / "model.pt")
    assert torch.equal(wrapped.module.encoder.state_dict()["stages.0.0.conv.weight"],
                       pretrained.encoder.state_dict()["stages.0.0.conv.weight"])


def test_an_rgb_encoder_loads_into_a_green_channel_network_with_summed_kernels(tmp_path):
    """A grey picture (equal channels) gives the RGB encoder's first-layer response to the one-channel network."""
    pretrained = LocalDiscriminationNet(in_channels=3).eval()
    torch.save({"encoder": pretrained.encoder.state_dict()}, tmp_path / "encoder.pt")
    net = TransferSegmentationNet(in_channels=1).eval()
    load_pretrained(net, tmp_path / "encoder.pt")
    grey = torch.rand(1, 1, 16, 16)
    first = (pretrained.encoder.stages[0][0].conv, net.encoder.stages[0][0].conv)
    with torch.no_grad():
        torch.testing.assert_close(first[1](grey), first[0](grey.expand(1, 3, 16, 16)))
    key = "stages.1.0.conv.weight"
    assert torch.equal(net.encoder.state_dict()[key], pretrained.encoder.state_dict()[key])
    state = pretrained.encoder.state_dict()
    state["stages.0.0.conv.weight"] = torch.zeros(16, 2, 3, 3)
    torch.save({"encoder": state}, tmp_path / "two_channels.pt")
    with pytest.raises(ValueError, match="checkpoint shape"):  # other mismatches stay errors
        load_pretrained(TransferSegmentationNet(in_channels=1), tmp_path / "two_channels.pt")


def test_bad_input_raises():
    with pytest.raises(ValueError, match="out_channels"):
        TransferSegmentationNet(out_channels=0)
    with pytest.raises(ValueError, match=r"expected input \(B, 3"):
        TransferSegmentationNet()(torch.rand(1, 1, 32, 32))


def test_padding_mode_reaches_every_convolution_and_hides_the_border():
    """The transfer network pads as its encoder was pretrained: a constant image gives constant logits."""
    torch.manual_seed(0)
    net = TransferSegmentationNet(in_channels=3, padding_mode="reflect").eval()
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d) and m.padding[0]]
    assert convs and all(m.padding_mode == "reflect" for m in convs)
    with torch.no_grad():
        logits = net(torch.full((1, 3, 48, 48), 0.3))
    assert float((logits - logits[..., 24:25, 24:25]).abs().max()) < 1e-5
    with pytest.raises(ValueError, match="padding mode"):
        TransferSegmentationNet(padding_mode="edge")
