"""The planning rules: from a dataset fingerprint, a network's cost on this CPU and a wall-clock budget to a
training plan, each choice with its reason. Pure functions; docs/planning.md derives every constant.

nnU-Net (Isensee et al. 2021) fixes the target spacing to the dataset's median and grows the patch until the
GPU is full. On a CPU under a wall-clock budget the scarce resource is time, so unetzoo plans the other way
round: the budget sets how many pixels training can afford, which bounds the patch; the objects must fit in
the patch with context, which may call for a coarser working scale; the structures' boundary density bounds
how coarse that scale may get before it costs more Dice than it buys.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from unetzoo.planning.cost import ModelCost
from unetzoo.planning.fingerprint import Fingerprint
from unetzoo.utils.resample import Resampling

BOUNDARY_ERROR_PX = 0.5  # mean boundary misplacement of a converged model, in pixels of its working scale
MAX_SCALE_COST = 0.02  # most expected Dice a coarser working scale may cost against native resolution
CONTEXT_MARGIN = 1.25  # an object plus a quarter of its size around it must fit in a patch
TARGET_STEPS = 1000  # optimizer steps a budget should buy; larger budgets buy larger batches first
MIN_STEPS = 250  # fewer steps than this: the plan warns that the budget is too small for the data
REFERENCE_BATCH = 4  # the batch the largest affordable patch is sized for
PATCH_RANGE = (128, 512)  # side of the largest affordable patch, in pixels
SCALE_STEP = 1 / 16  # working scales are multiples of this (deterministic, simple sizes)
SIZE_SPREAD = 1.25  # images whose sides differ by more than this (95th / 5th percentile) vary in size
VALIDATION_SHARE = 0.1  # at most this share of the budget goes to validation
VALIDATIONS = (3, 20)  # validations per run, at least and at most
WHOLE_IMAGE_AREA = 1.5  # whole images train in one patch when no larger than this times the largest patch
INFERENCE_WHOLE_SIDE = 1024  # images up to this side (at the working scale) are predicted in one pass
MEMORY_SHARE = 0.5  # of physical memory, at most this share (and MEMORY_CAP) may hold activations
MEMORY_CAP = 8 << 30
MIXED_POLARITY = 0.1  # both polarities (objects brighter / darker than background) in at least this share of images


@dataclass(frozen=True)
class Choice:
    """One planned value and why."""

    value: object
    reason: str


def round_up(value: float, multiple: int) -> int:
    return int(math.ceil(value / multiple) * multiple)


def round_down(value: float, multiple: int) -> int:
    return max(multiple, int(value // multiple) * multiple)


def largest_patch(cost: ModelCost, budget_s: float) -> int:
    """Side of the largest square patch whose TARGET_STEPS steps at REFERENCE_BATCH fit in the budget."""
    seconds_per_step = budget_s / TARGET_STEPS - cost.overhead_s
    pixels = max(seconds_per_step, 0.0) / (cost.seconds_per_px * REFERENCE_BATCH)
    side = round_down(math.sqrt(pixels), 32) if pixels > 0 else PATCH_RANGE[0]
    return min(max(side, PATCH_RANGE[0]), PATCH_RANGE[1])


def finest_allowed_scale(density: float) -> float:
    """Coarsest working scale whose expected Dice cost stays within MAX_SCALE_COST.

    A model misplaces boundaries by about BOUNDARY_ERROR_PX pixels of its working scale ``s``, that is
    ``e / s`` original pixels; an error ``d`` along the boundary of a region of boundary density ``rho``
    (boundary pixels / region pixels) costs about ``rho * d / 2`` of its Dice. Against native resolution the
    extra cost is ``rho * e / 2 * (1/s - 1)``; keeping it within ``tau`` gives ``s >= rho e / (rho e + 2 tau)``.
    """
    x = density * BOUNDARY_ERROR_PX
    return x / (x + 2 * MAX_SCALE_COST) if x > 0 else 0.0


def snap_scale(scale: float, *, up: bool) -> float:
    steps = scale / SCALE_STEP
    k = math.ceil(steps - 1e-9) if up else math.floor(steps + 1e-9)
    return min(1.0, max(SCALE_STEP, k * SCALE_STEP))


def objects_scale_with_images(fp: Fingerprint) -> bool:
    """Images vary in size (95th/5th percentile of a side above SIZE_SPREAD) and their objects' extent relative
    to the image varies less than their extent in pixels: the same scene photographed at several resolutions
    (lesions, polyps), where resizing every image to one size also gives the objects one size."""
    spread = max(fp.image_height[2] / max(fp.image_height[0], 1), fp.image_width[2] / max(fp.image_width[0], 1))
    if spread <= SIZE_SPREAD or not fp.extent_px():
        return False
    absolute = fp.extent_px(2) / max(fp.extent_px(0), 1.0)
    relative = fp.extent_rel(2) / max(fp.extent_rel(0), 1e-9)
    return relative < absolute


def _fitting_scale(extent: float, patch_side: int, floor: float) -> tuple[float, str]:
    """The scale at which objects of ``extent`` px fit the patch with context, bounded by ``floor``: (scale,
    ``native`` | ``fits`` | ``exceeds``)."""
    fit = patch_side / (CONTEXT_MARGIN * extent) if extent else math.inf
    if fit >= 1.0:
        return 1.0, "native"
    if fit >= floor:
        return max(snap_scale(fit, up=False), snap_scale(floor, up=True) if floor > 0 else 0.0), "fits"
    return snap_scale(floor, up=True), "exceeds"


def plan_scale(fp: Fingerprint, patch_side: int) -> tuple[Choice, list[str]]:
    """The working scale: native unless the large objects do not fit in the patch, and never coarser than
    the structures' boundary density allows; one fixed size instead when objects scale with their images."""
    warnings: list[str] = []
    density = fp.mean_boundary_density
    floor = finest_allowed_scale(density)
    by_image = objects_scale_with_images(fp)
    height, width = round(fp.image_height[1]), round(fp.image_width[1])
    # With a fixed size, every image becomes the median image: its objects' extent is relative x median side.
    extent = fp.extent_rel() * max(height, width) if by_image else fp.extent_px()
    scale, verdict = _fitting_scale(extent, patch_side, floor)
    facts = (
        f"95th-percentile object extent {extent:.0f} px, largest affordable patch {patch_side} px, "
        f"boundary density {density:.3f} (finest allowed scale {floor:.2f})"
    )
    if by_image:
        size = (max(8, round(height * scale)), max(8, round(width * scale)))
        value = Resampling("resize", size=size)
        what = (
            f"resize to {size[0]}x{size[1]}: image sizes vary and the objects scale with them (relative extents "
            f"vary less than pixel extents), so one size gives them one size"
        )
    else:
        value = Resampling("scale", scale=scale) if scale < 1 else Resampling()
        what = "native resolution" if scale == 1 else f"scale x{scale:g}"
    if verdict == "native":
        return Choice(value, f"{what}: objects fit in the patch with context ({facts})"), warnings
    if verdict == "fits":
        return Choice(value, f"{what}: the largest objects fit in the patch with context at this scale ({facts})"), []
    warnings.append(
        f"the largest objects ({extent:.0f} px) do not fit in a {patch_side}-px patch even at the coarsest scale "
        f"their boundaries allow (x{scale:g}): the network sees them in parts; a larger --budget buys larger "
        "patches, or pass --patch-size to trade steps for context"
    )
    return Choice(
        value, f"{what}: as coarse as the boundary density allows; objects still exceed the patch ({facts})"
    ), warnings


