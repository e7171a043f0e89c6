"""The C scanner reads untrusted bytes: random blocks go through it under AddressSanitizer and UBSan."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

HARNESS = Path(__file__).with_name("linescan_fuzz.c")


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc (the extension needs it too)")
def test_random_blocks_scan_without_memory_errors(tmp_path):
    binary = tmp_path / "fuzz"
    sanitizers = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all"]
    flags = ["-O1", "-g", "-std=c11", "-D_GNU_SOURCE", *sanitizers]
    subprocess.run(["gcc", *flags, str(HARNESS), "-o", str(binary)], check=True, capture_output=True)
    run = subprocess.run([str(binary), "20000"], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "scanned 20000 blocks" in run.stdout
    assert int(run.stdout.split()[-2]) > 10_000  # the usual lines did reach the tokeniser and stream table
