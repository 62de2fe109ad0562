"""Audit of the disclosure: what the prose claims, what the document must contain, and whether it
names itself consistently (issue 14).

Three audits over a `model.Document`, all declared in `mappings/`:

* **claims** – the figures of the 情况说明 (`Prose.sentences`) parsed into claims (a subject of
  `mappings/claims.toml`, its amount, its change 增加/减少 X, its rate 增长/下降 Y%) and checked
  (a) internally (the rate against the change and the amount, the parts against their sum),
  (b) against the tables of the same document, (c) against the previous year's document when the
  build holds it. Every comparison allows the rounding of the digits printed on both sides.
* **completeness** – the tables the template of the document's kind requires
  (`mappings/templates.toml`), the tables the contents page lists, empty tables and their 空表说明.
* **coherence** – one year and one unit throughout: cover, part headings, table titles, 单位名称
  lines, the 截至 date of the asset report; template placeholders (XX局).

The results go to `DIR/claims.csv` (`write_claims_csv`) and into each document's graph
(`audit_triples`, called by graph.py); shapes/claims.ttl and shapes/completeness.ttl turn them
into SHACL results with their page.
"""

from __future__ import annotations

import csv
import hashlib
import re
import tomllib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path

from pyoxigraph import Triple

from budgetkg.graph import BK, MULTIPLIER, RDFS, A, GraphBuilder, code_list, decimal_literal, lit, nn, typed
from budgetkg.mapping import MAPPINGS_DIR, Mappings, load_mappings, normalise_title, squash
from budgetkg.model import Amount, Document, PageLine, Row, Table

#: The power of ten of each printed currency unit (one definition: graph.MULTIPLIER).
CURRENCY_EXPONENT = MULTIPLIER
FIGURE = re.compile(r"(?<![\d.,])(-?\d(?:[\d,]*\d)?(?:\.\d+)?)\s*(亿元|万元|千元|元|%|％)")
PART = re.compile(r"^\s*第[一二三四五六七八九十]+部分")
UNIT_LINE = re.compile(r"^\s*(?:单位名称|部门名称|编制单位|预算单位|部门)\s*[：:]\s*")
ORDINAL = re.compile(r"^(?:其中[：:]?|[一二三四五六七八九十]+、|[（(][一二三四五六七八九十\d]+[)）]|\d+\s*[.、．])\s*")
#: A year in a heading, not the end of a span (2023-2026年) and not part of a date (2022年12月).
HEADING_YEAR = re.compile(r"(?<![\d\-－—~～至])((?:19|20)\d{2})\s*年(?!\s*\d{1,2}\s*月)")
AS_OF = re.compile(r"截至\s*((?:19|20)\d{2})\s*年\s*12\s*月\s*31\s*日")
YEAR_OVER_YEAR_COLUMNS = (
    "document",
    "previous",
    "item",
    "unit",
    "this_year",
    "last_year",
    "change",
    "stated_change",
    "status",
)
CLAIMS_CSV_COLUMNS = (
    "document",
    "page",
    "sentence",
    "subject",
    "printed",
    "kind",
    "compared_with",
    "expected",
    "status",
)


# --- vocabulary and templates (mappings/) ---------------------------------------------------


@dataclass(frozen=True)
class Subject:
    key: str
    label: str
    terms: tuple[str, ...]
    parts: tuple[str, ...] = ()
    tables: tuple[str, ...] = ()
    rows: tuple[re.Pattern[str], ...] = ()
    measures: tuple[str, ...] = ()
    titles: tuple[str, ...] = ()
    after: re.Pattern[str] | None = None
    columns: tuple[re.Pattern[str], ...] = ()
    scoped: bool = False  # its tables have different scopes: inconsistent only if all were read


@dataclass(frozen=True)
class ClassPattern:
    """Subjects named in the text: a classification 类 (see [[classes]] in mappings/claims.toml)."""

    pattern: re.Pattern[str]
    scheme: str
    tables: tuple[str, ...]
    measures: tuple[str, ...]
    scoped: bool = False

    def subject(self, words: str) -> Subject | None:
        """The 类 the words before （类） end with (the longest such ending), as a subject."""
        names = _class_names(self.scheme)
        for start in range(len(words)):
            tail = words[start:]
            name = tail if tail in names else tail + "支出" if tail + "支出" in names else None
            if name:
                rows = (re.compile(re.escape(name)),)
                return Subject(
                    f"class:{name}", f"{name}（类）", (), (), self.tables, rows, self.measures, scoped=self.scoped
                )
        return None


@cache
def _class_names(scheme: str) -> frozenset[str]:
    return frozenset(squash(e.label_zh) for e in code_list(scheme).values() if len(e.notation) == 3)


@dataclass(frozen=True)
class Vocabulary:
    subjects: dict[str, Subject]
    up: tuple[str, ...]
    down: tuple[str, ...]
    classes: tuple[ClassPattern, ...] = ()
    completion: re.Pattern[str] | None = None
    change_columns: tuple[str, ...] = ()  # header words of a column printing a change

    def term_index(self) -> list[tuple[str, Subject]]:
        return [(norm(t), s) for s in self.subjects.values() for t in s.terms]


@dataclass(frozen=True)
class RequiredTable:
    name: str
    kinds: tuple[str, ...]
    titles: tuple[str, ...]


@dataclass(frozen=True)
class Template:
    name: str
    as_of_offset: int
    tables: tuple[RequiredTable, ...]
    optional: tuple[RequiredTable, ...]


