# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""The ``ld-monai`` command.

``ld-monai demo`` runs the ``ld_pretraining`` bundle with a short CPU schedule: on the fundus photograph that
scikit-image ships when no ``--dataset_dir`` is given, otherwise on a folder of the user's images.
``ld-monai prepare`` turns a public dataset into a MONAI datalist; ``ld-monai predict`` segments clinical files
(DICOM, NIfTI, PNG) with a trained bundle, or finds landmarks in them with the one-shot landmark bundle;
``ld-monai correspondence``, ``ld-monai cosegmentation`` and ``ld-monai tsne`` read a pretraining bundle's patch
embeddings (PEAC's or LD's); ``ld-monai bundle list`` / ``export`` show and copy out the bundles that ship with the
package.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from ld_monai.apps.bundles import bundle_path, export_bundle, list_bundles

__all__ = ["main", "DEMO_OVERRIDES", "ONE_PHOTOGRAPH_OVERRIDES"]

#: a short schedule that trains in a few minutes on 2 CPU cores (the paper's recipe is in the bundle's train.json)
DEMO_OVERRIDES = {
    "image_size": 256,
    "crop_size": 224,
    "batch_size": 1,
    "epoch_length": 40,
    "pd_epochs": 2,
    "ld_epochs": 4,
    "lr_step_epochs": 2,
    "num_val_items": 4,
    "num_workers": 0,
}

#: the demo's single photograph (no ``--dataset_dir``) always pairs the photograph with itself, so the paper's
#: recipe must tell identical content apart by position and draws rings; these settings of the bundle (issue 15,
#: ``docs/benchmarks.md``, "The one-photograph demo") give the disc its own cluster instead
ONE_PHOTOGRAPH_OVERRIDES = {
    "padding_mode": "reflect",
    "mirror": True,
    "independent_crops": True,
    "crop_scale": [0.5, 0.8],
    "region_weight": 1.0,
    "repeated_image_negatives": False,
}


def _parse_override(text: str) -> tuple[str, object]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"override {text!r} must look like key=value (value in JSON or plain text).")
    key, value = text.split("=", 1)
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def demo(args: argparse.Namespace) -> int:
    from monai.bundle import run

    bundle = bundle_path("ld_pretraining")
    config_files = [str(bundle / "configs" / name) for name in ("common.json", "train.json")]  # in place
    if args.xray:
        config_files.append(str(bundle / "configs" / "train_xray.json"))
    output_dir = Path(args.output_dir).resolve()
    overrides = dict(DEMO_OVERRIDES)
    if not args.dataset_dir:
        overrides.update(ONE_PHOTOGRAPH_OVERRIDES)
    overrides.update(dict(args.override or []))
    ignored = [key for key, value in overrides.items() if value is None]
    if ignored:
        raise SystemExit(f"override(s) {ignored} set to null: monai.bundle.run ignores null overrides, so they would "
                         "keep the bundle's values; give a value.")
    overrides["output_dir"] = str(output_dir)
    if args.xray and not args.dataset_dir:
        raise SystemExit("ld-monai demo --xray needs --dataset_dir (a folder of chest radiographs).")
    if args.dataset_dir:
        folders = [str(Path(folder).resolve()) for folder in args.dataset_dir]
        overrides["dataset_dir"] = folders[0] if len(folders) == 1 else folders
    print(f"LD pretraining demo on {overrides.get('dataset_dir', 'the fundus photograph shipped with scikit-image')}")
    print(f"outputs go to {output_dir}")
    start = time.time()
    run(
        config_file=config_files,
        meta_file=str(bundle / "configs" / "metadata.json"),
        logging_file=str(bundle / "configs" / "logging.conf"),
        bundle_root=str(bundle),
        **overrides,
    )
    ckpt = output_dir / "checkpoints"
    print(f"\ndone in {time.time() - start:.0f} s")
    print(f"  best model (lowest validation loss): {ckpt / 'model.pt'}")
    print(f"  encoder for transfer:               {ckpt / 'encoder.pt'}")
    print(f"  cluster / embedding pictures:       {output_dir / 'pictures' / 'clusters_latest.png'}")
    print(f"  TensorBoard logs:                   {output_dir / 'tensorboard'}")
    return 0


