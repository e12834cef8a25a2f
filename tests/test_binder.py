"""The Binder recipe (binder/) builds an environment in which the quickstart notebook runs.

Binder (repo2docker) creates the conda environment from ``binder/environment.yml`` and then
runs ``binder/postBuild`` from the repository root. conda is not available here, so this test
does the closest thing: a fresh ``python -m venv`` (standing in for the conda ``python`` and
``pip``; Node.js only matters when ``nbchat/static/widget.js`` has not been built yet), the
``pip:`` requirements of environment.yml installed with that venv's pip, then postBuild run
verbatim with the venv first on PATH, then ``pytest --nbval-lax notebooks/quickstart.ipynb``
with the venv's own Python. It needs PyPI and takes minutes; it is never skipped.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BINDER = ROOT / "binder"


def pip_requirements(environment_yml: Path) -> list[str]:
    """The entries of the ``- pip:`` list of a conda environment file (no YAML library needed)."""
    reqs: list[str] = []
    in_pip = False
    pip_indent = 0
    for raw in environment_yml.read_text("utf-8").splitlines():
        line = raw.split("#", 1)[0].rstrip()
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        item = line.strip()
        if item in ("- pip:", "-pip:"):
            in_pip, pip_indent = True, indent
            continue
        if in_pip:
            if indent <= pip_indent:
                in_pip = False
            elif item.startswith("- "):
                reqs.append(item[2:].strip().strip("'\""))
    return reqs


def test_recipe_files() -> None:
    env = (BINDER / "environment.yml").read_text("utf-8")
    assert "conda-forge" in env and "nodejs>=20" in env and "- pip" in env
    post = BINDER / "postBuild"
    assert os.access(post, os.X_OK), "postBuild must be executable"
    assert 'pip install ".[demo]"' in post.read_text("utf-8")
    assert "urlpath=lab/tree/notebooks/quickstart.ipynb" in (BINDER / "README.md").read_text()
    assert (ROOT / "notebooks" / "quickstart.ipynb").is_file()
    assert pip_requirements(BINDER / "environment.yml") == ["nbval>=0.11"]


@pytest.mark.timeout(2400)
def test_binder_recipe_runs_the_quickstart(tmp_path: Path) -> None:
    venv = tmp_path / "binder-env"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    bindir = venv / ("Scripts" if os.name == "nt" else "bin")
    python = bindir / "python"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{bindir}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(venv)
    # no key: the quickstart must run against the embedded demo server, as on Binder
    for key in ("SPELLBOOK_API_KEY", "OPENAI_API_KEY", "NBCHAT_BASE_URL", "OPENAI_BASE_URL"):
        env.pop(key, None)

    def run(cmd: list[str], **kw: object) -> None:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, **kw)  # type: ignore[call-overload]
        assert proc.returncode == 0, f"{cmd} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"

    run([str(python), "-m", "pip", "install", "-q", "--upgrade", "pip"])
    reqs = pip_requirements(BINDER / "environment.yml")
    run([str(python), "-m", "pip", "install", "-q", *reqs])
    # postBuild as Binder runs it: from the repository root, with the environment's pip first
    bash = shutil.which("bash")
    assert bash is not None
    run([bash, str(BINDER / "postBuild")], cwd=ROOT)

    # the package came from the install, not from the source tree on sys.path
    out = subprocess.run(
        [str(python), "-c", "import nbchat, pathlib; print(pathlib.Path(nbchat.__file__))"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert str(venv) in out, out
    run(
        [
            str(python),
            "-m",
            "pytest",
            "--nbval-lax",
            "--nbval-current-env",
            "-p",
            "no:cacheprovider",
            "-q",
            "-o",
            "addopts=",
            str(ROOT / "notebooks" / "quickstart.ipynb"),
        ],
        cwd=tmp_path,
    )