def working_size(fp: Fingerprint, resampling: Resampling, q: int = 2) -> tuple[int, int]:
    """(H, W) at the working scale of the image size at percentile index ``q`` (2: 95th)."""
    return resampling.target_size(round(fp.image_height[q]), round(fp.image_width[q]))


def size_spread(fp: Fingerprint, resampling: Resampling) -> float:
    """How much the working images' sides vary: 95th over 5th percentile, the larger of the two sides'."""
    (h95, w95), (h5, w5) = working_size(fp, resampling), working_size(fp, resampling, q=0)
    return max(h95 / max(h5, 1), w95 / max(w5, 1))


def plan_patch(fp: Fingerprint, resampling: Resampling, patch_side: int, multiple: int) -> Choice:
    """Whole (working-scale) images when they fit the affordable area and share one size, else random
    square-ish patches no larger than the median working image: when sizes vary, a patch sized for the
    largest images would be mostly mirrored padding around the smaller ones (a larger budget then buys a
    larger batch, :func:`plan_batch`)."""
    height, width = working_size(fp, resampling)
    whole = (round_up(height, multiple), round_up(width, multiple))
    fits = whole[0] * whole[1] <= WHOLE_IMAGE_AREA * patch_side**2 and max(whole) <= 2 * patch_side
    spread = size_spread(fp, resampling)
    if fits and spread <= SIZE_SPREAD:
        return Choice(list(whole), f"whole images: {height}x{width} at the working scale fits one patch")
    med_h, med_w = working_size(fp, resampling, q=1)
    patch = [min(patch_side, round_up(med_h, multiple)), min(patch_side, round_up(med_w, multiple))]
    if fits:
        why = (
            f"images of {height}x{width} would fit one patch, but sizes vary {spread:.1f}x (95th / 5th "
            f"percentile side), so a patch that size would be mostly padding around the smaller images"
        )
    else:
        why = f"images of {height}x{width} do not fit one patch"
    return Choice(
        patch,
        f"random {patch[0]}x{patch[1]} patches: the largest the budget affords ({patch_side} px) within the "
        f"median working image ({med_h}x{med_w}); {why}",
    )


def memory_limit() -> int:
    try:
        import os

        physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        physical = 8 << 30
    return int(min(physical * MEMORY_SHARE, MEMORY_CAP))


