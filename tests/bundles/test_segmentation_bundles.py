# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""The three segmentation-transfer bundles, exported from their family as standalone bundles, each trained for 2
iterations, evaluated and run for inference (``inference.json`` alone) on real images (prepared with
``ld_monai.apps.prepare.prepare_dataset`` from ``LD_MONAI_DATA_DIR``)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from monai.bundle import ConfigParser, ConfigWorkflow, ckpt_export, run, verify_metadata, verify_net_in_out
from PIL import Image

from ld_monai.apps.bundles import bundle_configs, export_bundle
from ld_monai.apps.prepare import prepare_dataset
from ld_monai.inferers import StructureCropInferer
from ld_monai.networks import LocalDiscriminationNet, TransferSegmentationNet

from ..conftest import REPO

BUNDLES = {
    # bundle: (dataset, raw folder, structures)
    "retinal_vessel_segmentation": ("drive", "fundus/DRIVE", ["vessel"]),
    "optic_disc_segmentation": ("drishti_gs1", "fundus/Drishti-GS1", ["disc", "cup"]),
    "lung_segmentation": ("cxr_lungs", "xray/cxr_lungs", ["lung"]),
}
TINY = {"image_size": 64, "batch_size": 2, "frozen_epochs": 1, "fine_epochs": 1, "num_workers": 0, "cache_rate": 0.0}


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> dict[str, Path]:
    """Every segmentation bundle as ``ld-monai bundle export`` writes it."""
    folder = tmp_path_factory.mktemp("bundles")
    return {bundle: export_bundle(bundle, folder) for bundle in BUNDLES}


def run_config(bundle_dir: Path, files, output_dir, **overrides):
    configs = bundle_dir / "configs"
    run(
        config_file=[str(configs / f) for f in files],
        meta_file=str(configs / "metadata.json"),
        logging_file=str(configs / "logging.conf"),
        bundle_root=str(bundle_dir),
        output_dir=str(output_dir),
        **{**TINY, **overrides},
    )


