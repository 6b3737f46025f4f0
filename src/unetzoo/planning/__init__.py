"""Self-configuring training: ``unetzoo plan`` and what ``unetzoo train`` runs by default.

>>> import unetzoo
>>> p = unetzoo.plan("synthetic:nuclei?n=16&size=96", model="ulite", budget="2m")  # doctest: +SKIP
>>> p.resampling, p.patch_size, p.batch_size, p.reasons["patch_size"]  # doctest: +SKIP

The plan is deterministic for a dataset, a network, a budget and a machine: the fingerprint
(:mod:`unetzoo.planning.fingerprint`) and the network's cost on this CPU (:mod:`unetzoo.planning.cost`) are measured
once and cached; the rules (:mod:`unetzoo.planning.rules`) are pure. Any part can be fixed by the caller
(``resampling``, ``patch_size``, ``batch_size``), and the rest is planned around it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from unetzoo.data import Source, open_source
from unetzoo.errors import UnetzooError
from unetzoo.planning import rules
from unetzoo.planning.cost import ModelCost, model_cost, step_seconds_at
from unetzoo.planning.fingerprint import Fingerprint, cached_fingerprint
from unetzoo.utils.atomic import atomic_write_text
from unetzoo.utils.duration import parse_duration
from unetzoo.utils.resample import Resampling

DEFAULT_BUDGET = "10m"
PLAN_VERSION = 1
STEP_TOLERANCE = 1.15
"""A real step this much slower than the cost model's line re-plans with the measured speed."""

__all__ = ["DEFAULT_BUDGET", "Fingerprint", "ModelCost", "Plan", "cached_fingerprint", "load_plan", "make_plan"]


@dataclass
class Plan:
    """A training plan: every choice :class:`unetzoo.engine.config.TrainConfig` needs, and why."""

    model: str
    budget_seconds: float
    threads: int
    resampling: dict[str, Any]
    patch_size: list[int]
    batch_size: int
    normalize: str
    augment: str
    loss: str
    lr: float
    scheduler: str
    iters_per_epoch: int | None
    inference: dict[str, Any]
    expected_steps: int | None
    reasons: dict[str, str]
    warnings: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    cost: dict[str, Any] = field(default_factory=dict)
    version: int = PLAN_VERSION

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def save(self, path: str | os.PathLike[str]) -> Path:
        return atomic_write_text(path, self.to_json())

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Plan:
        known = {f for f in cls.__dataclass_fields__}
        missing = [k for k in ("resampling", "patch_size", "batch_size") if k not in data]
        if missing:
            raise UnetzooError(f"plan lacks {', '.join(missing)}; write it with `unetzoo plan --json > FILE`")
        return cls(**{k: v for k, v in data.items() if k in known})

    def train_options(self) -> dict[str, Any]:
        """The :class:`TrainConfig` fields this plan sets."""
        return {
            "resampling": dict(self.resampling),
            "patch_size": tuple(self.patch_size),
            "batch_size": self.batch_size,
            "normalize": self.normalize,
            "augment": self.augment,
            "loss": self.loss,
            "lr": self.lr,
            "scheduler": self.scheduler,
            "iters_per_epoch": self.iters_per_epoch,
            "inference": dict(self.inference),
        }

    def summary_line(self, epochs: int | None = None, budget: bool = True) -> str:
        """One line of the main choices, for a training log: ``epochs`` (``--epochs``) and ``budget`` (whether a
        budget stops the run too) say what stops it; without a budget the plan's was used for sizing only."""
        work = Resampling.from_dict(self.resampling).describe()
        steps = f", about {self.expected_steps} steps" if self.expected_steps and budget else ""
        stop = f"in {self.budget_seconds:.0f} s" if budget else ""
        if epochs is not None:
            stop = f"{stop} or {epochs} epochs, whichever comes first" if budget else f"for {epochs} epochs"
        return f"plan: {work}, patch {self.patch_size[0]}x{self.patch_size[1]}, batch {self.batch_size}{steps} {stop}"

    def describe(self) -> str:
        """Human-readable plan: one line per choice with its reason, then the warnings."""
        steps = f", about {self.expected_steps} steps" if self.expected_steps else ""
        lines = [f"plan for {self.model} on {self.data.get('name', '?')}: budget {self.budget_seconds:.0f} s, "
                 f"{self.threads} thread(s){steps}"]  # fmt: skip
        lines += [f"  {key}: {reason}" for key, reason in self.reasons.items()]
        lines += [f"  warning: {w}" for w in self.warnings]
        return "\n".join(lines)