def prepare(args: argparse.Namespace) -> int:
    """``ld-monai prepare``: write the datalist of a public dataset, then print a summary (errors: one line)."""
    from ld_monai.apps.prepare import prepare_dataset

    notes: list[str] = []
    try:
        path = prepare_dataset(
            args.dataset, args.raw_dir, args.out_dir, seed=args.seed, val_fraction=args.val_fraction, notes=notes
        )
    except (FileNotFoundError, ValueError) as error:
        print(f"ld-monai prepare: error: {error}", file=sys.stderr)
        return 1
    datalist = json.loads(path.read_text(encoding="utf-8"))
    print(f"{datalist['name']}: {datalist['split_note']}")
    print("  " + ", ".join(f"{split} {len(datalist[split])}" for split in ("training", "validation", "test")))
    derived: dict[str, int] = {}
    for split in ("training", "validation", "test"):
        for entry in datalist[split]:
            for key, value in entry.items():
                if isinstance(value, str) and key != "name" and value.startswith("derived/"):
                    derived[key] = derived.get(key, 0) + 1
    if derived:
        counts = ", ".join(f"{key} {count}" for key, count in derived.items())
        print(f"  derived files ({counts}) in {path.parent / 'derived'}")
    else:
        print("  no derived files: the datalist points at the raw files")
    if "landmarks" in datalist:
        reference = datalist["reference_annotator"]
        print(f"  landmarks ({len(datalist['labels'])} labels, reference annotator {reference!r}): "
              f"{path.parent / datalist['landmarks']}")
    for note in notes:
        print(f"  note: {note}")
    print(f"datalist: {path}")
    return 0


def predict(args: argparse.Namespace) -> int:
    """``ld-monai predict``: segment a file or a folder with a trained bundle (or find landmarks with a landmark
    bundle); exit code 1 if any file failed."""
    from ld_monai.apps.predict import predict as run_predict

    summary = run_predict(args.bundle_dir, args.inputs, args.out_dir, checkpoint=args.checkpoint, device=args.device,
                          overrides=dict(args.override or []))
    print(summary.report())
    print(f"summary: {Path(summary.output_dir) / 'summary.json'}")
    return 1 if summary.failed else 0


def _image_files(inputs: list[str]) -> list[str]:
    """Files as given, a folder as every image in it."""
    from ld_monai.data.image_folder import image_folder_datalist

    return [e["image"] for i in inputs for e in (image_folder_datalist(i) if Path(i).is_dir() else [{"image": i}])]


def correspondence(args: argparse.Namespace) -> int:
    """``ld-monai correspondence``: best-buddy pairs of two images, or ``--points`` carried to many."""
    from ld_monai.apps.embedding_tools import find_correspondences, propagate_landmarks

    settings = _embedding_settings(args)
    targets = _image_files(args.targets)
    if args.points:
        import numpy as np

        points = np.loadtxt(args.points, delimiter=",", skiprows=1, usecols=(0, 1), ndmin=2)
        table = propagate_landmarks(args.bundle_dir, args.template, points, targets, args.out_dir, **settings)
    elif len(targets) != 1:
        print("ld-monai correspondence: error: pairs are found between two images; give one target, or --points "
              "to carry annotated points to many.", file=sys.stderr)
        return 1
    else:
        table = find_correspondences(args.bundle_dir, args.template, targets[0], args.out_dir, args.pairs, **settings)
    print(f"correspondences: {table} (pictures beside it)")
    return 0


def cosegmentation(args: argparse.Namespace) -> int:
    """``ld-monai cosegmentation``: the parts of a set of images."""
    from ld_monai.apps.embedding_tools import cosegment_images

    picture = cosegment_images(args.bundle_dir, _image_files(args.inputs), args.out_dir, args.parts, args.max_parts,
                               **_embedding_settings(args))
    print(f"co-segmentation: {picture} (part maps beside it)")
    return 0


