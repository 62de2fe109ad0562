"""Load the declarative layout mappings in `mappings/` (see mappings/README.md).

Every file is checked against the keys it may hold: a misspelt key is an error naming the
file and the key, never a setting silently ignored.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from budgetkg.resources import data_dir

MAPPINGS_DIR = data_dir("mappings")

_SPACE = re.compile(r"\s+")
_BRACKETED_TAIL = re.compile(r"[（(][^（()）]*[)）]$")


class MappingError(ValueError):
    """A mappings file that cannot be used: one line naming the file and the key."""


def squash(text: str) -> str:
    """Drop all whitespace: spacing inside Chinese labels carries no meaning ("合 计")."""
    return _SPACE.sub("", text)


def name_key(text: str) -> str:
    """A printed name in comparable form: no whitespace, full-width brackets (维修(护)费 is the
    code list's 维修（护）费)."""
    return squash(text).replace("(", "（").replace(")", "）")


def _strip_prefixes(text: str, patterns: tuple[re.Pattern[str], ...]) -> str:
    """Remove any of `patterns` from the front of `text`, repeatedly, in any order."""
    changed = True
    while changed and text:
        changed = False
        for pattern in patterns:
            m = pattern.match(text)
            if m and m.end() > 0 and m.end() < len(text):
                text, changed = text[m.end() :], True
    return text


def normalise_title(text: str) -> str:
    """Title as printed → comparable form (no spaces, no year / 表N prefix, full-width brackets),
    by the numbering prefixes of mappings/vocabulary.toml."""
    return load_mappings().vocabulary.normalise(text)


@dataclass(frozen=True)
class Evidence:
    """What speaks for a table being of a kind (see [scoring] in mappings/vocabulary.toml).
    Each `title_all` entry is a group of alternatives separated by `|`; all groups must appear
    in the title unless a `titles` pattern matches it in full."""

    title_all: tuple[tuple[str, ...], ...] = ()
    title_any: tuple[str, ...] = ()
    title_none: tuple[str, ...] = ()
    header_any: tuple[str, ...] = ()
    rows_any: tuple[str, ...] = ()


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
    evidence: Evidence = field(default_factory=Evidence)
    vocabulary: Vocabulary | None = None

    def matches(self, title: str) -> bool:
        """The title, without numbering and owner prefixes, matches a pattern in full."""
        if self.vocabulary is None:
            norm = normalise_title(title)
            return self.matches_forms(norm, norm)
        return self.matches_forms(*self.vocabulary.title_forms(title))

    def matches_forms(self, norm: str, core: str) -> bool:
        """`matches` on a title already normalised (`Vocabulary.title_forms`): a reader asks
        every kind about every line of a document, and the forms are made once per line."""
        return any(p.fullmatch(norm) or p.fullmatch(core) for p in self.patterns)

    @property
    def scheme(self) -> str | None:
        """The classification its rows are coded in ("functional" / "economic"), if any."""
        return self.code_scheme if self.code_scheme in {"functional", "economic"} else None


@dataclass(frozen=True)
class ColumnLabel:
    key: str
    funding: str | None = None
    expenditure: str | None = None
    side: str | None = None
    total: bool = False


@dataclass(frozen=True)
class Scoring:
    """Weights and thresholds of kind recognition ([scoring] in mappings/vocabulary.toml)."""

    title_pattern: int = 10
    title_word: int = 2
    title_bonus: int = 1
    header_word: int = 1
    scheme: int = 3
    row_word: int = 1
    max_row_words: int = 3
    min_score: int = 2
    code_share: float = 0.6
    min_named_rows: int = 3


@dataclass(frozen=True)
class Vocabulary:
    """The printed words of budget structure (mappings/vocabulary.toml), compiled once."""

    numbering: tuple[re.Pattern[str], ...]
    owner: tuple[re.Pattern[str], ...]
    total_endings: tuple[str, ...]
    total_max_lead: int
    total_labels: frozenset[str]
    unit_columns: frozenset[str]
    code_words: tuple[str, ...]
    code_labels: frozenset[str]
    text_labels: frozenset[str]
    text_words: tuple[str, ...]
    ordinals: tuple[re.Pattern[str], ...]
    org_suffixes: tuple[str, ...]
    not_org_endings: tuple[str, ...]
    own_level: tuple[str, ...]
    department_labels: tuple[str, ...]
    cover_words: re.Pattern[str]
    max_name: int
    scoring: Scoring

    def normalise(self, title: str) -> str:
        """Title as printed → comparable form: no spaces, no numbering, full-width brackets."""
        return _strip_prefixes(squash(title), self.numbering).replace("(", "（").replace(")", "）")

    def title_core(self, title: str) -> str:
        """A normalised title without whose it is (部门 / 单位 / 市级部门 / 预算单位 …)."""
        return _strip_prefixes(title, self.owner)

    def title_forms(self, title: str) -> tuple[str, str]:
        """(normalised title, its core): what `TableKind.matches` compares with its patterns."""
        norm = self.normalise(title)
        return norm, self.title_core(norm)

    def is_total(self, label: str) -> bool:
        """合计 / 总计 / 本年收入合计 / 小计 …: the label of a total row."""
        text = squash(label)
        if text in self.total_labels:
            return True
        return any(text.endswith(e) and len(text) - len(e) <= self.total_max_lead for e in self.total_endings)

    def is_code_header(self, path: tuple[str, ...]) -> bool:
        """A header path naming a classification-code column (科目编码, 类/款/项 …)."""
        return any(any(w in squash(p) for w in self.code_words) or squash(p) in self.code_labels for p in path)

    def is_text_header(self, leaf: str) -> bool:
        """A header leaf of names or text, never of amounts (项目, 科目名称, 绩效目标 …)."""
        leaf = squash(leaf)
        return leaf in self.text_labels or any(w in leaf for w in self.text_words)

    def rank(self, label: str) -> int:
        """Level of an item number: 一、 1, （一） 2, 1. 3, （1） 4; none 0."""
        text = squash(label)
        return next((rank for rank, p in enumerate(self.ordinals, start=1) if p.match(text)), 0)

    def strip_ordinal(self, label: str) -> str:
        text = squash(label)
        for pattern in self.ordinals:
            text = pattern.sub("", text, count=1)
        return text

    def is_org_name(self, name: str) -> bool:
        """An organisation's name by its ending (…医院, …中心, …局); a bracketed alias after it
        is set aside (广州医科大学附属第四医院（广州市增城区人民医院）)."""
        name = _BRACKETED_TAIL.sub("", squash(name)) or name
        return name.endswith(self.org_suffixes) and not name.endswith(self.not_org_endings)

    def own(self, name: str) -> str:
        """某某局（本级） → 某某局: the department's own level is the department."""
        for suffix in self.own_level:
            if name.endswith(suffix):
                return name[: -len(suffix)]
        return name


#: Titles whose kind `Mappings.kind_for_title` remembers (every line of a document is asked,
#: once per reading and column strategy); past this many the memory starts afresh, so a worker
#: reading a whole corpus does not grow without bound.
TITLE_MEMO_SIZE = 20_000


@dataclass(frozen=True)
class Mappings:
    kinds: tuple[TableKind, ...]
    columns: dict[str, ColumnLabel]
    org_aliases: dict[str, str]  # printed name (squashed) → organisation key
    vocabulary: Vocabulary
    _title_kinds: dict[str, TableKind | None] = field(default_factory=dict, init=False, repr=False, compare=False)

    def kind_for_title(self, title: str) -> TableKind | None:
        """The kind whose title patterns match the title in full (how a title line is known
        for one before its table is read; the reader then weighs all evidence). The answer
        depends on the title alone, so it is remembered (`TITLE_MEMO_SIZE`)."""
        memo = self._title_kinds
        if title in memo:
            return memo[title]
        forms = self.vocabulary.title_forms(title)
        found = next(
            (
                kind
                for kind in self.kinds
                if (kind.matches_forms(*forms) if kind.vocabulary is self.vocabulary else kind.matches(title))
            ),
            None,
        )
        if len(memo) >= TITLE_MEMO_SIZE:
            memo.clear()
        memo[title] = found
        return found

    def by_kind(self, kind: str) -> TableKind | None:
        return next((k for k in self.kinds if k.kind == kind), None)

    def column(self, label: str) -> ColumnLabel | None:
        return self.columns.get(squash(label))

    def org_key(self, name: str) -> str:
        return self.org_aliases.get(squash(name), squash(name))


# --- loading ---------------------------------------------------------------------------------

_KIND_KEYS = {
    "kind", "number", "title", "title_en", "titles", "layout", "code_scheme", "child_kind", "groups",
    "heading", "header_words", "quantities", "evidence",
}  # fmt: skip
_EVIDENCE_KEYS = {"title_all", "title_any", "title_none", "header_any", "rows_any"}
_LAYOUTS = {"two-sided", "coded", "by-unit", "items"}
_VOCABULARY_KEYS = {
    "titles": {"numbering", "owner"},
    "totals": {"endings", "max_lead", "labels"},
    "columns": {"unit", "code_words", "code_labels", "text_labels", "text_words"},
    "rows": {"ordinals", "org_suffixes", "not_org_endings", "own_level"},
    "identity": {"department_labels", "cover_words", "max_name"},
    "scoring": set(Scoring.__dataclass_fields__),
}
_COLUMN_KEYS = {"key", "funding", "expenditure", "side", "total"}
_ORGANISATION_KEYS = {"names", "city"}


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise MappingError(f"{path}: cannot be read: {exc}") from None


def _check(path: Path, where: str, data: dict[str, Any], allowed: set[str], required: set[str] = frozenset()) -> None:
    """Reject keys the loader does not know (a misspelling would otherwise be ignored)."""
    for key in data:
        if key not in allowed:
            place = f"[{where}] " if where else ""
            raise MappingError(f"{path}: {place}unknown key {key!r} (allowed: {', '.join(sorted(allowed))})")
    for key in sorted(required - set(data)):
        raise MappingError(f"{path}: missing key {key!r}")


def _patterns(path: Path, key: str, values: list[str]) -> tuple[re.Pattern[str], ...]:
    try:
        return tuple(re.compile(v) for v in values)
    except re.error as exc:
        raise MappingError(f"{path}: {key}: not a regular expression: {exc}") from None


def _vocabulary(path: Path) -> Vocabulary:
    data = _read(path)
    _check(path, "", data, set(_VOCABULARY_KEYS))
    for section, keys in _VOCABULARY_KEYS.items():
        _check(path, section, data.get(section, {}), keys)
    titles, totals, columns = data.get("titles", {}), data.get("totals", {}), data.get("columns", {})
    rows, identity = data.get("rows", {}), data.get("identity", {})
    words = identity.get("cover_words", [])
    return Vocabulary(
        numbering=_patterns(path, "titles.numbering", titles.get("numbering", [])),
        owner=_patterns(path, "titles.owner", titles.get("owner", [])),
        total_endings=tuple(totals.get("endings", ())),
        total_max_lead=int(totals.get("max_lead", 10)),
        total_labels=frozenset(totals.get("labels", ())),
        unit_columns=frozenset(columns.get("unit", ())),
        code_words=tuple(columns.get("code_words", ())),
        code_labels=frozenset(columns.get("code_labels", ())),
        text_labels=frozenset(columns.get("text_labels", ())),
        text_words=tuple(columns.get("text_words", ())),
        ordinals=_patterns(path, "rows.ordinals", rows.get("ordinals", [])),
        org_suffixes=tuple(rows.get("org_suffixes", ())),
        not_org_endings=tuple(rows.get("not_org_endings", ())),
        own_level=tuple(rows.get("own_level", ())),
        department_labels=tuple(identity.get("department_labels", ())),
        cover_words=_patterns(path, "identity.cover_words", ["|".join(words) or "(?!)"])[0],
        max_name=int(identity.get("max_name", 40)),
        scoring=Scoring(**data.get("scoring", {})),
    )


def _evidence(path: Path, data: dict[str, Any]) -> Evidence:
    _check(path, "evidence", data, _EVIDENCE_KEYS)
    return Evidence(
        title_all=tuple(tuple(g.split("|")) for g in data.get("title_all", ())),
        title_any=tuple(data.get("title_any", ())),
        title_none=tuple(data.get("title_none", ())),
        header_any=tuple(data.get("header_any", ())),
        rows_any=tuple(data.get("rows_any", ())),
    )


def _kind(path: Path, data: dict[str, Any], vocabulary: Vocabulary) -> TableKind:
    _check(path, "", data, _KIND_KEYS, {"kind", "number", "title", "layout"})
    if data["layout"] not in _LAYOUTS:
        raise MappingError(f"{path}: layout {data['layout']!r} is none of {', '.join(sorted(_LAYOUTS))}")
    return TableKind(
        kind=data["kind"],
        number=int(data["number"]),
        title=data["title"],
        title_en=data.get("title_en", ""),
        patterns=_patterns(path, "titles", [normalise_pattern(p) for p in data.get("titles", ())]),
        layout=data["layout"],
        code_scheme=data.get("code_scheme"),
        child_kind=data.get("child_kind"),
        groups={k: tuple(v) for k, v in data.get("groups", {}).items()},
        heading=bool(data.get("heading", False)),
        header_words=tuple(data.get("header_words", ())),
        quantities=dict(data.get("quantities", {})),
        evidence=_evidence(path, data.get("evidence", {})),
        vocabulary=vocabulary,
    )


@cache
def load_mappings(directory: Path = MAPPINGS_DIR) -> Mappings:
    """All mappings of `directory`; raises MappingError naming the file and key on a bad one."""
    vocabulary = _vocabulary(directory / "vocabulary.toml")
    kinds = [_kind(path, _read(path), vocabulary) for path in sorted((directory / "tables").glob("*.toml"))]
    numbers: dict[int, str] = {}
    for k in kinds:
        if k.number in numbers and numbers[k.number] != k.kind:
            raise MappingError(f"{directory / 'tables'}: number {k.number} is both {numbers[k.number]} and {k.kind}")
        numbers[k.number] = k.kind
    path = directory / "columns.toml"
    col_data = _read(path)
    _check(path, "", col_data, {"labels"})
    columns = {}
    for label, v in col_data.get("labels", {}).items():
        _check(path, f"labels.{label}", v, _COLUMN_KEYS, {"key"})
        columns[squash(label)] = ColumnLabel(
            key=v["key"],
            funding=v.get("funding"),
            expenditure=v.get("expenditure"),
            side=v.get("side"),
            total=bool(v.get("total", False)),
        )
    path = directory / "organisations.toml"
    org_data = _read(path)
    _check(path, "", org_data, {"organisations"})
    aliases: dict[str, str] = {}
    for key, entry in org_data.get("organisations", {}).items():
        _check(path, f"organisations.{key}", entry, _ORGANISATION_KEYS)
        for name in entry.get("names", []):
            aliases[squash(name)] = key
    return Mappings(tuple(kinds), columns, aliases, vocabulary)


def normalise_pattern(pattern: str) -> str:
    """Titles are compared with full-width brackets; let patterns use either form."""
    return pattern.replace("[(（]", "（").replace("[)）]", "）")