@dataclass(frozen=True)
class Templates:
    kinds: dict[str, Template]
    markers: dict[str, tuple[str, ...]]
    groups: tuple[str, ...]
    filler: tuple[str, ...]
    empty_note: re.Pattern[str]
    generic: tuple[re.Pattern[str], ...]
    suffixes: tuple[str, ...]
    placeholders: tuple[str, ...]
    org_name: re.Pattern[str]


def norm(text: str) -> str:
    """Text as compared: no spaces, no quotes, full-width brackets and colon."""
    t = re.sub(r"[\"“”‘’'「」]", "", squash(text))
    return t.replace("(", "（").replace(")", "）").replace(":", "：")


@cache
def load_vocabulary(path: Path = MAPPINGS_DIR / "claims.toml") -> Vocabulary:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    subjects = {}
    for s in data["subjects"]:
        subjects[s["key"]] = Subject(
            key=s["key"],
            label=s["label"],
            terms=tuple(s["terms"]),
            parts=tuple(s.get("parts", ())),
            tables=tuple(s.get("tables", ())),
            rows=tuple(re.compile(r) for r in s.get("rows", ())),
            measures=tuple(s.get("measures", ())),
            titles=tuple(norm(t) for t in s.get("titles", ())),
            after=re.compile(f"(?:{s['after']})$") if "after" in s else None,
            columns=tuple(re.compile(c) for c in s.get("columns", ())),
        )
    change = data["change"]
    classes = tuple(
        ClassPattern(
            re.compile(c["pattern"]),
            c["scheme"],
            tuple(c["tables"]),
            tuple(c.get("measures", ())),
            c.get("scoped", False),
        )
        for c in data.get("classes", ())
    )
    completion = re.compile(data["completion"]["pattern"]) if "completion" in data else None
    return Vocabulary(
        subjects, tuple(change["up"]), tuple(change["down"]), classes, completion, tuple(change.get("columns", ()))
    )


def _required(entries: Iterable[dict]) -> tuple[RequiredTable, ...]:
    return tuple(RequiredTable(e["name"], tuple(e["kinds"]), tuple(norm(t) for t in e["titles"])) for e in entries)


@cache
def load_templates(path: Path = MAPPINGS_DIR / "templates.toml") -> Templates:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    kinds = {
        name: Template(name, int(k["as_of_offset"]), _required(k["tables"]), _required(k.get("optional", ())))
        for name, k in data["kinds"].items()
    }
    co = data["coherence"]
    return Templates(
        kinds=kinds,
        markers={k: tuple(v) for k, v in data["markers"].items()},
        groups=tuple(data["contents"]["groups"]),
        filler=tuple(data["contents"]["filler"]),
        empty_note=re.compile(data["empty_note"]),
        generic=tuple(re.compile(g) for g in co["generic"]),
        suffixes=tuple(co["suffixes"]),
        placeholders=tuple(co["placeholders"]),
        org_name=re.compile(co["org_name"]),
    )


# --- claims ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Figure:
    """A printed figure of the prose: its value (signed for a decrease), digits and unit."""

    value: Decimal
    printed: str  # as printed, with the word before it for changes and rates: "增加6.04万元"
    digits: str  # the number as printed, without sign word: "6.04"
    unit: str

    @property
    def half_unit(self) -> Decimal:
        """Half of the last printed digit: the rounding a printed figure may carry."""
        exponent = Decimal(self.digits.replace(",", "")).as_tuple().exponent
        return Decimal(1).scaleb(int(exponent)) / 2


@dataclass(frozen=True, slots=True)
class Claim:
    """What one stretch of a sentence states about one subject (None: a figure of no known subject)."""

    page: int
    sentence: str
    order: int  # position of the sentence in the 情况说明
    subject: Subject | None
    amount: Figure | None = None
    change: Figure | None = None
    rate: Figure | None = None


@dataclass(frozen=True, slots=True)
class Check:
    """One row of claims.csv: a printed figure, what it was compared with and the verdict."""

    page: int
    sentence: str
    subject: str
    printed: str
    kind: str  # amount | change | rate | parts | parts-change | unit | figure
    compared_with: str
    expected: str
    status: str  # consistent | inconsistent | unverifiable
    stated: Decimal | None = None
    expected_value: Decimal | None = None
    tolerance: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Issue:
    """A completeness or coherence finding, with the page it concerns."""

    kind: str  # missing-table | listed-not-printed | empty-without-note | year | unit-name | placeholder
    page: int
    message: str


def _find_subject(
    lead: str, index: list[tuple[str, Subject]], classes: tuple[ClassPattern, ...] = ()
) -> Subject | None:
    """The subject whose term ends nearest before the figure (the longest on a tie), if it is
    in the same clause: no ，。； between the term and the figure, and at most 12 characters.
    A 类 named in the text (一般公共服务支出（类）) competes the same way."""
    text = norm(lead)
    best: tuple[int, int, Subject] | None = None
    for cp in classes:
        for m in cp.pattern.finditer(text):
            gap = text[m.end() :]
            subject = cp.subject(m.group(1))
            if subject is not None and len(gap) <= 12 and not re.search(r"[，。；,;]", gap):
                key = (m.end(), m.end() - m.start())
                if best is None or key > best[:2]:
                    best = (key[0], key[1], subject)
    for term, subject in index:
        at = text.rfind(term)
        while at >= 0 and subject.after is not None and not subject.after.search(text[:at]):
            at = text.rfind(term, 0, at)
        if at < 0:
            continue
        end = at + len(term)
        gap = text[end:]
        if len(gap) > 12 or re.search(r"[，。；,;]", gap):
            continue
        key = (end, len(term))
        if best is None or key > best[:2]:
            best = (end, len(term), subject)
    return best[2] if best else None


