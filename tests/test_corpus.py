"""A synthetic corpus end to end, against its ground truth (scripts/make_corpus.py).

Six budgets (three departments × two years) rendered in mixed styles — full grid, horizontal
rules only, no rules; portrait, landscape; two fonts — with a few printed amounts altered, are
built with two workers. The reader must find every amount of every truth file; validation must
name every altered row and flag nothing but rounding in the documents left intact.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from conftest import load_script

from budgetkg.build import BuildOptions, BuildResult, build
from budgetkg.mapping import squash
from budgetkg.validation import Finding

pytest.importorskip("reportlab")




@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("corpus")
    make_corpus = load_script("make_corpus")
    make_corpus.generate_corpus(out, departments=3, years=[2023, 2024], seed=0, inject_rate=0.001, jobs=2)
    return out


@pytest.fixture(scope="module")
def truths(corpus: Path) -> dict[str, dict[str, Any]]:
    """PDF file name → its truth file."""
    out = {}
    for path in sorted(corpus.glob("*.truth.json")):
        truth = json.loads(path.read_text(encoding="utf-8"))
        out[truth["document"] + ".pdf"] = truth
    return out


@pytest.fixture(scope="module")
def built(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, BuildResult]:
    out = tmp_path_factory.mktemp("corpus-build") / "build"
    result = build([corpus], BuildOptions(out=out, jobs=2, progress=False), echo=lambda m: None)
    return out, result


def test_mixed_styles_build_in_parallel_without_failures(built, truths) -> None:
    out, result = built
    assert result.failures == []
    assert sorted(d.source.name for d in result.documents) == sorted(truths)
    styles = {(t["style"]["rules"], t["style"]["orientation"]) for t in truths.values()}
    assert {rules for rules, _ in styles} == {"grid", "hrules", "none"}
    assert {orientation for _, orientation in styles} == {"auto", "portrait", "landscape"}
    assert len(json.loads((out / "build.json").read_text(encoding="utf-8"))["documents"]) == 6


def _key(table_no: int, code: str, item: str, measure: str, amount: str) -> tuple[int, str, str, str, str]:
    return table_no, code, squash(item), squash(measure), amount


def test_reader_finds_every_amount_of_the_truth(built, truths) -> None:
    out, _ = built
    got: dict[str, Counter] = {}
    with (out / "lines.csv").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            key = _key(int(row["table_no"]), row["code"], row["item"], row["measure"].replace(" / ", ""), row["amount"])
            got.setdefault(row["document"], Counter())[key] += 1
    problems = []
    for name, truth in truths.items():
        expected = Counter(
            _key(ln["table_no"], ln["code"], ln["item"], ln["measure"], ln["amount"]) for ln in truth["lines"]
        )
        assert sum(expected.values()) > 500
        missing = expected - got.get(name, Counter())
        extra = got.get(name, Counter()) - expected
        if missing or extra:
            style = "/".join(truth["style"][k] for k in ("rules", "orientation"))
            problems.append(f"{name} ({style}): missing {list(missing)[:3]}, extra {list(extra)[:3]}")
    assert problems == []


def _names(finding: Finding, error: dict[str, Any]) -> bool:
    """Does the finding point at the altered row: by its label, or (a coded row) through its
    parent, whose sum the change broke by exactly the change?"""
    item = squash(error["item"])
    if item and (squash(finding.row) == item or item in squash(finding.message)):
        return True
    code = error.get("code") or ""
    if len(code) > 3 and f"[{code[:-2]}]" in finding.message and finding.difference:
        delta = Decimal(error["changed"]) - Decimal(error["original"])
        return abs(Decimal(finding.difference)) == abs(delta)
    return False


def test_validation_names_every_injected_error(built, truths) -> None:
    _, result = built
    assert result.report is not None
    injected = {name: t["errors"] for name, t in truths.items() if t["errors"]}
    assert 2 <= len(injected) < len(truths)  # the corpus has documents with and without errors
    missed = []
    for name, errors in injected.items():
        findings = [f for f in result.report.findings if f.document == name]
        for error in errors:
            delta = abs(Decimal(error["changed"]) - Decimal(error["original"]))
            # a change of a few cents may be indistinguishable from rounding: then a warning will do
            accepted = {"Violation"} if delta > Decimal("0.1") else {"Violation", "Warning"}
            if not any(f.severity in accepted and _names(f, error) for f in findings):
                missed.append((name, error["table_no"], error["item"], error["measure"], str(delta)))
    assert missed == []


def test_clean_documents_get_no_violations(built, truths) -> None:
    _, result = built
    assert result.report is not None
    clean = [name for name, t in truths.items() if not t["errors"]]
    assert clean
    flagged = [
        (f.document, f.shape, f.message)
        for f in result.report.findings
        if f.document in clean and f.severity == "Violation"
    ]
    assert flagged == []
