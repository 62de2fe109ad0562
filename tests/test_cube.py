"""The graph as a data user reads it (issue 13): a Data Cube that holds the W3C integrity
constraints and cannot be mis-summed, the same RDF terms in the store and the dumps, language
tags, SKOS both ways, and the same codes in lines.csv and in the graph. All on the sample build."""

from __future__ import annotations

import csv
import dataclasses
import gzip
import re
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import BASE
from pyoxigraph import Literal, NamedNode, RdfFormat, Store, parse

from budgetkg.graph import GraphBuilder, canonical_decimal, column_key
from budgetkg.validation import DEFAULT_TOLERANCE

ROOT = Path(__file__).resolve().parent.parent
DATACUBE = ROOT / "queries" / "datacube"
IC = sorted(DATACUBE.glob("ic-*.rq"))
BK = "https://w3id.org/budgetkg/def#"
SKOS = "http://www.w3.org/2004/02/skos/core#"
PREFIXES = """PREFIX bk: <https://w3id.org/budgetkg/def#>
PREFIX qb: <http://purl.org/linked-data/cube#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
PREFIX owl: <http://www.w3.org/2002/07/owl#>
"""
CJK = re.compile(r"[\u4e00-\u9fff]")
#: literals that are keys or codes, not display text: no language tag (skos:notation must not have one)
KEY_PROPERTIES = {SKOS + "notation", BK + "quantity", BK + "quantityKey"}


@pytest.fixture(scope="module")
def store(sample_build: Path) -> Store:
    return Store.read_only(str(sample_build / "store"))


def normalised_store(build_dir: Path) -> Store:
    """The whole graph of a build in one default graph, after the Data Cube normalisation."""
    st = Store()
    st.load(gzip.decompress((build_dir / "dumps" / "budgetkg.nt.gz").read_bytes()), format=RdfFormat.N_TRIPLES)
    for update in sorted(DATACUBE.glob("normalize-*.ru")):
        st.update(update.read_text(encoding="utf-8"))
    return st


@pytest.fixture(scope="module")
def normalised(sample_build: Path) -> Store:
    return normalised_store(sample_build)


def _ask(st: Store, text: str) -> bool:
    if "$p" not in text:
        return bool(st.query(text))
    properties = st.query(
        PREFIXES + "SELECT DISTINCT ?p WHERE { { ?l qb:parentChildProperty ?p FILTER (isIRI(?p)) } "
        "UNION { ?l qb:parentChildProperty [ owl:inverseOf ?p ] } }"
    )
    return any(bool(st.query(text.replace("$p", s["p"].value))) for s in properties)


@pytest.mark.parametrize("path", [p for p in IC if p.stem != "ic-12"], ids=lambda p: p.stem)
def test_data_cube_integrity_constraint(normalised: Store, path: Path) -> None:
    assert not _ask(normalised, path.read_text(encoding="utf-8")), f"{path.stem} is violated"


def test_data_cube_ic12_as_the_spec_writes_it(sample_build: Path) -> None:
    """The spec's own IC-12 compares every pair of observations of a data set (40 s on the whole
    sample): here on the observations of two tables (113, both sides of the 收支总表 and the
    coded 一般公共预算 table); the whole graph is checked by the linear test below."""
    st = normalised_store(sample_build)
    st.update(
        PREFIXES
        + """DELETE { ?o ?p ?v } WHERE { ?o a qb:Observation ; bk:table ?t ; ?p ?v .
        FILTER (!STRENDS(STR(?t), "/income-expenditure-summary")
                && !STRENDS(STR(?t), "/general-budget-functional")) }"""
    )
    assert len(list(st.query(PREFIXES + "SELECT ?o WHERE { ?o a qb:Observation }"))) == 113
    assert not _ask(st, (DATACUBE / "ic-12.rq").read_text(encoding="utf-8"))
    # and it does see a duplicate: the same row again under another IRI
    st.update(
        PREFIXES
        + """INSERT { ?copy ?p ?v } WHERE { ?o a qb:Observation ; bk:rowLabel ?l ; ?p ?v .
        FILTER (STR(?l) = "收入总计") BIND (IRI(CONCAT(STR(?o), "-copy")) AS ?copy) }"""
    )
    assert _ask(st, (DATACUBE / "ic-12.rq").read_text(encoding="utf-8"))


