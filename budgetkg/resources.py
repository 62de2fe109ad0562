"""Where the declarative inputs live: ``mappings/``, ``ontology/``, ``shapes/`` and ``queries/``.

They stay at the top of the repository (the layout the project documents), and a wheel maps
them into the package as ``budgetkg/_data/<name>`` (``[tool.setuptools.package-dir]`` in
pyproject.toml). A source checkout or an editable install reads them from the repository; an
installed wheel from the package. This module is the one place that knows both.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
DATA_DIRS = ("mappings", "ontology", "shapes", "queries")


@cache
def data_dir(name: str) -> Path:
    """The directory of one kind of declarative input: the repository's own when running from a
    checkout (``<repo>/<name>`` beside the package), else the copy packaged into the wheel."""
    if name not in DATA_DIRS:
        raise ValueError(f"unknown data directory {name!r} (one of {', '.join(DATA_DIRS)})")
    checkout = PACKAGE_DIR.parent / name
    if checkout.is_dir():
        return checkout
    packaged = PACKAGE_DIR / "_data" / name
    if packaged.is_dir():
        return packaged
    raise FileNotFoundError(f"budgetkg: data directory {name}/ not found (looked in {checkout} and {packaged})")
