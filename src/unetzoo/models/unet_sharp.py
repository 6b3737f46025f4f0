"""UNet# / UNet-sharp (Qian, Zhou, Li, Hu, "UNet#: A UNet-like Redesigning Skip Connections for Medical Image
Segmentation", arXiv 2205.11759, 2022); specification in docs/models-spec.md §5.

* Nodes X^{i,j} (i = depth 0..4, j = column 0..4-i), each a VGGBlock (conv3x3-BN-ReLU x2), widths 32..512.
* Redesigned skip connections (the paper's "#"-shaped figure): X^{i,j} (j >= 1) concatenates, in order,
  the dense skips X^{i,0..j-1} of UNet++, the 2x-upsampled X^{i+1,j-1}, and the full-scale skips
  X^{i+k,j-k} (k = 2..j) of UNet 3+, bilinearly upsampled by 2^k with raw channels (no conv).
* Deep supervision: 1x1 heads on X^{0,1..4} and 3x3 heads on X^{4,0}, X^{3,1}, X^{2,2}, X^{1,3} (upsampled
  x16/x8/x4/x2): eight side outputs.
* Model pruning (as in UNet++): the level-L sub-network keeps the nodes with i + j <= L and the head on X^{0,L}.
* Classification-guided module: UNet 3+'s CGM on the deepest encoder node (see :mod:`unetzoo.layers.cgm`).
"""

from __future__ import annotations

import warnings

import torch
from torch import nn

from unetzoo.layers.cgm import ClassificationGuidance
from unetzoo.layers.conv import DoubleConv, upsample_like
from unetzoo.layers.unet_blocks import Encoder
from unetzoo.models.base import Output, SegmentationModel, Supports
from unetzoo.models.registry import register_model

WIDTHS = (32, 64, 128, 256, 512)

Node = tuple[int, int]


def _name(node: Node) -> str:
    return f"x{node[0]}_{node[1]}"


