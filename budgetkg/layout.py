"""The geometry settings of the reader, declared in ``mappings/layout.toml``.

Every distance, share and tolerance that pdf.py and tables/ use to turn characters and rules
into words, columns and rows is a named setting there (with the document that needed it), in
the manner of pdfplumber's ``table_settings``. This module loads them into one typed, frozen
dataclass; an unknown key, a missing key or a value of the wrong type is a one-line error, so
a typing mistake in the mapping cannot silently fall back to a default.

To read once with other settings (read-checks re-reading a table that does not balance)::

    settings = dataclasses.replace(load_layout(), column_strategy="gutters")
    find_tables(pages, mappings, settings)
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from budgetkg.mapping import MAPPINGS_DIR

LAYOUT_FILE = MAPPINGS_DIR / "layout.toml"
STRATEGIES = ("auto", "rules", "gutters")


class LayoutError(ValueError):
    """mappings/layout.toml is not what the reader expects (one line: file, key, reason)."""


@dataclass(frozen=True, slots=True)
class LayoutSettings:
    """One field per setting of layout.toml, named ``<section>_<key>`` (``words`` keys bare)."""

    x_tolerance: float
    y_tolerance: float
    min_rule_length: float
    year_join_gap: float
    split_at_rules: bool
    rule_reach: float
    split_amount_label: bool
    bold_share: float
    column_strategy: str
    column_rule_merge: float
    column_min_rule_height: float
    column_numeric_ratio: float
    row_rule_merge: float
    row_header_rule_share: float
    row_body_rule_share: float
    row_wrap_gap: float
    row_indent_step: float
    row_rewrapped_header_share: float
    row_column_number_markers: tuple[str, ...]
    row_column_number_start: int
    row_column_number_min: int
    page_margin: float
    page_running_share: float
    page_running_min_pages: int
    page_prose_length: int

    def __post_init__(self) -> None:
        if self.column_strategy not in STRATEGIES:
            raise LayoutError(
                f"columns.strategy: {self.column_strategy!r} is not one of {', '.join(STRATEGIES)}"
            )


#: toml section → prefix of the dataclass field names
_SECTIONS = {"words": "", "page": "page_", "columns": "column_", "rows": "row_"}


def _field_name(section: str, key: str) -> str:
    return _SECTIONS[section] + key


def parse_layout(data: dict, source: str = "layout.toml") -> LayoutSettings:
    """Settings from the parsed TOML, every key known, present and of its declared type."""
    fields = {f.name: f for f in dataclasses.fields(LayoutSettings)}
    values: dict[str, object] = {}
    for section, table in data.items():
        if section not in _SECTIONS or not isinstance(table, dict):
            raise LayoutError(f"{source}: unknown section [{section}] (known: {', '.join(_SECTIONS)})")
        for key, value in table.items():
            name = _field_name(section, key)
            if name not in fields:
                raise LayoutError(f"{source}: unknown setting {section}.{key}")
            values[name] = typed_setting(fields[name].type, value, f"{source}: {section}.{key}")
    missing = [n for n in fields if n not in values]
    if missing:
        raise LayoutError(f"{source}: missing setting(s) {', '.join(missing)}")
    return LayoutSettings(**values)  # type: ignore[arg-type]


def typed_setting(kind: object, value: object, where: str) -> object:
    """A TOML value checked against the declared type of its settings field (the type as the
    dataclass spells it), converted where TOML has no such type (a list → a tuple, an inline
    table of numbers → sorted (key, float) pairs); LayoutError (a ValueError) naming `where`
    otherwise. Shared by every settings file of mappings/ (layout.toml, ocr.toml)."""
    kind = str(kind)
    if kind == "bool":
        if isinstance(value, bool):
            return value
    elif kind == "int":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif kind == "float":
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    elif kind == "str":
        if isinstance(value, str):
            return value
    elif kind == "tuple[str, ...]" and isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    elif (
        kind == "tuple[tuple[str, float], ...]"
        and isinstance(value, dict)
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value.values())
    ):
        return tuple(sorted((k, float(v)) for k, v in value.items()))
    raise LayoutError(f"{where}: {value!r} is not a {kind}")


@cache
def load_layout(path: Path = LAYOUT_FILE) -> LayoutSettings:
    """The settings of mappings/layout.toml (read once per process)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise LayoutError(f"{path}: cannot be read ({exc})") from None
    return parse_layout(data, str(path))
