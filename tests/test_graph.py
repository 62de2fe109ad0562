"""The knowledge graph of the sample: every statement of the graph issue checked by SPARQL,
dumps that parse and are byte-identical across builds, and a DCAT/VoID catalog."""

from __future__ import annotations

import gzip
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
import rdflib
from conftest import BASE, SAMPLE_PDF
from pyoxigraph import RdfFormat, Store, parse

from budgetkg.build import BuildOptions, build

PREFIXES = """
PREFIX bk: <https://w3id.org/budgetkg/def#>
PREFIX qb: <http://purl.org/linked-data/cube#>
PREFIX org: <http://www.w3.org/ns/org#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
PREFIX prov: <http://www.w3.org/ns/prov#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX xsd: <http://www.w3.org/2001/XMLSchema#>
PREFIX sdmx-attribute: <http://purl.org/linked-data/sdmx/2009/attribute#>
PREFIX dcat: <http://www.w3.org/ns/dcat#>
PREFIX void: <http://rdfs.org/ns/void#>
PREFIX dct: <http://purl.org/dc/terms/>
PREFIX spdx: <http://spdx.org/rdf/terms#>
"""
ORG = BASE + "id/org/gz-zwfwsjglj"


@pytest.fixture(scope="module")
def store(sample_build: Path) -> Store:
    return Store.read_only(str(sample_build / "store"))


def select(store: Store, query: str) -> list[dict[str, str]]:
    result = store.query(PREFIXES + query, use_default_graph_as_union=True)
    return [{v.value: (s[v].value if s[v] is not None else None) for v in result.variables} for s in result]


def ask(store: Store, query: str) -> bool:
    return bool(store.query(PREFIXES + query, use_default_graph_as_union=True))


def test_department_units_divisions_and_duties(store: Store) -> None:
    assert ask(
        store, f"ASK {{ <{ORG}> a org:Organization , bk:Department ; skos:prefLabel '广州市政务服务数据管理局'@zh }}"
    )
    units = select(
        store,
        f"SELECT ?name WHERE {{ <{ORG}> org:hasSubOrganization ?u . ?u skos:prefLabel ?name . "
        f"?u org:subOrganizationOf <{ORG}> }}",
    )
    assert {u["name"] for u in units} == {"广州市市长专线电话受理中心", "广州市数字政府运营中心", "广州市政务服务中心"}
    divisions = select(store, f"SELECT ?d WHERE {{ <{ORG}> org:hasUnit ?d . ?d org:unitOf <{ORG}> ; a bk:Division }}")
    assert len(divisions) == 9
    duties = select(store, f"SELECT ?t WHERE {{ <{ORG}> bk:mainDuty ?t FILTER(LANG(?t) = 'zh') }}")
    assert len(duties) == 10


def test_code_concepts(store: Store) -> None:
    rows = select(
        store,
        f"""SELECT ?label ?parent ?grand ?scheme WHERE {{
        <{BASE}def/code/func/2010301> a skos:Concept ; skos:notation "2010301" ; skos:prefLabel ?label ;
            skos:broader ?p ; skos:inScheme ?scheme ; bk:classificationLevel 3 .
        ?p skos:notation ?parent ; skos:broader ?g . ?g skos:notation ?grand .
        ?scheme a skos:ConceptScheme . FILTER (LANG(?label) = "zh") }}""",
    )
    assert rows == [{"label": "行政运行", "parent": "20103", "grand": "201", "scheme": BASE + "def/code/func/2023"}]
    assert ask(
        store,
        f"ASK {{ <{BASE}def/code/econ/30201> skos:broader <{BASE}def/code/econ/302> ; "
        f"skos:inScheme <{BASE}def/code/econ/2023> }}",
    )
    assert ask(store, f"ASK {{ <{BASE}def/code/func/201> skos:topConceptOf <{BASE}def/code/func/2023> }}")


