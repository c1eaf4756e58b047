# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Anatomy probe: how much anatomy do frozen LD features carry, before any fine-tuning?

Local discrimination (Chen et al., arXiv 2108.09440) should learn anatomy without labels. This benchmark fits a
class-balanced logistic regression (:func:`ld_monai.metrics.fit_linear_probe`, L-BFGS, features standardised with
the training statistics) on frozen per-pixel features of training images and scores it as per-image Dice on
held-out images, for LD-pretrained weights and for a randomly initialised network of the same architecture
(seeded), in the same run and on the same sampled pixels. Two kinds of features, from one forward pass
(:class:`ld_monai.networks.HypercolumnEmbedding` with the embedding):

* ``hypercolumn``: the encoder levels (default 0-4: 16+32+64+128+128 = 368 channels), each L2-normalised per
  pixel and bilinearly upsampled to the input size (the headline ``probe_dice``);
* ``embedding``: the 32-D unit LD embedding (``probe_dice_embedding``).

Tasks (the project's preparers, :func:`ld_monai.apps.prepare.prepare_dataset`, write datalists into a temporary
folder; the images go through the transfer bundles' :func:`ld_monai.transforms.segmentation_preprocessing`):

* ``vessel``: DRIVE, official split (fit on training 21-40, score test 01-20), 1st_manual, inside the FOV mask;
  cropped to the field of view and resized to ``image_size`` (512, as transfer);
* ``disc``, ``cup``: Drishti-GS1, official Training (fit) / Test (score), majority (>= 128) of the soft maps,
  two binary probes on one feature pass; FOV crop and ``image_size`` as the optic-disc bundle;
* ``lung``: ``xray/cxr_lungs``, a seeded split by patient id (``split_fraction`` of the patients scored, the
  others fit), ``xray_image_size`` (256, as the lung bundle). With ``--xray_checkpoint`` (in_channels=1) the X-ray
  networks see the radiograph as the lung bundle does (mean 0.5, std 0.5); otherwise the grayscale radiograph in
  [0, 1] is replicated to 3 channels, ImageNet-normalised and fed to the fundus networks (printed and recorded in
  ``settings["lung_input"]``).

Training pixels: ``pixels`` per task, split evenly over the training images and drawn right after each
image's features are computed (:func:`ld_monai.metrics.sample_probe_pixels`: half foreground when there is
enough, inside the FOV for vessels); test images are scored one at a time, so only one feature map (400 x 512 x
512 float32, 0.4 GB) lives at once. Prints a Markdown table (mean ± std over test images, std with ddof=0) and,
with ``--json``, writes ``{"probe_dice": {task: {"random", "ld"}}, "probe_dice_embedding": ..., "per_image":
..., "settings": ..., "command": ...}``.

    python benchmarks/embedding_probe.py --checkpoint runs/ld_fundus/checkpoints/model.pt \\
        --data_dir ../shared/data --json docs/results/anatomy_probe.json

Other scripts: ``measure(checkpoint, xray_checkpoint=None, tasks=(...), ...) -> dict`` (import this file with
``importlib.util.spec_from_file_location``).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shlex
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from monai.transforms import Compose

from ld_monai.apps.prepare import prepare_dataset
from ld_monai.apps.prepare.common import split_off
from ld_monai.metrics import dice_per_image, fit_linear_probe, sample_probe_pixels
from ld_monai.networks import HypercolumnEmbedding, LocalDiscriminationNet, load_pretrained
from ld_monai.transforms import segmentation_preprocessing
from ld_monai.transforms import IMAGENET_MEAN, IMAGENET_STD
from ld_monai.utils import atomic_write_json

TASKS = ("vessel", "disc", "cup", "lung")
FEATURES = ("hypercolumn", "embedding")
#: dataset -> (preparer name, folder below the data root, structures, FOV mask key, modality)
DATASETS = {
    "drive": ("drive", "fundus/DRIVE", ("vessel",), "mask", "fundus"),
    "drishti": ("drishti_gs1", "fundus/Drishti-GS1", ("disc", "cup"), None, "fundus"),
    "cxr": ("cxr_lungs", "xray/cxr_lungs", ("lung",), None, "xray"),
}


