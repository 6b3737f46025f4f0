"""``unetzoo export``: a checkpoint to ONNX (fp32 or INT8) or TorchScript, with a model card beside it."""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export a checkpoint to ONNX or TorchScript with a model card")
    p.add_argument("--checkpoint", required=True, help="best.pt or last.pt of a run")
    p.add_argument("--format", dest="fmt", choices=("onnx", "torchscript"), default="onnx")
    p.add_argument("--int8", action="store_true", help="INT8 static quantization (ONNX), needs --calibration")
    p.add_argument("--calibration", metavar="PATH", help="folder of images or a dataset for INT8 calibration")
    p.add_argument("--prune-level", type=int, metavar="L", help="UNet#: export the level-L sub-network")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset (default 17)")
    p.add_argument("--out", required=True, metavar="FILE", help="model file; the card is written to FILE.json")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from unetzoo.deploy.card import card_path
    from unetzoo.deploy.export import export_model

    out = export_model(
        args.checkpoint,
        args.fmt,
        args.out,
        int8=args.int8,
        calibration=args.calibration,
        prune_level=args.prune_level,
        opset=args.opset,
    )
    card = json.loads(card_path(out).read_text(encoding="utf-8"))
    size = out.stat().st_size / 1e6
    kind = f"{card['file_format']}{' int8' if card['int8'] else ''}"
    print(f"wrote {out} ({kind}, {size:.2f} MB; max abs diff vs eager {card['export_check_max_abs_diff']:.1e})")
    print(f"wrote {card_path(out)} (model card, sha256 {card['sha256'][:16]}...)")
    return 0
