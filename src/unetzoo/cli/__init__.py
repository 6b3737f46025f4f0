"""``unetzoo`` command line: a thin argparse layer. Each subcommand lives in its own module here,
exposing ``register(subparsers)``; it parses, calls one library function, and prints.

Anticipated failures raise :class:`unetzoo.UnetzooError` and are printed as one line (no traceback)
with a non-zero exit status.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from unetzoo.errors import UnetzooError

SUBCOMMANDS = (
    "models",
    "data",
    "plan",
    "train",
    "eval",
    "predict",
    "score",
    "demo",
    "bench",
    "export",
    "serve",
    "compare",
)
MODULES = {"eval": "evaluate"}  # subcommand -> module when the name would shadow a builtin


def build_parser() -> argparse.ArgumentParser:
    from unetzoo import __version__

    parser = argparse.ArgumentParser(prog="unetzoo", description="U-Net family segmentation for small machines.")
    parser.add_argument("--version", action="version", version=f"unetzoo {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in SUBCOMMANDS:
        importlib.import_module(f"unetzoo.cli.{MODULES.get(name, name)}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``unetzoo`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except UnetzooError as exc:
        print(f"unetzoo: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:  # safety net: an unanticipated file-system error is still one clear line
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"unetzoo: error: {where}{exc.strerror or exc}; check the path and its permissions", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("unetzoo: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