def build_network(in_channels: int, padding_mode: str = "zeros") -> LocalDiscriminationNet:
    """The one place networks are made, with the padding the checkpoint was trained with (not in its state dict)."""
    return LocalDiscriminationNet(in_channels=in_channels, padding_mode=padding_mode)


def probe_networks(
    checkpoints: Mapping[str, str], in_channels: int, seed: int, padding_mode: str, levels: Sequence[int]
) -> tuple[dict, dict[str, list[str]]]:
    """``({"random": hypercolumn module, name: ... per checkpoint}, {name: keys not in its checkpoint})``.

    Every network is built after the same ``torch.manual_seed(seed)``, so keys missing from a checkpoint keep the
    random network's values.
    """
    nets, untouched = {}, {}
    for name, checkpoint in {"random": None, **checkpoints}.items():
        torch.manual_seed(seed)
        net = build_network(in_channels, padding_mode)
        if checkpoint is not None:
            untouched[name] = load_pretrained(net, checkpoint)
        nets[name] = HypercolumnEmbedding(net.eval(), levels, include_embedding=True).eval()
    return nets, untouched


def gray_to_fundus_input(image: torch.Tensor) -> torch.Tensor:
    """A radiograph normalised for the X-ray network (mean 0.5, std 0.5; (1, H, W)) -> the grayscale in [0, 1]
    replicated to 3 channels and ImageNet-normalised like a fundus photograph (3, H, W)."""
    gray = image * 0.5 + 0.5
    mean = torch.tensor(IMAGENET_MEAN, dtype=image.dtype).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD, dtype=image.dtype).view(3, 1, 1)
    return (gray.expand(3, -1, -1) - mean) / std


def _plain(x) -> torch.Tensor:
    """A MetaTensor's plain tensor (no meta tracking in the probe's arithmetic)."""
    return x.as_tensor() if hasattr(x, "as_tensor") else torch.as_tensor(x)


def _resolve(entries: list[dict], folder: Path) -> list[dict]:
    return [{k: (v if k == "name" else str(folder / v)) for k, v in e.items()} for e in entries]


def load_split(dataset: str, root: Path, work: Path, seed: int, split_fraction: float) -> tuple[list, list, dict]:
    """(fit items, score items, split info) of a dataset, through the project's preparer."""
    preparer, _, _, _, _ = DATASETS[dataset]
    out = work / dataset
    datalist_file = prepare_dataset(preparer, root, out, seed=0, val_fraction=0.0)
    datalist = json.loads(datalist_file.read_text())
    train = _resolve(datalist["training"] + datalist["validation"], out)
    test = _resolve(datalist["test"], out)
    if dataset != "cxr":
        return train, test, {"split": datalist["split_note"].split(";")[0]}
    with open(root / "index.csv", newline="", encoding="utf-8") as f:
        patient = {row["stem"]: row["patientid"] for row in csv.DictReader(f)}
    train, test = split_off(train + test, split_fraction, seed, group=lambda e: patient[e["name"]])
    train_patients = sorted({patient[e["name"]] for e in train})
    test_patients = sorted({patient[e["name"]] for e in test})
    if set(train_patients) & set(test_patients):  # split_off splits by group; never let a patient leak
        raise RuntimeError(f"patients in both parts: {sorted(set(train_patients) & set(test_patients))}")
    info = {"split": f"by patientid: seeded (numpy RandomState({seed})) {split_fraction:.0%} of the patients "
                     "scored, the others fit", "fit_patients": train_patients, "score_patients": test_patients}
    return sorted(train, key=lambda e: e["name"]), sorted(test, key=lambda e: e["name"]), info


