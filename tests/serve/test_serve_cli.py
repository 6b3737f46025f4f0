"""``unetzoo serve`` on the command line: starts on a free port, answers, stops on Ctrl-C; bad options are one line."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from unetzoo.cli import main


def test_serve_starts_answers_and_stops(checkpoint: Path):
    cmd = [sys.executable, "-m", "unetzoo", "serve", "--model", str(checkpoint), "--port", "0", "--quiet"]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, preexec_fn=_default_sigint)
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        match = re.search(r"on (http://127\.0\.0\.1:\d+/)$", line.strip())
        assert match, line
        with urllib.request.urlopen(match[1] + "healthz", timeout=30) as response:
            assert json.load(response)["model"] == "ulite"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(20) == 0
        assert "stopped" in proc.stderr.read()
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--max-pixels", "0"], 2, "--max-pixels must be between 1 and"),
        (["--concurrency", "0"], 2, "--concurrency must be at least 1"),
        (["--workers", "0"], 2, "--workers must be at least 1"),
        (["--max-upload-mb", "0"], 2, "--max-upload-mb must be positive"),
        ([], 1, "checkpoint not found"),
    ],
)
def test_bad_options_are_one_line(args: list[str], code: int, message: str, capsys: pytest.CaptureFixture[str]):
    assert main(["serve", "--model", "missing.pt", *args]) == code
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def _default_sigint() -> None:
    """Let the child take Ctrl-C even when the suite runs as a background job (``make test &``): a shell
    without job control starts background jobs with SIGINT ignored, and exec keeps an ignored signal ignored."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