def plan_batch(cost: ModelCost, patch: list[int], budget_s: float) -> tuple[Choice, int, list[str]]:
    """The largest power-of-two batch (4..16) that still buys TARGET_STEPS steps; smaller when the budget
    or memory demands it. Returns the choice, the expected steps and warnings."""
    pixels = patch[0] * patch[1]
    by_memory = max(1, int(memory_limit() // max(1.0, cost.bytes_per_px * pixels)))
    warnings: list[str] = []
    batch = 2
    for candidate in (16, 8, 4):
        if candidate <= by_memory and budget_s / cost.step_seconds(candidate, pixels) >= TARGET_STEPS:
            batch = candidate
            break
    else:
        if budget_s / cost.step_seconds(4, pixels) >= MIN_STEPS and by_memory >= 4:
            batch = 4
    batch = max(1, min(batch, by_memory))
    steps = int(budget_s / cost.step_seconds(batch, pixels))
    reason = (
        f"batch {batch}: about {steps} steps of {cost.step_seconds(batch, pixels):.2f} s in the budget "
        f"(measured {cost.train_px_per_s(batch, pixels) / 1e6:.2f} Mpx/s training on {cost.threads} thread(s))"
    )
    if steps < MIN_STEPS:
        warnings.append(
            f"the budget buys only about {steps} training steps (at least {MIN_STEPS} are advisable): "
            f"expect an under-trained model; give a --budget of at least "
            f"{math.ceil(MIN_STEPS * cost.step_seconds(batch, pixels) / 60)}m or a lighter --model"
        )
    return Choice(batch, reason), steps, warnings


def plan_validation(fp: Fingerprint, resampling: Resampling, cost: ModelCost, steps: int, budget_s: float,
                    val_fraction: float) -> Choice:  # fmt: skip
    """Optimizer steps between validations: as many validations as VALIDATION_SHARE of the budget pays for,
    within VALIDATIONS. The estimate counts median-size images and no post-processing; the trainer holds the
    share on measured validations (:meth:`unetzoo.engine.train.Trainer._validation_due`)."""
    height, width = working_size(fp, resampling, q=1)
    n_val = max(1, round(fp.n_images * val_fraction))
    one = n_val * height * width / cost.infer_px_per_s
    runs = int(min(max(VALIDATION_SHARE * budget_s / max(one, 1e-9), VALIDATIONS[0]), VALIDATIONS[1]))
    every = max(1, math.ceil(steps / runs))
    return Choice(
        every,
        f"validate every {every} steps: {runs} validations of {n_val} images (~{one:.1f} s each, estimated); "
        f"the run skips any that would take validation past {VALIDATION_SHARE:.0%} of the elapsed time",
    )


def plan_normalize(fp: Fingerprint) -> Choice:
    intensity = fp.intensity
    if intensity.get("dtype", "uint8").startswith("float") or intensity.get("min", 0.0) < 0:
        return Choice(
            "dataset",
            "dataset statistics: float or signed intensities (CT-like) carry meaning across images, which "
            "per-image z-scoring would erase",
        )
    dark = intensity.get("negative_skew_share", 0.0)
    if MIXED_POLARITY <= dark <= 1 - MIXED_POLARITY:
        return Choice(
            "zscore_polarity",
            f"per-image z-score, negated on images whose intensities are negatively skewed ({dark:.0%} of the "
            "measured images: dark objects on a bright background, the others bright on dark), so that every "
            "image shows bright objects",
        )
    return Choice("zscore", "per-image z-score: integer intensities whose exposure may differ between images")


def plan_inference(fp: Fingerprint, resampling: Resampling, patch: list[int]) -> Choice:
    height, width = working_size(fp, resampling)
    if max(height, width) <= INFERENCE_WHOLE_SIDE:  # tiles of that side: the few images above the 95th percentile
        side = INFERENCE_WHOLE_SIDE  # run whole too, rather than in four overlapping tiles (twice the pixels)
        value = {"mode": "whole", "tile": [side, side], "overlap": 0.25, "tta": False}
        reason = f"whole image in one pass ({height}x{width} at the working scale); no TTA (4x the CPU time)"
    else:
        side = max(512, max(patch))
        value = {"mode": "sliding_window", "tile": [side, side], "overlap": 0.25, "tta": False}
        reason = f"sliding window of {side} px tiles, 25% overlap ({height}x{width} is too large for one pass)"
    return Choice(value, reason)


def channel_warnings(fp: Fingerprint) -> list[str]:
    if len(fp.channel_counts) <= 1:
        return []
    counts = ", ".join(f"{n} image(s) with {c} channel(s)" for c, n in sorted(fp.channel_counts.items()))
    return [
        f"images disagree in channels ({counts}): the network takes {fp.channels}, gray images are replicated; "
        "convert the odd images if they are not gray versions of the same modality"
    ]