def test_every_amount_is_an_observation_with_unit_and_provenance(store: Store) -> None:
    n = select(store, "SELECT (COUNT(?o) AS ?n) WHERE { ?o a qb:Observation }")[0]["n"]
    assert n == "1113"
    bad = select(
        store,
        """SELECT ?o WHERE { ?o a qb:Observation .
        FILTER NOT EXISTS { ?o bk:amount ?a ; sdmx-attribute:unitMeasure ?u ; sdmx-attribute:unitMult 4 ;
            bk:organisation ?org ; bk:fiscalYear "2023"^^xsd:gYear ; bk:table ?t ; bk:column ?c ;
            prov:wasDerivedFrom ?src ; bk:page ?p ; bk:rowIndex ?r . FILTER (DATATYPE(?a) = xsd:decimal) } }""",
    )
    assert bad == []
    row = select(
        store,
        f"""SELECT ?amount ?yuan ?page ?file ?sha ?pages WHERE {{
        ?o bk:functionalClassification <{BASE}def/code/func/2010301> ; bk:table/bk:tableNumber 5 ;
           bk:column/skos:notation "general-public-budget.total" ; bk:amount ?amount ; bk:amountInYuan ?yuan ;
           bk:page ?page ; prov:wasDerivedFrom ?src .
        ?src bk:fileName ?file ; bk:sha256 ?sha ; bk:pageCount ?pages }}""",
    )
    assert len(row) == 1
    r = row[0]
    assert (r["amount"], r["yuan"], r["page"], r["file"], r["pages"]) == (
        "3822.44",
        "38224400",
        "16",
        "gz-zwfwsjglj-2023-budget.pdf",
        "65",
    )
    assert r["sha"] == hashlib.sha256(SAMPLE_PDF.read_bytes()).hexdigest()


def test_projects(store: Store) -> None:
    rows = select(
        store,
        """SELECT ?p ?name ?unit ?target WHERE { ?p a bk:Project ; rdfs:label ?name ;
        bk:unit/skos:prefLabel ?unit ; bk:performanceTarget ?target . FILTER (LANG(?target) = "zh") }""",
    )
    assert len({r["p"] for r in rows}) >= 55
    hotline = [r for r in rows if r["name"] == "广州 12345 政务服务便民热线项目"]
    assert hotline and hotline[0]["unit"] == "广州市政务服务数据管理局"
    amounts = select(
        store,
        """SELECT ?a WHERE { ?o bk:project ?p ; bk:column/skos:notation "grand-total" ; bk:amount ?a .
        ?p rdfs:label "广州 12345 政务服务便民热线项目"@zh }""",
    )
    assert [a["a"] for a in amounts] == ["15412.94"]


def test_named_graphs(store: Store, sample_build: Path) -> None:
    graphs = {g.value for g in store.named_graphs()}
    manifest = json.loads((sample_build / "build.json").read_text(encoding="utf-8"))
    assert graphs == {manifest["reference_graph"], manifest["validation_graph"], manifest["documents"][0]["graph"]}
    assert manifest["documents"][0]["graph"] == BASE + "graph/gz-zwfwsjglj-2023-budget"


def test_no_blank_nodes_and_stable_iris(sample_build: Path) -> None:
    with gzip.open(sample_build / "dumps" / "budgetkg.nq.gz", "rt", encoding="utf-8") as fh:
        text = fh.read()
    assert "_:" not in text
    assert f"<{BASE}id/budget/gz-zwfwsjglj/2023/budget/obs/expenditure-summary/2010301/total>" in text


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("budgetkg.ttl", RdfFormat.TURTLE),
        ("budgetkg.jsonld", RdfFormat.JSON_LD),
        ("reference.ttl", RdfFormat.TURTLE),
        ("documents/gz-zwfwsjglj-2023-budget.ttl", RdfFormat.TURTLE),
    ],
)
def test_dumps_parse_with_pyoxigraph_and_rdflib(sample_build: Path, name: str, fmt: RdfFormat) -> None:
    path = sample_build / "dumps" / name
    n_ox = sum(1 for _ in parse(path=str(path), format=fmt))
    g = rdflib.Graph()
    g.parse(path, format="json-ld" if name.endswith(".jsonld") else "turtle")
    assert n_ox == len(g) > 1000


