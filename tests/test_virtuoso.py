"""Publishing to a private OpenLink Virtuoso and checking it answers like the embedded store.

Needs ``virtuoso-t``/``isql-vt`` (Debian: ``apt-get install -y virtuoso-opensource-7-bin``);
skipped otherwise. Starts its own instances on free loopback ports (about 5 s each).
Most tests use small hand-made build directories (a few named graphs of Turtle with bk:
terms, Chinese IRIs and labels, decimals like 42.60, one graph over 10 000 triples) to reach
the edge cases quickly; ``test_real_build_publishes_equivalently`` publishes the real build of
the sample and requires zero differences from the embedded store.
"""

from __future__ import annotations

import gc
import hashlib
import http.server
import json
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pyoxigraph as ox
import pytest

from budgetkg.publish import (
    VirtuosoConfig,
    compare_with_embedded,
    publish_to_virtuoso,
    read_build,
)
from budgetkg.virtuoso import (
    DEFAULT_RESULT_CAP,
    Instance,
    PartialResultError,
    SparqlClient,
    TruncatedResultError,
    VirtuosoError,
    free_loopback_port,
    run_isql,
    sql_text,
    start_instance,
)

needs_virtuoso = [
    pytest.mark.virtuoso,
    pytest.mark.slow,
    pytest.mark.skipif(
        shutil.which("virtuoso-t") is None or shutil.which("isql-vt") is None,
        reason="virtuoso-t/isql-vt not installed (apt-get install -y virtuoso-opensource-7-bin)",
    ),
]


def virtuoso_test(fn: Callable[..., None]) -> Callable[..., None]:
    """Mark a test as needing a real Virtuoso (skipped with the reason when it is absent)."""
    for mark in needs_virtuoso:
        fn = mark(fn)
    return fn


BK = "https://w3id.org/budgetkg/def#"
REPO_QUERIES = Path(__file__).resolve().parent.parent / "queries"
BIG_OBS = 3_400  # x 3 triples + dataset triples > 10 000 triples in one graph

PREFIXES = """\
@prefix bk: <https://w3id.org/budgetkg/def#> .
@prefix qb: <http://purl.org/linked-data/cube#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix skos: <http://www.w3.org/2004/02/skos/core#> .
@prefix prov: <http://www.w3.org/ns/prov#> .
@prefix sh: <http://www.w3.org/ns/shacl#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
"""

OWN_QUERIES = {
    "amount_by_code.rq": """
PREFIX bk: <https://w3id.org/budgetkg/def#>
SELECT ?code (SUM(?a) AS ?total) (COUNT(?a) AS ?n)
WHERE { ?obs bk:functionCode ?code ; bk:amount ?a }
GROUP BY ?code
""",
    "labels.rq": """
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
SELECT ?s ?label WHERE { ?s rdfs:label ?label }
""",
    "ask_amount.rq": """
PREFIX bk: <https://w3id.org/budgetkg/def#>
ASK { ?obs bk:amount 42.6 }
""",
    "datasets.rq": """
PREFIX bk: <https://w3id.org/budgetkg/def#>
PREFIX qb: <http://purl.org/linked-data/cube#>
CONSTRUCT { ?ds bk:organisation ?org } WHERE { ?ds a qb:DataSet ; bk:organisation ?org }
""",
    "amounts_per_graph.rq": """
PREFIX bk: <https://w3id.org/budgetkg/def#>
SELECT ?g (COUNT(?a) AS ?n) (MAX(?a) AS ?max)
WHERE { GRAPH ?g { ?obs bk:amount ?a } } GROUP BY ?g
""",
}


# --- a hand-made build directory --------------------------------------------------------------


