"""The national classification code lists (``ontology/codelists/*.csv``) and how a row of a
table finds its code in them.

Both the tidy ``lines.csv`` and the graph ask :func:`row_code`, so a row carries the same code
in both: the code printed in the row, or — where a table prints class names without codes
(the 收支总表's 一、一般公共服务支出 …) — the code whose national name the row prints.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import cache

from budgetkg.mapping import name_key, squash
from budgetkg.model import Row, RowKind, Side, Table
from budgetkg.resources import data_dir

#: classification → the IRI segment of its concepts (``def/code/func/2010301``)
SCHEMES = {"functional": "func", "economic": "econ"}

#: the kinds of source a code-list row cites (its ``source`` column, ontology/codelists/README.md),
#: strongest first → the bk:EvidenceStatus concept (ontology/budgetkg.ttl) the graph states
EVIDENCE_STATUS = {"sha256": "PrintedInDocument", "PX": "PublishedEdition", "KN": "NameCorroborated", "K": "Unverified"}
#: a source reference: a published document's sha256 (first 16 hex) and page, or a named source
SOURCE_REF = re.compile(r"sha256:[0-9a-f]{16}#p\d+|PX|KN|K")

#: ordinal prefixes of printed row names (一、 （一） 1. 其中：) — not part of the name
ORDINAL = re.compile(
    r"^(?:其中[：:])?\s*(?:[一二三四五六七八九十]+、|[（(][一二三四五六七八九十\d]+[)）]|\d+[.、．])\s*"
)


@dataclass(frozen=True, slots=True)
class CodeEntry:
    """One row of a code list: the code, its names, its parent, and where it comes from."""

    notation: str
    label_zh: str
    label_en: str
    parent: str
    years: tuple[int, ...] = ()
    source: str = ""
    names: tuple[tuple[int, str], ...] = ()  # (year, name) where an edition names the code otherwise

    def name_in(self, year: int) -> str:
        """The name the code list gives the code in that year's edition."""
        return dict(self.names).get(year, self.label_zh)

    @property
    def sources(self) -> tuple[str, ...]:
        """The row's source references (``sha256:…#p12``, ``PX``, ``KN``, ``K``), as cited."""
        return tuple(self.source.split())

    @property
    def evidence_status(self) -> str:
        """The strongest kind of source the row cites (a key of EVIDENCE_STATUS's values): a
        row citing only ``K`` is ``Unverified`` — its name was never checked against an edition."""
        kinds = {ref.partition(":")[0] for ref in self.sources}
        return next((status for kind, status in EVIDENCE_STATUS.items() if kind in kinds), "Unverified")


@cache
def code_list(scheme: str) -> dict[str, CodeEntry]:
    """The national code list shipped in ontology/codelists/ ({functional,economic}.csv)."""
    path = data_dir("ontology") / "codelists" / f"{scheme}.csv"
    if not path.exists():
        return {}
    out: dict[str, CodeEntry] = {}
    with path.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            notation = row["notation"].strip()
            out[notation] = CodeEntry(
                notation,
                (row.get("label_zh") or "").strip(),
                (row.get("label_en") or "").strip(),
                (row.get("parent") or "").strip(),
                tuple(int(y) for y in (row.get("years") or "").split()),
                (row.get("source") or "").strip(),
                tuple(_edition_names(row.get("names") or "")),
            )
    return out


def _edition_names(text: str) -> list[tuple[int, str]]:
    """``2026:突发公共卫生事件应急处置 2027:…`` → [(2026, "突发公共卫生事件应急处置"), …]."""
    out = []
    for part in text.split():
        year, _, name = part.partition(":")
        out.append((int(year), name))
    return out


@cache
def _label_index(scheme: str) -> dict[str, tuple[str, ...]]:
    """Squashed zh label → notations carrying it, in code-list order (for resolve_name)."""
    index: dict[str, list[str]] = {}
    for entry in code_list(scheme).values():
        index.setdefault(name_key(entry.label_zh), []).append(entry.notation)
    return {k: tuple(v) for k, v in index.items()}


