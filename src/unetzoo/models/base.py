"""The base class every unetzoo model derives from.

It owns the behaviour users rely on for *every* model, so that model files only describe their paper's
network (``forward_padded``):

* any input size: H and W are mirror-padded up to ``input_multiple`` (or to the overlap-tile size for
  valid-convolution nets, via ``padding_for``) and the logits are cropped back to (N, classes, H, W);
* deep supervision: in training mode with ``deep_supervision=True`` the model returns the list of side
  outputs (final output last), each cropped like the final one: full resolution, or a branch's own scale
  where its paper compares it with a max-pooled ground truth (UNet# Fig. 2); in eval mode only the final output;
* classification guidance: :meth:`guidance` gives a model's classification-guided modules (``self.cgm``), whose
  scores of the last forward :attr:`last_class_logits` shows;
* capability flags (``Supports``) that tests, export and the CLI read;
* layout: with ``channels_last`` (default; oneDNN's depthwise, grouped and most dense convolutions are
  faster in it on a CPU) the forward (training and inference, on a CPU, not under torch.compile/export, which
  choose layouts themselves) then runs in that layout and hands back an ordinary contiguous tensor
  (measured per model: ``benchmarks/layout.py``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from unetzoo.layers.cgm import Guidance
from unetzoo.layers.padding import crop, crop_scaled, mirror_pad, pad_amounts


@dataclass(frozen=True)
class Supports:
    """What a model can do. Tests check every claim made here."""

    deep_supervision: bool = False
    pruning_levels: tuple[int, ...] = ()
    classification_guidance: bool = False
    traceable: bool = True  # torch.jit.trace
    onnx: bool = True  # ONNX export with dynamic batch/H/W

    def as_dict(self) -> dict[str, object]:
        d = asdict(self)
        d["pruning_levels"] = list(self.pruning_levels)
        return d


Output = torch.Tensor | list[torch.Tensor]


class SegmentationModel(nn.Module):
    """Base of every registered model.

    Subclasses set ``in_channels``, ``classes``, ``input_multiple`` and ``deep_supervision``
    (via ``super().__init__``) and implement :meth:`forward_padded`, which receives an input whose
    H and W already satisfy the network's size constraint.
    """

    supports: Supports = Supports()
    channels_last: bool = True
    """Run on a CPU in ``channels_last``. ``benchmarks/layout.py`` measured every unetzoo model faster so
    (0.49-0.94x of NCHW at 2 threads, 256x256); a model measured slower sets it to False."""

    def __init__(self, in_channels: int, classes: int, *, input_multiple: int, deep_supervision: bool = False) -> None:
        super().__init__()
        if in_channels < 1 or classes < 1:
            raise ValueError(f"in_channels and classes must be >= 1, got {in_channels} and {classes}")
        if deep_supervision and not self.supports.deep_supervision:
            raise ValueError(f"{type(self).__name__} has no deep-supervision heads")
        self.in_channels = in_channels
        self.classes = classes
        self.input_multiple = input_multiple
        self.deep_supervision = deep_supervision

    # -- size handling -------------------------------------------------------------------------------
    def padding_for(self, height: int, width: int) -> tuple[int, int, int, int]:
        """Return (top, bottom, left, right) mirror padding that makes an H x W input valid.

        Sides become a multiple of ``input_multiple`` and at least twice it, so the deepest feature map
        is at least 2 x 2: batch norm in training needs more than one value per channel.
        """
        minimum = 2 * self.input_multiple
        top, bottom = pad_amounts(height, self.input_multiple, minimum)
        left, right = pad_amounts(width, self.input_multiple, minimum)
        return top, bottom, left, right

    def output_offset(self, top: int, left: int) -> tuple[int, int]:
        """Where the original image starts in the network's output (same-size nets: the pad offsets)."""
        return top, left

    def forward(self, x: torch.Tensor) -> Output:
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"expected input of shape (N, {self.in_channels}, H, W), got {tuple(x.shape)}")
        height, width = x.shape[-2:]
        top, bottom, left, right = self.padding_for(height, width)
        if top or bottom or left or right:
            x = mirror_pad(x, top, bottom, left, right)
        relayout = self.runs_channels_last(x)
        if relayout:
            x = x.contiguous(memory_format=torch.channels_last)
        guidance = self.guidance()
        if guidance is not None:
            guidance.scores.clear()  # only this forward's scores count
        out = self.forward_padded(x)
        oy, ox = self.output_offset(top, left)
        if isinstance(out, list):
            return [crop_scaled(o, x.shape[-2:], oy, ox, height, width) for o in out]
        out = crop(out, oy, ox, height, width)
        return out.contiguous() if relayout else out

    def runs_channels_last(self, x: torch.Tensor) -> bool:
        """Whether this call runs in ``channels_last``: the model opted in, the input is on a CPU, and no
        compiler is tracing (torch.compile/export pick layouts themselves and would specialise the batch)."""
        return self.channels_last and x.device.type == "cpu" and not torch.compiler.is_compiling()

    def forward_padded(self, x: torch.Tensor) -> Output:
        """Run the network on a size-valid input; return logits (or side outputs, see class doc)."""
        raise NotImplementedError

    def guidance(self) -> Guidance | None:
        """The model's classification-guided modules (``self.cgm``; UNet 3+ / UNet# Sec. 2.3), or None."""
        cgm = getattr(self, "cgm", None)
        return cgm if isinstance(cgm, Guidance) else None

    @property
    def last_class_logits(self) -> torch.Tensor | None:
        """(N, 2) pre-activation CGM scores of the last forward for the returned output (column 1 = object
        present), or None for a model without a CGM. ``torch.jit.trace`` does not record them."""
        guidance = self.guidance()
        return None if guidance is None else guidance.final_scores()

    def wants_side_outputs(self) -> bool:
        """True when forward must return the deep-supervision list (training mode with DS on)."""
        return self.deep_supervision and self.training

    @torch.inference_mode()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Eval-mode logits without autograd (smp's ``model.predict``)."""
        self.eval()
        return self(x)
