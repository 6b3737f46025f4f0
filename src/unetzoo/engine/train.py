"""The training loop: any registered model on any supported data, on a CPU, with a wall-clock budget.

Per epoch: train loss, validation loss and metrics, learning rate and time, logged to ``metrics.csv`` and
``log.json``; ``last.pt`` every epoch and ``best.pt`` on the best validation Dice, both written atomically.
``resume=True`` continues from ``last.pt`` exactly: model, optimizer, plateau scheduler, epoch, RNG
states and elapsed time are restored, and data order/augmentation derive from (seed, epoch, index), so a
deterministic run resumed after a kill ends with the same weights as an uninterrupted one.

Under ``torchrun`` (see :mod:`unetzoo.engine.distributed` and docs/distributed.md) the same loop runs data
parallel: ``batch_size`` stays the global batch, split evenly over the ranks; each rank takes its share of the
one (seed, epoch) order; validation images are split over the ranks and their per-image rows gathered, so
every rank computes the same metrics; rank 0 alone writes files, logs and decides when the budget is spent.
A non-finite loss or gradient stops the run (or skips the step: ``nan_policy="skip"``) on every rank at once.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from unetzoo.data import (
    Preprocess,
    SegmentationDataset,
    build_augment,
    check_source,
    kfold_splits,
    load_split,
    make_split,
    open_source,
)
from unetzoo.engine.checkpoint import load_checkpoint, save_checkpoint
from unetzoo.engine.config import PLANNED, TrainConfig
from unetzoo.engine.distributed import (
    DistContext,
    OnDevice,
    autocast,
    data_parallel,
    grad_scaler,
    init_distributed,
    resolve_amp,
)
from unetzoo.engine.distributed import shutdown as shutdown_distributed
from unetzoo.engine.evaluate import aggregate, evaluate_images
from unetzoo.engine.inference import Segmenter
from unetzoo.engine.instances import evaluate_instances, tune_checkpoint
from unetzoo.engine.reproducibility import restore_rng, rng_state, seed_everything
from unetzoo.engine.run_folder import make_run_dir, prepare_run_dir
from unetzoo.engine.sampling import CaseBlockSampler, EpochSampler
from unetzoo.engine.schedule import Plateau, lr_factor
from unetzoo.engine.volumes import evaluate_volumes
from unetzoo.errors import UnetzooError
from unetzoo.instances import get_head
from unetzoo.instances.segmenter import InstanceSegmenter
from unetzoo.losses import training_losses
from unetzoo.metrics.instances import DETAIL_KEYS as INSTANCE_DETAIL
from unetzoo.models import create_model
from unetzoo.planning import DEFAULT_BUDGET, Plan, load_plan, make_plan
from unetzoo.planning.rules import VALIDATION_SHARE
from unetzoo.utils.atomic import atomic_write_text
from unetzoo.utils.duration import parse_duration
from unetzoo.utils.integrity import read_digests
from unetzoo.utils.resample import Resampling
from unetzoo.volumes.slices import SliceOptions, VolumeSlices


@dataclass
class RunResult:
    """What a finished run left in its folder."""

    out: Path
    best_checkpoint: Path
    last_checkpoint: Path
    summary: dict[str, Any]


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    buffer = io.StringIO()
    fields: list[str] = []
    for r in rows:
        fields += [k for k in r if k not in fields]
    writer = csv.DictWriter(buffer, fieldnames=fields)
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(path, buffer.getvalue())


def training_memory_format(device: torch.device, model: torch.nn.Module | None = None) -> torch.memory_format:
    """The layout weights and batches train in: channels_last on CPU, where oneDNN runs depthwise and grouped
    convolutions several times faster in it (training steps: pyconv_unet 4.1x, sd_unet 1.9x, dense nets about
    +5%; docs/benchmarks.md), unless ``model`` opts out (``channels_last = False``: the MONAI peers, trained as
    MONAI's users train them); the default layout elsewhere."""
    opted_in = getattr(model, "channels_last", True)
    return torch.channels_last if device.type == "cpu" and opted_in else torch.contiguous_format


class Trainer:
    """One training run. Use :func:`train`; this class only keeps the loop's pieces short."""

    def __init__(self, config: TrainConfig, ctx: DistContext | None = None) -> None:
        self.config = config
        self.ctx = ctx or DistContext()
        self.out = Path(config.out)
        if config.batch_size is not None and config.batch_size % self.ctx.world_size:
            raise UnetzooError(
                f"--batch-size {config.batch_size} is the global batch and must split evenly over the "
                f"{self.ctx.world_size} processes; use a multiple of {self.ctx.world_size}",
                exit_code=2,
            )
        seed_everything(config.seed, config.deterministic)
        self.config = dataclasses.replace(config, amp=resolve_amp(config.amp, self.ctx.device))
        self._setup_data()
        self._setup_plan()
        self.budget = parse_duration(self.config.budget) if self.config.budget else None
        self._setup_preprocess()
        self._setup_model()
        self.history: list[dict[str, Any]] = []
        self.epoch = 0
        self.global_step = 0
        self.elapsed_before = 0.0  # seconds spent in earlier sessions of this run (resume)
        self.start = time.monotonic()
        self.clock = 0.0  # rank 0's elapsed() at the last agreement point: drives --budget and the schedule
        self.best_dice = -1.0
        self.stale_epochs = 0
        self.stop_reason = "epochs"
        self.skipped_steps = 0  # steps of the current epoch skipped for a NaN/inf loss or gradient
        self.val_dice_per_image: dict[str, float] = {}  # this epoch's validation, saved with its checkpoint
        self.tuning: dict[str, Any] | None = None  # an instance model's post-processing, chosen at the end

    # -- set-up ----------------------------------------------------------------------------------
    def _setup_data(self) -> None:
        c = self.config
        slices = SliceOptions.from_flags(c.slice_axis, c.window, c.normalize in (None, "none"), c.crop)
        options = {"fmt": c.data_format, "positive": c.positive, "invert_mask": c.invert_mask, "slices": slices}
        self.source = open_source(c.data, **options)
        check_source(self.source).raise_for_errors()  # the same one-line messages as `unetzoo data check`
        self.volumes = self.source if isinstance(self.source, VolumeSlices) else None
        self._check_volume_flags()
        # Volume data split by case (slices of one patient never straddle train and validation).
        ids = self.volumes.cases if self.volumes else self.source.ids
        if c.split_file:
            self.split = load_split(c.split_file, ids=ids)
        elif c.folds:
            self.split = kfold_splits(ids, c.folds, c.seed)[c.fold or 0]
        else:
            self.split = make_split(ids, seed=c.seed, val_fraction=c.val_fraction, test_fraction=c.test_fraction)
        train = self.split["train"]
        self.train_ids = self.volumes.training_slices(train, c.seed) if self.volumes else train
        index = {sid: i for i, sid in enumerate(self.source.ids)}
        self.train_idx = [index[s] for s in self.train_ids]
        self.val_idx = [] if self.volumes else [index[s] for s in self.split["val"]]
        if not self.train_idx:
            raise UnetzooError(f"{c.data}: the split leaves no training images; lower --val-fraction")
        self.head = None
        if c.task == "instances":
            self.head = get_head(c.head)
            if not self.source.has_instances:
                raise UnetzooError(
                    f"{c.data}: --task instances needs an instance label image per sample (instances/<stem>.png, "
                    "uint16, 0 = background, one id per object) beside images/, or masks that hold one id per object; "
                    "derive them from binary masks with "
                    f"`unetzoo data instances {c.data}` (one object per connected component), or train --task semantic"
                )
        self.regions = self.volumes.regions if c.regions and self.volumes else None
        self.binary = self.head is None and self.source.classes <= 2 and self.regions is None

    def _check_volume_flags(self) -> None:
        """Volume-only flags on volume data; a per-volume normalisation replaces the planned per-image one."""
        c = self.config
        if self.volumes is None:
            given = [f"--{n.replace('_', '-')}" for n in ("slice_axis", "window", "crop", "regions") if getattr(c, n)]
            if given:
                raise UnetzooError(
                    f"{c.data}: {', '.join(given)} apply to volume data (a 3D nnU-Net folder or synthetic:brain); "
                    "drop them for 2D data",
                    exit_code=2,
                )
            return
        if c.regions and self.volumes.regions is None:
            raise UnetzooError(
                f"{c.data}: --regions needs region-based labels in dataset.json (lists of ids and "
                "regions_class_order, nnU-Net's region_based_training.md); add them or drop --regions",
                exit_code=2,
            )
        if c.normalize is None:  # each volume is normalised as a whole (SliceOptions): nothing more per slice
            self.config = dataclasses.replace(c, normalize="none")

    def _setup_plan(self) -> None:
        """Fill every planned option left unset from the plan (``--plan FILE``, or planned now on rank 0)."""
        c = self.config
        stored = self.out / "plan.json"
        self.plan = load_plan(stored) if c.resume and stored.is_file() else None
        budget = c.budget
        if c.unplanned() and not c.resume:
            if c.plan:
                plan = load_plan(c.plan)
            else:
                made = None
                if self.ctx.is_main:
                    made = make_plan(
                        self.source, c.model, budget=budget, preset=c.preset, model_kwargs=c.model_kwargs,
                        val_fraction=c.val_fraction, resampling=c.fixed_resampling(), patch_size=c.patch_size,
                        batch_size=c.batch_size, cadence=c.epochs is None, amp=bool(c.amp),
                    ).to_dict()  # fmt: skip
                plan = Plan.from_dict(self.ctx.broadcast(made))
            self.plan = plan
            if c.progress and self.ctx.is_main:
                line = plan.summary_line(c.epochs, budget=budget is not None or c.epochs is None)
                lines = [f"{line} (reasons: {self.out / 'plan.json'})"]
                print("\n".join(lines + [f"plan warning: {w}" for w in plan.warnings]), file=sys.stderr)
            options = plan.train_options()
            values = {name: options[name] if getattr(c, name) is None else getattr(c, name) for name in PLANNED}
            world = self.ctx.world_size  # a planned global batch splits evenly over the ranks
            values["batch_size"] = -(-int(values["batch_size"]) // world) * world
        else:
            values = {}
        if budget is None and c.epochs is None:  # a run needs a stopping rule: the plan's budget
            budget = f"{self.plan.budget_seconds:g}s" if self.plan else DEFAULT_BUDGET
        fixed = c.fixed_resampling()
        values["resampling"] = (fixed or Resampling.from_dict(values.get("resampling"))).to_dict()
        self.config = dataclasses.replace(c, **values, resize=None, scale=None, budget=budget)
        self.resampling = Resampling.from_dict(self.config.resampling)

    def _setup_preprocess(self) -> None:
        c = self.config
        self.preprocess = Preprocess(normalize=c.normalize, channels=self.source.in_channels)  # type: ignore[arg-type]
        if c.normalize == "dataset":
            self.preprocess.fit(self.source, self.train_ids)

    def _setup_model(self) -> None:
        c = self.config
        self.model_spec = {
            "name": c.model,
            "preset": c.preset,
            "kwargs": {**c.model_kwargs, **({"deep_supervision": True} if c.deep_supervision else {})},
            "in_channels": self.source.in_channels,
            "classes": self._outputs(),
        }
        self.model = create_model(
            c.model,
            preset=c.preset,
            in_channels=self.model_spec["in_channels"],
            classes=self.model_spec["classes"],
            **self.model_spec["kwargs"],
        ).to(self.ctx.device)
        self.memory_format = training_memory_format(self.ctx.device, self.model)
        self.model.to(memory_format=self.memory_format)
        self.net = data_parallel(self.model, self.ctx)  # what the training step calls; self.model is saved
        self.scaler = grad_scaler(self.ctx.device, c.amp, c.amp_dtype)
        mode = "binary" if self.binary else "multiclass"
        # deep supervision as built (flag or preset), plus the CGM's BCE for a model with one (issue #14)
        regions = self.regions.ids if self.regions else None
        self.val_loss_fn, self.loss_fn = training_losses(c.loss, mode, self.model, regions)
        params = [p for p in self.model.parameters() if p.requires_grad]
        if c.optimizer == "sgd":
            self.optimizer = torch.optim.SGD(params, lr=c.lr, momentum=c.momentum, weight_decay=c.weight_decay)
        elif c.optimizer == "adamw":
            self.optimizer = torch.optim.AdamW(params, lr=c.lr, weight_decay=c.weight_decay)
        else:
            self.optimizer = torch.optim.Adam(params, lr=c.lr, weight_decay=c.weight_decay)
        self.plateau = Plateau(self.optimizer) if c.scheduler == "plateau" else None

    def _outputs(self) -> int:
        """Output channels: the head's, one per region, one for binary, else one per class."""
        if self.head:
            return self.head.classes
        if self.regions:
            return len(self.regions)
        return 1 if self.binary else self.source.classes

    def _loader(self) -> DataLoader:
        c = self.config
        dataset = SegmentationDataset(
            self.source,
            self.train_ids,
            preprocess=self.preprocess,
            augment=build_augment(c.augment),  # type: ignore[arg-type]
            patch_size=c.patch_size,
            resampling=self.resampling,
            seed=c.seed,
            targets=self.head,
            foreground_share=c.foreground_share,
        )
        per_epoch = (c.iters_per_epoch * c.batch_size) if c.iters_per_epoch else len(dataset)
        per_epoch = max(per_epoch, c.batch_size) // c.batch_size * c.batch_size  # whole global batches
        shard = (per_epoch, c.seed, self.ctx.rank, self.ctx.world_size)
        if self.volumes:
            number = {case: k for k, case in enumerate(self.volumes.cases)}
            cases = [number[self.volumes.case_of(i)] for i in self.train_idx]
            self.sampler = CaseBlockSampler(cases, self.volumes.cache_cases, *shard)
        else:
            self.sampler = EpochSampler(len(dataset), *shard)
        self.dataset = dataset
        return DataLoader(
            dataset,
            batch_size=c.batch_size // self.ctx.world_size,
            sampler=self.sampler,
            num_workers=c.num_workers,
            drop_last=True,
            persistent_workers=c.num_workers > 0,  # workers keep their encoded targets; the epoch is shared memory
        )

    # -- checkpoints -----------------------------------------------------------------------------
    def _payload(self, metrics: dict[str, Any]) -> dict[str, Any]:
        return {
            "model": self.model_spec,
            "state_dict": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.plateau.state_dict() if self.plateau else None,
            "scaler": self.scaler.state_dict() if self.scaler.is_enabled() else None,
            "epoch": self.epoch,
            "global_step": self.global_step,
            "elapsed": self.elapsed(),
            "rng": rng_state(),
            "config": self.config.to_dict(),
            "class_names": list(self.head.class_names if self.head else self.source.class_names),
            "instances": {"head": self.head.name} if self.head else None,
            "preprocess": self.preprocess.to_dict(),
            "volume": self.volumes.options.to_dict() if self.volumes else None,
            "regions": self.regions.to_dict() if self.regions else None,
            "resampling": self.resampling.to_dict(),
            "inference": self.config.inference,
            "plan": self.plan.to_dict() if self.plan else None,
            "threshold": self.config.threshold,
            "data_fingerprint": self.source.fingerprint(),
            "split": self.split,
            "metrics": metrics,
            "val_dice_per_image": self.val_dice_per_image,
            "best_metric": self.best_dice,
            "history": self.history,
        }

    def restore(self, payload: dict[str, Any]) -> None:
        self.model.load_state_dict(payload["state_dict"])
        self.optimizer.load_state_dict(payload["optimizer"])
        if self.plateau and payload.get("scheduler"):
            self.plateau.load_state_dict(payload["scheduler"])
        if payload.get("scaler"):
            self.scaler.load_state_dict(payload["scaler"])
        self.epoch = int(payload["epoch"])
        self.global_step = int(payload["global_step"])
        self.elapsed_before = float(payload["elapsed"])
        self.best_dice = float(payload["best_metric"])
        self.history = list(payload.get("history", []))
        restore_rng(payload["rng"])

    # -- loop ------------------------------------------------------------------------------------
    def elapsed(self) -> float:
        """Wall-clock seconds of this run, across resumed sessions."""
        return self.elapsed_before + time.monotonic() - self.start

    def _progress(self, steps_per_epoch: int) -> float:
        epochs = self.config.epochs
        by_steps = self.global_step / max(1, steps_per_epoch * epochs) if epochs else 0.0
        by_time = self.clock / self.budget if self.budget else 0.0
        return max(by_steps, by_time)

    def _out_of_time(self) -> bool:
        """Read rank 0's clock (shared with every rank, so all follow one schedule and stop after one step)."""
        if self.budget is None:
            return False
        self.clock = self.ctx.from_main(self.elapsed())
        return self.clock >= self.budget

    def _non_finite(self, what: str) -> None:
        """A step whose loss or gradient is NaN/inf: skip it (``nan_policy="skip"``) or stop the run."""
        self.optimizer.zero_grad(set_to_none=True)
        if self.config.nan_policy == "skip":
            self.skipped_steps += 1
            return
        raise UnetzooError(
            f"training diverged: {what} at epoch {self.epoch + 1}, step {self.global_step}; "
            f"{self.out / 'last.pt'} keeps the last good state; lower --lr or use --nan-policy skip"
        )

    def _train_epoch(self, loader: DataLoader) -> float:
        c, device = self.config, self.ctx.device
        self.model.train()
        self.sampler.set_epoch(self.epoch)
        self.dataset.set_epoch(self.epoch)
        self.skipped_steps = 0
        losses: list[float] = []
        of = f"/{c.epochs}" if c.epochs else ""
        bar = _progress_bar(len(loader), f"epoch {self.epoch + 1}{of}", c.progress and self.ctx.is_main)
        for images, masks in loader:
            images, masks = images.to(device, non_blocking=True), masks.to(device, non_blocking=True)
            images = images.contiguous(memory_format=self.memory_format)
            if c.scheduler not in ("plateau", "none"):
                factor = lr_factor(c.scheduler, self._progress(len(loader)))
                for group in self.optimizer.param_groups:
                    group["lr"] = c.lr * factor
            with autocast(device, c.amp, c.amp_dtype):
                outputs = self.net(images)
            loss = self.loss_fn(_as_float(outputs), masks)
            self.optimizer.zero_grad(set_to_none=True)
            if self.ctx.any(not bool(torch.isfinite(loss))):  # all ranks skip or stop together
                self._non_finite(f"loss is {loss.item()}" + (" on some rank" if self.ctx.enabled else ""))
                continue
            self.scaler.scale(loss).backward()
            self.scaler.unscale_(self.optimizer)
            # Gradients are all-reduced, hence equal on every rank: each rank takes the same decision alone.
            norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), c.grad_clip or math.inf)
            if not self.scaler.is_enabled() and not bool(torch.isfinite(norm)):  # fp16's scaler handles its own
                self._non_finite(f"gradient norm is {norm.item()} (loss {loss.item():.4g})")
                continue
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.global_step += 1
            losses.append(loss.item())
            bar.update(1)
            bar.set_postfix(loss=f"{np.mean(losses):.4f}")
            if self._out_of_time():
                self.stop_reason = "budget"
                break
        bar.close()
        return self.ctx.mean(float(np.mean(losses)) if losses else float("nan"))

    def _validation_due(self) -> bool:
        """Validate after this epoch? Always after the last one; else every ``val_every`` epochs, and under a
        budget only while validation keeps within VALIDATION_SHARE of the elapsed time, measured on the run's
        own validations (a plan can only estimate their cost: large images and instance decoding add to it)."""
        c = self.config
        if self.epoch == c.epochs or self.stop_reason == "budget":
            return True
        if self.epoch % c.val_every:
            return False
        if self.budget is None:
            return True
        times = [float(row["val_time"]) for row in self.history if "val_time" in row]
        last = times[-1] if times else 0.0
        affordable = sum(times) + last <= VALIDATION_SHARE * (self.elapsed() + last)
        return self.ctx.from_main(float(affordable)) > 0

    def _validate(self) -> dict[str, Any]:
        """Metrics over the validation split; each rank scores its share and all gather the per-image rows
        (volume data: per case, its slices' predictions stacked back into the volume)."""
        if not self.val_idx and not (self.volumes and self.split["val"]):
            return {}
        model = self.model if self.ctx.device.type == "cpu" else OnDevice(self.model, self.ctx.device)
        planned = (self.config.inference or {}).get("tile")  # validate as the checkpoint will predict
        segmenter = Segmenter(
            model,
            self.preprocess,
            threshold=self.config.threshold,
            resampling=self.resampling,
            regions=self.regions,  # type: ignore[arg-type]
            **({"tile": tuple(planned)} if planned else {}),
        )
        shard = self.ctx.shard(self.val_idx)
        if self.volumes:
            part = evaluate_volumes(segmenter, self.volumes, self.ctx.shard(self.split["val"]))
        elif self.head is not None:  # foreground scores, and objects with the default post-processing
            objects = InstanceSegmenter(segmenter, self.head)
            part = evaluate_instances(objects, self.source, shard, loss_fn=self.val_loss_fn)
        else:
            part = evaluate_images(segmenter, self.source, shard, loss_fn=self.val_loss_fn)
        rows = self.ctx.unshard(part.per_image)
        self.val_dice_per_image = {str(r["id"]): float(r["dice"]) for r in rows}
        self.model.train()
        logged = aggregate([{k: v for k, v in r.items() if k not in INSTANCE_DETAIL} for r in rows])
        return {f"val_{k}": v for k, v in logged.items()}

    def _log(self, row: dict[str, Any]) -> None:
        _write_csv(self.out / "metrics.csv", self.history)
        atomic_write_text(self.out / "log.json", json.dumps(self.history, indent=1, default=_json_default))
        if self.config.progress:
            shown = {k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}
            print(json.dumps(shown, default=_json_default), file=sys.stderr)

    def _validate_into(self, row: dict[str, Any]) -> None:
        """Add this epoch's validation metrics and their time to ``row``."""
        started = time.monotonic()
        row.update(self._validate())
        row["val_time"] = time.monotonic() - started

    def _record(self, row: dict[str, Any], last: Path, best: Path) -> None:
        """Close an epoch: track the best Dice (early stopping, plateau), then checkpoint, then log (an epoch
        that shows in log.json is always in last.pt)."""
        dice = row.get("val_dice")
        improved = dice is not None and dice > self.best_dice
        if improved:
            self.best_dice, self.stale_epochs = float(dice), 0
        elif dice is not None:
            self.stale_epochs += 1
        if self.plateau and dice is not None:
            self.plateau.step(float(dice))
        self.history.append(row)
        if self.ctx.is_main:
            payload = self._payload(row)
            save_checkpoint(last, payload)
            if improved or not best.exists():
                save_checkpoint(best, payload)
            self._log(row)

    def run(self) -> RunResult:
        c = self.config
        loader = self._loader()
        self.start = time.monotonic()
        last, best = self.out / "last.pt", self.out / "best.pt"
        if self.ctx.is_main and self.epoch == 0 and not last.exists():
            save_checkpoint(last, self._payload({}))
        while c.epochs is None or self.epoch < c.epochs:
            if self._out_of_time():  # spent by the previous epoch's validation and checkpoints
                self.stop_reason = "budget"
                if self.history and "val_time" not in self.history[-1]:  # that epoch is the last: score it
                    final = self.history.pop()
                    self._validate_into(final)
                    final["elapsed"] = self.elapsed()
                    self._record(final, last, best)
                break
            t0 = time.monotonic()
            self.val_dice_per_image = {}
            train_loss = self._train_epoch(loader)
            self.epoch += 1
            row: dict[str, Any] = {"epoch": self.epoch, "train_loss": train_loss}
            if self.skipped_steps:
                row["skipped_steps"] = self.skipped_steps
            if self._validation_due():
                self._validate_into(row)
            row["lr"] = self.optimizer.param_groups[0]["lr"]
            row["epoch_time"] = time.monotonic() - t0
            row["elapsed"] = self.elapsed()
            self._record(row, last, best)
            if c.early_stopping and self.stale_epochs >= c.early_stopping:
                self.stop_reason = "early_stopping"
                break
            if self.stop_reason == "budget":
                break
        return self._finish(last, best)

    def _finish(self, last: Path, best: Path) -> RunResult:
        """Rank 0 chooses an instance model's post-processing on the validation split and writes summary.json;
        every rank returns the same summary."""
        if self.head is not None and self.val_idx and self.ctx.is_main:
            self.tuning = tune_checkpoint(best, self.source, self.val_idx)
        summary = self.ctx.broadcast(self._summary(last, best) if self.ctx.is_main else None)
        return RunResult(self.out, best, last, summary)

    def _summary(self, last: Path, best: Path) -> dict[str, Any]:
        best_payload = load_checkpoint(best)
        summary = {
            "model": self.config.model,
            "preset": self.config.preset,
            "data": self.config.data,
            "epochs_completed": self.epoch,
            "global_steps": self.global_step,
            "elapsed_seconds": round(self.elapsed(), 2),
            "stop_reason": self.stop_reason,
            "best_epoch": best_payload.get("epoch"),
            "best_val_dice": self.best_dice if self.best_dice >= 0 else None,
            "best_metrics": best_payload.get("metrics", {}),
            "n_train": len(self.train_idx),
            "n_val": len(self.split["val"]),
            "params": sum(p.numel() for p in self.model.parameters()),
            "world_size": self.ctx.world_size,
            "skipped_steps": sum(int(row.get("skipped_steps", 0)) for row in self.history),
            "checkpoints": {"best": str(best), "last": str(last)},
            "sha256": {p.name: (read_digests(p) or [None])[0] for p in (best, last)},
        }
        if self.head is not None:
            summary["instances"] = self.tuning or {"head": self.head.name}
        atomic_write_text(self.out / "summary.json", json.dumps(summary, indent=2, default=_json_default))
        return summary


