"""Inference-time rewrites that keep a model's function but make eager CPU inference faster.

``fuse_for_inference(model)`` returns an eval-mode copy with:

* weight standardisation folded (:func:`unetzoo.layers.separable.fold_weight_standardization`);
* every ``AxialDW`` (``x + DW(k x 1)(x) + DW(1 x k)(x)``) merged into one k x k depthwise conv whose kernel
  is the cross of the two axial kernels plus 1 at the centre: one conv instead of two convs and two adds;
* eval-mode BatchNorm folded into the convolution next to it: every exclusive conv -> BN pair the deployment
  fuser finds (:func:`unetzoo.deploy.fold.fold_batchnorm`, traced on an example batch; U-Lite's encoder
  ``merged AxialDW -> BN`` among them), plus the two U-Lite norms it cannot see: the decoder's
  (after a functional 1x1 conv) and the bottleneck's (``BN -> 1x1 expand``);
* weights in ``channels_last``, so every convolution (and the ops after it) runs in that layout: oneDNN's
  depthwise convolutions are several times faster in it on CPU (``docs/benchmarks.md``).

Outputs match the original within float rounding (tests: ``tests/bench/test_bench.py``). The copy is
for inference only: its folded norms no longer normalise with batch statistics.
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from unetzoo.deploy.fold import fold_batchnorm
from unetzoo.layers.axial import AxialBottleneck, AxialDecoderBlock, AxialDW
from unetzoo.layers.reparam import batchnorm_affine
from unetzoo.layers.separable import fold_weight_standardization


def merged_axial(axial: AxialDW) -> nn.Conv2d:
    """One k x k depthwise ``nn.Conv2d`` computing ``axial(x)`` (identity included): :meth:`AxialDW.merged_kernel`."""
    conv_h = axial.conv_h
    channels, k, dilation = conv_h.in_channels, conv_h.kernel_size[0], conv_h.dilation[0]
    merged = nn.Conv2d(channels, channels, k, padding=dilation * (k - 1) // 2, dilation=dilation, groups=channels).to(
        conv_h.weight
    )
    with torch.no_grad():
        weight, bias = axial.merged_kernel()
        merged.weight.copy_(weight)
        merged.bias.copy_(bias)
    return merged.train(axial.training)


def fold_bn_into_following_conv(norm: nn.BatchNorm2d, conv: nn.Conv2d) -> nn.Conv2d:
    """A 1x1 conv equal to ``conv(norm(x))`` in eval mode (a BN before a 1x1 conv scales its input columns)."""
    if conv.kernel_size != (1, 1) or conv.groups != 1:
        raise ValueError("only a 1x1, ungrouped conv can absorb the BatchNorm before it")
    scale, shift = batchnorm_affine(norm)
    fused = copy.deepcopy(conv)
    with torch.no_grad():
        weight = conv.weight[:, :, 0, 0]
        bias = conv.bias if conv.bias is not None else torch.zeros(conv.out_channels).to(weight)
        fused.weight.copy_((weight * scale).view_as(conv.weight))
        if fused.bias is None:
            fused.bias = nn.Parameter(torch.empty_like(bias))
        fused.bias.copy_(bias + weight @ shift)
    return fused


def _fold_ulite_block(block: nn.Module) -> bool:
    """Fold the BatchNorm of a U-Lite decoder or bottleneck into its 1x1 conv (the generic fuser cannot:
    the decoder calls its conv functionally, the bottleneck's BN comes *before* its conv)."""
    if isinstance(block, AxialDecoderBlock):
        block.fuse = fuse_conv_bn_eval(block.fuse, block.norm)
    elif isinstance(block, AxialBottleneck):
        block.expand = fold_bn_into_following_conv(block.norm, block.expand)
    else:
        return False
    block.norm = nn.Identity()
    return True


def optimize_for_inference(
    model: nn.Module, example: torch.Tensor, *, merge_axial: bool = True
) -> tuple[nn.Module, dict[str, int]]:
    """Eval-mode copy of ``model`` with WS folded, axial convs merged and BN folded, and what was rewritten.

    Args:
        model: any module; parts that match no rule are left as they are.
        example: an input batch (any valid size), traced once to find the conv -> BN pairs.
        merge_axial: merge each ``AxialDW`` into one k x k depthwise conv (callers that keep the pairs trace
            inside :func:`unetzoo.layers.reparam.as_defined`, or eval mode merges them on the fly).

    Returns:
        The copy, and counts ``{"axial_merged": ..., "batchnorm_folded": ...}`` (the export card records them).
    """
    fused = fold_weight_standardization(model).eval()
    merged = 0
    for parent in list(fused.modules()):
        for name, child in list(parent.named_children()):
            if merge_axial and isinstance(child, AxialDW):
                setattr(parent, name, merged_axial(child))
                merged += 1
    folded = sum(_fold_ulite_block(module) for module in list(fused.modules()))
    fused, traced_folds = fold_batchnorm(fused, lambda m: m(example))
    return fused, {"axial_merged": merged, "batchnorm_folded": folded + traced_folds}


def fuse_for_inference(model: nn.Module, example: torch.Tensor, *, channels_last: bool = True) -> nn.Module:
    """:func:`optimize_for_inference`, with the weights in ``channels_last`` unless told otherwise."""
    fused, _ = optimize_for_inference(model, example)
    return fused.to(memory_format=torch.channels_last) if channels_last else fused
