"""Training configuration: one dataclass, loadable from YAML, overridable from the CLI, saved resolved.

Precedence: dataclass defaults < ``--config run.yaml`` < explicit CLI flags / Python keywords.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from unetzoo.errors import UnetzooError


@dataclass
class TrainConfig:
    """Everything a training run needs. Field names are the CLI flags (``--batch-size`` -> batch_size)."""

    model: str = "ulite"
    preset: str | None = None
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    data: str = "builtin:nuclei"
    data_format: str | None = None
    positive: int | None = None
    invert_mask: bool = False
    epochs: int = 50
    budget: str | None = None  # wall-clock limit, e.g. "10m"; when set, training stops at whichever comes first
    iters_per_epoch: int | None = None  # default: one pass over the training split
    batch_size: int = 8
    lr: float = 2e-3
    weight_decay: float = 0.0
    optimizer: str = "adam"  # adam | adamw | sgd
    momentum: float = 0.9
    scheduler: str = "cosine"  # cosine | plateau | step | none
    loss: str = "bce+dice"
    augment: str = "default"
    deep_supervision: bool = False
    patch_size: tuple[int, int] | None = (256, 256)
    normalize: str = "zscore"
    val_fraction: float = 0.2
    test_fraction: float = 0.0
    split_file: str | None = None
    fold: int | None = None
    folds: int | None = None
    seed: int = 0
    deterministic: bool = True
    num_workers: int = 0
    grad_clip: float | None = 1.0
    early_stopping: int | None = None  # patience in epochs without val Dice improvement
    nan_policy: str = "stop"  # stop | skip
    threshold: float = 0.5
    val_every: int = 1
    out: str = "runs/run"
    resume: bool = False
    amp: bool = False  # mixed precision (autocast): bf16 on CPU; bf16 or fp16 (with loss scaling) on CUDA
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
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise UnetzooError(
                    f"--{name.replace('_', '-')} {getattr(self, name)!r}: choose one of {allowed}", exit_code=2
                )
        positive = {"epochs": self.epochs, "batch_size": self.batch_size, "lr": self.lr}
        for name, value in positive.items():
            if value <= 0:
                raise UnetzooError(f"--{name.replace('_', '-')} must be positive, got {value}", exit_code=2)
        if not 0.0 <= self.val_fraction < 1.0 or not 0.0 <= self.test_fraction < 1.0:
            raise UnetzooError("--val-fraction and --test-fraction must be in [0, 1)", exit_code=2)
        if self.patch_size is not None:
            self.patch_size = (int(self.patch_size[0]), int(self.patch_size[1]))

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
        if d["patch_size"] is not None:
            d["patch_size"] = list(d["patch_size"])
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
