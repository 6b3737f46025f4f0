"""Search PyConvU-Net configurations for the paper's 3.7M params / 10.65 GMac at 3x512x512.

Li, Fan, Cai, BMC Bioinformatics 22:14 (2021), Table of model complexity: PyConvU-Net 3.7M params,
10.65 GMac. The published code cannot produce it (docs/pyconv_unet.md). This script enumerates what the
paper text leaves open and prints params, "conv" GMACs and "pt" GMACs of the candidates:

* text-consistent space: UNET-ZOO skeleton (4 poolings, BN, concat, 1x1 head), every 3x3 conv after the
  stem a PyConv with kernels 3/5/7/9 and groups 1/4/8/16 (real groups, no capping), the full 4-level
  pyramid at full resolution and non-increasing levels deeper (PyConvResNet); open: widths (doubling
  from 32 or 64, optionally capped), levels per depth, split, bottleneck expansion, up-conv type;
* outside the text (``--relaxed``): groups capped to what the channels allow, and a 6th depth.

Conventions (docs/pyconv_unet.md, docs/models.md): "pt" = ptflops' module hooks only (``count_functional=False``:
the paper's ``flops_counter.py`` has no functional patching; ptflops' default also counts every nn.ReLU
and nn.MaxPool2d a second time through F.relu / F.max_pool2d, giving 48.65 instead of the paper's
48.57 GMac for the UNET-ZOO U-Net). "conv" = conv and transposed-conv MACs (``unetzoo.profile``).
Models are built on the meta device, so nothing is allocated or computed.

Run: ``.venv/bin/python benchmarks/pyconv_search.py [--top 15] [--relaxed]`` (about 2 minutes).
"""

from __future__ import annotations

import argparse
import io
import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass
from unittest import mock

import torch
from ptflops import get_model_complexity_info
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from unetzoo.layers.pyconv import GROUPS, KERNELS, Split, level_channels
from unetzoo.models import create_model, list_presets
from unetzoo.models.pyconv_unet import PyConvUNet

TARGET_PARAMS = 3.7e6
TARGET_GMACS = 10.65
SHAPE = (3, 512, 512)
TOLERANCE = 0.05


@dataclass(frozen=True)
class Candidate:
    widths: tuple[int, ...]
    levels: tuple[int, ...]
    split: str
    expansion: int | None
    up: str

    def kwargs(self) -> dict[str, object]:
        return {
            "widths": self.widths,
            "levels": self.levels,
            "split": self.split,
            "expansion": self.expansion,
            "up": self.up,
        }


@dataclass(frozen=True)
class Result:
    name: str
    params: int
    conv_gmacs: float
    pt_gmacs: float

    @property
    def in_tolerance(self) -> bool:
        return abs(self.params / TARGET_PARAMS - 1) <= TOLERANCE

    def rank(self) -> tuple[bool, float]:
        """Params within +-5% first, then the sum of the log distances to the paper's params and pt GMACs."""
        return (
            not self.in_tolerance,
            abs(math.log(self.params / TARGET_PARAMS)) + abs(math.log(self.pt_gmacs / TARGET_GMACS)),
        )


def measure(name: str, model: nn.Module) -> Result:
    """Params, conv GMACs and pt GMACs at ``SHAPE`` of a model living on the meta device."""
    params = sum(p.numel() for p in model.parameters())
    model.eval()
    pt_macs, _ = get_model_complexity_info(
        model,
        SHAPE,
        as_strings=False,
        print_per_layer_stat=False,
        ost=io.StringIO(),
        backend_specific_config={"count_functional": False},
    )
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(torch.empty(1, *SHAPE, device="meta"))
    return Result(name, params, counter.get_total_flops() / 2e9, pt_macs / 1e9)


def build(c: Candidate) -> nn.Module:
    with torch.device("meta"):
        return PyConvUNet(SHAPE[0], 1, **c.kwargs())


def schedules(depths: int) -> list[tuple[int, ...]]:
    """Level schedules with the full 4-level pyramid at depth 0 and non-increasing levels deeper."""
    return [s for s in itertools.product(range(4, 0, -1), repeat=depths) if s[0] == 4 and list(s) == sorted(s)[::-1]]


def doubling(base: int, depths: int, cap: int | None = None) -> tuple[int, ...]:
    return tuple(min(base * 2**d, cap or base * 2**d) for d in range(depths))


def text_space() -> Iterator[Candidate]:
    widths = [doubling(32, 5, cap) for cap in (256, 320, 384, None)] + [doubling(64, 5, 512)]
    for w, lv, split, exp, up in itertools.product(
        widths, schedules(5), ("pyconvresnet", "pyramid"), (None, 1, 2, 4), ("transpose", "bilinear")
    ):
        yield Candidate(w, lv, split, exp, up)


