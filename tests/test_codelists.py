"""Code lists from evidence: every row of ontology/codelists/*.csv says where it comes from,
every code printed in the documents read is listed, and a printed name that differs from its
year's list is reported as sh:Info, never overwritten."""

from __future__ import annotations

import csv
import dataclasses
import re
from pathlib import Path

from conftest import BASE, load_script

from budgetkg.codelists import code_list, printed_name
from budgetkg.graph import GraphBuilder
from budgetkg.mapping import squash
from budgetkg.model import Document
from budgetkg.validation import validate_datasets

CODELISTS = Path(__file__).resolve().parent.parent / "ontology" / "codelists"
#: source tags for rows without a document (ontology/codelists/README.md, "Sources")
NAMED_SOURCES = {"PX", "KN", "K"}
#: printed names that differ from the list and are not (yet) known to be an edition's renaming
OPEN_NAME_CASES = {("functional", "2026", "2100410")}


def _evidence() -> list[dict[str, str]]:
    with (CODELISTS / "evidence.csv").open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_every_row_cites_its_source() -> None:
    evidence = {(r["sha256"][:16], r["page"], r["notation"]) for r in _evidence()}
    for scheme in ("functional", "economic"):
        for code, entry in code_list(scheme).items():
            refs = entry.source.split()
            assert refs, f"{scheme} {code} has no source"
            for ref in refs:
                m = re.fullmatch(r"sha256:([0-9a-f]{16})#p(\d+)", ref)
                assert m or ref in NAMED_SOURCES, f"{scheme} {code}: unknown source {ref}"
                if m:
                    assert (m.group(1), m.group(2), code) in evidence, f"{scheme} {code}: {ref} not in evidence.csv"


def test_every_printed_code_is_listed_and_names_agree_or_are_reported() -> None:
    extract = load_script("extract_codes")
    differ = set()
    for r in _evidence():
        scheme, code = r["scheme"], r["notation"]
        if not extract.fits(scheme, code):
            continue  # another classification printed in a coded column (5xx 政府预算支出经济分类)
        entry = code_list(scheme).get(code)
        assert entry is not None, f"{scheme} {code} printed in {r['file']} p.{r['page']} is not listed"
        assert int(r["year"]) in entry.years, (scheme, code, r["year"])
        if squash(entry.name_in(int(r["year"]))) != r["printed_name"]:
            differ.add((scheme, r["year"], code))
    assert differ == OPEN_NAME_CASES


def test_a_printed_name_differing_from_the_list_is_an_info(sample_document: Document) -> None:
    table = next(t for t in sample_document.tables if t.number == 3)
    i = next(i for i, r in enumerate(table.rows) if r.code == "2010301")
    rows = list(table.rows)
    rows[i] = dataclasses.replace(rows[i], label="行政运作")
    tables = tuple(dataclasses.replace(t, rows=tuple(rows)) if t is table else t for t in sample_document.tables)
    doc = dataclasses.replace(sample_document, tables=tables)
    builder = GraphBuilder(BASE)
    findings = validate_datasets(builder.build([doc]), builder).findings
    infos = [f for f in findings if f.severity == "Info"]
    assert [f.message for f in infos] == [
        "code 2010301 is printed as “行政运作”, the 2023 code list names it “行政运行” "
        "(a misprint, or renamed in that edition)"
    ]
    assert code_list("functional")["2010301"].label_zh == "行政运行"  # never overwritten
    assert printed_name(rows[i]) == "行政运作"