def load_plan(path: str | os.PathLike[str]) -> Plan:
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UnetzooError(f"{p}: plan file not found; write one with `unetzoo plan --json > {p}`") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UnetzooError(f"{p}: not a plan ({exc}); write one with `unetzoo plan --json`") from exc
    if not isinstance(data, dict):
        raise UnetzooError(f"{p}: not a plan; write one with `unetzoo plan --json`")
    return Plan.from_dict(data)


def _data_summary(fp: Fingerprint) -> dict[str, Any]:
    return {
        "name": fp.name,
        "fingerprint": fp.hash,
        "n_images": fp.n_images,
        "channels": fp.channels,
        "classes": fp.classes,
        "image_size_p50": [fp.image_height[1], fp.image_width[1]],
        "image_size_p95": [fp.image_height[2], fp.image_width[2]],
        "object_extent_px": [fp.extent_px(0), fp.extent_px(1), fp.extent_px(2)],
        "boundary_density": round(fp.mean_boundary_density, 4),
        "foreground_fraction": fp.foreground_fraction,
    }


def make_plan(
    data: str | Source,
    model: str = "ulite",
    *,
    budget: str | float | None = None,
    threads: int | None = None,
    preset: str | None = None,
    model_kwargs: dict[str, Any] | None = None,
    val_fraction: float = 0.2,
    resampling: Resampling | dict[str, Any] | None = None,
    patch_size: tuple[int, int] | list[int] | None = None,
    batch_size: int | None = None,
    cadence: bool = True,
    amp: bool = False,
    retime: bool = False,
    **data_options: Any,
) -> Plan:
    """Plan training of ``model`` on ``data`` for ``budget`` (seconds or "10m"; default 10 minutes).

    ``resampling``, ``patch_size`` and ``batch_size``, when given, are kept and the rest planned around them
    (a given patch is the one objects must fit in). ``cadence=False`` (training by ``--epochs``) leaves the
    validation cadence at one pass over the training split. The network's speed is measured only when a choice
    depends on it, in bf16 autocast when ``amp`` (as the run will train), and cached; ``retime`` measures it again
    and replaces the cached timings (taken while the machine was busy, they would make every later plan expect
    too few steps).
    """
    source = open_source(data, **data_options) if isinstance(data, str) else data
    fp = cached_fingerprint(source)
    budget_s = float(budget) if isinstance(budget, int | float) else parse_duration(budget or DEFAULT_BUDGET)
    threads = threads or torch.get_num_threads()
    spec = {
        "name": model,
        "preset": preset,
        "kwargs": dict(model_kwargs or {}),
        "in_channels": fp.channels,
        "classes": 1 if fp.classes <= 2 else fp.classes,
        **({"amp": True} if amp else {}),  # timed as trained; fp32 specs keep their cache keys
    }
    measured: list[ModelCost] = []

    def cost() -> ModelCost:  # measured only when a choice depends on the network's speed
        if not measured:
            measured.append(model_cost(spec, threads, refresh=retime))
        return measured[0]

    def timed(batch: int, patch: list[int]) -> float:
        return step_seconds_at(spec, threads, batch, patch, refresh=retime)

    warnings = rules.channel_warnings(fp)
    layout = _layout(fp, cost, budget_s, resampling, patch_size, batch_size)
    operating_point: dict[str, Any] = {}
    if patch_size is None or batch_size is None:  # the choice rests on the step-time model: check it there
        layout, operating_point = _checked(layout, fp, cost(), timed, budget_s, resampling, patch_size, batch_size)
    scale, patch, batch, steps = layout["scale"], layout["patch"], layout["batch"], layout["steps"]
    warnings += layout["warnings"]
    working: Resampling = scale.value  # type: ignore[assignment]
    if steps is None and cadence and batch_size is not None:
        steps = int(budget_s / cost().step_seconds(batch_size, patch.value[0] * patch.value[1]))
    if cadence and steps is not None:
        validation = rules.plan_validation(fp, working, cost(), steps, budget_s, val_fraction)
    else:
        validation = rules.Choice(None, "one pass over the training split per epoch (--epochs given)")
    normalize = rules.plan_normalize(fp)
    inference = rules.plan_inference(fp, working, patch.value)  # type: ignore[arg-type]
    binary = fp.classes <= 2
    choices = {
        "resampling": scale,
        "patch_size": patch,
        "batch_size": batch,
        "iters_per_epoch": validation,
        "normalize": normalize,
        "augment": rules.Choice("default", "default preset: flips, rot90, affine, elastic, intensity"),
        "loss": rules.Choice(
            "bce+dice" if binary else "ce+dice", "cross-entropy for calibrated probabilities + Dice for overlap"
        ),
        "lr": rules.Choice(2e-3, "Adam at 2e-3 with a cosine decay over the budget (time-based schedule)"),
        "inference": inference,
    }
    return Plan(
        model=model,
        budget_seconds=budget_s,
        threads=threads,
        resampling=working.to_dict(),
        patch_size=list(patch.value),  # type: ignore[call-overload]
        batch_size=int(batch.value),  # type: ignore[call-overload]
        normalize=str(normalize.value),
        augment="default",
        loss=str(choices["loss"].value),
        lr=2e-3,
        scheduler="cosine",
        iters_per_epoch=validation.value,  # type: ignore[arg-type]
        inference=dict(inference.value),  # type: ignore[call-overload]
        expected_steps=steps,
        reasons={key: choice.reason for key, choice in choices.items()},
        warnings=warnings,
        data=_data_summary(fp),
        cost={**measured[0].to_dict(), **operating_point} if measured else {},
    )


