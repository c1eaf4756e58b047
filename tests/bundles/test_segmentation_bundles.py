# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""The three segmentation-transfer bundles, each trained for 2 iterations, evaluated and run for inference on
real images (prepared with ``ld_monai.apps.prepare.prepare_dataset`` from ``LD_MONAI_DATA_DIR``)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from monai.bundle import ConfigParser, ckpt_export, run, verify_metadata, verify_net_in_out
from PIL import Image

from ld_monai.apps.prepare import prepare_dataset
from ld_monai.networks import LocalDiscriminationNet

from ..conftest import REPO

BUNDLES = {
    # bundle: (dataset, raw folder, structures)
    "retinal_vessel_segmentation": ("drive", "fundus/DRIVE", ["vessel"]),
    "optic_disc_segmentation": ("drishti_gs1", "fundus/Drishti-GS1", ["disc", "cup"]),
    "lung_segmentation": ("cxr_lungs", "xray/cxr_lungs", ["lung"]),
}
TINY = {"image_size": 64, "batch_size": 2, "frozen_epochs": 1, "fine_epochs": 1, "num_workers": 0, "cache_rate": 0.0}
TASK_KEYS = {"modality", "structures", "mask_key", "_desc_", "compute_auc", "image_size", "frozen_epochs", "fine_epochs"}


def run_config(bundle, files, output_dir, **overrides):
    configs = REPO / "bundles" / bundle / "configs"
    run(
        config_file=[str(configs / f) for f in files],
        meta_file=str(configs / "metadata.json"),
        logging_file=str(configs / "logging.conf"),
        bundle_root=str(REPO / "bundles" / bundle),
        output_dir=str(output_dir),
        **{**TINY, **overrides},
    )


@pytest.mark.parametrize("bundle", sorted(BUNDLES))
def test_train_evaluate_infer_on_real_images(bundle, data_dir, tmp_path):
    dataset, raw, structures = BUNDLES[bundle]
    datalist = prepare_dataset(dataset, data_dir / raw, tmp_path / "data")
    n_train = len(json.loads(datalist.read_text())["training"])
    pretraining = LocalDiscriminationNet(in_channels=1 if dataset == "cxr_lungs" else 3)
    torch.save({"encoder": pretraining.encoder.state_dict()}, tmp_path / "encoder.pt")
    run_dir = tmp_path / "run"
    common = {"datalist_file": str(datalist), "label_fraction": 2 / n_train}  # two images: one iteration per epoch
    run_config(bundle, ["train.json"], run_dir, pretrained_encoder=str(tmp_path / "encoder.pt"), **common)
    checkpoint = torch.load(run_dir / "checkpoints" / "checkpoint_final.pt", weights_only=True)
    assert checkpoint["trainer"]["max_epochs"] == 2 and checkpoint["trainer"]["iteration"] == 2
    assert (run_dir / "checkpoints" / "model.pt").is_file()

    run_config(bundle, ["train.json", "evaluate.json"], run_dir, **common)
    summary = json.loads((run_dir / "eval_test" / "metrics_summary.json").read_text())
    n_test = len(json.loads(datalist.read_text())["test"])
    assert summary["num_images_scored"] == summary["num_images_expected"] == n_test
    assert set(summary["dice"]) == set(structures)
    assert all(0 <= summary["dice"][s]["mean"] <= 1 for s in structures)
    assert ("auc" in summary) == (bundle == "retinal_vessel_segmentation")
    assert len(list((run_dir / "eval_test" / "overlays").glob("*_overlay.png"))) == n_test

    inputs = tmp_path / "inputs"
    inputs.mkdir()
    test_items = json.loads(datalist.read_text())["test"][:2]
    sources = [(datalist.parent / item["image"]).resolve() for item in test_items]
    for source in sources:
        (inputs / source.name).symlink_to(source)
    run_config(bundle, ["train.json", "inference.json"], run_dir, input_dir=str(inputs), **common)
    for source in sources:
        stem = source.name.split(".")[0]
        mask = np.array(Image.open(run_dir / "predictions" / f"{stem}_mask.png"))
        assert mask.shape == np.array(Image.open(source)).shape[:2]  # the input's geometry, not 64 x 64
        assert set(np.unique(mask)) <= {k * (255 // len(structures)) for k in range(len(structures) + 1)}
        assert (run_dir / "predictions" / f"{stem}_mask.nii.gz").is_file()
        assert (run_dir / "predictions" / f"{stem}_overlay.png").is_file()


@pytest.mark.parametrize("bundle", sorted(BUNDLES))
def test_metadata_valid_against_2024_schema(bundle, data_dir):
    schema = data_dir.parent / "monai" / "meta_schema_20240725.json"
    if not schema.is_file():
        pytest.skip(f"schema copy not found at {schema}")
    configs = REPO / "bundles" / bundle / "configs"
    verify_metadata(meta_file=str(configs / "metadata.json"), filepath=str(schema))
    meta = json.loads((configs / "metadata.json").read_text())
    assert meta["version"] in meta["changelog"]
    assert meta["network_data_format"]["outputs"]["pred"]["num_channels"] == len(BUNDLES[bundle][2])


@pytest.mark.parametrize("bundle", sorted(BUNDLES))
def test_network_shapes_verify_and_export_to_torchscript(bundle, tmp_path):
    """MONAI's model-zoo checks: ``verify_net_in_out`` against the metadata, and ``ckpt_export`` (traced; the
    input checks with error messages do not script) to a TorchScript file that computes what the network does."""
    configs = REPO / "bundles" / bundle / "configs"
    files = {"meta_file": str(configs / "metadata.json"), "config_file": str(configs / "train.json")}
    verify_net_in_out(net_id="network_def", **files)
    parser = ConfigParser()
    parser.read_config(files["config_file"])
    network = parser.get_parsed_content("network_def").eval()
    torch.save(network.state_dict(), tmp_path / "model.pt")
    image = json.loads((configs / "metadata.json").read_text())["network_data_format"]["inputs"]["image"]
    ckpt_export(net_id="network_def", filepath=str(tmp_path / "model.ts"), ckpt_file=str(tmp_path / "model.pt"),
                use_trace=True, input_shape=[1, image["num_channels"], *image["spatial_shape"]], **files)
    exported = torch.jit.load(str(tmp_path / "model.ts"))
    x = torch.rand(2, image["num_channels"], 96, 64)  # another batch and size than the trace's
    with torch.no_grad():
        torch.testing.assert_close(exported(x), network(x))


@pytest.mark.parametrize("config", ["train.json", "evaluate.json", "inference.json", "multi_gpu_train.json"])
def test_bundles_differ_only_in_their_task(config):
    """The bundles are self-contained (MONAI bundles ship alone) but must not drift apart: apart from the task
    keys their configs are identical."""
    contents = []
    for bundle in sorted(BUNDLES):
        config_content = json.loads((REPO / "bundles" / bundle / "configs" / config).read_text())
        contents.append({k: v for k, v in config_content.items() if k not in TASK_KEYS})
    assert contents[0] == contents[1] == contents[2]


def test_multi_gpu_config_parses_on_top_of_train():
    parser = ConfigParser()
    configs = REPO / "bundles" / "retinal_vessel_segmentation" / "configs"
    parser.read_config([str(configs / "train.json"), str(configs / "multi_gpu_train.json")])
    assert "DistributedDataParallel" in parser.get("network")
    assert parser.get("train#dataloader#sampler")["_target_"] == "DistributedSampler"
    assert "main_process=dist.get_rank() == 0" in parser.get("train#handlers")
