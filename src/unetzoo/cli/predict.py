"""``unetzoo predict``: segment files, folders or TIFF stacks with a checkpoint or an exported model."""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("predict", help="segment new images")
    p.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help="image files, folders or multi-page TIFF stacks; volume models: volume files (case_0000.nii.gz), "
        "folders of them, or a folder holding one DICOM series",
    )
    p.add_argument("--checkpoint", help="a last.pt/best.pt of a training run (torch engine)")
    p.add_argument(
        "--model",
        dest="model_file",
        help="a pretrained model's name (`unetzoo models --pretrained`) or an exported FILE.onnx with its card",
    )
    p.add_argument("--engine", choices=("torch", "onnx"), default=None, help="default: from the model given")
    p.add_argument(
        "--object-size",
        type=float,
        metavar="PX",
        help="pretrained models: typical object diameter in pixels; images are rescaled to the model's training "
        "scale (default: estimated per image from a first pass)",
    )
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--tta", action="store_true", help="flip test-time augmentation")
    p.add_argument("--tile", type=int, help="sliding-window tile size in pixels (default: the run's plan, else 512)")
    p.add_argument("--overlap", type=float, default=0.25, help="tile overlap fraction")
    p.add_argument("--threshold", type=float, help="foreground threshold (default: the model's)")
    p.add_argument(
        "--save-prob", action="store_true", help="also write <stem>_prob.tif (volumes: <case>_prob[_NAME].nii.gz ...)"
    )
    p.add_argument(
        "--overlay", action="store_true", help="also write <stem>_overlay.png (volumes: a montage of slices)"
    )
    p.add_argument(
        "--instances", action="store_true", help="one label per object: uint16 labels and <stem>_objects.csv"
    )
    p.add_argument("--rois", action="store_true", help="with --instances: also <stem>_rois.zip (ImageJ ROI set)")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    p.add_argument("--skip-existing", action="store_true", help="skip inputs whose outputs exist")
    p.add_argument("--json", action="store_true", help="print one JSON record per input")
    p.set_defaults(func=run)


def _options(args: argparse.Namespace) -> dict:
    tile = (args.tile, args.tile) if args.tile else None
    return {"threshold": args.threshold, "tta": args.tta, "tile": tile, "overlap": args.overlap}


def _segmenter(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from unetzoo.errors import UnetzooError

    if (args.engine or ("onnx" if args.model_file else "torch")) == "onnx":
        if not args.model_file:
            raise UnetzooError("--engine onnx needs --model FILE.onnx (made by `unetzoo export`)", exit_code=2)
        from unetzoo.deploy.runtime import OnnxSegmenter

        return OnnxSegmenter(args.model_file, **_options(args))
    if not args.checkpoint:
        raise UnetzooError("pass --checkpoint CKPT (torch engine) or --model FILE.onnx (onnx engine)", exit_code=2)
    from unetzoo.engine.inference import Segmenter

    return Segmenter.from_checkpoint(args.checkpoint, **_options(args))


def _record(args: argparse.Namespace, segmenter) -> dict | None:  # type: ignore[no-untyped-def]
    """The model's ``instances`` record (head and post-processing), None for a semantic model."""
    if hasattr(segmenter, "card"):
        return segmenter.card.get("instances")
    from unetzoo.engine.checkpoint import load_checkpoint

    return load_checkpoint(args.checkpoint).get("instances")


def _model(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """``(segmenter, objects, sizer)``: the network, its object decoder (an instance model's, or connected
    components with ``--instances``; else None) and, for a pretrained model, the per-image object sizer."""
    from unetzoo.errors import UnetzooError
    from unetzoo.instances.segmenter import InstanceSegmenter
    from unetzoo.pretrained import load_pretrained, object_sizer, pretrained_name

    name = pretrained_name(args.model_file)
    if name:
        objects = load_pretrained(name, engine=args.engine or "onnx", **_options(args))
        return objects.segmenter, objects, object_sizer(name, objects, args.object_size)
    if args.object_size is not None:
        raise UnetzooError(
            "--object-size rescales images for a pretrained model (`--model NAME`), which records the object "
            "size it was trained at; drop it, or resample the images to the training scale",
            exit_code=2,
        )
    segmenter = _segmenter(args)
    record = _record(args, segmenter)
    return segmenter, InstanceSegmenter.from_record(segmenter, record) if args.instances or record else None, None


def _volume_record(args: argparse.Namespace) -> dict | None:
    """The ``volume`` record (slicing, normalisation, crop) of a model trained on volume slices, else None:
    from the checkpoint, or from the card of an exported ``FILE.onnx``."""
    if args.checkpoint and not args.model_file:
        from unetzoo.engine.checkpoint import load_checkpoint

        return load_checkpoint(args.checkpoint).get("volume")
    if args.model_file and args.model_file.lower().endswith(".onnx") and (args.engine or "onnx") == "onnx":
        from unetzoo.deploy.card import read_card

        return read_card(args.model_file, verify=False).get("volume")
    return None


def _predict_volumes(args: argparse.Namespace, record: dict) -> int:
    """A model trained on volume slices: each input case (NIfTI, MetaImage, NRRD, a DICOM series folder) gives
    a volume of labels, with ``--save-prob`` its probabilities and with ``--overlay`` a PNG montage."""
    from unetzoo.engine.predict_volumes import predict_volume_files
    from unetzoo.errors import UnetzooError
    from unetzoo.volumes.slices import SliceOptions

    if args.instances or args.rois:
        flag = "--instances" if args.instances else "--rois"
        raise UnetzooError(f"{flag}: not available for a model trained on volumes; drop it", exit_code=2)
    records = predict_volume_files(
        _segmenter(args), SliceOptions.from_dict(record), args.inputs, args.out, save_prob=args.save_prob,
        overlay=args.overlay, overwrite=args.overwrite, skip_existing=args.skip_existing,
    )  # fmt: skip
    for r in records:
        note = f"; {r['note']}" if "note" in r else ""
        shown = f"{r['input']} -> {r['mask']} (foreground {r['foreground_fraction']:.2%}{note})"
        print(json.dumps(r) if args.json else shown)
    if not args.json:
        print(f"{len(records)} volume(s) segmented into {args.out}")
    return 0


def run(args: argparse.Namespace) -> int:
    from unetzoo.engine.predict import PredictOptions, predict_paths
    from unetzoo.errors import UnetzooError

    if args.rois and not args.instances:
        raise UnetzooError("--rois writes the objects of --instances; add --instances", exit_code=2)
    volume = _volume_record(args)
    if volume is not None:
        return _predict_volumes(args, volume)
    flags = (args.save_prob, args.overlay, args.overwrite, args.skip_existing, args.instances, args.rois)
    segmenter, objects, sizer = _model(args)
    records = predict_paths(segmenter, args.inputs, args.out, PredictOptions(*flags), objects, sizer)
    for r in records:
        shown = f"{r['objects']} objects" if args.instances else f"foreground {r['foreground_fraction']:.1%}"
        if "object_size" in r:
            how = "estimated" if r["object_size_estimated"] else "given"
            size = "none found" if r["object_size"] is None else f"{r['object_size']:.1f} px"
            shown += f", object size {size} ({how}), scale x{r['scale_factor']:.2f}"
        print(json.dumps(r) if args.json else f"{r['input']} -> {r['mask']} ({shown})")
    if not args.json:
        print(f"{len(records)} input(s) segmented into {args.out}")
    return 0