def _figure(m: re.Match[str], sign: int = 1, word: str = "") -> Figure:
    digits = m.group(1)
    value = Decimal(digits.replace(",", "")) * sign
    unit = "%" if m.group(2) in "%％" else m.group(2)
    return Figure(value, f"{word}{digits}{m.group(2)}", digits, unit)


def parse_claims(sentences: Iterable[PageLine], vocabulary: Vocabulary | None = None) -> list[Claim]:
    """Claims of the 情况说明, in the order printed.

    A money figure after a subject term starts a claim; a money figure after 增加/减少 is the
    change of the current claim and a percentage after 增长/下降 its rate. A bracket keeps the
    claim outside it: 公务用车购置及运行费 20.40 万元（公务用车购置费 0 万元…）比上年增加 0 万元
    gives the change after the bracket to 公务用车购置及运行费. Any other figure is kept as a claim
    without subject (it is listed, unverifiable), so every figure of the prose is accounted for.
    """
    vocab = vocabulary or load_vocabulary()
    index = vocab.term_index()
    out: list[Claim] = []
    for order, sentence in enumerate(sentences):
        text = sentence.text
        current: dict | None = None
        stack: list[dict | None] = []
        claims: list[dict] = []
        prev_end = 0
        for m in FIGURE.finditer(text):
            lead = text[prev_end : m.start()]
            prev_end = m.end()
            for ch in lead:
                if ch in "（(":
                    stack.append(current)
                elif ch in "）)" and stack:
                    current = stack.pop()
            word = next((w for w in (*vocab.up, *vocab.down) if norm(lead).rstrip("：了为").endswith(w)), "")
            sign = -1 if word in vocab.down else 1
            is_rate = m.group(2) in "%％"
            if word and current is not None and not current["rate" if is_rate else "change"]:
                current["rate" if is_rate else "change"] = _figure(m, sign, word)
                continue
            subject = None if (word or is_rate) else _find_subject(lead, index, vocab.classes)
            if subject is None:
                slot = ("rate" if is_rate else "change") if word else ("rate" if is_rate else "amount")
                claims.append(
                    {"subject": None, "amount": None, "change": None, "rate": None, slot: _figure(m, sign, word)}
                )
                if not word:
                    current = None
                continue
            current = {"subject": subject, "amount": _figure(m), "change": None, "rate": None}
            claims.append(current)
        for c in claims:
            out.append(Claim(sentence.page, text, order, c["subject"], c["amount"], c["change"], c["rate"]))
    return out


def _label(row: Row) -> str:
    label = norm(row.label)
    while (m := ORDINAL.match(label)) and m.end() > 0:
        label = label[m.end() :]
    return label


def _tables_for(doc: Document, subject: Subject) -> list[Table]:
    found = [t for kind in subject.tables for t in doc.tables if t.kind == kind]
    if not found and subject.titles:
        found = [t for t in doc.tables if any(f in norm(t.title) for f in subject.titles)]
    return found


@dataclass(frozen=True, slots=True)
class TableFigure:
    value: Decimal
    printed: str
    unit: str
    where: str


def _where(table: Table, row: Row, column: str = "") -> str:
    name = f"table {table.number} {table.title}" if table.number else f"table {table.title}"
    label = f", row “{row.label}”" if row.label else ""
    return f"{name}{label}{column}, p.{row.pages[0]}"


def _year_row(table: Table, year: int) -> Row | None:
    """The row a side-by-side table prints the figures on: its total row, else the row of the
    document's year (深圳 prints 2025年 / 2026年 / 增减变化金额), else its only row."""
    total = next((r for r in table.rows if r.kind == "total"), None)
    if total is not None:
        return total
    by_year = next((r for r in table.rows if norm(r.label) == f"{year}年"), None)
    return by_year or (table.rows[0] if len(table.rows) == 1 else None)


def table_figures(
    doc: Document, subject: Subject, year: int | None = None, vocabulary: Vocabulary | None = None
) -> list[TableFigure]:
    """Where the tables print the subject's figure: per row pattern (in the mapping's order),
    the rows of the subject's tables whose label matches, in the preferred column; for a table
    that prints the parts side by side, the subject's column on its total (or year's) row.
    With `year`: only a side-by-side table's row of that year (last year's figure, printed
    beside this year's)."""
    change_columns = (vocabulary or load_vocabulary()).change_columns
    out: list[TableFigure] = []
    for table in _tables_for(doc, subject):
        if year is not None:
            row = next((r for r in table.rows if norm(r.label) == f"{year}年"), None)
            amount = next(
                (a for p in subject.columns for a in (row.amounts if row else ()) if p.search(a.measure_key)), None
            )
            if row is not None and amount is not None:
                column = f", column “{' / '.join(amount.measure)}”"
                out.append(TableFigure(amount.value, amount.printed, table.currency_unit, _where(table, row, column)))
            continue
        for pattern in subject.rows:
            for row in table.rows:
                if not pattern.fullmatch(_label(row)) or not row.amounts:
                    continue
                amount = _year_amount(row, subject.measures, doc.year, change_columns)
                out.append(TableFigure(amount.value, amount.printed, table.currency_unit, _where(table, row)))
        if out or not subject.columns:
            continue
        row = _year_row(table, doc.year)
        if row is None:
            continue
        for pattern in subject.columns:
            amount = next((a for a in row.amounts if pattern.search(a.measure_key)), None)
            if amount is not None:
                column = f", column “{' / '.join(amount.measure)}”"
                out.append(TableFigure(amount.value, amount.printed, table.currency_unit, _where(table, row, column)))
                break
    return out