def test_ntriples_dump_parses_and_is_sorted(sample_build: Path) -> None:
    with gzip.open(sample_build / "dumps" / "budgetkg.nt.gz", "rb") as fh:
        data = fh.read()
    lines = data.decode("utf-8").splitlines()
    assert lines == sorted(lines)
    assert sum(1 for _ in parse(data, format=RdfFormat.N_TRIPLES)) == len(lines)


def test_two_builds_are_byte_identical(sample_build: Path, tmp_path: Path) -> None:
    other = tmp_path / "again"
    build([SAMPLE_PDF], BuildOptions(out=other, base_uri=BASE, progress=False), echo=lambda m: None)
    files = ["lines.csv", "catalog.ttl", "catalog.jsonld", "validation/report.ttl", "validation/report.html"]
    files += [str(p.relative_to(sample_build)) for p in (sample_build / "dumps").rglob("*") if p.is_file()]
    for name in files:
        assert (sample_build / name).read_bytes() == (other / name).read_bytes(), name


def test_catalog_is_dcat_and_void(sample_build: Path) -> None:
    g = rdflib.Graph()
    g.parse(sample_build / "catalog.ttl", format="turtle")
    rows = list(
        g.query(
            PREFIXES
            + """SELECT ?ds ?title ?dist ?url ?media ?size ?sum WHERE {
        ?cat a dcat:Catalog ; dcat:dataset ?ds . ?ds a dcat:Dataset ; dct:title ?title ; dcat:distribution ?dist .
        ?dist dcat:downloadURL ?url ; dcat:mediaType ?media ; dcat:byteSize ?size ;
              spdx:checksum [ spdx:algorithm spdx:checksumAlgorithm_sha256 ; spdx:checksumValue ?sum ] }"""
        )
    )
    assert rows
    datasets = {str(r.ds) for r in rows}
    assert BASE + "dataset/budgetkg" in datasets and BASE + "id/budget/gz-zwfwsjglj/2023/budget" in datasets
    for r in rows:
        path = sample_build / str(r.url).removeprefix(BASE)
        data = path.read_bytes()
        assert int(r.size) == len(data), r.url
        assert str(r.sum) == hashlib.sha256(data).hexdigest(), r.url
    titles = {(str(r.ds), r.title.language) for r in rows}
    assert all((d, "en") in titles and (d, "zh") in titles for d in datasets)  # CKAN needs an ASCII title
    triples = g.value(rdflib.URIRef(BASE + "dataset/budgetkg"), rdflib.URIRef("http://rdfs.org/ns/void#triples"))
    assert int(triples) == sum(1 for _ in parse(path=str(sample_build / "dumps" / "budgetkg.ttl")))
    assert g.value(rdflib.URIRef(BASE + "dataset/budgetkg"), rdflib.URIRef("http://rdfs.org/ns/void#sparqlEndpoint"))