def tsne(args: argparse.Namespace) -> int:
    """``ld-monai tsne``: landmark embeddings of many images in 2-D."""
    from ld_monai.apps.embedding_tools import landmark_tsne

    result = landmark_tsne(args.bundle_dir, _image_files(args.inputs), args.landmarks, args.out_dir, args.annotator,
                           args.perplexity, args.iterations, **_embedding_settings(args))
    print(f"t-SNE: {result['picture']} and {result['table']}; the nearest neighbour in another image is the same "
          f"landmark for {result['nearest_neighbour_agreement']:.1%} of the landmark embeddings")
    return 0


def bundle(args: argparse.Namespace) -> int:
    """``ld-monai bundle list`` / ``ld-monai bundle export NAME DIR``."""
    if args.action == "list":
        for name, version in list_bundles().items():
            print(f"{name} {version}")
        return 0
    if not args.name or not args.destination:
        print("ld-monai bundle export: error: give the bundle's NAME and a DIR to export it to.", file=sys.stderr)
        return 1
    try:
        target = export_bundle(args.name, args.destination)
    except (FileNotFoundError, FileExistsError) as error:
        print(f"ld-monai bundle export: error: {error}", file=sys.stderr)
        return 1
    print(f"exported {args.name} to {target}")
    return 0


def _add_embedding_options(parser: argparse.ArgumentParser) -> None:
    """The options of the commands that read a pretraining bundle's patch embeddings."""
    parser.add_argument("--checkpoint", help="the weights (default: the bundle's runs/checkpoints/model.pt)")
    parser.add_argument("--device", help="e.g. cpu or cuda:0")
    parser.add_argument("--override", "-o", action="append", type=_parse_override, metavar="KEY=VALUE",
                        help="a bundle setting, e.g. the training's network size (repeatable)")