def document_ttl(base: str, org: str, amounts: dict[str, str], extra: int = 0) -> str:
    """One document graph: a qb:DataSet, observations with bk:amount, labels @zh/@en."""
    ds = f"<{base}id/budget/{org}/2023/budget>"
    lines = [
        PREFIXES,
        f"{ds} a qb:DataSet ; bk:organisation <{base}id/org/{org}> ;",
        f'  rdfs:label "{org} 2023年部门预算"@zh , "{org} budget 2023"@en ;',
        '  prov:generatedAtTime "2024-01-02T03:04:05Z"^^xsd:dateTime ; bk:pages 12 .',
        f'<{base}id/org/{org}> rdfs:label "{org}"@zh .',
    ]
    for code, amount in amounts.items():
        obs = f"<{base}id/budget/{org}/2023/budget/obs/expenditure/{code}/total>"
        lines.append(
            f"{obs} a qb:Observation ; qb:dataSet {ds} ; bk:organisation <{base}id/org/{org}> ;"
            f' bk:functionCode <{base}def/code/func/{code}> ; bk:amount "{amount}"^^xsd:decimal ;'
            " bk:subtotal false ."
        )
    for i in range(extra):
        obs = f"<{base}id/budget/{org}/2023/budget/obs/line/{i:05d}/total>"
        lines.append(
            f"{obs} a qb:Observation ; bk:organisation <{base}id/org/{org}> ;"
            f' bk:amount "{i}.{i % 100:02d}"^^xsd:decimal .'
        )
    return "\n".join(lines) + "\n"


def reference_ttl(base: str) -> str:
    return (
        PREFIXES
        + f'<{base}def/code/func/2010301> a skos:Concept ; skos:notation "2010301" ;\n'
        + '  skos:prefLabel "行政运行"@zh , "Administration"@en ; bk:weight "1.5E3"^^xsd:double ;\n'
        + f"  skos:broader <{base}def/code/func/20103> .\n"
        + f'<{base}def/code/func/20103> a skos:Concept ; skos:notation "20103" ;\n'
        + '  skos:prefLabel "政府办公厅（室）及相关机构事务"@zh .\n'
    )


def validation_ttl(base: str) -> str:
    return PREFIXES + f"<{base}validation/report> a sh:ValidationReport ; sh:conforms true .\n"


def write_build(out: Path, base: str, docs: dict[str, str]) -> Path:
    """Dumps, build.json and a pyoxigraph store, as `budgetkg build` lays them out."""
    if out.exists():
        gc.collect()  # drop any read-only handle on the old store before replacing it
        shutil.rmtree(out)
    (out / "dumps" / "documents").mkdir(parents=True)
    (out / "validation").mkdir()
    documents = []
    for doc_id, ttl in docs.items():
        dump = f"dumps/documents/{doc_id}.ttl"
        (out / dump).write_text(ttl, encoding="utf-8")
        documents.append(
            {
                "doc_id": doc_id,
                "graph": f"{base}graph/{doc_id}",
                "dump": dump,
                "sha256": hashlib.sha256(doc_id.encode()).hexdigest(),  # stands in for the PDF
                "file": f"{doc_id}.pdf",
                "status": "ok",
            }
        )
    (out / "dumps" / "reference.ttl").write_text(reference_ttl(base), encoding="utf-8")
    (out / "validation" / "report.ttl").write_text(validation_ttl(base), encoding="utf-8")
    (out / "build.json").write_text(
        json.dumps(
            {
                "base_uri": base,
                "documents": documents,
                "reference_graph": f"{base}graph/reference",
                "reference_dump": "dumps/reference.ttl",
            },
            ensure_ascii=False,
            indent=1,
        ),
        encoding="utf-8",
    )
    store = ox.Store(str(out / "store"))
    for src in read_build(out)[1]:
        store.load(path=str(src.path), format=ox.RdfFormat.TURTLE, to_graph=ox.NamedNode(src.graph))
    store.flush()
    del store
    gc.collect()
    return out


def two_docs(base: str) -> dict[str, str]:
    return {
        "广州市政务服务数据管理局-2023-budget": document_ttl(
            base, "广州市政务服务数据管理局", {"2010301": "42.60", "2010302": "1000.00"}
        ),
        "gzfinance-2023-budget": document_ttl(
            base, "gzfinance", {"2010301": "0.05", "2060199": "12345678901.10"}
        ),
    }


@pytest.fixture(scope="module")
def instance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Instance]:
    inst = start_instance(
        tmp_path_factory.mktemp("virtuoso"), free_loopback_port(), free_loopback_port()
    )
    try:
        yield inst
    finally:
        inst.stop()


