# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""How much vessel information do LD's embeddings and clusters carry, before any fine-tuning?

On DRIVE (official split, 1st manual, inside the field of view) this compares LD-pretrained weights with a
randomly initialised network of the same architecture, in the same run:

* linear probe: a logistic regression on the frozen per-pixel embedding (D=32), fitted on pixels of the
  training images, evaluated as per-image Dice on the test images;
* cluster probe: the single cluster whose argmax map best overlaps the vessels on the training images,
  evaluated as per-image Dice on the test images (the unsupervised "vessel cluster").

    python benchmarks/embedding_probe.py --checkpoint runs/drive/checkpoints/model.pt \\
        --drive ../shared/data/fundus/DRIVE --image_size 288
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import torch
from monai.transforms import (
    Compose,
    EnsureTyped,
    LoadImaged,
    NormalizeIntensityd,
    Resized,
    ScaleIntensityRanged,
)

from ld_monai.networks import LocalDiscriminationNet, load_pretrained
from ld_monai.transforms import FundusFieldOfViewCropd

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def drive_items(root: Path, split: str) -> list[dict]:
    folder = root / split
    items = []
    for image in sorted((folder / "images").glob("*.tif")):
        number = image.name.split("_")[0]
        items.append(
            {
                "image": str(image),
                "label": str(folder / "1st_manual" / f"{number}_manual1.gif"),
                "mask": str(folder / "mask" / f"{number}_{split}_mask.gif"),
            }
        )
    if not items:
        raise FileNotFoundError(f"no DRIVE images under {folder / 'images'}")
    return items


def preprocessing(image_size: int) -> Compose:
    keys = ["image", "label", "mask"]
    return Compose(
        [
            LoadImaged(keys, reader="PILReader", reverse_indexing=False, image_only=True, ensure_channel_first=True),
            FundusFieldOfViewCropd(keys, source_key="image"),
            ScaleIntensityRanged(["image", "label", "mask"], a_min=0, a_max=255, b_min=0, b_max=1, clip=True),
            Resized(keys, spatial_size=(image_size, image_size), mode=("area", "nearest", "nearest")),
            NormalizeIntensityd("image", subtrahend=MEAN, divisor=STD, channel_wise=True),
            EnsureTyped(keys, dtype=torch.float32, track_meta=False),
        ]
    )


@torch.no_grad()
def features(net: LocalDiscriminationNet, items: list[dict], transform: Compose) -> list[dict]:
    net.eval()
    out = []
    for item in items:
        data = transform(item)
        pred = net(data["image"][None])
        out.append(
            {
                "embedding": pred["embedding"][0],
                "clusters": pred["assignment"][0].argmax(0),
                "label": data["label"][0] > 0.5,
                "mask": data["mask"][0] > 0.5,
            }
        )
    return out


def dice(pred: torch.Tensor, label: torch.Tensor) -> float:
    inter = (pred & label).sum().item()
    total = pred.sum().item() + label.sum().item()
    return 2 * inter / total if total else 1.0


def linear_probe(train: list[dict], test: list[dict], pixels: int, seed: int) -> list[float]:
    g = torch.Generator().manual_seed(seed)
    xs, ys = [], []
    for f in train:
        idx = f["mask"].flatten().nonzero()[:, 0]
        idx = idx[torch.randperm(len(idx), generator=g)[: pixels // len(train)]]
        xs.append(f["embedding"].flatten(1)[:, idx].T)
        ys.append(f["label"].flatten()[idx].float())
    x, y = torch.cat(xs), torch.cat(ys)
    weight = torch.zeros(x.shape[1], requires_grad=True)
    bias = torch.zeros(1, requires_grad=True)
    pos_weight = (1 - y.mean()) / y.mean()  # vessels are ~12% of the FOV: balance the classes
    opt = torch.optim.LBFGS([weight, bias], max_iter=200, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(x @ weight + bias, y, pos_weight=pos_weight)
        loss = loss + 1e-4 * weight.square().sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        return [
            dice((torch.einsum("dhw,d->hw", f["embedding"], weight) + bias > 0) & f["mask"], f["label"] & f["mask"])
            for f in test
        ]


def cluster_probe(train: list[dict], test: list[dict], num_clusters: int) -> tuple[int, list[float]]:
    scores = [statistics.mean(dice((f["clusters"] == m) & f["mask"], f["label"] & f["mask"]) for f in train) for m in range(num_clusters)]
    best = max(range(num_clusters), key=scores.__getitem__)
    return best, [dice((f["clusters"] == best) & f["mask"], f["label"] & f["mask"]) for f in test]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", required=True, help="LD model.pt (or a checkpoint with 'model')")
    parser.add_argument("--drive", required=True, help="DRIVE root with training/ and test/")
    parser.add_argument("--image_size", type=int, default=288)
    parser.add_argument("--pixels", type=int, default=40000, help="training pixels for the linear probe")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    root = Path(args.drive)
    transform = preprocessing(args.image_size)
    train_items, test_items = drive_items(root, "training"), drive_items(root, "test")
    print(f"DRIVE: {len(train_items)} training / {len(test_items)} test images at {args.image_size} px")
    print("| weights | linear probe Dice (test) | vessel-cluster Dice (test) |")
    print("|---|---|---|")
    for name in ("random init", "LD pretrained"):
        torch.manual_seed(args.seed)
        net = LocalDiscriminationNet(in_channels=3)
        if name == "LD pretrained":
            load_pretrained(net, args.checkpoint)
        train, test = features(net, train_items, transform), features(net, test_items, transform)
        probe = linear_probe(train, test, args.pixels, args.seed)
        best, cluster = cluster_probe(train, test, net.num_clusters)
        print(
            f"| {name} | {statistics.mean(probe):.3f} ± {statistics.stdev(probe):.3f} | "
            f"{statistics.mean(cluster):.3f} ± {statistics.stdev(cluster):.3f} (cluster {best}) |",
            flush=True,
        )


if __name__ == "__main__":
    main()