@register_model(
    "unet_sharp",
    paper="Qian et al. 2022, UNet# (arXiv 2205.11759)",
    presets={
        "paper": {"in_channels": 3, "classes": 1, "x40_long_links": False},
        "code": {"in_channels": 3, "classes": 1, "x40_long_links": True},
    },
    default_preset="paper",
)
class UNetSharp(SegmentationModel):
    """UNet# of depth ``level`` (1..4) with dense + full-scale skips, optional deep supervision and CGM.

    Params at 3 -> 1 with the single 1x1 head: L1 103,041 / L2 555,969 / L3 2,531,073 / L4 9,716,289
    (preset ``paper``) or 10,748,481 (preset ``code``); L4 ``code`` with deep supervision: 10,757,224.

    Args:
        level: depth L of the network; nodes X^{i,j} with i + j <= L are built, the output is X^{0,L}'s head.
        x40_long_links: whether X^{4,0} also feeds X^{2,2}, X^{1,3} and X^{0,4} through full-scale skips
            (the released code, preset ``code``), or X^{3,1} only (the only reading that gives the paper's
            9.71M, preset ``paper``). Only matters at level 4.
        deep_supervision: add the 2L side heads (8 at L4).
        cgm: add the classification-guided module on X^{L,0}.

    Outputs (logits): eval mode, or training without deep supervision, gives the head on X^{0,L}. Training
    with ``deep_supervision=True`` gives the 2L full-resolution side outputs in the reference code's order,
    final last: heads on X^{0,1..L-1}, then the 3x3 heads from X^{L,0} up to X^{1,L-1}, then X^{0,L}'s head
    (at L4: [o1, o2, o3, o5, o6, o7, o8, o4]).

    With ``cgm=True`` every forward sets ``last_class_logits`` (N, 2): pre-sigmoid CGM scores on X^{L,0},
    column 1 = "object present", for a BCE term in the loss. In eval mode the returned logits of images
    classified "no object" are replaced by a large negative constant (empty mask). The paper's second CGM is
    unspecified and not built. ``torch.jit.trace`` does not record ``last_class_logits``.

    :meth:`prune` returns the level-l sub-network as a new model.
    """

    supports = Supports(deep_supervision=True, pruning_levels=(1, 2, 3, 4), classification_guidance=True)

    def __init__(
        self,
        in_channels: int = 3,
        classes: int = 1,
        *,
        level: int = 4,
        x40_long_links: bool = False,
        deep_supervision: bool = False,
        cgm: bool = False,
    ) -> None:
        if level not in self.supports.pruning_levels:
            raise ValueError(f"level must be one of {self.supports.pruning_levels}, got {level}")
        super().__init__(in_channels, classes, input_multiple=2**level, deep_supervision=deep_supervision)
        self.level = level
        self.x40_long_links = x40_long_links
        self.encoder = Encoder(in_channels, WIDTHS[: level + 1])  # X^{0,0} .. X^{L,0}
        self.nodes = nn.ModuleDict(
            {
                _name(n): DoubleConv(sum(WIDTHS[src[0]] for src in self._sources(n)), WIDTHS[n[0]])
                for n in self._decoder_nodes()
            }
        )
        x0_heads = range(1, level + 1) if deep_supervision else (level,)
        self.x0_heads = nn.ModuleDict({_name((0, j)): nn.Conv2d(WIDTHS[0], classes, 1) for j in x0_heads})
        self.side_heads = nn.ModuleDict(
            {_name(n): nn.Conv2d(WIDTHS[n[0]], classes, 3, padding=1) for n in self._diagonal()}
            if deep_supervision
            else {}
        )
        self.cgm = ClassificationGuidance(WIDTHS[level]) if cgm else None
        self.last_class_logits: torch.Tensor | None = None

    # -- topology ------------------------------------------------------------------------------------
    def _decoder_nodes(self) -> list[Node]:
        """X^{i,j}, j >= 1, i + j <= L, column by column (every input is computed before it is needed)."""
        return [(i, j) for j in range(1, self.level + 1) for i in range(self.level + 1 - j)]

    def _diagonal(self) -> list[Node]:
        """Nodes X^{L,0}, X^{L-1,1}, ..., X^{1,L-1}: the 3x3 deep-supervision heads' inputs."""
        return [(i, self.level - i) for i in range(self.level, 0, -1)]

    def _sources(self, node: Node) -> list[Node]:
        """Inputs of X^{i,j} in concat order: X^{i,0..j-1}, X^{i+1,j-1}, then X^{i+k,j-k} for k = 2..j."""
        i, j = node
        dense = [(i, m) for m in range(j)]
        deeper = [(i + k, j - k) for k in range(1, j + 1) if k == 1 or self.x40_long_links or (i + k, j - k) != (4, 0)]
        return dense + deeper

    # -- forward -------------------------------------------------------------------------------------
    def forward_padded(self, x: torch.Tensor) -> Output:
        feats: dict[Node, torch.Tensor] = {(i, 0): f for i, f in enumerate(self.encoder(x))}
        for node in self._decoder_nodes():
            size = feats[node[0], 0].shape[-2:]
            inputs = [feats[s] if s[0] == node[0] else upsample_like(feats[s], size) for s in self._sources(node)]
            feats[node] = self.nodes[_name(node)](torch.cat(inputs, 1))
        top = (0, self.level)
        final = self.x0_heads[_name(top)](feats[top])
        if self.cgm is not None:
            self.last_class_logits = self.cgm(feats[self.level, 0])
            final = self.cgm.gate(final, self.last_class_logits)
        if not self.wants_side_outputs():
            return final
        size = x.shape[-2:]
        sides = [self.x0_heads[_name((0, j))](feats[0, j]) for j in range(1, self.level)]
        sides += [upsample_like(self.side_heads[_name(n)](feats[n]), size) for n in self._diagonal()]
        return [*sides, final]

    # -- pruning -------------------------------------------------------------------------------------
    def prune(self, level: int) -> UNetSharp:
        """The level-``level`` sub-network as a new model with copied weights (UNet++-style model pruning).

        The result keeps the nodes X^{i,j} with i + j <= ``level`` and the 1x1 head on X^{0,level}; it has no
        deep-supervision heads (pruning is an inference-time choice) and the same ``input_multiple`` as this
        model, so its output equals this model's X^{0,level} side output for any input size. Pruning below
        this model's level needs that head, i.e. a model built with ``deep_supervision=True``. The CGM reads
        X^{L,0}: it is kept when ``level`` equals this model's level and dropped (with a warning) otherwise,
        so a pruned model returns ungated logits. The result is in this model's train/eval mode.
        """
        if not 1 <= level <= self.level:
            raise ValueError(f"can prune a level-{self.level} UNet# to levels 1..{self.level}, not {level}")
        if _name((0, level)) not in self.x0_heads:
            raise ValueError(f"no head on X0,{level} to prune to: build the model with deep_supervision=True")
        keep_cgm = self.cgm is not None and level == self.level
        if self.cgm is not None and not keep_cgm:
            warnings.warn(f"the CGM reads X{self.level},0, which the level-{level} model lacks: dropped", stacklevel=2)
        with torch.device("meta"):
            pruned = UNetSharp(
                self.in_channels, self.classes, level=level, x40_long_links=self.x40_long_links, cgm=keep_cgm
            )
        own = self.state_dict()
        pruned.load_state_dict({k: own[k].clone() for k in pruned.state_dict()}, assign=True)
        pruned.input_multiple = self.input_multiple
        return pruned.train(self.training)
