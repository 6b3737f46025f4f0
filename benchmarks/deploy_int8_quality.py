"""INT8 quality on a trained run's validation split: eager vs ONNX fp32 vs ONNX INT8 masks.

    .venv/bin/python benchmarks/deploy_int8_quality.py RUN_DIR --data ../shared/data/isbi2012

``RUN_DIR`` holds ``best.pt`` and ``split.json`` of ``unetzoo train``. The model is exported to fp32 and INT8
ONNX, calibrating on the run's *training* images only; every validation image is then predicted by the three
engines. Bars of issue 6: fp32 masks identical to eager; INT8 masks agree with fp32 at Dice >= 0.98; val
Dice drop of INT8 <= 0.01.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import warnings
from pathlib import Path

import numpy as np

from unetzoo.data import open_source
from unetzoo.data.io import write_image
from unetzoo.deploy.export import export_model
from unetzoo.deploy.runtime import OnnxSegmenter
from unetzoo.engine.inference import Segmenter


def dice(a: np.ndarray, b: np.ndarray) -> float:
    """Foreground Dice of two label maps (1.0 when both are empty)."""
    a, b = a > 0, b > 0
    total = a.sum() + b.sum()
    return 1.0 if total == 0 else float(2 * (a & b).sum() / total)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="run folder with best.pt and split.json")
    parser.add_argument("--data", required=True, help="the run's dataset")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    src = open_source(args.data)
    split = json.loads((args.run / "split.json").read_text())
    index = {sample: k for k, sample in enumerate(src.ids)}
    ckpt = args.run / "best.pt"
    with tempfile.TemporaryDirectory(prefix="unetzoo-int8q-") as tmp:
        cal = Path(tmp) / "calibration"
        cal.mkdir()
        for sample in split["train"]:
            image = src.read_image(index[sample])
            write_image(cal / f"{sample}.png", image[..., 0] if image.shape[-1] == 1 else image)
        fp32_path = export_model(ckpt, "onnx", Path(tmp) / "fp32.onnx")
        int8_path = export_model(ckpt, "onnx", Path(tmp) / "int8.onnx", int8=True, calibration=cal)
        eager = Segmenter.from_checkpoint(ckpt)
        fp32 = OnnxSegmenter(fp32_path, threads=args.threads)
        int8 = OnnxSegmenter(int8_path, threads=args.threads)
        header = ("val image", "eager Dice", "fp32 Dice", "int8 Dice", "fp32!=eager px", "int8~fp32")
        print(f"{header[0]:<12}{header[1]:>11}{header[2]:>10}{header[3]:>10}{header[4]:>15}{header[5]:>10}")
        rows = []
        for sample in split["val"]:
            image, truth = src.load_native(index[sample])
            m_eager, m_fp32, m_int8 = eager.predict(image), fp32.predict(image), int8.predict(image)
            row = (dice(m_eager, truth), dice(m_fp32, truth), dice(m_int8, truth))
            row += (float((m_fp32 != m_eager).sum()), dice(m_int8, m_fp32))
            rows.append(row)
            print(f"{sample:<12}{row[0]:>11.4f}{row[1]:>10.4f}{row[2]:>10.4f}{row[3]:>15.0f}{row[4]:>10.4f}")
        mean = np.mean(rows, axis=0)
        print(f"{'mean':<12}{mean[0]:>11.4f}{mean[1]:>10.4f}{mean[2]:>10.4f}{mean[3]:>15.1f}{mean[4]:>10.4f}")
        print(f"\nfp32 masks identical to eager: {'PASS' if mean[3] == 0 else 'FAIL'} ({mean[3]:.1f} px/image differ)")
        agree = min(r[4] for r in rows)
        print(f"INT8 vs fp32 mask Dice >= 0.98 (worst image): {agree:.4f} {'PASS' if agree >= 0.98 else 'FAIL'}")
        drop = mean[1] - mean[2]
        print(f"INT8 val Dice drop <= 0.01: {drop:+.4f} {'PASS' if drop <= 0.01 else 'FAIL'}")


if __name__ == "__main__":
    main()