@torch.no_grad()
def probe_dataset(
    nets: dict,
    structures: Sequence[str],
    train: list[dict],
    test: list[dict],
    transform: Callable,
    to_input: Callable[[torch.Tensor], torch.Tensor],
    mask_key: str | None,
    pixels: int,
    seed: int,
    log: Callable[[str], None],
) -> dict:
    """Fit the probes of ``structures`` on ``train`` and score them on ``test``, for every network and feature.

    Returns ``{structure: {"names": [...], network: {feature: [Dice per test image]}}}``.
    """
    g = torch.Generator().manual_seed(seed)
    per_image = max(1, pixels // len(train))
    xs = {n: {s: [] for s in structures} for n in nets}
    ys = {s: [] for s in structures}
    start = time.time()
    for i, item in enumerate(train):
        data = transform(item)
        label = _plain(data["label"]) > 0.5
        mask = None if mask_key is None else _plain(data[mask_key])[0] > 0.5
        idx = {s: sample_probe_pixels(label[k], per_image, g, mask) for k, s in enumerate(structures)}
        image = to_input(_plain(data["image"]))[None]
        for name, net in nets.items():
            features = net(image)[0].flatten(1)
            for s in structures:
                xs[name][s].append(features[:, idx[s]].T.contiguous())
            del features
        for k, s in enumerate(structures):
            ys[s].append(label[k].flatten()[idx[s]])
        if (i + 1) % 10 == 0:
            log(f"  fit images {i + 1}/{len(train)} ({time.time() - start:.0f} s)")
    # HypercolumnEmbedding stacks the levels, then the embedding (last D channels); its common 1/sqrt(parts) scale
    # does not matter: the probe standardises every channel.
    dim = next(iter(nets.values())).network.embedding_dim
    columns = {"hypercolumn": slice(0, -dim), "embedding": slice(-dim, None)}
    probes = {
        n: {s: {f: fit_linear_probe(torch.cat(xs[n][s])[:, c], torch.cat(ys[s])) for f, c in columns.items()}
            for s in structures}
        for n in nets
    }
    del xs
    log(f"  probes fitted ({time.time() - start:.0f} s)")
    result = {s: {"names": [], **{n: {f: [] for f in columns} for n in nets}} for s in structures}
    for i, item in enumerate(test):
        data = transform(item)
        label = _plain(data["label"]) > 0.5
        mask = None if mask_key is None else (_plain(data[mask_key]) > 0.5)[None]
        image = to_input(_plain(data["image"]))[None]
        for s in structures:
            result[s]["names"].append(item["name"])
        for name, net in nets.items():
            features = net(image)[0]
            for k, s in enumerate(structures):
                for f, c in columns.items():
                    pred = probes[name][s][f].predict(features[c], channel_dim=0)
                    dice = dice_per_image(pred[None, None], label[k][None, None], mask)
                    result[s][name][f].append(float(dice))
            del features
        if (i + 1) % 10 == 0:
            log(f"  scored images {i + 1}/{len(test)} ({time.time() - start:.0f} s)")
    return result


def measure(
    checkpoint: str | Mapping[str, str],
    xray_checkpoint: str | None = None,
    tasks: Sequence[str] = TASKS,
    data_dir: str | None = None,
    image_size: int = 512,
    xray_image_size: int = 256,
    pixels: int = 50000,
    levels: Sequence[int] = (0, 1, 2, 3, 4),
    max_images: int | None = None,
    split_fraction: float = 0.5,
    seed: int = 0,
    padding_mode: str = "zeros",
    log: Callable[[str], None] = print,
) -> dict:
    """Run the anatomy probe; returns ``{"probe_dice", "probe_dice_embedding", "probe_dice_std",
    "probe_dice_embedding_std", "per_image", "settings"}`` (see the module docstring).

    Args:
        checkpoint: LD weights of the fundus network (in_channels=3): a ``model.pt`` or a training checkpoint, named
            ``"ld"`` in the results; or ``{name: path}`` to probe several (e.g. the checkpoints of one run) against
            one random network in one pass over the data.
        xray_checkpoint: LD weights of an X-ray network (in_channels=1) for the lung task; without it the lung task
            feeds grayscale radiographs replicated to 3 channels into the fundus network.
        tasks: any of ``vessel``, ``disc``, ``cup``, ``lung`` (disc and cup share one feature pass).
        data_dir: the shared data root (default ``$LD_MONAI_DATA_DIR``).
        image_size, xray_image_size: square input sizes of the fundus and X-ray tasks.
        pixels: training pixels per task (split evenly over the training images).
        levels: encoder levels of the hypercolumn.
        max_images: at most this many fit and score images per dataset (first in name order), for quick runs.
        split_fraction: fraction of the cxr_lungs patients scored (the others fit).
        seed: seeds the random network, the pixel samples and the patient split.
        padding_mode: the padding of both networks (the LD checkpoint's; a state dict does not record it).
    """
    checkpoints = {"ld": checkpoint} if isinstance(checkpoint, (str, os.PathLike)) else dict(checkpoint)
    if not checkpoints or "random" in checkpoints:
        raise ValueError(f"name the LD checkpoints anything but 'random', got {list(checkpoints)}.")
    if xray_checkpoint is not None and list(checkpoints) != ["ld"]:
        raise ValueError("xray_checkpoint needs a single fundus checkpoint.")
    tasks = tuple(dict.fromkeys(tasks))
    unknown = set(tasks) - set(TASKS)
    if unknown or not tasks:
        raise ValueError(f"tasks must be among {TASKS}, got {list(tasks)}.")
    root = Path(data_dir or os.environ.get("LD_MONAI_DATA_DIR") or "")
    if not str(root) or not root.is_dir():
        raise FileNotFoundError(f"data root {str(root)!r} not found: pass data_dir or set LD_MONAI_DATA_DIR.")
    levels = tuple(int(level) for level in levels)
    if not levels:
        raise ValueError("give at least one encoder level for the hypercolumn.")
    settings: dict = {
        "checkpoint": {name: str(path) for name, path in checkpoints.items()},
        "xray_checkpoint": None if xray_checkpoint is None else str(xray_checkpoint),
        "tasks": list(tasks), "image_size": image_size, "xray_image_size": xray_image_size, "pixels_per_task": pixels,
        "levels": list(levels), "max_images": max_images, "split_fraction": split_fraction, "seed": seed,
        "padding_mode": padding_mode, "probe": "class-balanced logistic regression, L-BFGS max_iter 200, "
        "weight_decay 1e-4, features standardised with the training sample's statistics",
        "std": "over test images, ddof=0", "datasets": {}, "seconds": {}, "torch_threads": torch.get_num_threads(),
    }
    per_image: dict = {}
    total_start = time.time()
    fundus_nets, untouched = probe_networks(checkpoints, 3, seed, padding_mode, levels)
    settings["ld_keys_not_in_checkpoint"] = {name: len(keys) for name, keys in untouched.items()}
    for name, keys in untouched.items():
        if keys:
            log(f"warning: {len(keys)} keys of the LD network are not in {checkpoints[name]} (e.g. {keys[0]}): "
                "they keep their seeded random values.")
    with tempfile.TemporaryDirectory(prefix="anatomy_probe_") as tmp:
        for dataset, (_, folder, structures, mask_key, modality) in DATASETS.items():
            wanted = [s for s in structures if s in tasks]
            if not wanted:
                continue
            start = time.time()
            train, test, info = load_split(dataset, root / folder, Path(tmp), seed, split_fraction)
            if max_images:
                train, test = train[:max_images], test[:max_images]
            size = image_size if modality == "fundus" else xray_image_size
            # area resize, as LD pretraining sees its images (and as the recorded figures were measured)
            transform = Compose(segmentation_preprocessing(modality, structures, mask_key, size, empty_labels="allow",
                                                           image_resize="area"))
            nets, to_input = fundus_nets, (lambda image: image)
            if modality == "xray":
                if xray_checkpoint is not None:
                    nets, xray_untouched = probe_networks({"ld": xray_checkpoint}, 1, seed, padding_mode, levels)
                    settings["lung_input"] = "1-channel radiograph (mean 0.5, std 0.5) into the X-ray networks"
                    settings["xray_ld_keys_not_in_checkpoint"] = len(xray_untouched["ld"])
                else:
                    to_input = gray_to_fundus_input
                    settings["lung_input"] = ("grayscale radiograph replicated to 3 channels, ImageNet-normalised, "
                                              "into the fundus networks (no --xray_checkpoint)")
                log(f"lung input: {settings['lung_input']}")
            log(f"{dataset}: {len(train)} fit / {len(test)} score images at {size} px; {info['split']}")
            settings["datasets"][dataset] = {"fit_images": len(train), "score_images": len(test),
                                             "image_size": size, **info}
            result = probe_dataset(nets, structures, train, test, transform, to_input, mask_key, pixels, seed, log)
            per_image.update({s: result[s] for s in wanted})
            settings["seconds"][dataset] = round(time.time() - start, 1)
    settings["seconds"]["total"] = round(time.time() - total_start, 1)
    ordered = [t for t in TASKS if t in tasks]
    names = list(fundus_nets)
    out = {
        "probe_dice": {t: {n: float(np.mean(per_image[t][n]["hypercolumn"])) for n in names} for t in ordered},
        "probe_dice_embedding": {t: {n: float(np.mean(per_image[t][n]["embedding"])) for n in names}
                                 for t in ordered},
        "probe_dice_std": {t: {n: float(np.std(per_image[t][n]["hypercolumn"])) for n in names} for t in ordered},
        "probe_dice_embedding_std": {t: {n: float(np.std(per_image[t][n]["embedding"])) for n in names}
                                     for t in ordered},
        "per_image": {t: per_image[t] for t in ordered},
        "settings": settings,
    }
    return out


def markdown_table(result: dict) -> str:
    """Task x {random, LD ...} x {hypercolumn, embedding}: mean ± std Dice over the test images."""
    names = [n for n in next(iter(result["per_image"].values())) if n != "names"]
    header = [f"{n}, {f}" for f in FEATURES for n in names]
    lines = ["| task | test images | " + " | ".join(header) + " |", "|---|---|" + "---|" * len(header)]
    for task, scores in result["per_image"].items():
        cells = [f"{np.mean(scores[n][f]):.3f} ± {np.std(scores[n][f]):.3f}" for f in FEATURES for n in names]
        lines.append(f"| {task} | {len(scores['names'])} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", required=True, help="LD fundus model.pt (or a checkpoint with 'model')")
    parser.add_argument("--xray_checkpoint", default=None, help="LD X-ray model.pt (in_channels=1) for the lung task")
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    parser.add_argument("--data_dir", default=None, help="shared data root (default $LD_MONAI_DATA_DIR)")
    parser.add_argument("--image_size", type=int, default=512, help="fundus tasks (transfer: 512)")
    parser.add_argument("--xray_image_size", type=int, default=256, help="lung task (lung bundle: 256)")
    parser.add_argument("--pixels", type=int, default=50000, help="training pixels per task")
    parser.add_argument("--levels", type=int, nargs="+", default=[0, 1, 2, 3, 4], help="encoder levels")
    parser.add_argument("--max_images", type=int, default=None, help="cap fit and score images per dataset")
    parser.add_argument("--split_fraction", type=float, default=0.5, help="cxr_lungs: fraction of patients scored")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--padding_mode", default="zeros", choices=["zeros", "reflect", "replicate"])
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: torch's choice); 1 is ~3x faster while another job loads the CPU")
    parser.add_argument("--json", default=None, help="write the results here")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    command = shlex.join(["python", *sys.argv])
    result = measure(args.checkpoint, args.xray_checkpoint, args.tasks, args.data_dir, args.image_size,
                     args.xray_image_size, args.pixels, args.levels, args.max_images, args.split_fraction, args.seed,
                     args.padding_mode, log=lambda line: print(line, flush=True))
    result["command"] = command
    table = markdown_table(result)
    seconds = result["settings"]["seconds"]["total"]
    print(f"\nAnatomy probe (per-image Dice on held-out images, mean ± std), {seconds:.0f} s\n\n{table}")
    if "lung_input" in result["settings"]:
        print(f"\nlung: {result['settings']['lung_input']}")
    if args.json:
        path = atomic_write_json(args.json, result)
        print(f"\nresults: {path}")


if __name__ == "__main__":
    main()