_YEAR = re.compile(r"((?:19|20)\d\d)\s*年")


def _year_amount(row: Row, measures: tuple[str, ...], year: int, change_columns: tuple[str, ...]) -> Amount:
    """The amount of the document's year on a row, in the subject's preferred column.

    A column key is year-free (`2026年预算数` and `2025年执行数` are keyed 预算数 and 执行数), so
    the first amount of a row may be last year's: 国家信访局 2026 prints 2025年执行数 first. The
    preferred keys are tried exactly; else the first column whose header names no other year and
    no change (`增减额`) — a table's first amount column is its total (杭州 prints “三公”经费合计
    before the parts); only a row with no such column falls back to its first amount.
    """
    exact = next((a for k in measures for a in row.amounts if a.measure_key == k), None)
    if exact is not None:
        return exact
    def of_the_year(a: Amount) -> bool:
        header = "".join(a.measure)
        return {int(y) for y in _YEAR.findall(header)} <= {year} and not any(w in header for w in change_columns)

    return next((a for a in row.amounts if of_the_year(a)), row.amounts[0])


def _in_unit(value: Decimal, unit: str, target: str) -> Decimal:
    shift = CURRENCY_EXPONENT.get(unit, 0) - CURRENCY_EXPONENT.get(target, 0)
    return value.scaleb(shift)


def _half(printed: str) -> Decimal:
    digits = printed.replace(",", "").strip() or "0"
    return Decimal(1).scaleb(int(Decimal(digits).as_tuple().exponent)) / 2


def _status(stated: Decimal, expected: Decimal, tol: Decimal) -> str:
    return "consistent" if abs(stated - expected) <= tol else "inconsistent"


def _fmt(value: Decimal, places: int = 2) -> str:
    return f"{value.quantize(Decimal(1).scaleb(-places)):f}"


def _amount_check(doc: Document, claim: Claim, fig: Figure, subject: Subject, vocab: Vocabulary) -> Check:
    base = dict(page=claim.page, sentence=claim.sentence, subject=subject.label, printed=fig.printed, kind="amount")
    candidates = table_figures(doc, subject, vocabulary=vocab) if fig.unit in CURRENCY_EXPONENT else []
    if not candidates:
        why = "no table of this document prints it" if subject.tables else "no table prints it"
        return Check(**base, compared_with=why, expected="", status="unverifiable")
    checks = []
    for c in candidates:
        expected = _in_unit(c.value, c.unit, fig.unit)
        tol = fig.half_unit + _in_unit(_half(c.printed), c.unit, fig.unit)
        checks.append(
            Check(
                **base,
                compared_with=c.where,
                expected=f"{c.printed}{c.unit}",
                status=_status(fig.value, expected, tol),
                stated=fig.value,
                expected_value=expected,
                tolerance=tol,
            )
        )
    good = next((c for c in checks if c.status == "consistent"), None)
    if good:
        return good
    missing = [k for k in subject.tables if not any(t.kind == k for t in doc.tables)]
    if subject.scoped and missing:
        return Check(
            **base,
            compared_with=f"{checks[0].compared_with} differs, but the figure may be of the scope of "
            f"{', '.join(missing)}, a table this document's reading did not recognise",
            expected=checks[0].expected,
            status="unverifiable",
        )
    first, c = checks[0], candidates[0]
    for unit in CURRENCY_EXPONENT:  # a 万元/元 slip: the digits agree with the table read in another unit
        if unit == fig.unit or c.value == 0 or fig.value == 0:  # zero is zero in every unit: no slip to see
            continue
        table_half = _in_unit(_half(c.printed), c.unit, unit)
        if table_half * 100 > abs(fig.value):  # the table's digits are too coarse in that unit to tell
            continue
        if abs(fig.value - _in_unit(c.value, c.unit, unit)) <= fig.half_unit + table_half:
            where = f"{c.where} (the prose prints {fig.unit}; its digits are the table's in {unit})"
            return Check(
                **{**base, "kind": "unit"},
                compared_with=where,
                expected=first.expected,
                status="inconsistent",
                stated=first.stated,
                expected_value=first.expected_value,
                tolerance=first.tolerance,
            )
    return first


def _rate_bounds(amount: Figure, change: Figure) -> tuple[Decimal, Decimal, Decimal] | None:
    """change / (amount − change) × 100, and its range over the rounding of both printed figures."""
    if amount.value - change.value <= 0:
        return None
    values = [change.value / (amount.value - change.value) * 100]
    for a in (amount.value - amount.half_unit, amount.value + amount.half_unit):
        for c in (change.value - change.half_unit, change.value + change.half_unit):
            if a - c <= 0:
                return None
            values.append(c / (a - c) * 100)
    return values[0], min(values), max(values)


def _rate_check(claim: Claim, label: str) -> Check:
    assert claim.rate is not None
    rate = claim.rate
    base = dict(page=claim.page, sentence=claim.sentence, subject=label, printed=rate.printed, kind="rate")
    if claim.amount is None or claim.change is None:
        return Check(
            **base,
            compared_with="the sentence states no amount and change to compute it from",
            expected="",
            status="unverifiable",
        )
    bounds = _rate_bounds(claim.amount, claim.change)
    if bounds is None:
        return Check(
            **base,
            compared_with="last year's amount (amount − change) is not positive",
            expected="",
            status="unverifiable",
        )
    expected, low, high = bounds
    tol = max(expected - low, high - expected) + rate.half_unit
    cmp = f"change / (amount − change) = {claim.change.digits} / ({claim.amount.digits} − {claim.change.digits})"
    return _rate_verdict(base, rate, expected, tol, cmp)


