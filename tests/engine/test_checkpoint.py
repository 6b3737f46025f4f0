"""Checkpoints: atomic writes, weights_only loading, refusal of code-carrying pickles and corrupt files."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
import torch

import unetzoo
from unetzoo.engine.checkpoint import load_checkpoint, model_from_checkpoint, save_checkpoint
from unetzoo.utils.atomic import atomic_open, atomic_write_text


def _payload() -> dict:
    model = unetzoo.create_model("ulite", in_channels=1, classes=1)
    spec = {"name": "ulite", "preset": None, "kwargs": {}, "in_channels": 1, "classes": 1}
    return {"model": spec, "state_dict": model.state_dict(), "epoch": 3}


def test_roundtrip_rebuilds_the_same_model(tmp_path: Path) -> None:
    payload = _payload()
    save_checkpoint(tmp_path / "a.pt", payload)
    loaded = load_checkpoint(tmp_path / "a.pt")
    assert loaded["epoch"] == 3 and loaded["format"] == "unetzoo-checkpoint"
    model = model_from_checkpoint(loaded)
    for k, v in payload["state_dict"].items():
        assert torch.equal(model.state_dict()[k], v)


class _Evil:
    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (os.system, ("echo pwned > /dev/null",))


def test_pickle_carrying_code_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "evil.pt"
    torch.save({"format": "unetzoo-checkpoint", "payload": _Evil()}, path)
    with pytest.raises(unetzoo.UnetzooError, match="could run code"):
        load_checkpoint(path)


def test_plain_pickle_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "plain.pt"
    path.write_bytes(pickle.dumps(_Evil()))
    with pytest.raises(unetzoo.UnetzooError, match=r"plain\.pt"):
        load_checkpoint(path)


@pytest.mark.parametrize("content", [b"", b"not a checkpoint", None])
def test_corrupt_or_truncated_is_a_clear_error(tmp_path: Path, content: bytes | None) -> None:
    path = tmp_path / "bad.pt"
    if content is None:  # a real checkpoint cut in half
        save_checkpoint(path, _payload())
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    else:
        path.write_bytes(content)
    with pytest.raises(unetzoo.UnetzooError, match=r"bad\.pt"):
        load_checkpoint(path)


def test_foreign_checkpoint_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "foreign.pt"
    torch.save({"state_dict": {}}, path)
    with pytest.raises(unetzoo.UnetzooError, match="not a unetzoo checkpoint"):
        load_checkpoint(path)


def test_missing_checkpoint(tmp_path: Path) -> None:
    with pytest.raises(unetzoo.UnetzooError, match="not found"):
        load_checkpoint(tmp_path / "nope.pt")


def test_weights_of_another_model_are_refused(tmp_path: Path) -> None:
    payload = _payload()
    payload["model"] = {**payload["model"], "classes": 3}
    save_checkpoint(tmp_path / "x.pt", payload)
    with pytest.raises(unetzoo.UnetzooError, match="do not fit model 'ulite'"):
        model_from_checkpoint(load_checkpoint(tmp_path / "x.pt"), tmp_path / "x.pt")


def test_interrupted_write_keeps_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "keep.txt"
    atomic_write_text(path, "good")
    with pytest.raises(RuntimeError), atomic_open(path) as fh:
        fh.write(b"half-written")
        raise RuntimeError("crash mid-write")
    assert path.read_text() == "good"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]  # no temp file left behind


def test_unwritable_destination_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(unetzoo.UnetzooError, match="writable"):
        atomic_write_text(blocker / "sub" / "out.txt", "data")


def test_garbage_is_called_corrupt_not_code(tmp_path: Path) -> None:
    path = tmp_path / "garbage.pt"
    path.write_bytes(b"\x80\x02not a checkpoint at all")
    with pytest.raises(unetzoo.UnetzooError, match="corrupt") as info:
        load_checkpoint(path)
    assert "could run code" not in str(info.value)
