"""Stage 3a: which kind of table a RawTable is, by the evidence its kinds declare in mappings/.

A title alone does not tell (一般公共预算支出表 is functional in one city, economic in
another; 市级部门收支预算总表 and 预算单位财务收支预算总表 are the seed's 收支总体情况表): each
kind scores the words of the title (after its numbering and owner prefixes are removed), the
labels of the header, the classification its rows are coded in (功能 2xx vs 经济 3xx/5xx, from
the codes or, where none are printed, from the rows' names in ontology/codelists/) and its
row labels. The weights and the threshold are [scoring] in mappings/vocabulary.toml.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from budgetkg.codelists import code_list
from budgetkg.mapping import Mappings, TableKind, name_key, squash
from budgetkg.model import RawTable

SCHEMES = ("functional", "economic")


@dataclass(frozen=True)
class Recognition:
    """The kind chosen for a table (None: not recognised) and why, for warnings and traces."""

    kind: TableKind | None
    score: int
    scheme: str | None  # the classification the rows are coded (or named) in
    runner_up: str | None = None  # the next best kind; for a table not recognised, the closest


def code_scheme(code: str) -> str | None:
    """功能分类 codes begin with 2, 经济分类 codes with 3 (部门预算) or 5 (政府预算); a 3-, 5- or
    7-digit code whose 类 the code list knows. Other digit strings (unit codes 126001) are none."""
    if len(code) not in (3, 5, 7) or not code.isdigit():
        return None
    for scheme in SCHEMES:
        if code[:3] in code_list(scheme):
            return scheme
    return "economic" if code[0] in "35" else "functional" if code[0] == "2" else None


@cache
def _names(scheme: str) -> frozenset[str]:
    return frozenset(name_key(e.label_zh) for e in code_list(scheme).values())


def rows_scheme(codes: Sequence[str], labels: Sequence[str], mappings: Mappings) -> str | None:
    """The classification of a table's rows: the scheme most of its codes belong to or, when it
    prints no codes (Hangzhou prints names only), the one most of its row names come from
    (at least [scoring] min_named_rows of them)."""
    counts = {s: 0 for s in SCHEMES}
    for code in codes:
        if scheme := code_scheme(code):
            counts[scheme] += 1
    if not any(counts.values()):
        vocabulary = mappings.vocabulary
        for label in labels:
            name = name_key(vocabulary.strip_ordinal(label))
            for scheme in SCHEMES:
                counts[scheme] += name in _names(scheme)
        if max(counts.values()) < vocabulary.scoring.min_named_rows:
            return None
    best = max(SCHEMES, key=lambda s: counts[s])
    return best if counts[best] > 0 and counts[best] != min(counts.values()) else None


def score(kind: TableKind, raw: RawTable, scheme: str | None, labels: Sequence[str], mappings: Mappings) -> int | None:
    """The evidence for `raw` being of `kind`, or None when its title rules the kind out (a
    `title_none` word, or a `title_all` group missing, unless a `titles` pattern matches)."""
    vocabulary = mappings.vocabulary
    weights = vocabulary.scoring
    evidence = kind.evidence
    title = vocabulary.title_core(vocabulary.normalise(raw.title))
    pattern = kind.matches(raw.title)
    if not pattern:
        if any(word in title for word in evidence.title_none):
            return None
        if any(not any(word in title for word in group) for group in evidence.title_all):
            return None
        if not evidence.title_all and not evidence.header_any:
            return None
    total = weights.title_pattern if pattern else 0
    total += weights.title_word * len(evidence.title_all)
    total += weights.title_bonus * sum(word in title for word in evidence.title_any)
    header = {squash(label) for path in raw.header for label in path}
    total += weights.header_word * sum(any(word in label for label in header) for word in evidence.header_any)
    if kind.scheme and scheme:
        total += weights.scheme if kind.scheme == scheme else -weights.scheme
    names = {squash(label) for label in labels}
    found = sum(any(word in name for name in names) for word in evidence.rows_any)
    total += weights.row_word * min(found, weights.max_row_words)
    return total


def recognise(raw: RawTable, codes: Sequence[str], labels: Sequence[str], mappings: Mappings) -> Recognition:
    """The best-scoring kind for the table, if it reaches [scoring] min_score; ties go to the
    lower table number (the seed's standard kinds before later additions)."""
    scheme = rows_scheme(codes, labels, mappings)
    scored = [(s, kind) for kind in mappings.kinds if (s := score(kind, raw, scheme, labels, mappings)) is not None]
    scored.sort(key=lambda item: (-item[0], item[1].number))
    if not scored or scored[0][0] < mappings.vocabulary.scoring.min_score:
        return Recognition(None, scored[0][0] if scored else 0, scheme, scored[0][1].kind if scored else None)
    runner_up = scored[1][1].kind if len(scored) > 1 else None
    return Recognition(scored[0][1], scored[0][0], scheme, runner_up)