def _rate_verdict(base: dict, rate: Figure, expected: Decimal, tol: Decimal, compared_with: str) -> Check:
    """The check of a stated rate against the rate its figures give (a change rate, a 决算's
    rate of completion), within `tol`."""
    return Check(
        **base,
        compared_with=compared_with,
        expected=f"{_fmt(expected)}%",
        status=_status(rate.value, expected, tol),
        stated=rate.value,
        expected_value=expected.quantize(Decimal("0.000001")),
        tolerance=tol.quantize(Decimal("0.000001")),
    )


def _change_check(
    doc: Document, claim: Claim, subject: Subject, previous: Document | None, vocab: Vocabulary
) -> Check:
    assert claim.change is not None
    fig = claim.change
    base = dict(page=claim.page, sentence=claim.sentence, subject=subject.label, printed=fig.printed, kind="change")
    if previous is not None:
        before, source = table_figures(previous, subject, vocabulary=vocab), f"{previous.source.name}: "
    else:  # a table of this document may print last year beside this year (深圳: 2025年 / 2026年 rows)
        before, source = table_figures(doc, subject, doc.year - 1, vocab), ""
    if claim.amount is None or not before:
        why = (
            f"{previous.source.name} prints no figure for it"
            if previous is not None
            else "the previous year's document is not in the build"
        )
        return Check(**base, compared_with=why, expected="", status="unverifiable")
    last = before[0]
    expected = claim.amount.value - _in_unit(last.value, last.unit, fig.unit)
    tol = fig.half_unit + claim.amount.half_unit + _in_unit(_half(last.printed), last.unit, fig.unit)
    return Check(
        **base,
        compared_with=f"{claim.amount.digits} − {source}{last.where} {last.printed}",
        expected=f"{_fmt(expected)}{fig.unit}",
        status=_status(fig.value, expected, tol),
        stated=fig.value,
        expected_value=expected,
        tolerance=tol,
    )


def _parts_checks(claims: list[Claim], vocab: Vocabulary) -> Iterator[Check]:
    """A subject with parts (三公 = 出国 + 用车 + 接待): when the prose states every part after it
    (before the subject comes again), their amounts, and their changes, must add up."""
    for i, claim in enumerate(claims):
        subject = claim.subject
        if subject is None or not subject.parts or claim.amount is None:
            continue
        parts: dict[str, Claim] = {}
        for later in claims[i + 1 :]:
            if later.subject is None:
                continue
            if later.subject.key == subject.key or later.order > claim.order + 8:
                break
            if later.subject.key in subject.parts and later.subject.key not in parts and later.amount is not None:
                parts[later.subject.key] = later
        if len(parts) != len(subject.parts):
            continue
        ordered = [parts[k] for k in subject.parts]
        for kind, attr in (("parts", "amount"), ("parts-change", "change")):
            whole: Figure | None = getattr(claim, attr)
            figs: list[Figure | None] = [getattr(p, attr) for p in ordered]
            if whole is None or any(f is None or f.unit != whole.unit for f in figs):
                continue
            real = [f for f in figs if f is not None]
            expected = sum((f.value for f in real), Decimal(0))
            tol = whole.half_unit + sum((f.half_unit for f in real), Decimal(0))
            cmp = " + ".join(f"{vocab.subjects[k].label} {f.digits}" for k, f in zip(subject.parts, real, strict=True))
            yield Check(
                page=claim.page,
                sentence=claim.sentence,
                subject=subject.label,
                printed=whole.printed,
                kind=kind,
                compared_with=cmp,
                expected=f"{_fmt(expected)}{whole.unit}",
                status=_status(whole.value, expected, tol),
                stated=whole.value,
                expected_value=expected,
                tolerance=tol,
            )


def _completion_checks(sentences: Iterable[PageLine], vocab: Vocabulary) -> Iterator[Check]:
    """完成预算的 Z% against 决算 Y / 预算 X × 100 in the same sentence (a 决算's prose)."""
    if vocab.completion is None:
        return
    index = vocab.term_index()
    for sentence in sentences:
        text = squash(sentence.text)
        for m in vocab.completion.finditer(text):
            budget = Figure(Decimal(m["budget"].replace(",", "")), m["budget"] + m["budget_unit"], m["budget"], "")
            final = Figure(Decimal(m["final"].replace(",", "")), m["final"] + m["final_unit"], m["final"], "")
            rate = Figure(Decimal(m["rate"].replace(",", "")), f"完成预算的{m['rate']}%", m["rate"], "%")
            final_value = _in_unit(final.value, m["final_unit"], m["budget_unit"])
            final_half = _in_unit(final.half_unit, m["final_unit"], m["budget_unit"])
            subject = _find_subject(text[: m.start()], index, vocab.classes)
            base = dict(
                page=sentence.page,
                sentence=sentence.text,
                subject=subject.label if subject else "",
                printed=rate.printed,
                kind="completion",
            )
            low_budget = budget.value - budget.half_unit
            if low_budget <= 0:
                bad = rate.value != 0
                yield Check(
                    **base,
                    compared_with="the budget is zero: there is no rate of completion (GovBudgetChecker R004)",
                    expected="0%" if bad else "",
                    status="inconsistent" if bad else "unverifiable",
                    stated=rate.value if bad else None,
                    expected_value=Decimal(0) if bad else None,
                    tolerance=Decimal(0) if bad else None,
                )
                continue
            values = [final_value / budget.value * 100] + [
                (f / b) * 100
                for b in (low_budget, budget.value + budget.half_unit)
                for f in (final_value - final_half, final_value + final_half)
            ]
            expected = values[0]
            tol = max(abs(v - expected) for v in values) + rate.half_unit
            yield _rate_verdict(base, rate, expected, tol, f"决算 / 预算 = {final.printed} / {budget.printed}")