def parent_code(code: str) -> str | None:
    """类 3 digits → 款 5 → 项 7: the parent is the code without its last two digits."""
    return code[:-2] if len(code) > 3 else None


def code_level(code: str) -> int:
    return {3: 1, 5: 2, 7: 3}.get(len(code), 0)


def resolve_name(scheme: str, label: str, level: int | None = None) -> str | None:
    """A name printed without its code → the code, through the national code list (only when
    exactly one code of the wanted level carries that name)."""
    name = name_key(ORDINAL.sub("", squash(label)))
    matches = [n for n in _label_index(scheme).get(name, ()) if level is None or code_level(n) == level]
    return matches[0] if len(matches) == 1 else None


def row_code(row: Row, table: Table) -> tuple[str, str] | None:
    """(classification, code) of a row: its printed code in a coded table; for a class name
    printed without code (the expenditure side of the summary tables, ``functional-class-names``)
    the 类 of that name; for an uncoded row of a coded table, the one code of that name."""
    scheme = table.code_scheme if table.code_scheme in SCHEMES else None
    if row.code and scheme:
        return scheme, row.code
    if row.kind is RowKind.ITEM and table.code_scheme == "functional-class-names" and row.side is Side.EXPENDITURE:
        code = resolve_name("functional", row.label, level=1)
        return ("functional", code) if code else None
    if row.kind in (RowKind.ITEM, RowKind.CLASS) and scheme and not row.code:
        code = resolve_name(scheme, row.label)
        return (scheme, code) if code else None
    return None


def printed_name(row: Row) -> str:
    """The row's name as a code-list name would be written: no spaces, no ordinal prefix."""
    return name_key(ORDINAL.sub("", squash(row.label)) or squash(row.label))  # as _label_index keys it


def nesting_codes(table: Table, codes: list[str | None]) -> list[str | None]:
    """Codes to nest a table's rows by (``hierarchy.row_parents``), never emitted as the rows'
    codes: where a table prints 款 and 项 names under a class name without codes or ordinals
    (深圳市统计局's 财政拨款收支总表: 一、一般公共服务支出 / 统计信息事务 / 行政运行 …), each name is
    looked up among the children of the codes above it, deepest first, and kept where exactly
    one child carries it. ``codes`` are the rows' own codes (``row_code``)."""
    scheme = "functional" if table.code_scheme == "functional-class-names" else table.code_scheme
    if scheme not in SCHEMES:
        return list(codes)
    index = _label_index(scheme)
    out = list(codes)
    context: dict[object, list[str]] = {}  # side → codes above, outermost first
    for i, row in enumerate(table.rows):
        stack = context.setdefault(row.side, [])
        if row.kind is RowKind.TOTAL:
            stack.clear()
            continue
        code = codes[i]
        if code is None and stack and row.kind in (RowKind.ITEM, RowKind.CLASS):
            names = index.get(printed_name(row), ())
            for above in reversed(stack):
                children = [n for n in names if n.startswith(above) and len(n) == len(above) + 2]
                if len(children) == 1:
                    code = out[i] = children[0]
                    break
        if code is None:
            continue
        while stack and not code.startswith(stack[-1]):
            stack.pop()
        stack.append(code)
    return out


def table_codes(table: Table) -> list[tuple[str, str] | None]:
    """(classification, code) of every row of a table: :func:`row_code`, and for a row printed
    without a code under coded rows, the one child of the code above it that carries its name
    (:func:`nesting_codes`).

    杭州市气象局 prints names only: 气象事务 is found by its name (one 款 of that name), 行政运行
    under it is not (every 款 has one) — and a 款 with a code but children without made its
    “sub-items add up” check compare 5247.87 with the one child that had a code. Resolved in the
    context of the code above, 行政运行 is 2200501, and the check compares like with like. The
    graph and lines.csv both ask this, so they carry the same codes.
    """
    codes = [row_code(row, table) for row in table.rows]
    scheme = "functional" if table.code_scheme == "functional-class-names" else table.code_scheme
    if scheme not in SCHEMES:
        return codes
    nested = nesting_codes(table, [c[1] if c else None for c in codes])
    return [c if c is not None or n is None else (scheme, n) for c, n in zip(codes, nested, strict=True)]

