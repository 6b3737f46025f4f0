"""What this CPU computes natively."""

from __future__ import annotations

import torch


def native_bf16() -> bool:
    """Whether the CPU computes in bf16 natively (AVX-512 BF16 or AMX), where oneDNN's bf16 kernels beat fp32
    (benchmarks/train_levers.py); elsewhere bf16 is emulated, with coarser accumulation in some kernels."""
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)
