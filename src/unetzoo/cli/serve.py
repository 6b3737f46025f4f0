"""``unetzoo serve``: a local web page and HTTP API for a checkpoint or an exported ONNX model."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    from unetzoo.serve.config import MiB, ServeConfig

    defaults = ServeConfig()
    p = sub.add_parser("serve", help="serve a model: web page and HTTP API on this machine")
    p.add_argument(
        "--model",
        default="nuclei",
        help="a pretrained model's name, an exported FILE.onnx (with FILE.onnx.json) or a last.pt/best.pt "
        "(default: the pretrained nuclei model)",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback only)")
    p.add_argument("--port", type=int, default=8000, help="TCP port (0: any free port)")
    p.add_argument(
        "--max-upload-mb", type=float, default=defaults.max_upload_bytes / MiB, help="largest image file (MiB)"
    )
    p.add_argument("--max-pixels", type=int, default=defaults.max_pixels, help="largest image, height x width")
    p.add_argument(
        "--concurrency", type=int, default=defaults.concurrency, help="uploads admitted at once (429 beyond)"
    )
    p.add_argument("--workers", type=int, default=defaults.workers, help="model runs in parallel")
    p.add_argument("--threshold", type=float, help="foreground threshold (default: the model's)")
    p.add_argument("--tta", action="store_true", help="flip test-time augmentation")
    p.add_argument("--tile", type=int, help="sliding-window tile size in pixels (default: the run's plan, else 512)")
    p.add_argument("--quiet", action="store_true", help="no access log")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from unetzoo.serve.config import MiB, ServeConfig
    from unetzoo.serve.model import load_model
    from unetzoo.serve.server import serve

    config = ServeConfig(
        max_upload_bytes=int(args.max_upload_mb * MiB),
        max_pixels=args.max_pixels,
        concurrency=args.concurrency,
        workers=args.workers,
    )
    model = load_model(args.model, threshold=args.threshold, tta=args.tta, tile=args.tile)
    serve(model, args.host, args.port, config, access_log=not args.quiet)
    return 0