def check_claims(doc: Document, previous: Document | None = None, vocabulary: Vocabulary | None = None) -> list[Check]:
    """Every figure of the 情况说明 with its verdict (see the module docstring)."""
    vocab = vocabulary or load_vocabulary()
    claims = parse_claims(doc.prose.sentences, vocab)
    out: list[Check] = []
    for claim in claims:
        subject = claim.subject
        if subject is None:
            for fig in (claim.amount, claim.change, claim.rate):
                if fig is not None:
                    out.append(Check(claim.page, claim.sentence, "", fig.printed, "figure", "", "", "unverifiable"))
            continue
        if claim.amount is not None:
            out.append(_amount_check(doc, claim, claim.amount, subject, vocab))
        if claim.change is not None:
            out.append(_change_check(doc, claim, subject, previous, vocab))
        if claim.rate is not None:
            out.append(_rate_check(claim, subject.label))
    out.extend(_parts_checks(claims, vocab))
    out.extend(_completion_checks(doc.prose.sentences, vocab))
    return out


# --- completeness ---------------------------------------------------------------------------


def template_for(doc: Document, templates: Templates | None = None) -> Template:
    """部门决算 for a 决算; 单位预算 when the cover or a heading says so; else 部门预算."""
    tpl = templates or load_templates()
    if doc.kind == "决算":
        return tpl.kinds["部门决算"]
    first = doc.prose.headings[0].page if doc.prose.headings else 1
    heads = "".join(norm(h.text) for h in doc.prose.headings if h.page == first)
    for name, markers in tpl.markers.items():
        if any(m in heads for m in markers):
            return tpl.kinds[name]
    return tpl.kinds["部门预算"]


def _title_key(text: str, filler: tuple[str, ...] = ()) -> str:
    """A title reduced to its Chinese characters (contents pages drop or split the quotes),
    without the filler words contents pages add or drop."""
    key = re.sub(r"[^\u4e00-\u9fff]", "", normalise_title(text))
    for word in filler:
        key = key.replace(word, "")
    return key


def _contents_page(doc: Document) -> int:
    return doc.prose.contents[0].page if doc.prose.contents else 0


def _body_titles(doc: Document) -> list[PageLine]:
    """Table titles as printed in the body (not the contents page): the tables read, and every
    heading line ending in 表 (an empty table may print only its title and 说明)."""
    toc = _contents_page(doc)
    out = [PageLine(t.pages[0] if t.pages else 0, t.title) for t in doc.tables]
    out.extend(h for h in doc.prose.headings if h.page != toc and _title_key(h.text).endswith("表"))
    return out


def _present(req: RequiredTable, doc: Document, titles: list[PageLine]) -> bool:
    if any(t.kind in req.kinds for t in doc.tables):
        return True
    return any(f in norm(t.text) for t in titles for f in req.titles)


def _empty(table: Table) -> bool:
    amounts = [a for r in table.rows for a in r.amounts]
    return all(a.value == 0 for a in amounts)


def empty_table_note(doc: Document, table: Table, templates: Templates | None = None) -> str | None:
    """The 空表说明 printed with a table (on its pages: the page after may be the next table's), if any."""
    tpl = templates or load_templates()
    if not table.pages:
        return None
    pages = set(table.pages)
    return next((n.text for n in doc.prose.notes if n.page in pages and tpl.empty_note.search(squash(n.text))), None)


def completeness(doc: Document, mappings: Mappings | None = None, templates: Templates | None = None) -> list[Issue]:
    """Required tables absent, tables the contents list but the body lacks, empty tables without 说明."""
    tpl = templates or load_templates()
    maps = mappings or load_mappings()
    template = template_for(doc, tpl)
    titles = _body_titles(doc)
    toc = _contents_page(doc)
    issues: list[Issue] = []
    for req in template.tables:
        if not _present(req, doc, titles):
            issues.append(
                Issue(
                    "missing-table",
                    toc or 1,
                    f"the {template.name} template requires 《{req.name}》; the document prints no such table",
                )
            )
    keys = [_title_key(t.text, tpl.filler) for t in titles]
    kinds = {t.kind for t in doc.tables}
    for entry in doc.prose.contents:
        key = _title_key(entry.text, tpl.filler)
        group = _title_key(norm(entry.text).replace(norm(doc.department), ""))  # 2026年杭州市气象局预算公开表
        if not key.endswith("表") or len(key) < 4 or PART.match(entry.text) or group in tpl.groups:
            continue
        kind = maps.kind_for_title(entry.text)
        if kind is not None and kind.kind in kinds:
            continue
        if any(key == k or (len(k) >= 6 and (key in k or k in key)) for k in keys):
            continue
        issues.append(
            Issue(
                "listed-not-printed",
                entry.page,
                f"the contents (page {entry.page}) list 《{entry.text}》 but the document does not print it",
            )
        )
    required = [*template.tables, *template.optional]
    for table in doc.tables:
        if not _empty(table):
            continue
        if not any(table.kind in r.kinds or any(f in norm(table.title) for f in r.titles) for r in required):
            continue
        if empty_table_note(doc, table, tpl) is None:
            pages = ",".join(map(str, table.pages))
            issues.append(
                Issue(
                    "empty-without-note",
                    table.pages[0] if table.pages else 0,
                    f"table 《{table.title}》 (page {pages}) is empty but carries no 空表说明 "
                    "(such as “本部门无…，故本表无数据”)",
                )
            )
    return issues


# --- coherence ------------------------------------------------------------------------------


