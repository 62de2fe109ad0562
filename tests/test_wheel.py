"""`pip install .` (a wheel, not an editable install) into a fresh venv, then `budgetkg build`
of the sample: the mappings, ontology, shapes and queries travel inside the package."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SAMPLE_PDF

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ["pyproject.toml", "README.md", "budgetkg", "mappings", "ontology", "shapes", "queries"]


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv seeing the system's dependencies (offline), with budgetkg installed from a copy of
    the source tree (so the build leaves nothing in the checkout)."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    for name in SOURCE:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "node_modules"))
        else:
            shutil.copy(ROOT / name, src / name)
    env = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(env)], check=True)
    pip = [str(env / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps"]
    done = subprocess.run([*pip, "--no-build-isolation", str(src)], capture_output=True, text=True)
    if done.returncode != 0:  # no `wheel` beside setuptools: let pip fetch the build backend (from its index)
        done = subprocess.run([*pip, str(src)], capture_output=True, text=True)
    if done.returncode != 0 and ("No matching distribution" in done.stderr or "connection" in done.stderr.lower()):
        pytest.skip("the build backend (setuptools, wheel) is neither installed nor reachable")
    assert done.returncode == 0, done.stderr[-2000:]
    return env


def test_wheel_install_builds_the_sample(venv: Path, tmp_path: Path) -> None:
    python = str(venv / "bin" / "python")
    where = subprocess.run(
        [python, "-c", "import budgetkg.resources as r; print(r.__file__); print(r.data_dir('shapes'))"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=True,
    ).stdout.split()
    assert where[0].startswith(str(venv)) and "/_data/shapes" in where[1]
    out = tmp_path / "out"
    done = subprocess.run(
        [str(venv / "bin" / "budgetkg"), "build", str(SAMPLE_PDF), "--out", str(out), "--jobs", "1", "-q"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "1113 amounts" in done.stderr
    assert (out / "build.json").is_file() and (out / "catalog.ttl").is_file()
    assert "sh:ValidationReport" in (out / "validation" / "report.ttl").read_text(encoding="utf-8")


def test_every_code_package_is_in_the_wheel() -> None:
    """pyproject.toml lists the packages (the data directories are mapped in beside them): a new
    subpackage of budgetkg/ must be listed there too, or `pip install .` leaves it out."""
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["packages"])
    found = {
        ".".join(p.parent.relative_to(ROOT).parts)
        for p in (ROOT / "budgetkg").rglob("__init__.py")
        if "node_modules" not in p.parts
    }
    assert found - listed == set()