def test_integrity_constraints_see_a_broken_cube(sample_build: Path) -> None:
    """IC-11 and IC-19/20 fire when an observation loses a dimension or takes a foreign code."""
    st = normalised_store(sample_build)
    ic = {p.stem: p.read_text(encoding="utf-8") for p in IC}
    st.update(PREFIXES + "DELETE { ?o bk:side ?s } WHERE { { SELECT ?o ?s WHERE { ?o bk:side ?s } LIMIT 1 } }")
    st.update(
        PREFIXES + "DELETE { ?o bk:functionalClassification ?c } INSERT { ?o bk:functionalClassification bk:Income } "
        "WHERE { { SELECT ?o ?c WHERE { ?o bk:functionalClassification ?c } LIMIT 1 } }"
    )
    assert _ask(st, ic["ic-11"]) and _ask(st, ic["ic-20"])


def duplicate_observations(st: Store) -> tuple[int, list]:
    """IC-12 by grouping instead of pairing: observations of one data set that agree on every
    dimension of its structure (the same test as ic-12.rq, linear instead of quadratic)."""
    dims = [
        s["dim"].value
        for s in st.query(
            PREFIXES + "SELECT DISTINCT ?dim WHERE { bk:BudgetDSD qb:component/qb:componentProperty ?dim . "
            "?dim a qb:DimensionProperty } ORDER BY ?dim"
        )
    ]
    assert len(dims) == 10
    values: dict[tuple[str, str], dict[str, str]] = {}
    for s in st.query(
        PREFIXES + "SELECT ?ds ?obs ?dim ?v WHERE { ?obs qb:dataSet ?ds . "
        "VALUES ?dim { " + " ".join(f"<{d}>" for d in dims) + " } ?obs ?dim ?v }"
    ):
        values.setdefault((s["ds"].value, s["obs"].value), {})[s["dim"].value] = str(s["v"])
    keys = Counter((ds, tuple(v[d] for d in dims)) for (ds, _), v in values.items() if len(v) == len(dims))
    return len(values), [k for k, n in keys.items() if n > 1]


def test_data_cube_ic12_no_duplicate_observations(normalised: Store) -> None:
    assert duplicate_observations(normalised) == (1113, [])


def leaf_mismatches(store: Store) -> tuple[int, set[tuple[str, str]]]:
    """queries/leaf-sums.rq: (aggregates, those differing from their leaves beyond rounding)."""
    text = (ROOT / "queries" / "leaf-sums.rq").read_text(encoding="utf-8")
    rows = list(store.query(text, use_default_graph_as_union=True))
    off = set()
    for r in rows:
        allowed = DEFAULT_TOLERANCE * (int(r["parts"].value) + 1)
        if abs(Decimal(r["difference"].value)) > allowed:
            off.add((r["table"].value.rsplit("/", 1)[-1], re.sub(r"\s", "", r["rowLabel"].value)))
    return len(rows), off


#: a printed total (bk:isTotal) that sums nothing (bk:isAggregate false) and is part of nothing,
#: beside other top-level amounts of its table, column and side: a client summing the leaves
#: would count it and what it totals (ontology/budgetkg.ttl, bk:isTotal)
LONE_TOTALS = PREFIXES + """
SELECT DISTINCT ?total WHERE {
  ?total bk:isTotal true ; bk:isAggregate false ; bk:table ?t ; bk:column ?c ; bk:amount ?a .
  FILTER NOT EXISTS { ?total bk:partOf ?any }
  OPTIONAL { ?total bk:side ?side }
  ?other bk:table ?t ; bk:column ?c ; bk:amount ?b .
  OPTIONAL { ?other bk:side ?otherSide }
  FILTER (?other != ?total && ?b != 0 && COALESCE(?side, 0) = COALESCE(?otherSide, 0))
  FILTER NOT EXISTS { ?other bk:partOf ?any2 }
}"""

#: bk:isAggregate true exactly when some amount is bk:partOf it (ontology/budgetkg.ttl)
AGGREGATES_WITHOUT_PARTS = PREFIXES + """
SELECT ?o WHERE {
  { ?o bk:isAggregate true FILTER NOT EXISTS { ?part bk:partOf ?o } }
  UNION { ?part bk:partOf ?o . ?o bk:isAggregate false }
}"""