@pytest.mark.parametrize("bundle", sorted(BUNDLES))
def test_train_evaluate_infer_on_real_images(bundle, exported, data_dir, tmp_path):
    dataset, raw, structures = BUNDLES[bundle]
    datalist = prepare_dataset(dataset, data_dir / raw, tmp_path / "data")
    n_train = len(json.loads(datalist.read_text())["training"])
    pretraining = LocalDiscriminationNet(in_channels=1 if dataset == "cxr_lungs" else 3)
    torch.save({"encoder": pretraining.encoder.state_dict()}, tmp_path / "encoder.pt")
    run_dir = tmp_path / "run"
    common = {"datalist_file": str(datalist), "label_fraction": 2 / n_train}  # two images: one iteration per epoch
    if bundle == "retinal_vessel_segmentation":  # its recipe trains on patches; test-time flips as an option
        common.update(patch_size=32, test_time_flips=True)
    run_config(exported[bundle], ["train.json"], run_dir, pretrained_encoder=str(tmp_path / "encoder.pt"), **common)
    checkpoint = torch.load(run_dir / "checkpoints" / "checkpoint_final.pt", weights_only=True)
    assert checkpoint["trainer"]["max_epochs"] == 2 and checkpoint["trainer"]["iteration"] == 2
    assert (run_dir / "checkpoints" / "model.pt").is_file()

    run_config(exported[bundle], ["train.json", "evaluate.json"], run_dir, **common)
    summary = json.loads((run_dir / "eval_test" / "metrics_summary.json").read_text())
    n_test = len(json.loads(datalist.read_text())["test"])
    assert summary["num_images_scored"] == summary["num_images_expected"] == n_test
    assert set(summary["dice"]) == set(structures)
    assert all(0 <= summary["dice"][s]["mean"] <= 1 for s in structures)
    assert ("auc" in summary) == (bundle == "retinal_vessel_segmentation")
    assert len(list((run_dir / "eval_test" / "overlays").glob("*_overlay.png"))) == n_test
    native = json.loads((run_dir / "eval_test" / "native" / "metrics_summary.json").read_text())
    assert native["num_images_scored"] == n_test and set(native["dice"]) == set(structures)  # the image's own size
    assert ("auc" in native) == (bundle == "retinal_vessel_segmentation")

    inputs = tmp_path / "inputs"
    inputs.mkdir()
    test_items = json.loads(datalist.read_text())["test"][:2]
    sources = [(datalist.parent / item["image"]).resolve() for item in test_items]
    for source in sources:
        (inputs / source.name).symlink_to(source)
    run_config(exported[bundle], ["inference.json"], run_dir, dataset_dir=str(inputs))  # runs alone
    for source in sources:
        stem = source.name.split(".")[0]
        mask = np.array(Image.open(run_dir / "predictions" / f"{stem}_mask.png"))
        assert mask.shape == np.array(Image.open(source)).shape[:2]  # the input's geometry, not 64 x 64
        assert set(np.unique(mask)) <= {k * (255 // len(structures)) for k in range(len(structures) + 1)}
        assert (run_dir / "predictions" / f"{stem}_mask.nii.gz").is_file()
        assert (run_dir / "predictions" / f"{stem}_overlay.png").is_file()


@pytest.mark.parametrize("bundle", sorted(BUNDLES))
def test_metadata_valid_against_2024_schema(bundle, exported, data_dir):
    schema = data_dir.parent / "monai" / "meta_schema_20240725.json"
    if not schema.is_file():
        pytest.skip(f"schema copy not found at {schema}")
    configs = exported[bundle] / "configs"
    verify_metadata(meta_file=str(configs / "metadata.json"), filepath=str(schema))
    meta = json.loads((configs / "metadata.json").read_text())
    assert meta["version"] in meta["changelog"]
    assert meta["network_data_format"]["outputs"]["pred"]["num_channels"] == len(BUNDLES[bundle][2])


@pytest.mark.parametrize("bundle", sorted(BUNDLES))
def test_network_shapes_verify_and_export_to_torchscript(bundle, exported, tmp_path):
    """MONAI's model-zoo checks: ``verify_net_in_out`` against the metadata, and ``ckpt_export`` (traced; the
    input checks with error messages do not script) to a TorchScript file that computes what the network does."""
    configs = exported[bundle] / "configs"
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


@pytest.mark.parametrize("bundle", sorted(BUNDLES))
def test_inference_runs_alone_with_the_model_zoo_properties(bundle, exported, data_dir):
    """``inference.json`` is a complete MONAI ``infer`` workflow on its own (no train.json under it)."""
    dataset, raw, _ = BUNDLES[bundle]
    configs = exported[bundle] / "configs"
    workflow = ConfigWorkflow(config_file=str(configs / "inference.json"), meta_file=str(configs / "metadata.json"),
                              logging_file=False, workflow_type="infer", bundle_root=str(exported[bundle]),
                              dataset_dir=str(data_dir / raw))
    workflow.initialize()
    assert workflow.check_properties() == []
    assert len(workflow.dataset) > 0
    assert "train" not in workflow.parser.config and "optimizer" not in workflow.parser.config


def test_configs_are_composed_from_the_family():
    """Each bundle's task keys land in the configs that use them; what is not a task key is the family's."""
    vessel, lung = bundle_configs("retinal_vessel_segmentation"), bundle_configs("lung_segmentation")
    assert vessel["train.json"]["structures"] == ["vessel"] and lung["train.json"]["modality"] == "xray"
    assert vessel["evaluate.json"]["compute_auc"] is True and "compute_auc" not in vessel["train.json"]
    assert "frozen_epochs" not in vessel["inference.json"] and vessel["inference.json"]["image_size"] == 576
    assert "structures" not in vessel["evaluate.json"]  # train.json, under it, carries them
    for config in ("train.json", "inference.json", "multi_gpu_train.json"):
        task_keys = {"modality", "structures", "mask_key", "image_size", "frozen_epochs", "fine_epochs", "compute_auc",
                     "keep_components", "fill_holes", "inside", "patch_size", "patches_per_image", "batch_size",
                     "val_interval", "lr_schedule", "fundus_contrast", "intensity_augmentation"}
        assert {k: v for k, v in vessel[config].items() if k not in task_keys} == \
            {k: v for k, v in lung[config].items() if k not in task_keys}
    meta = lung["metadata.json"]
    assert meta["network_data_format"]["inputs"]["image"]["num_channels"] == 1
    assert meta["network_data_format"]["outputs"]["pred"]["spatial_shape"] == [256, 256]
    assert meta["references"][0].startswith("Chen H.") and len(meta["references"]) == 3
    assert "input_by_modality" not in meta and meta["required_packages_version"]["python-gdcm"]


def test_a_task_key_nothing_uses_is_refused(tmp_path, monkeypatch):
    root = tmp_path / "bundles"
    shutil.copytree(REPO / "bundle_families", tmp_path / "bundle_families")
    shutil.copytree(REPO / "bundles" / "lung_segmentation", root / "lung_segmentation")
    task = json.loads((root / "lung_segmentation" / "configs" / "task.json").read_text())
    (root / "lung_segmentation" / "configs" / "task.json").write_text(json.dumps({**task, "imag_size": 128}))
    monkeypatch.setattr("ld_monai.apps.bundles.bundles_root", lambda: root)
    with pytest.raises(ValueError, match="'imag_size' is used by no config"):
        bundle_configs("lung_segmentation")


def test_a_green_channel_task_has_a_one_channel_network_and_metadata(tmp_path, monkeypatch):
    """``fundus_contrast`` "green_clahe" in a task: the network takes one channel, the metadata says so, and the
    preprocessing of train.json feeds it one channel."""
    root = tmp_path / "bundles"
    shutil.copytree(REPO / "bundle_families", tmp_path / "bundle_families")
    shutil.copytree(REPO / "bundles" / "retinal_vessel_segmentation", root / "retinal_vessel_segmentation")
    task_file = root / "retinal_vessel_segmentation" / "configs" / "task.json"
    task_file.write_text(json.dumps({**json.loads(task_file.read_text()), "fundus_contrast": "green_clahe"}))
    monkeypatch.setattr("ld_monai.apps.bundles.bundles_root", lambda: root)
    configs = bundle_configs("retinal_vessel_segmentation")
    image = configs["metadata.json"]["network_data_format"]["inputs"]["image"]
    assert image["num_channels"] == 1 and image["channel_def"] == {"0": "G"}
    parser = ConfigParser(configs["train.json"])
    assert parser.get_parsed_content("network_def").encoder.in_channels == 1
    names = [type(t).__name__ for t in parser.get_parsed_content("preprocessing")]
    assert "FundusContrastd" in names and names.index("FundusContrastd") < names.index("Resized")


def test_hand_maintained_configs_are_at_most_half_of_the_copies():
    """The issue's figure: the three bundles' configs were 1,147 lines as copies (issue 16)."""
    files = list((REPO / "bundle_families" / "segmentation" / "configs").glob("*.json"))
    files += [p for bundle in BUNDLES for p in (REPO / "bundles" / bundle / "configs").glob("*.json")]
    assert sum(len(p.read_text().splitlines()) for p in files) <= 1147 // 2


def test_learning_rate_schedules(exported):
    """``lr_schedule`` "poly" (the vessel recipe) decays the rate by epoch to 0 at the end; "constant" keeps it."""
    configs = exported["retinal_vessel_segmentation"] / "configs"
    rates = {}
    for schedule in ("poly", "constant"):
        parser = ConfigParser()
        parser.read_config(str(configs / "train.json"))
        parser.update({"lr_schedule": schedule, "fine_epochs": 4, "pretrained_encoder": None})
        scheduler = parser.get_parsed_content("lr_scheduler")
        rates[schedule] = []
        for _ in range(4):
            rates[schedule].append(scheduler.get_last_lr()[0])
            scheduler.step()
        rates[schedule].append(scheduler.get_last_lr()[0])
    expected = [1e-3 * (1 - epoch / 4) ** 0.9 for epoch in range(5)]
    assert rates["poly"] == pytest.approx(expected) and rates["constant"] == [1e-3] * 5


def test_multi_gpu_config_parses_on_top_of_train(exported):
    parser = ConfigParser()
    configs = exported["retinal_vessel_segmentation"] / "configs"
    parser.read_config([str(configs / "train.json"), str(configs / "multi_gpu_train.json")])
    assert "DistributedDataParallel" in parser.get("network")
    assert parser.get("train#dataloader#sampler")["_target_"] == "DistributedSampler"
    assert "dist.get_rank() == 0" in parser.get("train#attach_handlers")
    assert parser.get("train#best_frozen_model") is None


def test_two_stage_disc_and_cup_on_real_images(exported, data_dir, tmp_path):
    """``locator_checkpoint``: training sees squares around the labelled disc at ``roi_size``, validation, evaluation
    and inference the squares around the locator's disc, scored and written in the input's geometry."""
    datalist = prepare_dataset("drishti_gs1", data_dir / "fundus/Drishti-GS1", tmp_path / "data")
    n_train = len(json.loads(datalist.read_text())["training"])
    locator = TransferSegmentationNet(in_channels=3, out_channels=2)
    torch.save(locator.state_dict(), tmp_path / "locator.pt")
    bundle, run_dir = exported["optic_disc_segmentation"], tmp_path / "run"
    two_stage = {"datalist_file": str(datalist), "label_fraction": 2 / n_train, "image_size": 96, "roi_size": 32,
                 "locator_image_size": 64, "locator_checkpoint": str(tmp_path / "locator.pt")}
    parser = ConfigParser()
    parser.read_config(str(bundle / "configs" / "train.json"))
    parser.update({**TINY, **two_stage, "output_dir": str(run_dir)})
    sample = parser.get_parsed_content("train#dataset")[0]
    assert sample["image"].shape == (3, 32, 32) and sample["label"].shape == (2, 32, 32)
    inferer = parser.get_parsed_content("inferer")
    assert isinstance(inferer, StructureCropInferer) and inferer.channel == 0  # around the disc
    for name, value in locator.state_dict().items():
        torch.testing.assert_close(inferer.locator.state_dict()[name].cpu(), value)

    run_config(bundle, ["train.json"], run_dir, **two_stage)
    run_config(bundle, ["train.json", "evaluate.json"], run_dir, **two_stage)
    n_test = len(json.loads(datalist.read_text())["test"])
    native = json.loads((run_dir / "eval_test" / "native" / "metrics_summary.json").read_text())
    assert native["num_images_scored"] == n_test and set(native["dice"]) == {"disc", "cup"}
