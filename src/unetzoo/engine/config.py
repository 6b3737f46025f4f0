"""Training configuration: one dataclass, loadable from YAML, overridable from the CLI, saved resolved.

Precedence: dataclass defaults < the training plan < ``--config run.yaml`` < explicit CLI flags / Python keywords.
Fields whose default is ``None`` and that :data:`PLANNED` lists are chosen by the planner
(:func:`unetzoo.planning.make_plan`) from the data, the network and the budget unless set.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from unetzoo.data.patches import FOREGROUND_SHARE
from unetzoo.errors import UnetzooError
from unetzoo.utils.resample import Resampling

DEFAULT_HEAD = "distance"
"""The instance head of ``--task instances`` without ``--head``: the best of the heads on DSB 2018 nuclei at a
15-minute budget (ap50 0.767 against the boundary head's 0.741; the contact head within run-to-run noise of it;
docs/benchmarks.md)."""

PLANNED = (
    "resampling",
    "patch_size",
    "batch_size",
    "normalize",
    "augment",
    "loss",
    "lr",
    "scheduler",
    "iters_per_epoch",
    "inference",
)
"""Fields the planner fills when left unset."""


@dataclass
class TrainConfig:
    """Everything a training run needs. Field names are the CLI flags (``--batch-size`` -> batch_size)."""

    model: str = "ulite"
    preset: str | None = None
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    data: str = "builtin:nuclei"
    task: str = "semantic"  # semantic | instances (one label per object: needs instances/ label images)
    head: str = DEFAULT_HEAD  # instance head (--task instances): distance | boundary | contact (instances.HEADS)
    data_format: str | None = None
    slice_axis: str | None = None  # volume data: slice along z (default), y or x
    window: str | None = None  # volume data: CT window preset or LEVEL,WIDTH instead of the nonzero z-score
    crop: tuple[int, int] | None = None  # volume data: centre crop of every slice (SD-UNet: 144 144)
    regions: bool = False  # region-based training on the dataset's regions (one sigmoid output per region)
    positive: int | None = None
    invert_mask: bool = False
    epochs: int | None = None  # None: the budget alone stops training (the plan's default budget if none given)
    budget: str | None = None  # wall-clock limit, e.g. "10m"; with --epochs too, whichever comes first
    iters_per_epoch: int | None = None  # planned: steps between validations
    batch_size: int | None = None  # planned
    lr: float | None = None  # planned
    weight_decay: float = 0.0
    optimizer: str = "adam"  # adam | adamw | sgd
    momentum: float = 0.9
    scheduler: str | None = None  # planned: cosine | plateau | step | none
    loss: str | None = None  # planned
    augment: str | None = None  # planned
    deep_supervision: bool = False
    patch_size: tuple[int, int] | None = None  # planned
    normalize: str | None = None  # planned
    resampling: dict[str, Any] | None = None  # planned: {"mode": native|resize|scale, "size", "scale"}
    resize: tuple[int, int] | None = None  # shorthand for resampling mode "resize"
    scale: float | None = None  # shorthand for resampling mode "scale"
    inference: dict[str, Any] | None = None  # planned: {"mode", "tile", "overlap", "tta"}
    plan: str | None = None  # a plan file (`unetzoo plan --json > FILE`) to use instead of planning
    val_fraction: float = 0.2
    test_fraction: float = 0.0
    split_file: str | None = None
    fold: int | None = None
    folds: int | None = None
    seed: int = 0
    deterministic: bool = True
    num_workers: int = 0
    grad_clip: float | None = 1.0
    foreground_share: float = FOREGROUND_SHARE  # patches centred on a foreground pixel (images larger than a patch)
    early_stopping: int | None = None  # patience: validations (not epochs) without a better val Dice
    nan_policy: str = "stop"  # stop | skip
    threshold: float = 0.5
    val_every: int = 1
    out: str = "runs/run"
    resume: bool = False
    amp: bool | None = None  # mixed precision (autocast): bf16 on CPU; bf16 or fp16 (loss scaling) on CUDA.
    # None: on where the CPU computes bf16 natively (engine.distributed.native_bf16), off elsewhere
    amp_dtype: str = "bf16"  # bf16 | fp16
    device: str = "auto"  # auto (this rank's CUDA GPU if any, else CPU) | cpu | cuda
    progress: bool = True

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        choices = {
            "optimizer": ("adam", "adamw", "sgd"),
            "scheduler": ("cosine", "plateau", "step", "none"),
            "nan_policy": ("stop", "skip"),
            "amp_dtype": ("bf16", "fp16"),
            "device": ("auto", "cpu", "cuda"),
            "task": ("semantic", "instances"),
        }
        for name, allowed in choices.items():
            if getattr(self, name) is not None and getattr(self, name) not in allowed:
                raise UnetzooError(
                    f"--{name.replace('_', '-')} {getattr(self, name)!r}: choose one of {allowed}", exit_code=2
                )
        positive = {"epochs": self.epochs, "batch_size": self.batch_size, "lr": self.lr}
        for name, value in positive.items():
            if value is not None and value <= 0:
                raise UnetzooError(f"--{name.replace('_', '-')} must be positive, got {value}", exit_code=2)
        if not 0.0 <= self.foreground_share <= 1.0:
            raise UnetzooError(f"--foreground-share {self.foreground_share}: give a share in [0, 1]", exit_code=2)
        if not 0.0 <= self.val_fraction < 1.0 or not 0.0 <= self.test_fraction < 1.0:
            raise UnetzooError("--val-fraction and --test-fraction must be in [0, 1)", exit_code=2)
        if self.patch_size is not None:
            self.patch_size = (int(self.patch_size[0]), int(self.patch_size[1]))
        if self.resize is not None:
            self.resize = (int(self.resize[0]), int(self.resize[1]))
        if self.crop is not None:
            self.crop = (int(self.crop[0]), int(self.crop[1]))
        if sum(x is not None for x in (self.resize, self.scale, self.resampling)) > 1:
            raise UnetzooError("give one of --resize and --scale (or a resampling record), not several", exit_code=2)

    def fixed_resampling(self) -> Resampling | None:
        """The resampling the user fixed (``resize``/``scale``/``resampling``), or None to plan it."""
        if self.resize is not None:
            return Resampling("resize", size=self.resize)
        if self.scale is not None:
            return Resampling("scale", scale=self.scale) if self.scale != 1.0 else Resampling()
        return Resampling.from_dict(self.resampling) if self.resampling else None

    def unplanned(self) -> list[str]:
        """The planned fields still unset."""
        return [name for name in PLANNED if getattr(self, name) is None]

    @classmethod
    def fields(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def from_sources(cls, yaml_path: str | os.PathLike[str] | None = None, **overrides: Any) -> TrainConfig:
        """Defaults, then the YAML file, then ``overrides`` whose value is not None."""
        values: dict[str, Any] = {}
        if yaml_path is not None:
            values.update(load_yaml(yaml_path))
        values.update({k: v for k, v in overrides.items() if v is not None})
        unknown = sorted(set(values) - set(cls.fields()))
        if unknown:
            raise UnetzooError(f"unknown training option(s) {unknown}; valid: {', '.join(cls.fields())}", exit_code=2)
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        for key in ("patch_size", "resize", "crop"):
            if d[key] is not None:
                d[key] = list(d[key])
        return d

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)


def load_yaml(path: str | os.PathLike[str]) -> dict[str, Any]:
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UnetzooError(f"{p}: config file not found; pass the path of a run.yaml", exit_code=2) from None
    except yaml.YAMLError as exc:
        raise UnetzooError(f"{p}: not valid YAML ({str(exc).splitlines()[0]}); fix the file", exit_code=2) from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UnetzooError(f"{p}: a config must be a mapping of option: value", exit_code=2)
    return {str(k).replace("-", "_"): v for k, v in data.items()}