def incoherent_totals(store: Store) -> tuple[list[str], list[str]]:
    """(lone printed totals, aggregates without parts or parts of a leaf): both empty when
    bk:isTotal and bk:isAggregate agree as ontology/budgetkg.ttl says."""
    lone = [r["total"].value for r in store.query(LONE_TOTALS, use_default_graph_as_union=True)]
    loose = [r["o"].value for r in store.query(AGGREGATES_WITHOUT_PARTS, use_default_graph_as_union=True)]
    return lone, loose


def test_totals_and_aggregates_agree(store: Store) -> None:
    assert incoherent_totals(store) == ([], [])


#: the published document's own errors (README): the projects listed under two units add up
#: to less than the units' printed rows, so the unit rows and the table's 合计 differ from their leaves
KNOWN_DOCUMENT_ERRORS = {
    ("project-by-unit", "广州市数字政府运营中心"),
    ("project-by-unit", "广州市政务服务中心"),
    ("project-by-unit", "合计"),
}


def test_leaves_sum_to_every_printed_aggregate(store: Store) -> None:
    """Every printed aggregate of every (table, column) against the sum of the leaves below it:
    equal within rounding, but for the document's own errors."""
    assert leaf_mismatches(store) == (278, KNOWN_DOCUMENT_ERRORS)
    pairs = {
        (s["t"].value, s["c"].value)
        for s in store.query(
            PREFIXES + "SELECT DISTINCT ?t ?c WHERE { ?o bk:isAggregate true ; bk:table ?t ; bk:column ?c }",
            use_default_graph_as_union=True,
        )
    }
    assert len(pairs) >= 30


def test_summing_the_leaves_of_a_table_gives_its_total(store: Store) -> None:
    """What a generic client does: sum the non-aggregate amounts of a table's column. It gives
    the printed 合计 (table 5: 49 057.92 up to rounding, not 2–4 times that)."""
    q = (
        PREFIXES
        + f"""SELECT ?col (SUM(?a) AS ?sum) (COUNT(?o) AS ?n) WHERE {{
        ?o bk:table <{BASE}id/budget/gz-zwfwsjglj/2023/budget/table/general-budget-functional> ;
           bk:column ?col ; bk:isAggregate false ; bk:amount ?a }} GROUP BY ?col"""
    )
    sums = {
        s["col"].value.rsplit("/", 1)[-1]: (Decimal(s["sum"].value), int(s["n"].value))
        for s in store.query(q, use_default_graph_as_union=True)
    }
    total, leaves = sums["general-public-budget.total"]
    assert abs(total - Decimal("49057.92")) <= DEFAULT_TOLERANCE * (leaves + 1)


def test_every_observation_has_every_dimension_with_special_codes(store: Store) -> None:
    q = (
        PREFIXES
        + """SELECT ?p ?v (COUNT(*) AS ?n) WHERE { ?o a qb:Observation ; ?p ?v .
        VALUES ?v { bk:Total bk:NotApplicable } } GROUP BY ?p ?v"""
    )
    counts = {
        (s["p"].value.rsplit("#", 1)[-1], s["v"].value.rsplit("#", 1)[-1]): int(s["n"].value)
        for s in store.query(q, use_default_graph_as_union=True)
    }
    assert counts[("functionalClassification", "Total")] > 0
    assert counts[("economicClassification", "Total")] > 0
    assert counts[("side", "NotApplicable")] > 0 and counts[("project", "NotApplicable")] > 0


def test_store_and_dumps_hold_the_same_terms(store: Store, sample_build: Path) -> None:
    dumped = set(
        parse(gzip.decompress((sample_build / "dumps" / "budgetkg.nq.gz").read_bytes()), format=RdfFormat.N_QUADS)
    )
    stored = set(store)
    assert len(dumped) == len(stored)
    assert dumped == stored


def test_amount_as_printed_beside_its_value(store: Store) -> None:
    rows = list(
        store.query(
            PREFIXES
            + """SELECT ?amount ?printed WHERE { ?o bk:rowLabel ?l ; bk:amount ?amount ;
        bk:printedAmount ?printed ; bk:column ?c . FILTER (STR(?l) = "“三公”经费") ?c skos:notation "total" }""",
            use_default_graph_as_union=True,
        )
    )
    assert [(r["amount"].value, r["printed"].value) for r in rows] == [("59", "59.00")]
    assert canonical_decimal(Decimal("1190.9400")) == "1190.94" and canonical_decimal(Decimal("-0.00")) == "0"
    assert canonical_decimal(Decimal("4.9E+8")) == "490000000"