def relaxed_space() -> Iterator[Candidate]:
    for base, depths, exp, up, split in itertools.product(
        (16, 24, 32), (5, 6), (None, 2, 4), ("transpose", "bilinear"), ("pyconvresnet", "pyramid")
    ):
        for lv in ((4,) * depths, (4, 3, 2, 1) + (1,) * (depths - 4), (4, 4, 3, 2) + (1,) * (depths - 4)):
            yield Candidate(doubling(base, depths), lv, split, exp, up)


class CappedPyConv2d(nn.Module):
    """PyConv whose groups are cut to gcd(groups, in, out) when the channels do not allow them (not the text)."""

    def __init__(self, in_channels: int, out_channels: int, levels: int = 4, *, split: Split = "pyconvresnet") -> None:
        super().__init__()
        widths = level_channels(out_channels, levels, split)
        self.levels = nn.ModuleList(
            nn.Conv2d(in_channels, c, k, padding=k // 2, groups=math.gcd(g, in_channels, c), bias=False)
            for k, g, c in zip(KERNELS[:levels], GROUPS[:levels], widths, strict=True)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([level(x) for level in self.levels], dim=1)


def describe(c: Candidate) -> str:
    exp = "plain" if c.expansion is None else f"bneck x{c.expansion}"
    widths = "-".join(map(str, c.widths))
    levels = "".join(map(str, c.levels))
    return f"w {widths:<22} lv {levels:<6} {c.split:<12} {exp:<9} {c.up}"


def search(space: Iterator[Candidate]) -> tuple[list[tuple[Candidate, Result]], int]:
    results, invalid = [], 0
    for c in space:
        try:
            model = build(c)
        except ValueError:  # a PyConv's groups do not divide its channels
            invalid += 1
            continue
        results.append((c, measure(describe(c), model)))
    return sorted(results, key=lambda cr: cr[1].rank()), invalid


def table(title: str, rows: list[Result]) -> None:
    print(f"\n{title}")
    print(f"{'configuration':<68} {'params':>10} {'d params':>9} {'conv G':>8} {'pt G':>8} {'d pt':>7} {'G/M':>6}")
    for r in rows:
        dp = r.params / TARGET_PARAMS - 1
        dg = r.pt_gmacs / TARGET_GMACS - 1
        ratio = r.pt_gmacs / (r.params / 1e6)
        counts = f"{r.params:>10,} {dp:>+9.1%} {r.conv_gmacs:>8.2f} {r.pt_gmacs:>8.2f} {dg:>+7.0%} {ratio:>6.2f}"
        print(f"{r.name:<68} {counts}")


def ratio_ranges(found: list[tuple[Candidate, Result]]) -> None:
    """pt GMACs per million params by number of depths (the paper: 10.65 / 3.7 = 2.88)."""
    by_depths: dict[int, list[float]] = {}
    for c, r in found:
        by_depths.setdefault(len(c.widths), []).append(r.pt_gmacs / (r.params / 1e6))
    spans = ", ".join(f"{d} depths {min(v):.2f}-{max(v):.2f}" for d, v in sorted(by_depths.items()))
    print(f"pt GMac per M params: {spans} (paper {TARGET_GMACS / (TARGET_PARAMS / 1e6):.2f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--top", type=int, default=15, help="candidates to print per table")
    parser.add_argument("--relaxed", action="store_true", help="also search outside the text (capped groups, 6 depths)")
    args = parser.parse_args()

    presets = []
    for preset in list_presets("pyconv_unet"):
        with torch.device("meta"):
            presets.append(measure(f"preset {preset}", create_model("pyconv_unet", preset=preset)))
    table(f"Presets vs paper {TARGET_PARAMS / 1e6:.1f}M / {TARGET_GMACS} GMac at {SHAPE}", presets)

    found, invalid = search(text_space())
    results = [r for _, r in found]
    table(
        f"Text-consistent: {len(results)} valid, {invalid} rejected (groups do not divide channels), "
        f"{sum(r.in_tolerance for r in results)} within +-5% params; best {args.top}",
        results[: args.top],
    )
    print(
        f"min params / min pt GMACs over the text-consistent space: {min(r.params for r in results):,} / "
        f"{min(r.pt_gmacs for r in results):.2f}"
    )
    ratio_ranges(found)
    unetzoo_widths = [r for c, r in found if c.widths == doubling(32, 5)]
    table("Widths 32..512 (UNET-ZOO), fewest params", sorted(unetzoo_widths, key=lambda r: r.params)[: args.top])

    if args.relaxed:
        with mock.patch("unetzoo.models.pyconv_unet.PyConv2d", CappedPyConv2d):
            relaxed, _ = search(relaxed_space())
        table(
            f"Outside the text (groups capped to the channels; 5 or 6 depths); best {args.top}",
            [r for _, r in relaxed[: args.top]],
        )
        ratio_ranges(relaxed)


if __name__ == "__main__":
    main()