def _query(build_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "budgetkg.cli", "query", "--store", str(build_dir), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_query_command_formats(sample_build: Path) -> None:
    q = "PREFIX bk: <https://w3id.org/budgetkg/def#> SELECT (COUNT(*) AS ?n) WHERE { ?o bk:amount ?a }"
    out = _query(sample_build, q)
    assert out.returncode == 0 and json.loads(out.stdout)["results"]["bindings"][0]["n"]["value"] == "1113"
    assert _query(sample_build, "--format", "csv", q).stdout.splitlines() == ["n", "1113"]
    assert "<sparql" in _query(sample_build, "--format", "xml", q).stdout
    ttl = _query(sample_build, f"DESCRIBE <{ORG}>").stdout
    assert "广州市政务服务数据管理局" in ttl
    bad = _query(sample_build, "SELECT WHERE {")
    assert bad.returncode != 0 and "Traceback" not in bad.stderr


QUERIES = sorted((Path(__file__).parent.parent / "queries").glob("*.rq"))


@pytest.mark.parametrize("path", QUERIES, ids=[p.stem for p in QUERIES])
def test_example_queries(path: Path, store: Store) -> None:
    rows = list(store.query(path.read_text(encoding="utf-8"), use_default_graph_as_union=True))
    assert rows, path.name
    if path.stem == "total-by-functional-class":
        assert [(r["code"].value, r["amount"].value) for r in rows][:2] == [("201", "38706.54"), ("206", "6233.48")]
    if path.stem == "largest-projects":
        assert rows[0]["amount"].value == "15412.94" and len({r["project"].value for r in rows}) >= 9


def test_base_uri_is_configurable(tmp_path: Path) -> None:
    out = tmp_path / "b"
    build(
        [SAMPLE_PDF],
        BuildOptions(out=out, base_uri="https://data.example.org/budget/", progress=False, validate=False),
        echo=lambda m: None,
    )
    ttl = (out / "dumps" / "documents" / "gz-zwfwsjglj-2023-budget.ttl").read_text(encoding="utf-8")
    assert "https://data.example.org/budget/id/org/gz-zwfwsjglj" in ttl and "localhost" not in ttl


def test_renamed_department_is_one_organisation_across_years(sample_document) -> None:
    import dataclasses

    from pyoxigraph import Quad

    from budgetkg.graph import GraphBuilder

    later = dataclasses.replace(sample_document, department="广州市政务服务和数据管理局", year=2026)
    builder = GraphBuilder(BASE)
    mem = Store()
    for ds in builder.build([sample_document, later]):
        mem.bulk_extend(Quad(t.subject, t.predicate, t.object) for t in ds.triples)
    orgs = select(mem, "SELECT DISTINCT ?org WHERE { ?b a bk:Budget ; bk:organisation ?org }")
    assert orgs == [{"org": ORG}]
    assert select(mem, f"SELECT ?l WHERE {{ <{ORG}> skos:prefLabel ?l }}") == [{"l": "广州市政务服务和数据管理局"}]
    renaming = select(
        mem, "SELECT ?before ?after WHERE { ?e a org:ChangeEvent ; bk:nameBefore ?before ; bk:nameAfter ?after }"
    )
    assert renaming == [{"before": "广州市政务服务数据管理局", "after": "广州市政务服务和数据管理局"}]
    query = (Path(__file__).parent.parent / "queries" / "compare-years-by-functional-class.rq").read_text(
        encoding="utf-8"
    )
    rows = [(r["code"].value, r["year"].value, r["amount"].value) for r in mem.query(query)]
    assert ("201", "2023", "38706.54") in rows and ("201", "2026", "38706.54") in rows


def test_2023_and_2026_budgets_of_one_department_line_up(tmp_path: Path, real_docs_dir: Path) -> None:
    real_2026 = real_docs_dir / "01-gz-zwfwsjglj-2026.pdf"
    out = tmp_path / "two"
    build(
        [SAMPLE_PDF, real_2026],
        BuildOptions(out=out, base_uri=BASE, progress=False, validate=False),
        echo=lambda m: None,
    )
    store = Store.read_only(str(out / "store"))
    budgets = select(store, "SELECT DISTINCT ?b ?org WHERE { ?b a bk:Budget ; bk:organisation ?org }")
    assert {b["org"] for b in budgets} == {ORG} and len(budgets) == 2
    query = (Path(__file__).parent.parent / "queries" / "compare-years-by-functional-class.rq").read_text(
        encoding="utf-8"
    )
    rows = {
        (r["code"].value, r["year"].value): r["amount"].value
        for r in store.query(query, use_default_graph_as_union=True)
    }
    assert rows[("206", "2023")] == "6233.48" and rows[("206", "2026")] == "94158.15"
    assert rows[("221", "2023")] == "3086.37" and rows[("221", "2026")] == "3269.11"
    shared = select(
        store,
        f"SELECT (COUNT(DISTINCT ?c) AS ?n) WHERE {{ ?c skos:inScheme <{BASE}def/code/func/2023> , "
        f"<{BASE}def/code/func/2026> }}",
    )
    assert int(shared[0]["n"]) >= 10  # common codes are one concept in both years' schemes
