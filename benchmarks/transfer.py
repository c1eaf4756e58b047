# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Label efficiency of LD transfer: random init vs an LD-pretrained encoder, same budget and seeds (or a PEAC encoder:
``--encoder_network swin``; its init is still named ``ld`` in the table).

For one segmentation bundle, datalist and label fraction, trains (``train.json``) and scores on the test split
(``evaluate.json``, per-image Dice) both initialisations for every seed, each run in its own process:

* ``random``: all layers trainable from the start, for ``frozen_epochs + fine_epochs`` epochs;
* ``ld``: the paper's two phases (Chen et al., arXiv 2108.09440): ``frozen_epochs`` with the pretrained encoder
  frozen, then ``fine_epochs`` of full fine-tuning from the best frozen-phase model;
* ``ld_unfrozen`` (optional, ``--inits``): the LD encoder as initialisation, everything trainable from the start,
  ``frozen_epochs + fine_epochs`` epochs (separates the value of the weights from that of the frozen phase).

Both see the same images (the seeded label fraction), the same number of iterations and the same seeds. The
table (mean ± std over test images, per seed and pooled over seeds) is printed as Markdown and saved with the raw
summaries in ``<output_dir>/transfer_results.json``.

Example (DRIVE, 25% of the training labels, 2 seeds)::

    ld-monai prepare drive ../shared/data/fundus/DRIVE data/drive
    python benchmarks/transfer.py --bundle retinal_vessel_segmentation --datalist data/drive/datalist.json \\
        --encoder runs/ld_drive/checkpoints/encoder.pt --label_fraction 0.25 --seeds 0 1 --output_dir runs/transfer
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from ld_monai.apps.bundles import export_bundle


def run_bundle(bundle: Path, configs: list[str], overrides: dict, log: Path) -> None:
    command = [sys.executable, "-m", "monai.bundle", "run", "--config_file", json.dumps(configs),
               "--meta_file", "configs/metadata.json", "--logging_file", "configs/logging.conf"]
    for key, value in overrides.items():
        command += [f"--{key}", json.dumps(value) if not isinstance(value, str) else value]
    with open(log, "a") as out:
        result = subprocess.run(command, cwd=bundle, stdout=out, stderr=subprocess.STDOUT)
    if result.returncode:
        raise RuntimeError(f"run failed ({' '.join(command)}); see {log}")


def per_image_dice(eval_dir: Path) -> dict[str, list[float]]:
    with open(eval_dir / "metrics_per_image.csv") as f:
        rows = list(csv.DictReader(f))
    return {key[len("dice_"):]: [float(r[key]) for r in rows] for key in rows[0] if key.startswith("dice_")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", default="retinal_vessel_segmentation")
    parser.add_argument("--datalist", required=True, help="datalist.json written by `ld-monai prepare`")
    parser.add_argument("--encoder", required=True, help="LD encoder.pt (or pretraining model.pt)")
    parser.add_argument("--label_fraction", type=float, default=0.25)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--frozen_epochs", type=int, default=100)
    parser.add_argument("--fine_epochs", type=int, default=100)
    parser.add_argument("--image_size", type=int, default=512)
    parser.add_argument("--padding_mode", default="zeros", choices=["zeros", "reflect", "replicate"],
                        help="padding of every arm's network: the mode the encoder was pretrained with")
    parser.add_argument("--encoder_network", default="vgg_bn_tiny",
                        help="the segmentation network's encoder (the bundle's `encoder`): vgg_bn_tiny for LD, swin "
                             "for a PEAC encoder.pt")
    parser.add_argument("--inits", nargs="+", default=["random", "ld"], choices=["random", "ld", "ld_unfrozen"])
    parser.add_argument("--output_dir", default="runs/transfer")
    args = parser.parse_args()

    out = Path(args.output_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    bundle = out / args.bundle
    if not bundle.is_dir():  # the standalone bundle, as a user exports it
        export_bundle(args.bundle, out)
    common = {"datalist_file": str(Path(args.datalist).resolve()), "label_fraction": args.label_fraction,
              "image_size": args.image_size, "padding_mode": args.padding_mode, "num_workers": 0,
              "encoder": args.encoder_network}
    encoder = str(Path(args.encoder).resolve())
    total = args.frozen_epochs + args.fine_epochs
    budgets = {
        "random": {"pretrained_encoder": None, "fine_epochs": total},
        "ld": {"pretrained_encoder": encoder, "frozen_epochs": args.frozen_epochs, "fine_epochs": args.fine_epochs},
        "ld_unfrozen": {"pretrained_encoder": encoder, "frozen_epochs": 0, "fine_epochs": total},
    }
    budgets = {init: budgets[init] for init in args.inits}
    results = {}
    for seed in args.seeds:
        for init, budget in budgets.items():
            run_dir = out / f"{init}_seed{seed}"
            overrides = {**common, **budget, "seed": seed, "output_dir": str(run_dir)}
            overrides = {k: v for k, v in overrides.items() if v is not None}
            start = time.time()
            run_dir.mkdir(parents=True, exist_ok=True)
            run_bundle(bundle, ["configs/train.json"], overrides, run_dir / "log.txt")
            train_s = time.time() - start
            run_bundle(bundle, ["configs/train.json", "configs/evaluate.json"], overrides, run_dir / "log.txt")
            dice = per_image_dice(run_dir / "eval_test")
            results[f"{init}_seed{seed}"] = {"init": init, "seed": seed, "train_seconds": round(train_s), "dice": dice}
            summary = ", ".join(f"{s} {np.mean(v):.4f} ± {np.std(v):.4f}" for s, v in dice.items())
            print(f"{init:6s} seed {seed}: {summary} (n={len(next(iter(dice.values())))}, train {train_s:.0f} s)",
                  flush=True)

    structures = list(next(iter(results.values()))["dice"])
    lines = ["| init | seed | " + " | ".join(f"{s} Dice" for s in structures) + " | train time |",
             "|---|---|" + "---|" * len(structures) + "---|"]
    for record in results.values():
        cells = [f"{np.mean(record['dice'][s]):.4f} ± {np.std(record['dice'][s]):.4f}" for s in structures]
        lines.append(f"| {record['init']} | {record['seed']} | " + " | ".join(cells)
                     + f" | {record['train_seconds']} s |")
    for init in budgets:
        pooled = {s: [d for r in results.values() if r["init"] == init for d in r["dice"][s]] for s in structures}
        seed_means = {s: [np.mean(r["dice"][s]) for r in results.values() if r["init"] == init] for s in structures}
        cells = [f"**{np.mean(pooled[s]):.4f}** (seed means {', '.join(f'{m:.4f}' for m in seed_means[s])})"
                 for s in structures]
        lines.append(f"| {init} | all | " + " | ".join(cells) + " | |")
    table = "\n".join(lines)
    print(f"\n{args.bundle}, label fraction {args.label_fraction}, epochs {args.frozen_epochs}+{args.fine_epochs}, "
          f"image {args.image_size}\n\n{table}")
    record = {"args": vars(args), "results": results, "table": table, "command": shlex.join(["python", *sys.argv])}
    (out / "transfer_results.json").write_text(json.dumps(record, indent=1))
    print(f"\nresults: {out / 'transfer_results.json'}")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    main()