def _embedding_settings(args: argparse.Namespace) -> dict:
    return {"checkpoint": args.checkpoint, "device": args.device, "overrides": dict(args.override or [])}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ld-monai", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("demo", help="LD pretraining with a short CPU schedule (default: scikit-image's fundus photo)")
    p.add_argument("--dataset_dir", nargs="+", help="folder(s) of images to pretrain on, searched recursively "
                   "(default: the embedded fundus photograph)")
    p.add_argument("--output_dir", default=os.path.join("runs", "ld_demo"), help="where checkpoints and pictures go")
    p.add_argument("--xray", action="store_true", help="use the chest X-ray variant (1 channel)")
    p.add_argument(
        "--override", "-o", action="append", type=_parse_override, metavar="KEY=VALUE",
        help="any bundle config override, e.g. -o epoch_length=100 -o crop_size=448 (repeatable)",
    )
    p.set_defaults(func=demo)
    p = sub.add_parser("prepare", help="a public segmentation or landmark dataset as a MONAI datalist (see "
                       "docs/datasets.md)")
    p.add_argument("dataset", help="drive, stare, chase_db1, hrf, drishti_gs1, idrid_od, jsrt, montgomery, shenzhen, "
                   "cxr_lungs or isbi2015")
    p.add_argument("raw_dir", help="the raw download (read only)")
    p.add_argument("out_dir", help="where datalist.json and derived/ go")
    p.add_argument("--seed", type=int, default=0, help="seed of the validation split (default 0)")
    p.add_argument("--val_fraction", type=float, default=0.2, help="fraction of training for validation (0.2)")
    p.set_defaults(func=prepare)
    p = sub.add_parser("predict", help="segment DICOM (CR/DX), NIfTI or PNG files with a trained bundle, or find "
                       "landmarks in them with bundles/oneshot_landmark_detection")
    p.add_argument("bundle_dir", help="a trained segmentation or shape-guided bundle (a folder written by `ld-monai "
                   "bundle export`, e.g. bundles_out/lung_segmentation), or bundles/oneshot_landmark_detection")
    p.add_argument("inputs", help="a file, or a folder (every image in it; DICOM recognised by content)")
    p.add_argument("out_dir", help="where masks (NIfTI, PNG) or landmarks.csv, overlays, DICOM SEGs and "
                   "summary.json go")
    p.add_argument("--checkpoint", help="the weights (default: <bundle>/models/model.pt, else the bundle's "
                   "runs/checkpoints/model.pt; landmarks: the model.pt of LD pretraining)")
    p.add_argument("--device", help="e.g. cpu or cuda:0 (default: CUDA when available)")
    p.add_argument(
        "--override", "-o", action="append", type=_parse_override, metavar="KEY=VALUE",
        help="any bundle setting, e.g. for landmarks -o template_image=001.png -o template_landmarks=landmarks.csv "
        "-o template_annotator=Dr_farhadifar; -o adapt_rounds=0 -o self_train_fraction=0 searches each file with the "
        "template alone, without refining it on the others first (repeatable)",
    )
    p.set_defaults(func=predict)
    embedding_help = ("a trained pretraining bundle (ld-monai bundle export peac_pretraining or ld_pretraining, "
                      "then training)")
    p = sub.add_parser("correspondence", help="matching cells of two images from a pretraining bundle's patch "
                       "embeddings (PEAC or LD), or annotated points of one image carried to many")
    p.add_argument("bundle_dir", help=embedding_help)
    p.add_argument("template", help="the first image (with --points: the annotated one)")
    p.add_argument("targets", nargs="+", help="the second image; with --points, any number of files or folders")
    p.add_argument("out_dir", help="where correspondences.csv / propagated.csv and the pictures go")
    p.add_argument("--pairs", type=int, default=10, help="well-separated pairs to keep (default 10)")
    p.add_argument("--points", help="a CSV of the template's points (header, then x,y per row, in pixels)")
    _add_embedding_options(p)
    p.set_defaults(func=correspondence)
    p = sub.add_parser("cosegmentation", help="the parts of a set of images, from a pretraining bundle's patch "
                       "embeddings clustered together (the same part the same colour in every image)")
    p.add_argument("bundle_dir", help=embedding_help)
    p.add_argument("inputs", nargs="+", help="image files or folders")
    p.add_argument("out_dir", help="where <name>_parts.png and cosegmentation.png go")
    p.add_argument("--parts", type=int, help="the number of parts (default: chosen by the elbow rule)")
    p.add_argument("--max_parts", type=int, default=14, help="the most parts the elbow rule tries (default 14)")
    _add_embedding_options(p)
    p.set_defaults(func=cosegmentation)
    p = sub.add_parser("tsne", help="the patch embeddings at annotated landmarks of many images in 2-D (t-SNE), "
                       "coloured by landmark")
    p.add_argument("bundle_dir", help=embedding_help)
    p.add_argument("inputs", nargs="+", help="image files or folders (matched to the table by file stem)")
    p.add_argument("out_dir", help="where tsne.png and tsne.csv go")
    p.add_argument("--landmarks", required=True, help="a CSV of image_id, label, x, y (and annotator) per point")
    p.add_argument("--annotator", help="the annotator to read when the table has several")
    p.add_argument("--perplexity", type=float, default=30.0, help="t-SNE perplexity (default 30)")
    p.add_argument("--iterations", type=int, default=1000, help="t-SNE iterations, at least 250 (default 1000)")
    _add_embedding_options(p)
    p.set_defaults(func=tsne)
    p = sub.add_parser("bundle", help="list the MONAI bundles that ship with ld_monai, or copy one out")
    p.add_argument("action", choices=["list", "export"])
    p.add_argument("name", nargs="?", help="export: the bundle (see ld-monai bundle list)")
    p.add_argument("destination", nargs="?", help="export: the folder to copy it into (as <destination>/<name>)")
    p.set_defaults(func=bundle)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except Exception as error:  # show the root cause last, after MONAI's config-evaluation traceback
        cause = error
        while cause.__cause__ is not None:
            cause = cause.__cause__
        if cause is error:
            raise
        import traceback

        traceback.print_exc()
        print(f"\nld-monai: error: {type(cause).__name__}: {cause}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
