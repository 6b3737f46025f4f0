"""Data-parallel training on PyTorch's own engine: torchrun environment, devices, DDP and agreement helpers.

``torchrun --nproc_per_node=N -m unetzoo train ...`` starts N copies of the same command; each reads its rank
from the environment torchrun sets (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``/``MASTER_PORT``)
and joins one process group: NCCL when training on CUDA, gloo on CPU. Without those variables (or with
``WORLD_SIZE=1``) everything here is a no-op, so the single-process path pays nothing.

Batch normalization is synchronized across ranks (``nn.SyncBatchNorm`` on CUDA, :class:`CpuSyncBatchNorm`
on CPU, where PyTorch's has no kernel), so N processes with ``batch/N`` images each compute what one process
with the whole batch computes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from unetzoo.errors import UnetzooError
from unetzoo.utils.cpu import native_bf16 as cpu_native_bf16

DEVICES = ("auto", "cpu", "cuda")
AMP_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass
class DistContext:
    """This process's place in the run: rank, world size and device. The default is a single CPU process."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    owns_group: bool = False  # this context initialized the process group and destroys it at shutdown

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the only process that logs, writes files and decides the budget."""
        return self.rank == 0

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    def any(self, flag: bool) -> bool:
        """True on every rank if ``flag`` is true on any rank."""
        if not self.enabled:
            return flag
        t = torch.tensor([int(flag)], device=self.device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item())

    def from_main(self, value: float) -> float:
        """Rank 0's ``value`` on every rank (e.g. its clock: one clock decides the budget, no rank waits)."""
        if not self.enabled:
            return value
        t = torch.tensor([value], dtype=torch.float64, device=self.device)
        dist.broadcast(t, src=0)
        return float(t.item())

    def mean(self, value: float) -> float:
        """The mean of ``value`` over ranks."""
        if not self.enabled:
            return value
        t = torch.tensor([value], dtype=torch.float64, device=self.device)
        dist.all_reduce(t)
        return float(t.item()) / self.world_size

    def shard(self, items: list[Any]) -> list[Any]:
        """This rank's share of ``items``: every ``world_size``-th item starting at ``rank``."""
        return items[self.rank :: self.world_size]

    def unshard(self, part: list[Any]) -> list[Any]:
        """Inverse of :meth:`shard`: every rank's part gathered back into the original order, on every rank."""
        if not self.enabled:
            return part
        parts: list[list[Any]] = [[] for _ in range(self.world_size)]
        dist.all_gather_object(parts, part)
        total = sum(len(p) for p in parts)
        return [parts[i % self.world_size][i // self.world_size] for i in range(total)]

    def broadcast(self, obj: Any) -> Any:
        """Rank 0's ``obj`` on every rank."""
        if not self.enabled:
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]


def resolve_device(device: str, local_rank: int = 0) -> torch.device:
    """``auto``: this rank's CUDA GPU when there is one, else the CPU; ``cuda`` fails clearly without a GPU."""
    if device not in DEVICES:
        raise UnetzooError(f"--device {device!r}: choose one of {DEVICES}", exit_code=2)
    if device == "cpu" or (device == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise UnetzooError("--device cuda: no CUDA GPU is visible to PyTorch; use --device cpu or auto")
    index = local_rank % torch.cuda.device_count()
    torch.cuda.set_device(index)
    return torch.device("cuda", index)


def init_distributed(device: str = "auto") -> DistContext:
    """Join the process group torchrun describes in the environment (or reuse one the caller initialized);
    without either, return a single-process context."""
    owns = not dist.is_initialized()
    if owns:
        world_size, rank = int(os.environ.get("WORLD_SIZE", "1")), int(os.environ.get("RANK", "0"))
    else:
        world_size, rank = dist.get_world_size(), dist.get_rank()
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    resolved = resolve_device(device, local_rank)
    if world_size <= 1:
        return DistContext(device=resolved)
    if owns:
        backend = "nccl" if resolved.type == "cuda" else "gloo"
        try:
            dist.init_process_group(backend, rank=rank, world_size=world_size)
        except (RuntimeError, ValueError) as exc:
            where = f"{os.environ.get('MASTER_ADDR', '?')}:{os.environ.get('MASTER_PORT', '?')}"
            raise UnetzooError(
                f"rank {rank}/{world_size}: cannot join the {backend} process group at {where} "
                f"({str(exc).splitlines()[0]}); launch with torchrun and check MASTER_ADDR/MASTER_PORT"
            ) from exc
    return DistContext(rank, world_size, local_rank, resolved, owns)


def shutdown(ctx: DistContext) -> None:
    """Leave the process group if this context created it."""
    if ctx.owns_group and dist.is_initialized():
        dist.destroy_process_group()


class _AllReduceSum(torch.autograd.Function):
    """Differentiable all-reduce (sum): the gradient of a sum over ranks is the sum of the ranks' gradients."""

    @staticmethod
    def forward(ctx: Any, tensor: torch.Tensor) -> torch.Tensor:
        out = tensor.clone(memory_format=torch.contiguous_format)
        dist.all_reduce(out)
        return out

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        out = grad.clone(memory_format=torch.contiguous_format)
        dist.all_reduce(out)
        return out


class CpuSyncBatchNorm(nn.BatchNorm2d):
    """BatchNorm2d whose training statistics cover the global batch of all ranks (gloo, CPU tensors).

    Forward all-reduces per-channel sums (then sums of squared deviations) with a differentiable all-reduce,
    so gradients also flow through the other ranks' images, as in one process holding the whole batch. Outside
    distributed training, or in eval mode, it is a plain BatchNorm2d; its state dict is BatchNorm2d's.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(x)
        self._check_input_dim(x)
        xf = x.float()
        dims = (0, 2, 3)
        local = torch.cat([xf.sum(dim=dims), xf.new_tensor([xf.numel() / xf.shape[1]])])
        total = _AllReduceSum.apply(local)
        n = total[-1].detach()
        mean = total[:-1] / n
        centred = xf - mean[None, :, None, None]
        var = _AllReduceSum.apply(centred.square().sum(dim=dims)) / n
        if self.track_running_stats:
            self._update_running_stats(mean.detach(), var.detach(), float(n))
        y = centred * torch.rsqrt(var + self.eps)[None, :, None, None]
        if self.affine:
            y = y * self.weight[None, :, None, None] + self.bias[None, :, None, None]
        return y.to(x.dtype)

    @torch.no_grad()
    def _update_running_stats(self, mean: torch.Tensor, var: torch.Tensor, n: float) -> None:
        self.num_batches_tracked.add_(1)
        factor = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
        self.running_mean.mul_(1 - factor).add_(mean, alpha=factor)
        self.running_var.mul_(1 - factor).add_(var * (n / max(n - 1.0, 1.0)), alpha=factor)


def convert_cpu_sync_batchnorm(module: nn.Module) -> nn.Module:
    """Replace every BatchNorm2d by a :class:`CpuSyncBatchNorm` sharing its parameters and buffers."""
    if isinstance(module, nn.BatchNorm2d) and not isinstance(module, CpuSyncBatchNorm):
        sync = CpuSyncBatchNorm(
            module.num_features, module.eps, module.momentum, module.affine, module.track_running_stats
        )
        sync.weight, sync.bias = module.weight, module.bias
        sync.running_mean, sync.running_var = module.running_mean, module.running_var
        sync.num_batches_tracked = module.num_batches_tracked
        sync.train(module.training)
        return sync
    for name, child in module.named_children():
        module.add_module(name, convert_cpu_sync_batchnorm(child))
    return module


def data_parallel(model: nn.Module, ctx: DistContext) -> nn.Module:
    """Synchronize ``model``'s batch norms (in place) and wrap it in DistributedDataParallel.

    Returns the module to call in the training step; ``model`` itself stays the one to save and validate.
    """
    if not ctx.enabled:
        return model
    if ctx.device.type == "cuda":
        nn.SyncBatchNorm.convert_sync_batchnorm(model)  # in place: the root of a unetzoo model is not a BN
        return DistributedDataParallel(model, device_ids=[ctx.device.index])
    convert_cpu_sync_batchnorm(model)
    return DistributedDataParallel(model)


class OnDevice(nn.Module):
    """Runs ``model`` on ``device`` for callers that hand it CPU tensors and expect CPU outputs (validation)."""

    def __init__(self, model: nn.Module, device: torch.device) -> None:
        super().__init__()
        self.inner, self.device = model, device

    @property
    def in_channels(self) -> int:
        return self.inner.in_channels

    @property
    def classes(self) -> int:
        return self.inner.classes

    def forward(self, x: torch.Tensor) -> torch.Tensor | list[torch.Tensor]:
        out = self.inner(x.to(self.device))
        return [o.cpu() for o in out] if isinstance(out, list) else out.cpu()


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` is a CPU computing in bf16 natively (AVX-512 BF16 or AMX), where oneDNN's bf16 kernels
    beat fp32 (benchmarks/train_levers.py); elsewhere bf16 is emulated or, on CUDA, left to the user."""
    return device.type == "cpu" and cpu_native_bf16()


def resolve_amp(amp: bool | None, device: torch.device) -> bool:
    """``--amp`` as given, or by default (None) on where the CPU has native bf16 (:func:`native_bf16`)."""
    return native_bf16(device) if amp is None else amp


def autocast(device: torch.device, enabled: bool, dtype: str) -> torch.autocast:
    """Mixed precision: bf16 on CPU; bf16 or fp16 on CUDA (fp16 needs the GradScaler of :func:`grad_scaler`)."""
    if enabled and dtype == "fp16" and device.type != "cuda":
        raise UnetzooError("--amp-dtype fp16 needs a CUDA GPU; on a CPU use --amp-dtype bf16", exit_code=2)
    return torch.autocast(device.type, dtype=AMP_DTYPES[dtype], enabled=enabled)


def grad_scaler(device: torch.device, enabled: bool, dtype: str) -> torch.amp.GradScaler:
    """Loss scaling for fp16 (enabled only then; a disabled scaler passes everything through)."""
    return torch.amp.GradScaler(device.type, enabled=enabled and dtype == "fp16")