@pytest.fixture(scope="module")
def own_queries(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("queries")
    for name, text in OWN_QUERIES.items():
        (d / name).write_text(text, encoding="utf-8")
    return d


def assert_equivalent(build: Path, instance: Instance, queries: Path) -> None:
    diffs = compare_with_embedded(build, instance.client(), queries_dir=queries)
    assert diffs == [], "\n".join(map(str, diffs))
    if any(REPO_QUERIES.glob("*.rq")):  # the project's example queries, once they exist
        diffs = compare_with_embedded(build, instance.client())
        assert diffs == [], "\n".join(map(str, diffs))


def graph_sizes(instance: Instance, base: str) -> dict[str, int]:
    rows = instance.client().select(
        "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g", dataset=False
    )
    return {r["g"].value: int(r["n"].value) for r in rows.rows if r["g"].value.startswith(base)}


# --- tests ------------------------------------------------------------------------------------


@virtuoso_test
def test_publish_replace_drop_and_equivalence(
    instance: Instance, own_queries: Path, tmp_path: Path
) -> None:
    base = "http://localhost:8000/t1/"
    docs = two_docs(base)
    docs["gzbig-2023-budget"] = document_ttl(base, "gzbig", {"2010301": "1.00"}, extra=BIG_OBS)
    build = write_build(tmp_path / "out", base, docs)

    report = publish_to_virtuoso(build, instance.config)
    assert report.ok, report.summary()
    assert report.count("loaded") == 5  # 3 documents + reference + validation
    sizes = graph_sizes(instance, base)
    store = ox.Store.read_only(str(build / "store"))
    expected = {
        g.value: sum(1 for _ in store.quads_for_pattern(None, None, None, g))
        for g in store.named_graphs()
    }
    del store
    assert sizes == expected
    assert sizes[f"{base}graph/gzbig-2023-budget"] > DEFAULT_RESULT_CAP
    assert f"{base}graph/广州市政务服务数据管理局-2023-budget" in sizes
    assert_equivalent(build, instance, own_queries)

    # the raised cap: a whole >10 000-triple graph comes back in one answer
    big = f"{base}graph/gzbig-2023-budget"
    rows = instance.client().select(f"SELECT * WHERE {{ GRAPH <{big}> {{ ?s ?p ?o }} }}")
    assert len(rows.rows) == sizes[big]

    # nothing changed: nothing is reloaded
    again = publish_to_virtuoso(build, instance.config)
    assert again.ok and again.count("unchanged") == 5, again.summary()

    # one document changed, one left the build
    docs2 = dict(docs)
    docs2["gzfinance-2023-budget"] = document_ttl(
        base, "gzfinance", {"2010301": "0.06", "2060199": "12345678901.10", "2130101": "7.70"}
    )
    del docs2["gzbig-2023-budget"]
    build = write_build(tmp_path / "out", base, docs2)
    report = publish_to_virtuoso(build, instance.config)
    assert report.ok, report.summary()
    actions = {a.doc_id: a.action for a in report.actions}
    assert actions == {
        "广州市政务服务数据管理局-2023-budget": "unchanged",
        "gzfinance-2023-budget": "replaced",
        "reference": "unchanged",
        "validation": "unchanged",
        "gzbig-2023-budget": "dropped",
    }
    sizes = graph_sizes(instance, base)
    assert big not in sizes
    ask = f"ASK {{ GRAPH <{base}graph/gzfinance-2023-budget> {{ ?o <{BK}amount> 0.05 }} }}"
    assert instance.client().ask(ask, dataset=False) is False
    assert_equivalent(build, instance, own_queries)


@virtuoso_test
def test_broken_dump_keeps_published_graph(instance: Instance, tmp_path: Path) -> None:
    base = "http://localhost:8000/t2/"
    build = write_build(tmp_path / "out", base, two_docs(base))
    assert publish_to_virtuoso(build, instance.config).ok
    before = graph_sizes(instance, base)

    bad = build / "dumps" / "documents" / "gzfinance-2023-budget.ttl"
    bad.write_text(PREFIXES + '<http://x/a> bk:amount "1.0 .\n', encoding="utf-8")
    report = publish_to_virtuoso(build, instance.config)
    assert not report.ok
    [failed] = report.errors
    assert failed.doc_id == "gzfinance-2023-budget" and failed.error
    assert "gzfinance-2023-budget" in report.summary()
    assert graph_sizes(instance, base) == before  # the last good graph is still served


@virtuoso_test
def test_virtuoso_load_error_is_reported(instance: Instance, tmp_path: Path) -> None:
    """A file pyoxigraph accepts but Virtuoso's loader rejects fails alone, and is retried."""
    base = "http://localhost:8000/t3/"
    docs = two_docs(base)
    # Virtuoso cannot hold an xsd:integer beyond 64 bits (SR553); Oxigraph can
    docs["gzhuge-2023-budget"] = PREFIXES + f"<{base}id/x> bk:pages {'1' * 30} .\n"
    build = write_build(tmp_path / "out", base, docs)
    report = publish_to_virtuoso(build, instance.config)
    by_doc = {a.doc_id: a for a in report.actions}
    assert by_doc["广州市政务服务数据管理局-2023-budget"].action == "loaded"
    assert by_doc["gzhuge-2023-budget"].action == "failed"
    assert "SR553" in (by_doc["gzhuge-2023-budget"].error or ""), report.summary()
    assert f"{base}graph/gzhuge-2023-budget" not in graph_sizes(instance, base)

    report = publish_to_virtuoso(build, instance.config)  # not recorded: tried again
    assert report.by_graph()[f"{base}graph/gzhuge-2023-budget"].action == "failed"
    docs["gzhuge-2023-budget"] = PREFIXES + f"<{base}id/x> bk:pages 12 .\n"
    build = write_build(tmp_path / "out", base, docs)
    report = publish_to_virtuoso(build, instance.config)
    assert report.ok and report.count("loaded") == 1, [(a.doc_id, a.action) for a in report.actions]
    assert report.count("unchanged") == 4


@virtuoso_test
def test_tampering_is_detected_and_repaired(
    instance: Instance, own_queries: Path, tmp_path: Path
) -> None:
    base = "http://localhost:8000/t4/"
    build = write_build(tmp_path / "out", base, two_docs(base))
    assert publish_to_virtuoso(build, instance.config).ok
    graph = f"{base}graph/gzfinance-2023-budget"
    run_isql(
        instance.config,
        f"delete from DB.DBA.RDF_QUAD where G = iri_to_id({sql_text(graph)}, 0) "
        f"and P = iri_to_id('{BK}amount', 0);\n",
    )
    diffs = compare_with_embedded(build, instance.client(), queries_dir=own_queries)
    kinds = {d.kind for d in diffs}
    assert {"graph", "amount", "query"} <= kinds, diffs

    report = publish_to_virtuoso(build, instance.config)  # count no longer matches: reload
    assert report.by_graph()[graph].action == "replaced", report.summary()
    assert_equivalent(build, instance, own_queries)


@virtuoso_test
def test_default_cap_and_timeout_are_detected(tmp_path: Path) -> None:
    """With Virtuoso's shipped limits, cut and partial answers raise instead of passing."""
    base = "http://localhost:8000/t5/"
    build = write_build(
        tmp_path / "out", base, {"gzbig-2023-budget": document_ttl(base, "gzbig", {}, BIG_OBS)}
    )
    with start_instance(
        tmp_path / "vt",
        free_loopback_port(),
        free_loopback_port(),
        result_cap=DEFAULT_RESULT_CAP,
        password="not-dba+1",
    ) as inst:
        assert inst.config.result_cap == DEFAULT_RESULT_CAP
        assert publish_to_virtuoso(build, inst.config).ok
        client = inst.client()
        big = f"{base}graph/gzbig-2023-budget"
        with pytest.raises(TruncatedResultError):
            client.select(f"SELECT * WHERE {{ GRAPH <{big}> {{ ?s ?p ?o }} }}")
        with pytest.raises(TruncatedResultError):
            client.construct(f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH <{big}> {{ ?s ?p ?o }} }}")
        assert len(client.select(f"SELECT * {{ GRAPH <{big}> {{ ?s ?p ?o }} }} LIMIT 10").rows)

        # the equivalence check reports a capped answer instead of comparing a cut one
        big_query = tmp_path / "q"
        big_query.mkdir()
        (big_query / "all.rq").write_text("SELECT * WHERE { ?s ?p ?o }", encoding="utf-8")
        diffs = compare_with_embedded(build, client, queries_dir=big_query)
        assert [d.kind for d in diffs] == ["error"], diffs

        # Virtuoso's "anytime" timeout: mostly HTTP 200 with partial rows and only an
        # X-SQL-State header, sometimes a 500; either way it must not pass as an answer
        slow = SparqlClient(inst.endpoint, timeout_ms=200)
        with pytest.raises(VirtuosoError) as exc:
            slow.select(
                f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{big}> "
                "{ ?s ?p ?o . ?s2 ?p ?o2 FILTER(STR(?o2) > STR(?o)) } }"
            )
        assert "S1TAT" in str(exc.value)