def _layout(fp: Fingerprint, cost: Any, budget_s: float, resampling: Resampling | dict[str, Any] | None,
            patch_size: Any, batch_size: int | None) -> dict[str, Any]:  # fmt: skip
    """Scale, patch and batch (``rules.Choice``), expected steps and warnings under the cost model ``cost()``
    (a callable, so that a fully fixed layout never measures the network)."""
    side = min(patch_size) if patch_size is not None else rules.largest_patch(cost(), budget_s)
    warnings: list[str] = []
    if resampling is not None:
        fixed = resampling if isinstance(resampling, Resampling) else Resampling.from_dict(resampling)
        scale = rules.Choice(fixed, f"{fixed.describe()}: given")
    else:
        scale, warnings = rules.plan_scale(fp, side)
    working: Resampling = scale.value  # type: ignore[assignment]
    if patch_size is not None:
        patch = rules.Choice([int(patch_size[0]), int(patch_size[1])], f"{patch_size[0]}x{patch_size[1]}: given")
    else:
        patch = rules.plan_patch(fp, working, side, max(cost().input_multiple, 32))
    steps: int | None = None
    if batch_size is not None:
        batch = rules.Choice(batch_size, f"batch {batch_size}: given")
    else:
        batch, steps, more = rules.plan_batch(cost(), patch.value, budget_s)  # type: ignore[arg-type]
        warnings += more
    return {"scale": scale, "patch": patch, "batch": batch, "steps": steps, "warnings": warnings}


def _checked(layout: dict[str, Any], fp: Fingerprint, cost: ModelCost, timed: Callable[[int, list[int]], float],
             budget_s: float, resampling: Any, patch_size: Any, batch_size: int | None,
             ) -> tuple[dict[str, Any], dict[str, Any]]:  # fmt: skip
    """Time one real step at the layout's batch and patch (``timed(batch, patch)``: seconds); when it is more than
    STEP_TOLERANCE slower than the cost model said, plan again with the model slowed by that ratio and time the new
    point. Returns the layout (expected steps from the measured step) and the record stored in the plan's ``cost``."""
    point = (int(layout["batch"].value), list(layout["patch"].value))
    seconds = timed(*point)
    ratio = seconds / cost.step_seconds(point[0], point[1][0] * point[1][1])
    if ratio > STEP_TOLERANCE:
        slowed = cost.slowed(ratio)
        layout = _layout(fp, lambda: slowed, budget_s, resampling, patch_size, batch_size)
        new_point = (int(layout["batch"].value), list(layout["patch"].value))
        if new_point != point:
            point, seconds = new_point, timed(*new_point)
    steps = int(budget_s / seconds)
    batch = layout["batch"]
    measured = (
        f"; a real step at {point[0]} x {point[1][0]}x{point[1][1]} takes {seconds:.2f} s, so about {steps} steps"
    )
    layout = {**layout, "steps": steps, "batch": rules.Choice(batch.value, batch.reason + measured)}
    record = {"operating_point": {"batch": point[0], "patch": point[1], "step_seconds": round(seconds, 4),
                                  "measured_over_model": round(ratio, 3)}}  # fmt: skip
    return layout, record
