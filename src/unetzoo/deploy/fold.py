"""Inference-time rewrites that leave a model's function unchanged: BatchNorm folding and a two-pass GroupNorm.

* :func:`fold_batchnorm` is a generic conv + BN fuser. It does not guess the data flow from module order:
  one eval-mode forward pass with autograd on records which BatchNorm reads the *unmodified* output of
  which convolution, and the autograd graph tells whether that output has any other consumer (a residual
  add, a skip). Only exclusive conv -> BN pairs are fused (``torch.nn.utils.fusion.fuse_conv_bn_eval``),
  the BN becoming ``nn.Identity``; other BNs stay (ONNX ``BatchNormalization``, a per-channel affine).
* :class:`TwoPassGroupNorm` replaces ``nn.GroupNorm`` (2D) for export. The ONNX form of GroupNorm
  (``InstanceNormalization`` on a reshaped tensor) is computed by onnxruntime with a one-pass variance and
  one long sequential sum, which loses ~4 digits when the mean is large against the spread (post-ReLU maps
  in SD-UNet: logits off by 2e-4). Centring before the variance, and averaging one axis at a time
  (W, then H, then the group's channels: short sums), keeps ONNX within ~1e-5 of eager.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

_CONVS = (nn.Conv2d, nn.ConvTranspose2d)


class TwoPassGroupNorm(nn.Module):
    """``nn.GroupNorm`` written as explicit mean / centre / variance ops (same function, same parameters)."""

    def __init__(self, norm: nn.GroupNorm) -> None:
        super().__init__()
        self.num_groups = norm.num_groups
        self.eps = norm.eps
        self.weight = norm.weight
        self.bias = norm.bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        grouped = x.reshape(n, self.num_groups, c // self.num_groups, h, w)
        centred = grouped - _mean(grouped)
        y = (centred * torch.rsqrt(_mean(centred * centred) + self.eps)).reshape(x.shape)
        if self.weight is None:
            return y
        return y * self.weight.reshape(1, -1, 1, 1) + self.bias.reshape(1, -1, 1, 1)


def _mean(x: torch.Tensor) -> torch.Tensor:
    """Mean over the last three axes, one axis at a time: short sums (onnxruntime sums sequentially)."""
    return x.mean(dim=-1, keepdim=True).mean(dim=-2, keepdim=True).mean(dim=-3, keepdim=True)


def replace_group_norms(model: nn.Module) -> int:
    """Swap every ``nn.GroupNorm`` of ``model`` (in place) for :class:`TwoPassGroupNorm`; return how many."""
    count = 0
    for parent in list(model.modules()):
        for name, child in parent.named_children():
            if isinstance(child, nn.GroupNorm):
                setattr(parent, name, TwoPassGroupNorm(child))
                count += 1
    return count


def _consumers(outputs: list[torch.Tensor]) -> dict[object, int]:
    """How many autograd edges point at each node of the graph that produced ``outputs``."""
    counts: dict[object, int] = {}
    stack = [t.grad_fn for t in outputs if t.grad_fn is not None]
    seen = set(stack)
    while stack:
        node = stack.pop()
        for child, _ in node.next_functions:
            if child is None:
                continue
            counts[child] = counts.get(child, 0) + 1
            if child not in seen:
                seen.add(child)
                stack.append(child)
    return counts


def foldable_pairs(model: nn.Module, run: Callable[[nn.Module], object]) -> list[tuple[str, str]]:
    """(conv name, BN name) pairs where the BN is the only reader of the conv's unmodified output.

    Args:
        model: an eval-mode module; its parameters get ``requires_grad`` (callers pass a copy).
        run: calls the model once on an example input and returns its output(s).
    """
    names = {m: n for n, m in model.named_modules()}
    produced: dict[object, str] = {}  # autograd node of a conv output -> conv name
    calls: dict[str, int] = {}
    candidates: list[tuple[str, str]] = []

    def after_conv(module: nn.Module, args: tuple, out: torch.Tensor) -> None:
        calls[names[module]] = calls.get(names[module], 0) + 1
        produced[out.grad_fn] = names[module]

    def before_bn(module: nn.Module, args: tuple) -> None:
        calls[names[module]] = calls.get(names[module], 0) + 1
        conv = produced.get(args[0].grad_fn)
        if conv is not None:
            candidates.append((conv, names[module]))

    hooks = []
    for module in model.modules():
        if isinstance(module, _CONVS):
            hooks.append(module.register_forward_hook(after_conv))
        elif isinstance(module, nn.BatchNorm2d):
            hooks.append(module.register_forward_pre_hook(before_bn))
    for p in model.parameters():
        p.requires_grad_(True)
    try:
        with torch.enable_grad():
            out = run(model)
    finally:
        for h in hooks:
            h.remove()
    outputs = [t for t in (out if isinstance(out, list | tuple) else [out]) if isinstance(t, torch.Tensor)]
    consumers = _consumers(outputs)
    node_of = {conv: node for node, conv in produced.items()}
    return [
        (conv, bn)
        for conv, bn in candidates
        if calls[conv] == 1 and calls[bn] == 1 and consumers.get(node_of[conv], 0) == 1
    ]


def fold_batchnorm(model: nn.Module, run: Callable[[nn.Module], object]) -> tuple[nn.Module, int]:
    """An eval-mode copy of ``model`` with every exclusive conv -> BatchNorm pair fused; also the pair count.

    ``run(module)`` must call the module once on a representative input (any valid size).
    """
    folded = copy.deepcopy(model).eval()
    pairs = foldable_pairs(folded, run)
    modules = dict(folded.named_modules())
    for conv_name, bn_name in pairs:
        conv, bn = modules[conv_name], modules[bn_name]
        fused = fuse_conv_bn_eval(conv, bn, transpose=isinstance(conv, nn.ConvTranspose2d))
        _set(folded, conv_name, fused)
        _set(folded, bn_name, nn.Identity())
    for p in folded.parameters():
        p.requires_grad_(False)
    return folded, len(pairs)


def _set(root: nn.Module, dotted: str, module: nn.Module) -> None:
    parent_name, _, child = dotted.rpartition(".")
    parent = root.get_submodule(parent_name) if parent_name else root
    setattr(parent, child, module)