def _as_float(outputs: torch.Tensor | list[torch.Tensor]) -> torch.Tensor | list[torch.Tensor]:
    if isinstance(outputs, list):
        return [o.float() for o in outputs]
    return outputs.float()


def _json_default(value: Any) -> Any:
    if isinstance(value, float | np.floating) and not math.isfinite(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


class _NoBar:
    def update(self, n: int) -> None: ...
    def set_postfix(self, **kw: Any) -> None: ...
    def close(self) -> None: ...


def _progress_bar(total: int, desc: str, enabled: bool) -> Any:
    if not (enabled and sys.stderr.isatty()):  # redirected to a file: the per-epoch line of _log is the progress
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, leave=False, file=sys.stderr, dynamic_ncols=True)


def train(config: TrainConfig | None = None, *, config_file: str | None = None, **overrides: Any) -> RunResult:
    """Train a model; the Python twin of ``unetzoo train``.

    Args:
        config: a full :class:`TrainConfig`; or build one from ``config_file`` (YAML) and ``overrides``
            (any TrainConfig field, e.g. ``model="ulite", data="builtin:nuclei", budget="2m"``).

    Returns:
        :class:`RunResult` with the run folder, checkpoint paths and the summary.
    """
    if config is None:
        config = TrainConfig.from_sources(config_file, **overrides)
    ctx = init_distributed(config.device)
    try:
        return _train(config, overrides, ctx)
    finally:
        shutdown_distributed(ctx)


def _train(config: TrainConfig, overrides: dict[str, Any], ctx: DistContext) -> RunResult:
    config, payload = prepare_run_dir(config, overrides)
    ctx.barrier()  # every rank has checked the folder before rank 0 writes into it
    trainer = Trainer(config, ctx)
    make_run_dir(trainer.out)
    if payload is not None:
        trainer.restore(payload)
    if ctx.is_main:
        atomic_write_text(trainer.out / "config.yaml", trainer.config.to_yaml())
        atomic_write_text(trainer.out / "split.json", json.dumps(trainer.split, indent=1))
        if trainer.plan is not None:
            trainer.plan.save(trainer.out / "plan.json")
    try:
        result = trainer.run()
    except KeyboardInterrupt:
        raise UnetzooError(
            f"interrupted at epoch {trainer.epoch + 1}; {trainer.out / 'last.pt'} holds the last completed "
            f"epoch: continue with `unetzoo train --resume --out {trainer.out}`",
            exit_code=130,
        ) from None
    if ctx.is_main:
        _write_report(result)
    return result


def _write_report(result: RunResult) -> None:
    from unetzoo.report import write_run_report

    write_run_report(result.out)
