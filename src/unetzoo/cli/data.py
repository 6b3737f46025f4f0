"""``unetzoo data check|convert|instances``: inspect a dataset, write it in nnU-Net's raw format, or derive its
instance labels from its masks."""

from __future__ import annotations

import argparse

from unetzoo.data import FORMATS, CheckReport, check_source, open_source
from unetzoo.data.convert import convert_to_nnunet
from unetzoo.data.formats import open_unchecked
from unetzoo.data.problems import DataError


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    """The options that read a dataset (shared by every command taking ``--data``-like input)."""
    parser.add_argument("--format", dest="fmt", choices=FORMATS, default=None, help="override format detection")
    parser.add_argument(
        "--positive", type=int, default=None, metavar="V", help="mask value of the foreground; all others background"
    )
    parser.add_argument("--invert-mask", action="store_true", help="swap the two classes of binary masks")


def add_volume_arguments(parser: argparse.ArgumentParser) -> None:
    """How volume data (a 3D nnU-Net folder, ``synthetic:brain``) is cut into 2D samples (docs/volumes.md)."""
    parser.add_argument("--slice-axis", choices=("z", "y", "x"), help="volume data: slice along z (default), y, x")
    parser.add_argument(
        "--window",
        help="volume data: CT window instead of the z-score within nonzero voxels: lung, mediastinum, abdomen, liver, "
        "brain, bone, or --window=LEVEL,WIDTH in HU",
    )
    parser.add_argument("--crop", type=int, nargs=2, metavar=("H", "W"), help="volume data: centre crop of slices")


def slice_options(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """The :class:`~unetzoo.volumes.slices.SliceOptions` of :func:`add_volume_arguments` options."""
    from unetzoo.volumes.slices import SliceOptions

    return SliceOptions.from_flags(args.slice_axis, args.window, crop=args.crop)


def data_options(args: argparse.Namespace) -> dict[str, object]:
    """Keyword arguments of ``open_source`` / ``check_source`` from :func:`add_data_arguments` options."""
    return {"fmt": args.fmt, "positive": args.positive, "invert_mask": args.invert_mask}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="check a dataset, convert it to nnU-Net's format, or label its objects")
    commands = p.add_subparsers(dest="data_command", metavar="SUBCOMMAND", required=True)

    check = commands.add_parser("check", help="summary and one line per problem; exit 1 on errors")
    check.add_argument("data", metavar="PATH", help="dataset path, builtin:NAME or synthetic:NAME?...")
    add_data_arguments(check)
    add_volume_arguments(check)
    check.add_argument("--json", action="store_true", help="print a JSON report")
    check.add_argument("--decode-images", action="store_true", help="also decode every image (slower)")
    check.set_defaults(func=run_check)

    convert = commands.add_parser("convert", help="write the dataset as nnU-Net raw v2 (OUT/DatasetXXX_NAME)")
    convert.add_argument("data", metavar="PATH", help="dataset path, builtin:NAME or synthetic:NAME?...")
    convert.add_argument("out", metavar="OUT", help="the nnUNet_raw folder to write into")
    convert.add_argument("--id", type=int, default=500, dest="dataset_id", help="nnU-Net dataset id (default 500)")
    convert.add_argument("--name", default=None, help="dataset name (default: from PATH)")
    add_data_arguments(convert)
    convert.set_defaults(func=run_convert)

    instances = commands.add_parser(
        "instances", help="write instances/ (one id per connected object) from the masks of a folder dataset"
    )
    instances.add_argument("data", metavar="PATH", help="folder dataset with images/ and masks/")
    instances.add_argument(
        "--connectivity",
        type=int,
        choices=(4, 8),
        default=4,
        help="pixels of one object touch by edge (4) or also corner (8)",
    )
    instances.add_argument("--force", action="store_true", help="replace an existing instances/ folder")
    add_data_arguments(instances)
    instances.set_defaults(func=run_instances)


def run_check(args: argparse.Namespace) -> int:
    try:
        source = open_unchecked(args.data, **data_options(args), slices=slice_options(args))
    except DataError as exc:
        source = None
        report = CheckReport(args.data, [exc.problem])
    if source is not None:
        report = check_source(source, decode_images=args.decode_images)
    print(report.to_json() if args.json else report.format_text())
    return 0 if report.ok else 1


def run_instances(args: argparse.Namespace) -> int:
    from unetzoo.data.label_masks import LARGE, label_masks

    done = label_masks(open_source(args.data, **data_options(args)), args.connectivity, args.force)
    print(f"wrote {done.objects} objects in {done.images} label images to {done.folder}")
    if done.large:
        print(
            f"check {len(done.large)} image(s) with a component over {LARGE:g}x the median object area (touching "
            f"objects merge in a mask; split them in instances/ by hand): {', '.join(done.large[:10])}"
        )
    return 0


def run_convert(args: argparse.Namespace) -> int:
    src = open_source(args.data, **data_options(args))
    target = convert_to_nnunet(src, args.out, args.dataset_id, args.name)
    print(f"wrote {len(src)} cases to {target}")
    return 0
