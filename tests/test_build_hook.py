"""Installing from source without npm says what to install (issue 11 item 8)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]


def test_building_a_wheel_without_npm_fails_with_that_message(tmp_path: Path) -> None:
    """A real `pip wheel` of a source copy without the built bundle and with no npm on PATH."""
    src = tmp_path / "src"
    subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", "-o", str(tmp_path / "s.tar"), "HEAD"],
        check=True,
    )
    src.mkdir()
    subprocess.run(["tar", "-xf", str(tmp_path / "s.tar"), "-C", str(src)], check=True)
    for name in ("hatch_build.py", "pyproject.toml"):  # the working copy's, committed or not
        (src / name).write_bytes((ROOT / name).read_bytes())
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "python").symlink_to(sys.executable)
    env = {**os.environ, "PATH": str(bindir)}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "-w",
            str(tmp_path / "dist"),
            str(src),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode != 0
    assert "npm was not found" in proc.stdout + proc.stderr