def _unit_names(doc: Document) -> frozenset[str]:
    """The names the document may print for itself: the department, its 下属单位 and the units of
    the by-unit tables (compared without spaces and quotes)."""
    names = {doc.department, *doc.prose.subordinate_units, *(r.unit for t in doc.tables for r in t.rows if r.unit)}
    return frozenset(norm(k) for k in names if k)


def _known_unit(name: str, doc: Document, maps: Mappings, names: frozenset[str] = frozenset()) -> bool:
    n = norm(name)
    if any(n in k or k in n for k in names or _unit_names(doc)):
        return True
    return maps.org_key(name) == maps.org_key(doc.department)


def _placeholder(text: str, tpl: Templates) -> str | None:
    """The template placeholder (XX, ××) left in the text, if any: reported as such, not as a unit."""
    return next((p for p in tpl.placeholders if p in text), None)


def _named_unit(heading: str, tpl: Templates) -> str:
    """What a part heading says beyond its generic words, if that is an organisation's name."""
    rest = norm(heading)
    for g in tpl.generic:
        rest = g.sub("", rest)
    rest = rest.strip("：:、 ")
    return rest if len(rest) >= 3 and rest.endswith(tpl.suffixes) else ""


def coherence(doc: Document, mappings: Mappings | None = None, templates: Templates | None = None) -> list[Issue]:
    """One year and one unit throughout the document."""
    tpl = templates or load_templates()
    maps = mappings or load_mappings()
    issues: list[Issue] = []
    prose = doc.prose
    first = prose.headings[0].page if prose.headings else 1
    known = doc.department and doc.department != "unknown"
    names = _unit_names(doc)
    for h in prose.headings:
        text = h.text
        is_title = _title_key(text).endswith("表")
        unit_line = UNIT_LINE.match(text)
        if doc.year and (h.page == first or PART.match(text) or is_title or unit_line):
            for y in {int(y) for y in HEADING_YEAR.findall(text)} - {doc.year}:
                issues.append(
                    Issue(
                        "year", h.page, f"“{text}” (page {h.page}) names the year {y}; the document is for {doc.year}"
                    )
                )
        found: list[str] = []
        if unit_line:
            found = [re.split(r"\s*(?:金额)?单位\s*[：:]", text[unit_line.end() :])[0].strip()]
        elif PART.match(text):  # a part heading: its words beyond the generic ones
            found = [_named_unit(text, tpl)]
        elif h.page == first or is_title:  # the cover, a table title: a full organisation name in it
            found = tpl.org_name.findall(norm(normalise_title(text)))
        for name in found:
            if known and name and not _placeholder(name, tpl) and not _known_unit(name, doc, maps, names):
                message = f"“{text}” (page {h.page}) names {name}; the document is {doc.department}'s"
                issues.append(Issue("unit-name", h.page, message))
    template = template_for(doc, tpl)
    for s in prose.sentences:
        for y in AS_OF.findall(squash(s.text)):
            if doc.year and int(y) != doc.year + template.as_of_offset:
                issues.append(
                    Issue(
                        "year",
                        s.page,
                        f"“截至{y}年12月31日” (page {s.page}): a {template.name} for "
                        f"{doc.year} reports at 31 December {doc.year + template.as_of_offset}",
                    )
                )
    for line in [*prose.headings, *prose.sentences]:
        hit = _placeholder(line.text, tpl)
        if hit:
            issues.append(
                Issue(
                    "placeholder",
                    line.page,
                    f"“{line.text[:60]}” (page {line.page}) still holds the template's placeholder {hit}",
                )
            )
    return issues


def audit_issues(doc: Document) -> list[Issue]:
    """Completeness and coherence findings, deduplicated, in page order."""
    seen: dict[tuple[str, str], Issue] = {}
    for issue in [*completeness(doc), *coherence(doc)]:
        seen.setdefault((issue.kind, issue.message), issue)
    return sorted(seen.values(), key=lambda i: (i.page, i.kind, i.message))


# --- outputs --------------------------------------------------------------------------------


def previous_documents(documents: Iterable[Document], org_key: Callable[[str], str]) -> dict[int, Document]:
    """For each document (by id()), the same organisation's document of the year before, same kind."""
    docs = list(documents)
    by = {(org_key(d.department), d.year, d.kind): d for d in docs}
    return {id(d): p for d in docs if (p := by.get((org_key(d.department), d.year - 1, d.kind))) is not None}


def write_claims_csv(documents: Iterable[Document], path: Path, org_key: Callable[[str], str]) -> int:
    """DIR/claims.csv: one row per check of every document (sorted by document, then page)."""
    docs = list(documents)
    previous = previous_documents(docs, org_key)
    rows = []
    for doc in docs:
        for c in check_claims(doc, previous.get(id(doc))):
            rows.append(
                (
                    doc.source.name,
                    c.page,
                    c.sentence,
                    c.subject,
                    c.printed,
                    c.kind,
                    c.compared_with,
                    c.expected,
                    c.status,
                )
            )
    rows.sort(key=lambda r: (r[0], r[1]))
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(CLAIMS_CSV_COLUMNS)
        w.writerows(rows)
    return len(rows)


def _classes(doc: Document) -> tuple[str, dict[str, tuple[str, Decimal, str]]]:
    """The 类 (3-digit functional codes) of the first table of the document that prints them
    (支出总表, else 一般公共预算支出表): code → (label, total, currency unit)."""
    for kind in ("expenditure-summary", "general-budget-functional"):
        for table in doc.tables:
            if table.kind != kind:
                continue
            found = {
                r.code: (r.label, r.amounts[0].value, table.currency_unit)
                for r in table.rows
                if r.code and len(r.code) == 3 and r.amounts
            }
            if found:
                return table.title, found
    return "", {}