def test_chinese_display_strings_carry_a_language_tag(sample_build: Path) -> None:
    untagged = Counter()
    for quad in parse(
        gzip.decompress((sample_build / "dumps" / "budgetkg.nq.gz").read_bytes()), format=RdfFormat.N_QUADS
    ):
        o = quad.object
        if (
            isinstance(o, Literal)
            and CJK.search(o.value)
            and not o.language
            and quad.predicate.value not in KEY_PROPERTIES
        ):
            untagged[quad.predicate.value] += 1
    assert untagged == Counter()


def test_skos_every_concept_in_a_scheme_and_both_directions(store: Store) -> None:
    def count(q: str) -> int:
        return len(list(store.query(PREFIXES + q, use_default_graph_as_union=True)))

    assert count("SELECT ?c WHERE { ?c a skos:Concept FILTER NOT EXISTS { ?c skos:inScheme ?s } }") == 0
    assert count("SELECT ?c WHERE { ?c skos:topConceptOf ?s FILTER NOT EXISTS { ?s skos:hasTopConcept ?c } }") == 0
    assert count("SELECT ?c WHERE { ?s skos:hasTopConcept ?c FILTER NOT EXISTS { ?c skos:topConceptOf ?s } }") == 0
    assert count("SELECT ?c WHERE { ?c skos:broader ?p FILTER NOT EXISTS { ?p skos:narrower ?c } }") == 0
    # SKOS S14: at most one prefLabel per language
    assert count("""SELECT ?c WHERE { ?c skos:prefLabel ?a , ?b FILTER (?a != ?b && LANG(?a) = LANG(?b)) }""") == 0
    top = count(f"SELECT ?s WHERE {{ <{BASE}def/code/func/2023> skos:hasTopConcept ?s }}")
    classes = count(f"SELECT ?s WHERE {{ ?s skos:inScheme <{BASE}def/code/func/2023> ; bk:classificationLevel 1 }}")
    assert top == classes == 24  # every 类: the 收支总表 prints all of them by name


def test_column_iris_carry_no_unit(store: Store) -> None:
    columns = [
        s["c"].value
        for s in store.query(PREFIXES + "SELECT DISTINCT ?c WHERE { ?o bk:column ?c }", use_default_graph_as_union=True)
    ]
    assert not [c for c in columns if "%E5%8D%95%E4%BD%8D" in c or "单位" in c or "万元" in c]
    assert column_key("预算数(单位:万元)") == "预算数" and column_key("金额（万元）") == "金额"


def test_lines_csv_and_graph_agree_on_codes(store: Store, sample_build: Path) -> None:
    with (sample_build / "lines.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert sum(1 for r in rows if r["classification_code"] and not r["code"]) > 0  # names resolved to codes
    assert all(r["classification_code"] == r["code"] for r in rows if r["code"])  # a printed code is kept
    lines = Counter(r["classification_code"] for r in rows if r["classification_code"])
    q = (
        PREFIXES
        + """SELECT ?n WHERE { ?o a qb:Observation ; bk:functionalClassification|bk:economicClassification ?c .
        ?c skos:notation ?n FILTER (?n NOT IN ("_T", "_Z")) }"""
    )
    graph = Counter(s["n"].value for s in store.query(q, use_default_graph_as_union=True))
    assert lines == graph


def test_graphs_do_not_depend_on_document_order(sample_document) -> None:
    """A document's graph is a function of the document; the reference graph of the set."""
    renamed = dataclasses.replace(sample_document, year=2024, department="广州市政务服务和数据管理局")
    one, two = GraphBuilder(BASE), GraphBuilder(BASE)
    a = [one.document_dataset(d) for d in (sample_document, renamed)]
    b = [two.document_dataset(d) for d in (renamed, sample_document)]
    assert sorted(map(str, a[0].triples)) == sorted(map(str, b[1].triples))
    assert sorted(map(str, one.reference_dataset().triples)) == sorted(map(str, two.reference_dataset().triples))
    pure = GraphBuilder(BASE).reference_dataset([renamed, sample_document])
    assert sorted(map(str, pure.triples)) == sorted(map(str, one.reference_dataset().triples))
    assert NamedNode(f"{BASE}id/org/gz-zwfwsjglj/renaming/2024") in {t.subject for t in pure.triples}
