"""Code lists from evidence: every row of ontology/codelists/*.csv says where it comes from,
every code printed in the documents read is listed, and a printed name that differs from its
year's list is reported as sh:Info, never overwritten."""

from __future__ import annotations

import csv
import dataclasses
import re
from pathlib import Path

from conftest import BASE, load_script

from budgetkg.codelists import EVIDENCE_STATUS, SOURCE_REF, code_list, printed_name
from budgetkg.graph import BK, SKOS, GraphBuilder
from budgetkg.mapping import squash
from budgetkg.model import Document
from budgetkg.validation import validate_datasets

CODELISTS = Path(__file__).resolve().parent.parent / "ontology" / "codelists"
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
                assert SOURCE_REF.fullmatch(ref), f"{scheme} {code}: unknown source {ref}"
                if m := re.fullmatch(r"sha256:([0-9a-f]{16})#p(\d+)", ref):
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


#: rows per strongest source kind (ontology/codelists/README.md, "Evidence"): a change here is a
#: change of evidence, to be reported
EVIDENCE_COUNTS = {
    "functional": {"PrintedInDocument": 138, "PublishedEdition": 10, "NameCorroborated": 26, "Unverified": 407},
    "economic": {"PrintedInDocument": 71, "NameCorroborated": 29, "Unverified": 6},
}


def test_evidence_counts_per_source_kind() -> None:
    for scheme, expected in EVIDENCE_COUNTS.items():
        counts: dict[str, int] = {}
        for entry in code_list(scheme).values():
            counts[entry.evidence_status] = counts.get(entry.evidence_status, 0) + 1
        assert counts == expected, scheme
    assert set(EVIDENCE_STATUS.values()) >= {s for c in EVIDENCE_COUNTS.values() for s in c}


def test_unverified_rows_say_so_in_the_graph(sample_document: Document) -> None:
    """A code whose row cites only K (the edition as known to the maintainers) is kept — the
    reader finds code columns and names through the lists — but the graph says it is unverified,
    beside its name, where a user reads it; a code printed in a document cites that document."""
    table = next(t for t in sample_document.tables if t.number == 3)
    i = next(i for i, r in enumerate(table.rows) if r.code == "2010301")
    assert code_list("functional")["2010102"].evidence_status == "Unverified"
    rows = list(table.rows)
    rows[i] = dataclasses.replace(rows[i], code="2010102", label="一般行政管理事务")
    tables = tuple(dataclasses.replace(t, rows=tuple(rows)) if t is table else t for t in sample_document.tables)
    builder = GraphBuilder(BASE)
    reference = builder.build([dataclasses.replace(sample_document, tables=tables)])[0].triples

    def about(code: str, prop: str) -> set[str]:
        node = builder.concept_iri("functional", code)
        return {f"{t.object.value}@{getattr(t.object, 'language', None) or ''}" for t in reference
                if t.subject.value == node and t.predicate.value == prop}

    assert about("2010102", BK + "evidenceStatus") == {f"{BK}Unverified@"}
    assert about("2010102", BK + "evidence") == {"K@"}
    assert {n.rsplit("@", 1)[1] for n in about("2010102", SKOS + "editorialNote")} == {"zh", "en"}
    assert about("2010302", BK + "evidenceStatus") == {f"{BK}PrintedInDocument@"}
    assert about("2010302", SKOS + "editorialNote") == set()
    assert about("2010302", BK + "evidence") == {code_list("functional")["2010302"].source + "@"}


def test_an_edition_rename_is_recorded_beside_the_name() -> None:
    """20805 is printed 行政事业单位离退休 in the 2019 budget of 11-js-swbgt-2019 (p.5) and
    行政事业单位养老支出 in every 2023–2026 document: the list keeps both, by year."""
    entry = code_list("functional")["20805"]
    assert entry.label_zh == "行政事业单位养老支出" and entry.name_in(2023) == "行政事业单位养老支出"
    assert entry.name_in(2019) == "行政事业单位离退休"


def test_the_info_on_an_unverified_name_says_so(sample_document: Document) -> None:
    table = next(t for t in sample_document.tables if t.number == 3)
    i = next(i for i, r in enumerate(table.rows) if r.code == "2010301")
    rows = list(table.rows)
    rows[i] = dataclasses.replace(rows[i], code="2010102", label="一般行政事务")  # 2010102 cites only K
    tables = tuple(dataclasses.replace(t, rows=tuple(rows)) if t is table else t for t in sample_document.tables)
    builder = GraphBuilder(BASE)
    findings = validate_datasets(builder.build([dataclasses.replace(sample_document, tables=tables)]), builder).findings
    assert [f.message for f in findings if f.severity == "Info"] == [
        "code 2010102 is printed as “一般行政事务”, the 2023 code list names it “一般行政管理事务”, "
        "a name no source checked (a misprint, or renamed in that edition)"
    ]