def year_over_year(doc: Document, previous: Document, vocabulary: Vocabulary | None = None) -> list[tuple[str, ...]]:
    """A department's year beside the year before (issue 14, 4): each 类 and each subject of
    mappings/claims.toml that a table prints (三公 and its parts, 机关运行经费, 收入/支出), with
    the change the tables give and the change the prose states (consistent within rounding)."""
    vocab = vocabulary or load_vocabulary()
    stated: dict[str, Check] = {}
    for c in check_claims(doc, previous, vocab):
        if c.kind == "change" and c.subject not in stated:
            stated[c.subject] = c
    rows: list[tuple[str, ...]] = []

    def add(item: str, this: Decimal | None, last: Decimal | None, unit: str) -> None:
        change = this - last if this is not None and last is not None else None
        said = stated.get(item)  # its status compares the stated change with this year − last year
        status = said.status if said is not None else ""
        rows.append(
            (
                doc.source.name,
                previous.source.name,
                item,
                unit,
                "" if this is None else f"{this:f}",
                "" if last is None else f"{last:f}",
                "" if change is None else f"{change:f}",
                said.printed if said else "",
                status,
            )
        )

    _, this_classes = _classes(doc)
    _, last_classes = _classes(previous)
    for code in sorted(set(this_classes) | set(last_classes)):
        now, before = this_classes.get(code), last_classes.get(code)
        label, _, unit = now or before or ("", Decimal(0), "万元")
        label = _label_text(label)
        last_value = _in_unit(before[1], before[2], unit) if before else None
        add(f"{label}（类）", now[1] if now else None, last_value, unit)
    for subject in vocab.subjects.values():
        now_f = table_figures(doc, subject, vocabulary=vocab)
        before_f = table_figures(previous, subject, vocabulary=vocab)
        if not now_f and not before_f:
            continue
        unit = (now_f or before_f)[0].unit
        add(
            subject.label,
            now_f[0].value if now_f else None,
            _in_unit(before_f[0].value, before_f[0].unit, unit) if before_f else None,
            unit,
        )
    return rows


def _label_text(label: str) -> str:
    text = norm(label)
    while (m := ORDINAL.match(text)) and m.end() > 0:
        text = text[m.end() :]
    return re.sub(r"^\[\d+\]", "", text)


def write_year_over_year_csv(documents: Iterable[Document], path: Path, org_key: Callable[[str], str]) -> int:
    """DIR/year-over-year.csv: every document that has its previous year in the build."""
    docs = list(documents)
    previous = previous_documents(docs, org_key)
    rows = [r for d in docs if (p := previous.get(id(d))) is not None for r in year_over_year(d, p)]
    rows.sort(key=lambda r: (r[0], r[2]))
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(YEAR_OVER_YEAR_COLUMNS)
        w.writerows(rows)
    return len(rows)


def _node_id(*parts: object) -> str:
    return hashlib.sha1("|".join(map(str, parts)).encode("utf-8")).hexdigest()[:16]


def audit_triples(builder: GraphBuilder, doc: Document) -> Iterator[Triple]:
    """The audit in the document's graph: a bk:ClaimCheck per check (sentence, page, stated and
    expected value, tolerance), a bk:DisclosureIssue per finding, and bk:emptyTableNote on empty
    tables that carry their 说明 (IRIs come from the builder)."""
    budget_iri = builder.budget_iri(doc)
    budget = nn(budget_iri)
    for c in check_claims(doc):
        node = nn(f"{budget_iri}/claim/{_node_id(c.page, c.sentence, c.subject, c.printed, c.kind, c.compared_with)}")
        yield Triple(node, A, nn(BK + "ClaimCheck"))
        yield Triple(node, nn(BK + "budget"), budget)
        yield Triple(node, nn(BK + "sentence"), lit(c.sentence, "zh"))
        yield Triple(node, nn(BK + "page"), typed(c.page, "integer"))
        yield Triple(node, nn(BK + "printedFigure"), lit(c.printed, "zh"))
        yield Triple(node, nn(BK + "checkKind"), lit(c.kind))
        yield Triple(node, nn(BK + "claimStatus"), lit(c.status))
        if c.subject:
            yield Triple(node, nn(BK + "claimSubject"), lit(c.subject, "zh"))
        if c.compared_with:
            yield Triple(node, nn(BK + "comparedWith"), lit(c.compared_with, "zh"))
        if c.stated is not None and c.expected_value is not None and c.tolerance is not None:
            yield Triple(node, nn(BK + "statedValue"), decimal_literal(c.stated))
            yield Triple(node, nn(BK + "expectedValue"), decimal_literal(c.expected_value))
            yield Triple(node, nn(BK + "claimTolerance"), decimal_literal(c.tolerance))
    for issue in audit_issues(doc):
        node = nn(f"{budget_iri}/audit/{_node_id(issue.kind, issue.message)}")
        yield Triple(node, A, nn(BK + "DisclosureIssue"))
        yield Triple(node, nn(BK + "budget"), budget)
        yield Triple(node, nn(BK + "issueKind"), lit(issue.kind))
        yield Triple(node, nn(RDFS + "comment"), lit(issue.message, "zh"))
        yield Triple(node, nn(BK + "page"), typed(issue.page, "integer"))
    for table in doc.tables:
        if _empty(table) and (note := empty_table_note(doc, table)) is not None:
            yield Triple(nn(builder.table_iri(doc, table)), nn(BK + "emptyTableNote"), lit(note, "zh"))
