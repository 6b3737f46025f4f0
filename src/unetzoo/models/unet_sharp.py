"""UNet# / UNet-sharp (Qian, Zhou, Li, Hu, "UNet#: A UNet-like Redesigning Skip Connections for Medical Image
Segmentation", arXiv 2205.11759, 2022).

* Nodes X^{i,j} (i = depth 0..4, j = column 0..4-i), each f^2, two Conv-BN-ReLU (Eq. 1; "VGGBlock"), widths
  32..512 (Fig. 1 caption).
* Redesigned skip connections (Sec. 2.1, Fig. 1d-e, Eq. 1): X^{i,j} (j >= 1) concatenates, in order, the dense
  skips X^{i,0..j-1} of UNet++, the 2x-upsampled X^{i+1,j-1}, and the full-scale skips X^{i+k,j-k} (k = 2..j)
  of UNet 3+, bilinearly upsampled by 2^k. Eq. 1 passes each full-scale skip through f (Conv-BN-ReLU); by
  default they pass with their raw channels, as the released code does (``full_scale_channels``).
* Deep supervision (Sec. 2.2, Fig. 2): 1x1 heads on X^{0,1..4} and 3x3 heads on X^{4,0}, X^{3,1}, X^{2,2},
  X^{1,3}: eight branch outputs, compared with the ground truth max-pooled to each branch's scale
  (``deep_supervision_target="pool"``) or upsampled to full resolution as the released code does.
* Model pruning (Sec. 2.4, Fig. 4, as in UNet++): the level-L sub-network keeps the nodes with i + j <= L and
  the head on X^{0,L}.
* Classification-guided modules (Sec. 2.3, Fig. 3): one per branch, reading the branch's feature map
  (``cgm="paper"``), or UNet 3+'s single CGM on the deepest encoder node (``cgm=True``); see
  :mod:`unetzoo.layers.cgm`.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from unetzoo.layers.cgm import BranchGuidance, ClassificationGuidance, ConcatPoolClassifier, Guidance
from unetzoo.layers.conv import ConvNormAct, DoubleConv, upsample_like
from unetzoo.layers.unet_blocks import Encoder
from unetzoo.models.base import Output, SegmentationModel, Supports
from unetzoo.models.registry import register_model

WIDTHS = (32, 64, 128, 256, 512)
GREEN_ROWS = 3
"""Branches on rows i >= 3 (X^{4,0}, X^{3,1}: 512 and 256 channels) get the two-Linear "green" CGM of Sec. 2.3;
the narrower ones the one-Linear "blue" CGM."""
TARGETS = ("pool", "upsample")
CGMS = ("unet3p", "paper")

Node = tuple[int, int]


def _name(node: Node) -> str:
    return f"x{node[0]}_{node[1]}"


_PAPER = {"in_channels": 3, "classes": 1, "x40_long_links": False}


@register_model(
    "unet_sharp",
    paper="Qian et al. 2022, UNet# (arXiv 2205.11759)",
    presets={
        "paper": _PAPER,
        "code": {"in_channels": 3, "classes": 1, "x40_long_links": True, "deep_supervision_target": "upsample"},
        "ds_cgm": {**_PAPER, "deep_supervision": True, "cgm": "paper"},
    },
    default_preset="paper",
)
class UNetSharp(SegmentationModel):
    """UNet# of depth ``level`` (1..4) with dense + full-scale skips, optional deep supervision and CGMs.

    Params at 3 -> 1 with the single 1x1 head: L1 103,041 / L2 555,969 / L3 2,531,073 / L4 9,716,289
    (preset ``paper``) or 10,748,481 (preset ``code``); L4 ``code`` with deep supervision: 10,757,224;
    preset ``ds_cgm`` (``paper`` + the eight heads + the eight CGMs of Sec. 2.3): 10,389,880.

    Args:
        level: depth L of the network; nodes X^{i,j} with i + j <= L are built, the output is X^{0,L}'s head.
        widths: channels of rows 0..4 (Fig. 1 caption: 32, 64, 128, 256, 512); rows beyond ``level`` are not
            built.
        x40_long_links: whether X^{4,0} also feeds X^{2,2}, X^{1,3} and X^{0,4} through full-scale skips, as
            Sec. 2.1 lists for X_De^{0,4} and the released code does (preset ``code``), or X^{3,1} only: the only
            reading that gives Table 1's 9.71M (preset ``paper``). Only matters at level 4.
        full_scale_channels: ``None`` (default): full-scale skips carry their raw channels (released code);
            an int ``c``: each passes through f of Eq. 1, a 3x3 Conv-BN-ReLU to ``c`` channels after upsampling
            (the paper gives no width; with 32, UNet# 's base width, and ``x40_long_links``, the literal reading
            of Sec. 2.1 and Eq. 1: 10,159,617 at L4 and 2,503,809 at L3, against Table 1's 9.71M and Fig. 7's
            2.53M).
        deep_supervision: add the 2L branch heads (8 at L4, Sec. 2.2).
        deep_supervision_target: ``"pool"`` (the paper, Fig. 2): the 3x3 branches are returned at their node's
            scale, for a loss against the max-pooled ground truth; ``"upsample"`` (released code): bilinearly
            upsampled to full resolution.
        head_relu: end every head with the ReLU of Sec. 2.2 ("1x1 convolution and ReLU activation function").
            Off by default: on logits it clamps every pixel at probability >= 0.5 and leaves background
            pixels below zero without a gradient.
        cgm: ``False``; ``"paper"``: the CGMs of Sec. 2.3, one per built branch on its own feature map, the
            two-Linear "green" one on rows 3-4 and the one-Linear "blue" one elsewhere (+664,848 params at L4
            with deep supervision, +258 on the single X^{0,L} head); ``True`` or ``"unet3p"``: UNet 3+'s CGM on
            X^{L,0}, gating the final output (+1,026 at L4).

    Outputs (logits): eval mode, or training without deep supervision, gives the head on X^{0,L}. Training
    with ``deep_supervision=True`` gives the 2L side outputs in the released code's order, final last: heads
    on X^{0,1..L-1}, then the 3x3 heads from X^{L,0} up to X^{1,L-1}, then X^{0,L}'s head (at L4: [o1, o2, o3,
    o5, o6, o7, o8, o4]).

    With a CGM every forward keeps its scores (``last_class_logits`` for the returned output) and training
    adds their BCE to the loss (:func:`unetzoo.losses.training_losses`); in eval mode, once trained, the
    logits of images classified "no object" are replaced by a large negative constant (empty mask).

    :meth:`prune` returns the level-l sub-network as a new model.
    """

    supports = Supports(deep_supervision=True, pruning_levels=(1, 2, 3, 4), classification_guidance=True)

    def __init__(
        self,
        in_channels: int = 3,
        classes: int = 1,
        *,
        level: int = 4,
        widths: Sequence[int] = WIDTHS,
        x40_long_links: bool = False,
        full_scale_channels: int | None = None,
        deep_supervision: bool = False,
        deep_supervision_target: str = "pool",
        head_relu: bool = False,
        cgm: bool | str = False,
    ) -> None:
        if level not in self.supports.pruning_levels:
            raise ValueError(f"level must be one of {self.supports.pruning_levels}, got {level}")
        widths = tuple(widths)
        if len(widths) <= level:
            raise ValueError(f"a level-{level} UNet# needs {level + 1} widths, got {widths}")
        if deep_supervision_target not in TARGETS:
            raise ValueError(f"deep_supervision_target must be one of {TARGETS}, got {deep_supervision_target!r}")
        cgm = "unet3p" if cgm is True else cgm
        if cgm is not False and cgm not in CGMS:
            raise ValueError(f"cgm must be False, True or one of {CGMS}, got {cgm!r}")
        super().__init__(in_channels, classes, input_multiple=2**level, deep_supervision=deep_supervision)
        self.level, self.widths = level, widths
        self.x40_long_links = x40_long_links
        self.full_scale_channels = full_scale_channels
        self.deep_supervision_target = deep_supervision_target
        self.head_relu = head_relu
        self.cgm_kind = cgm
        self.encoder = Encoder(in_channels, widths[: level + 1])  # X^{0,0} .. X^{L,0}
        self.nodes = nn.ModuleDict(
            {
                _name(n): DoubleConv(sum(self._channels(s, n) for s in self._sources(n)), widths[n[0]])
                for n in self._decoder_nodes()
            }
        )
        self.links = nn.ModuleDict(  # f of Eq. 1 on each full-scale skip (empty unless full_scale_channels)
            {
                _link(s, n): ConvNormAct(widths[s[0]], full_scale_channels, 3)
                for n in self._decoder_nodes()
                for s in self._sources(n)
                if full_scale_channels is not None and _full_scale(s, n)
            }
        )
        x0_heads = range(1, level + 1) if deep_supervision else (level,)
        self.x0_heads = nn.ModuleDict({_name((0, j)): nn.Conv2d(widths[0], classes, 1) for j in x0_heads})
        self.side_heads = nn.ModuleDict(
            {_name(n): nn.Conv2d(widths[n[0]], classes, 3, padding=1) for n in self._diagonal()}
            if deep_supervision
            else {}
        )
        self.cgm: Guidance | None = None
        if cgm == "unet3p":
            self.cgm = ClassificationGuidance(widths[level])
        elif cgm == "paper":
            branches = [(0, j) for j in x0_heads] + (self._diagonal() if deep_supervision else [])
            classifiers = {
                _name(n): ConcatPoolClassifier(widths[n[0]], widths[n[0]] if n[0] >= GREEN_ROWS else None)
                for n in branches
            }
            self.cgm = BranchGuidance(classifiers, final_branch=_name((0, level)))

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

    def _channels(self, source: Node, node: Node) -> int:
        """Channels ``source`` contributes to ``node``'s concatenation."""
        if self.full_scale_channels is not None and _full_scale(source, node):
            return self.full_scale_channels
        return self.widths[source[0]]

    # -- forward -------------------------------------------------------------------------------------
    def forward_padded(self, x: torch.Tensor) -> Output:
        feats: dict[Node, torch.Tensor] = {(i, 0): f for i, f in enumerate(self.encoder(x))}
        for node in self._decoder_nodes():
            size = feats[node[0], 0].shape[-2:]
            feats[node] = self.nodes[_name(node)](
                torch.cat([self._input(s, node, feats, size) for s in self._sources(node)], 1)
            )
        final = self._branch((0, self.level), feats)
        if self.cgm_kind == "unet3p":
            assert self.cgm is not None
            final = self.cgm.guide("final", feats[self.level, 0], final)
        if not self.wants_side_outputs():
            return final
        size = x.shape[-2:]
        sides = [self._branch((0, j), feats) for j in range(1, self.level)]
        for node in self._diagonal():
            out = self._branch(node, feats)
            sides.append(upsample_like(out, size) if self.deep_supervision_target == "upsample" else out)
        return [*sides, final]

    def _input(self, source: Node, node: Node, feats: dict[Node, torch.Tensor], size: torch.Size) -> torch.Tensor:
        """``source``'s map as ``node`` concatenates it: as is (same row), upsampled, and through f if a link."""
        if source[0] == node[0]:
            return feats[source]
        up = upsample_like(feats[source], size)
        key = _link(source, node)
        return self.links[key](up) if key in self.links else up

    def _branch(self, node: Node, feats: dict[Node, torch.Tensor]) -> torch.Tensor:
        """The head on ``node`` (1x1 on row 0, else 3x3), its ReLU if ``head_relu``, gated by its CGM."""
        name = _name(node)
        out = (self.x0_heads if node[0] == 0 else self.side_heads)[name](feats[node])
        if self.head_relu:
            out = F.relu(out)
        if self.cgm_kind == "paper":
            assert self.cgm is not None
            out = self.cgm.guide(name, feats[node], out)
        return out

    # -- pruning -------------------------------------------------------------------------------------
    def prune(self, level: int) -> UNetSharp:
        """The level-``level`` sub-network as a new model with copied weights (UNet++-style model pruning).

        The result keeps the nodes X^{i,j} with i + j <= ``level`` and the 1x1 head on X^{0,level}; it has no
        deep-supervision heads (pruning is an inference-time choice) and the same ``input_multiple`` as this
        model, so its output equals this model's X^{0,level} side output for any input size. Pruning below
        this model's level needs that head, i.e. a model built with ``deep_supervision=True``. The paper's
        CGMs (``cgm="paper"``) come along: X^{0,level}'s own CGM gates the pruned output. UNet 3+'s CGM reads
        X^{L,0}: it is kept when ``level`` equals this model's level and dropped (with a warning) otherwise,
        so that pruned model returns ungated logits. The result is in this model's train/eval mode.
        """
        if not 1 <= level <= self.level:
            raise ValueError(f"can prune a level-{self.level} UNet# to levels 1..{self.level}, not {level}")
        if _name((0, level)) not in self.x0_heads:
            raise ValueError(f"no head on X0,{level} to prune to: build the model with deep_supervision=True")
        cgm = self.cgm_kind
        if cgm == "unet3p" and level != self.level:
            warnings.warn(f"the CGM reads X{self.level},0, which the level-{level} model lacks: dropped", stacklevel=2)
            cgm = False
        with torch.device("meta"):
            pruned = UNetSharp(
                self.in_channels,
                self.classes,
                level=level,
                widths=self.widths,
                x40_long_links=self.x40_long_links,
                full_scale_channels=self.full_scale_channels,
                head_relu=self.head_relu,
                cgm=cgm,
            )
        own = self.state_dict()
        pruned.load_state_dict({k: own[k].clone() for k in pruned.state_dict()}, assign=True)
        pruned.input_multiple = self.input_multiple
        return pruned.train(self.training)


def _full_scale(source: Node, node: Node) -> bool:
    """Whether ``source`` reaches ``node`` through a full-scale skip (two or more rows deeper)."""
    return source[0] - node[0] >= 2


def _link(source: Node, node: Node) -> str:
    return f"{_name(source)}_to_{_name(node)}"
