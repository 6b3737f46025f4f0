"""Matplotlib (Agg) figures rendered to PNG bytes."""

from __future__ import annotations

import io
from typing import Any

import numpy as np


def figure(width: float, height: float) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    return plt, plt.figure(figsize=(width, height), dpi=100)


def png(plt: Any, fig: Any) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def training_curves(history: list[dict[str, Any]]) -> bytes:
    """Loss (train/val), validation Dice and learning rate against epochs."""
    plt, fig = figure(11, 3.2)
    epochs = [r["epoch"] for r in history]

    def series(key: str) -> tuple[list[int], list[float]]:
        pts = [(r["epoch"], r[key]) for r in history if r.get(key) is not None]
        return [p[0] for p in pts], [p[1] for p in pts]

    panels = [("loss", ["train_loss", "val_loss"]), ("validation Dice", ["val_dice", "val_iou"]), ("lr", ["lr"])]
    for i, (title, keys) in enumerate(panels, start=1):
        ax = fig.add_subplot(1, 3, i)
        for key in keys:
            xs, ys = series(key)
            if xs:
                ax.plot(xs, ys, marker="o" if len(xs) < 30 else None, label=key)
        ax.set_title(title)
        ax.set_xlabel("epoch")
        if epochs:
            ax.set_xlim(0.5, max(epochs) + 0.5)
        if ax.get_legend_handles_labels()[0]:  # a run without validation has no val_* lines
            ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    return png(plt, fig)


def overlay(image: np.ndarray, mask: np.ndarray, color: tuple[int, int, int], alpha: float = 0.45) -> np.ndarray:
    """RGB uint8 image with ``mask > 0`` tinted by ``color``; ``image`` is (H, W, C) of any range."""
    img = image.astype(np.float32)
    if img.ndim == 2:
        img = img[:, :, None]
    img = img[:, :, :3] if img.shape[2] >= 3 else np.repeat(img[:, :, :1], 3, axis=2)
    lo, hi = np.percentile(img, (0.5, 99.5))
    img = np.clip((img - lo) / max(hi - lo, 1e-6), 0, 1) * 255
    fg = mask > 0
    img[fg] = (1 - alpha) * img[fg] + alpha * np.asarray(color, dtype=np.float32)
    return img.astype(np.uint8)


def sample_grid(rows: list[dict[str, Any]]) -> bytes:
    """One row per sample: image, ground truth overlay (green), prediction overlay (magenta); a row with a
    ``map`` holds object labels, drawn as outlines in one colour per object."""
    from unetzoo.instances.measure import outline_overlay

    plt, fig = figure(9, 3 * max(1, len(rows)))
    for r, row in enumerate(rows):
        objects = "map" in row
        scores = f"Dice {row['dice']:.3f}" + (f", map {row['map']:.3f}" if objects else "")
        panels = [
            (row["image"], None, "image"),
            (
                row["image"],
                row["truth"],
                f"ground truth ({len(np.unique(row['truth'])) - 1} objects)" if objects else "ground truth",
            ),
            (row["image"], row["pred"], f"prediction ({scores})"),
        ]
        for c, (img, mask, title) in enumerate(panels):
            ax = fig.add_subplot(len(rows), 3, r * 3 + c + 1)
            color = (0, 220, 0) if c == 1 else (230, 0, 200)
            if objects and mask is not None:
                ax.imshow(outline_overlay(img, mask))
            else:
                ax.imshow(overlay(img, mask if mask is not None else np.zeros(img.shape[:2]), color))
            ax.set_title(f"{row['id'][:16]}: {title}" if c == 0 else title, fontsize=9)
            ax.axis("off")
    return png(plt, fig)