# --- the client's checks against a canned server (no Virtuoso needed) -------------------------


class Canned(http.server.BaseHTTPRequestHandler):
    """Answers every POST with the class's status, headers and body, like Virtuoso would."""

    status = 200
    headers_out: dict[str, str] = {}
    body = b""

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(self.status)
        for k, v in self.headers_out.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture
def canned() -> Iterator[tuple[str, type[Canned]]]:
    handler = type("Handler", (Canned,), {})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/sparql", handler
    finally:
        server.shutdown()
        server.server_close()


def json_rows(n: int) -> bytes:
    rows = [{"x": {"type": "typed-literal", "datatype": f"{XSD}decimal", "value": "42.60"}}] * n
    return json.dumps({"head": {"vars": ["x"]}, "results": {"bindings": rows}}).encode()


XSD = "http://www.w3.org/2001/XMLSchema#"


def test_client_refuses_partial_answer(canned: tuple[str, type[Canned]]) -> None:
    url, handler = canned
    handler.headers_out = {
        "Content-Type": "application/sparql-results+json",
        "X-SQL-State": "S1TAT",
        "X-SQL-Message": "RC...: Returning incomplete results, query interrupted",
    }
    handler.body = json_rows(3)
    with pytest.raises(PartialResultError) as exc:
        SparqlClient(url).select("SELECT * { ?s ?p ?o }")
    assert exc.value.state == "S1TAT"


