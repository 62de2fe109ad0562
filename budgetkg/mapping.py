"""Load the declarative layout mappings in `mappings/` (see mappings/README.md)."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from budgetkg.resources import data_dir

MAPPINGS_DIR = data_dir("mappings")

_SPACE = re.compile(r"\s+")
_PREFIX = re.compile(
    r"^(?:(?:部门)?公开\s*\d+\s*表|(?:部门公开)?表\s*\d+(?:[-－]\d+)?[：:.、]?|\d{4}\s*年度?|[（(]?[一二三四五六七八九十]+[）)、.])+"
)


def squash(text: str) -> str:
    """Drop all whitespace: spacing inside Chinese labels carries no meaning ("合 计")."""
    return _SPACE.sub("", text)


def normalise_title(text: str) -> str:
    """Title as printed → comparable form (no spaces, no year / 表N prefix, ASCII brackets)."""
    t = squash(text)
    t = _PREFIX.sub("", t)
    return t.replace("(", "（").replace(")", "）")


@dataclass(frozen=True)
class TableKind:
    kind: str
    number: int
    title: str
    title_en: str
    patterns: tuple[re.Pattern[str], ...]
    layout: str
    code_scheme: str | None = None
    child_kind: str | None = None
    groups: dict[str, tuple[str, ...]] = field(default_factory=dict)
    heading: bool = False
    header_words: tuple[str, ...] = ()
    quantities: dict[str, str] = field(default_factory=dict)

    def matches(self, title: str) -> bool:
        norm = normalise_title(title)
        return any(p.fullmatch(norm) for p in self.patterns)


@dataclass(frozen=True)
class ColumnLabel:
    key: str
    funding: str | None = None
    expenditure: str | None = None
    side: str | None = None
    total: bool = False


@dataclass(frozen=True)
class Mappings:
    kinds: tuple[TableKind, ...]
    columns: dict[str, ColumnLabel]
    org_aliases: dict[str, str]  # printed name (squashed) → organisation key

    def kind_for_title(self, title: str) -> TableKind | None:
        for kind in self.kinds:
            if kind.matches(title):
                return kind
        return None

    def by_kind(self, kind: str) -> TableKind | None:
        return next((k for k in self.kinds if k.kind == kind), None)

    def column(self, label: str) -> ColumnLabel | None:
        return self.columns.get(squash(label))

    def org_key(self, name: str) -> str:
        return self.org_aliases.get(squash(name), squash(name))


@cache
def load_mappings(directory: Path = MAPPINGS_DIR) -> Mappings:
    kinds = []
    for path in sorted((directory / "tables").glob("*.toml")):
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        kinds.append(
            TableKind(
                kind=data["kind"],
                number=int(data["number"]),
                title=data["title"],
                title_en=data.get("title_en", ""),
                patterns=tuple(re.compile(normalise_pattern(p)) for p in data["titles"]),
                layout=data["layout"],
                code_scheme=data.get("code_scheme"),
                child_kind=data.get("child_kind"),
                groups={k: tuple(v) for k, v in data.get("groups", {}).items()},
                heading=bool(data.get("heading", False)),
                header_words=tuple(data.get("header_words", ())),
                quantities=dict(data.get("quantities", {})),
            )
        )
    col_data = tomllib.loads((directory / "columns.toml").read_text(encoding="utf-8"))
    columns = {
        squash(label): ColumnLabel(
            key=v["key"],
            funding=v.get("funding"),
            expenditure=v.get("expenditure"),
            side=v.get("side"),
            total=bool(v.get("total", False)),
        )
        for label, v in col_data["labels"].items()
    }
    org_data = tomllib.loads((directory / "organisations.toml").read_text(encoding="utf-8"))
    aliases: dict[str, str] = {}
    for key, entry in org_data.get("organisations", {}).items():
        for name in entry.get("names", []):
            aliases[squash(name)] = key
    return Mappings(tuple(kinds), columns, aliases)


def normalise_pattern(pattern: str) -> str:
    """Titles are compared with full-width brackets; let patterns use either form."""
    return pattern.replace("[(（]", "（").replace("[)）]", "）")