def test_client_refuses_capped_answer(canned: tuple[str, type[Canned]]) -> None:
    url, handler = canned
    handler.headers_out = {"Content-Type": "application/sparql-results+json"}
    handler.body = json_rows(DEFAULT_RESULT_CAP)
    with pytest.raises(TruncatedResultError):
        SparqlClient(url).select("SELECT * { ?s ?p ?o }")
    assert len(SparqlClient(url, result_cap=DEFAULT_RESULT_CAP + 1).select("SELECT *").rows) == (
        DEFAULT_RESULT_CAP
    )
    handler.headers_out = {**handler.headers_out, "X-SPARQL-MaxRows": "10000"}
    handler.body = json_rows(5)
    with pytest.raises(TruncatedResultError):
        SparqlClient(url).select("SELECT * { ?s ?p ?o }")


def test_client_reads_virtuoso_terms(canned: tuple[str, type[Canned]]) -> None:
    url, handler = canned
    handler.headers_out = {"Content-Type": "application/sparql-results+json"}
    handler.body = json_rows(2)
    rows = SparqlClient(url).select("SELECT * { ?s ?p ?o }").rows
    assert rows[0]["x"] == ox.Literal("42.60", datatype=ox.NamedNode(f"{XSD}decimal"))
    handler.status = 500
    handler.body = b"Virtuoso 37000 Error SP030: SPARQL compiler, line 1: syntax error"
    with pytest.raises(VirtuosoError, match="SP030"):
        SparqlClient(url).select("SELEC")


def test_config_defaults_stay_on_loopback() -> None:
    cfg = VirtuosoConfig()
    assert cfg.host == "127.0.0.1"
    assert cfg.sparql_endpoint == "http://127.0.0.1:8890/sparql"


@virtuoso_test
def test_real_build_publishes_equivalently(
    instance: Instance, sample_build: Path, tmp_path: Path
) -> None:
    """The sample PDF's real build (conftest) with the project's own queries/*.rq."""
    build = tmp_path / "build"
    shutil.copytree(sample_build, build)  # publish must not depend on where the build lives
    report = publish_to_virtuoso(build, instance.config)
    assert report.ok, report.summary()
    assert {a.doc_id for a in report.actions} >= {"reference", "validation"}
    diffs = compare_with_embedded(build, instance.client())
    assert diffs == [], "\n".join(map(str, diffs))

    # the command line, without --load-dir: the server's DirsAllowed is used
    from click.testing import CliRunner

    from budgetkg.cli import main

    cfg = instance.config
    args = ["publish", str(build), "--to", "virtuoso", "--isql-port", str(cfg.isql_port)]
    args += ["--http-port", str(cfg.http_port), "--password", cfg.password]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert f"{len(report.actions)} unchanged" in result.output
