"""A small budget build directory and a real uvicorn server for the ``serve`` tests.

The build mimics ``budgetkg build`` output (store/, dumps/, catalog.ttl, validation/,
build.json, sources/) with a handful of budget-like observations, one deliberate
parent ≠ Σ children mismatch and its SHACL result, so pages and checks have something to show.
It can later be replaced by a real build of the sample PDF; tests use the names in
:class:`BudgetBuild`, not literal IRIs.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyoxigraph as ox
import pytest

BASE = "http://budgetkg.test/"
BK = "https://w3id.org/budgetkg/def#"
QB = "http://purl.org/linked-data/cube#"
SKOS = "http://www.w3.org/2004/02/skos/core#"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
XSD = "http://www.w3.org/2001/XMLSchema#"
ORG = "http://www.w3.org/ns/org#"
PROV = "http://www.w3.org/ns/prov#"
DCT = "http://purl.org/dc/terms/"
DCAT = "http://www.w3.org/ns/dcat#"
SH = "http://www.w3.org/ns/shacl#"
SDMX = "http://purl.org/linked-data/sdmx/2009/attribute#"
ROOT = Path(__file__).resolve().parent.parent
SAMPLE_PDF = ROOT / "tests" / "fixtures" / "gz-zwfwsjglj-2023-budget.pdf"


def N(iri: str) -> ox.NamedNode:
    return ox.NamedNode(iri)


def lit(value: object, datatype: str | None = None, lang: str | None = None) -> ox.Literal:
    if lang:
        return ox.Literal(str(value), language=lang)
    if datatype:
        return ox.Literal(str(value), datatype=N(datatype))
    return ox.Literal(str(value))


def dec(value: str) -> ox.Literal:
    return lit(value, XSD + "decimal")


def integer(value: int) -> ox.Literal:
    return lit(value, XSD + "integer")


@dataclass
class BudgetBuild:
    """Where the fixture build is and which IRIs tests can rely on."""

    root: Path
    base: str
    org: str
    budget: str
    table: str
    mismatch_obs: str  # parent row whose amount ≠ Σ children (20103, total column)
    leaf_obs: str  # a 项 row
    concept: str  # a 款 code concept with children
    project: str  # project IRI with a Unicode segment
    source_sha: str
    column_total: str
    extras: dict[str, str] = field(default_factory=dict)


FUNC_CODES = {
    "201": ("一般公共服务支出", "General public services", None),
    "20103": ("政府办公厅（室）及相关机构事务", "Government offices", "201"),
    "2010301": ("行政运行", "Administrative operation", "20103"),
    "2010350": ("事业运行", "Institution operation", "20103"),
    "206": ("科学技术支出", "Science and technology", None),
    "20601": ("科学技术管理事务", "S&T administration", "206"),
    "2060101": ("行政运行", "Administrative operation", "20601"),
    "208": ("社会保障和就业支出", "Social security and employment", None),
    "20805": ("行政事业单位养老支出", "Pensions of public bodies", "208"),
    "2080505": ("机关事业单位基本养老保险缴费支出", "Basic pension contributions", "20805"),
}
# (total, basic, project) per code as printed; 20103 is printed 10.00 too high.
AMOUNTS = {
    "total": ("1330.75", "930.75", "390.00"),
    "201": ("1000.00", "800.00", "190.00"),
    "20103": ("1000.00", "800.00", "190.00"),
    "2010301": ("600.00", "600.00", "0.00"),
    "2010350": ("390.00", "200.00", "190.00"),
    "206": ("250.50", "50.50", "200.00"),
    "20601": ("250.50", "50.50", "200.00"),
    "2060101": ("250.50", "50.50", "200.00"),
    "208": ("80.25", "80.25", "0.00"),
    "20805": ("80.25", "80.25", "0.00"),
    "2080505": ("80.25", "80.25", "0.00"),
}
COLUMNS = {
    "total": ("合计", "Total"),
    "basic": ("基本支出", "Basic expenditure"),
    "project": ("项目支出", "Project expenditure"),
}
PROJECTS = {
    "政务云服务": ("200.00", "保障政务云平台全年稳定运行，可用率不低于99.9%"),
    "12345热线运营": ("150.00", "热线接通率不低于90%"),
    "数据资源普查": ("40.00", "完成全市政务数据资源普查"),
}


def budget_quads(base: str = BASE, sha: str = "0" * 64) -> list[ox.Quad]:
    """A one-department, one-year budget in the budgetkg vocabulary."""
    g_doc = N(base + "graph/gz-zwfwsjglj-2023-budget")
    g_ref = N(base + "graph/reference")
    g_val = N(base + "graph/validation")
    q: list[ox.Quad] = []

    def add(s: str, p: str, o: ox.NamedNode | ox.Literal | str, g: ox.NamedNode = g_doc) -> None:
        q.append(ox.Quad(N(s), N(p), N(o) if isinstance(o, str) else o, g))

    org = base + "id/org/gz-zwfwsjglj"
    unit = base + "id/org/广州市政务服务数据管理局本级"
    division = org + "/division/办公室"
    budget = base + "id/budget/gz-zwfwsjglj/2023/budget"
    source = base + f"id/source/{sha[:16]}"
    for t in (ORG + "Organization", BK + "Department"):
        add(org, RDF + "type", t)
    add(org, SKOS + "prefLabel", lit("广州市政务服务数据管理局", lang="zh"))
    add(
        org,
        SKOS + "prefLabel",
        lit("Guangzhou Government Service and Data Administration", lang="en"),
    )
    add(org, RDFS + "label", lit("广州市政务服务数据管理局", lang="zh"))
    add(org, ORG + "hasSubOrganization", unit)
    add(org, ORG + "hasUnit", division)
    add(unit, RDF + "type", BK + "SubordinateUnit")
    add(unit, RDF + "type", ORG + "Organization")
    add(unit, SKOS + "prefLabel", lit("广州市政务服务数据管理局本级", lang="zh"))
    add(division, RDF + "type", BK + "Division")
    add(division, RDFS + "label", lit("办公室", lang="zh"))
    add(division, BK + "mainDuty", lit("负责机关日常运转", lang="zh"))

    add(source, RDF + "type", BK + "SourceDocument")
    add(source, BK + "fileName", lit("gz-zwfwsjglj-2023-budget.pdf"))
    add(source, BK + "sha256", lit(sha))
    add(source, BK + "pageCount", integer(20))

    add(budget, RDF + "type", BK + "Budget")
    add(budget, RDF + "type", QB + "DataSet")
    add(budget, BK + "organisation", org)
    add(budget, BK + "fiscalYear", integer(2023))
    add(budget, BK + "budgetPhase", BK + "BudgetPhase-budget")
    add(budget, BK + "currencyUnit", lit("万元"))
    add(budget, DCT + "title", lit("广州市政务服务数据管理局2023年部门预算", lang="zh"))
    add(budget, DCT + "title", lit("Guangzhou GSDA department budget 2023", lang="en"))
    add(budget, PROV + "wasDerivedFrom", source)

    for key, (zh, en) in COLUMNS.items():
        col = base + f"def/column/{key}"
        add(col, RDF + "type", BK + "Column", g_ref)
        add(col, RDF + "type", SKOS + "Concept", g_ref)
        add(col, SKOS + "prefLabel", lit(zh, lang="zh"), g_ref)
        add(col, SKOS + "prefLabel", lit(en, lang="en"), g_ref)
    scheme = base + "def/code/func/2023"
    add(scheme, RDF + "type", SKOS + "ConceptScheme", g_ref)
    for code, (zh, en, parent) in FUNC_CODES.items():
        c = base + f"def/code/func/{code}"
        add(c, RDF + "type", SKOS + "Concept", g_ref)
        add(c, SKOS + "notation", lit(code), g_ref)
        add(c, SKOS + "prefLabel", lit(zh, lang="zh"), g_ref)
        add(c, SKOS + "prefLabel", lit(en, lang="en"), g_ref)
        add(c, SKOS + "inScheme", scheme, g_ref)
        if parent:
            add(c, SKOS + "broader", base + f"def/code/func/{parent}", g_ref)

    def observation(table_kind: str, row_key: str, measure: str, amount: str, index: int) -> str:
        table = f"{budget}/table/{table_kind}"
        obs = f"{budget}/obs/{table_kind}/{row_key}/{measure}"
        add(obs, RDF + "type", QB + "Observation")
        add(obs, QB + "dataSet", budget)
        add(obs, BK + "budget", budget)
        add(obs, BK + "amount", dec(amount))
        add(obs, SDMX + "unitMeasure", "http://qudt.org/vocab/unit/CCY_CNY")
        add(obs, SDMX + "unitMult", integer(4))
        add(obs, BK + "currencyUnit", lit("万元"))
        add(obs, BK + "organisation", org)
        add(obs, BK + "fiscalYear", integer(2023))
        add(obs, BK + "table", table)
        add(obs, BK + "column", base + f"def/column/{measure}")
        add(obs, BK + "page", integer(5 if table_kind == "expenditure-summary" else 14))
        add(obs, BK + "rowIndex", integer(index))
        add(obs, PROV + "wasDerivedFrom", source)
        return obs

    table_kind = "expenditure-summary"
    table = f"{budget}/table/{table_kind}"
    add(table, RDF + "type", BK + "Table")
    add(table, RDFS + "label", lit("支出总体情况表", lang="zh"))
    add(table, RDFS + "label", lit("Summary of expenditure", lang="en"))
    add(table, BK + "budget", budget)
    for index, (row, amounts) in enumerate(AMOUNTS.items(), start=1):
        for measure, amount in zip(COLUMNS, amounts, strict=True):
            obs = observation(table_kind, row, measure, amount, index)
            if row == "total":
                add(obs, BK + "isTotal", lit("true", XSD + "boolean"))
                add(obs, BK + "rowLabel", lit("合计", lang="zh"))
            else:
                add(obs, BK + "isTotal", lit("false", XSD + "boolean"))
                add(obs, BK + "functionalClassification", base + f"def/code/func/{row}")
                add(obs, BK + "rowLabel", lit(FUNC_CODES[row][0], lang="zh"))

    ptable = f"{budget}/table/project-by-unit"
    add(ptable, RDF + "type", BK + "Table")
    add(ptable, RDFS + "label", lit("部门预算项目支出及其他支出预算表", lang="zh"))
    for index, (name, (amount, target)) in enumerate(PROJECTS.items(), start=1):
        project = base + f"id/project/gz-zwfwsjglj/{name}"
        add(project, RDF + "type", BK + "Project")
        add(project, RDFS + "label", lit(name, lang="zh"))
        add(project, BK + "unit", org)
        add(project, BK + "performanceTarget", lit(target, lang="zh"))
        obs = observation("project-by-unit", name, "total", amount, index)
        add(obs, BK + "project", project)
        add(obs, BK + "rowLabel", lit(name, lang="zh"))
        add(obs, BK + "isTotal", lit("false", XSD + "boolean"))

    report = base + "graph/validation#report"
    add(report, RDF + "type", SH + "ValidationReport", g_val)
    add(report, SH + "conforms", lit("false", XSD + "boolean"), g_val)
    r1 = base + "graph/validation#r1"
    add(report, SH + "result", r1, g_val)
    add(r1, RDF + "type", SH + "ValidationResult", g_val)
    add(r1, SH + "focusNode", f"{budget}/obs/{table_kind}/20103/total", g_val)
    add(r1, SH + "resultSeverity", SH + "Violation", g_val)
    add(
        r1,
        SH + "resultMessage",
        lit("款 20103 合计 1000.00 ≠ Σ 项 990.00（差 10.00）", lang="zh"),
        g_val,
    )
    add(r1, SH + "value", dec("1000.00"), g_val)
    add(r1, SH + "sourceShape", BK + "ParentEqualsSumOfChildren", g_val)
    r2 = base + "graph/validation#r2"
    add(report, SH + "result", r2, g_val)
    add(r2, RDF + "type", SH + "ValidationResult", g_val)
    add(r2, SH + "focusNode", f"{budget}/obs/{table_kind}/total/total", g_val)
    add(r2, SH + "resultSeverity", SH + "Warning", g_val)
    add(r2, SH + "resultMessage", lit("合计 1330.75 ≠ 基本 930.75 + 项目 390.00", lang="zh"), g_val)
    add(r2, SH + "sourceShape", BK + "TotalEqualsBasicPlusProject", g_val)
    return q


def _sorted_nt(triples: list[ox.Triple]) -> bytes:
    text = (ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES) or b"").decode()
    return ("".join(sorted(set(text.splitlines(keepends=True))))).encode()


def write_build(
    root: Path,
    quads: list[ox.Quad],
    base: str = BASE,
    documents: list[dict[str, Any]] | None = None,
    pdf: Path | None = None,
) -> Path:
    """Write a build directory laid out like ``budgetkg build``'s."""
    root.mkdir(parents=True, exist_ok=True)
    store = ox.Store(str(root / "store"))
    store.extend(quads)
    store.flush()
    del store
    dumps = root / "dumps"
    (dumps / "documents").mkdir(parents=True, exist_ok=True)
    triples = [ox.Triple(q.subject, q.predicate, q.object) for q in quads]
    (dumps / "budgetkg.ttl").write_bytes(ox.serialize(triples, format=ox.RdfFormat.TURTLE) or b"")
    (dumps / "budgetkg.nt.gz").write_bytes(gzip.compress(_sorted_nt(triples), mtime=0))
    nq = (ox.serialize(quads, format=ox.RdfFormat.N_QUADS) or b"").decode()
    nq_sorted = "".join(sorted(set(nq.splitlines(keepends=True)))).encode()
    (dumps / "budgetkg.nq.gz").write_bytes(gzip.compress(nq_sorted, mtime=0))
    (dumps / "budgetkg.jsonld").write_bytes(ox.serialize(triples, format=ox.RdfFormat.JSON_LD) or b"")
    by_graph: dict[str, list[ox.Triple]] = {}
    for q in quads:
        g = q.graph_name.value if isinstance(q.graph_name, ox.NamedNode) else ""
        by_graph.setdefault(g, []).append(ox.Triple(q.subject, q.predicate, q.object))
    for doc in documents or []:
        part = by_graph.get(doc["graph"], [])
        (dumps / "documents" / f"{doc['doc_id']}.ttl").write_bytes(
            ox.serialize(part, format=ox.RdfFormat.TURTLE) or b""
        )
    if base + "graph/reference" in by_graph:
        (dumps / "reference.ttl").write_bytes(
            ox.serialize(by_graph[base + "graph/reference"], format=ox.RdfFormat.TURTLE) or b""
        )
    catalog = f"""@prefix dcat: <{DCAT}> .
@prefix dct: <{DCT}> .
<{base}catalog> a dcat:Catalog ; dct:title "budgetkg"@en ; dcat:dataset <{base}dataset> .
<{base}dataset> a dcat:Dataset ; dct:title "budgetkg test build"@en ;
  dcat:distribution <{base}dumps/budgetkg.nt.gz> .
<{base}dumps/budgetkg.nt.gz> a dcat:Distribution ;
  dcat:downloadURL <{base}dumps/budgetkg.nt.gz> ; dcat:mediaType "application/n-triples" .
"""
    (root / "catalog.ttl").write_text(catalog, encoding="utf-8")
    (root / "validation").mkdir(exist_ok=True)
    val = by_graph.get(base + "graph/validation", [])
    (root / "validation" / "report.ttl").write_bytes(ox.serialize(val, format=ox.RdfFormat.TURTLE) or b"")
    (root / "validation" / "report.html").write_text(
        "<!DOCTYPE html><title>report</title><p>validation report</p>", encoding="utf-8"
    )
    if pdf is not None:
        sha = hashlib.sha256(pdf.read_bytes()).hexdigest()
        (root / "sources").mkdir(exist_ok=True)
        shutil.copyfile(pdf, root / "sources" / f"{sha}.pdf")
    manifest = {"base_uri": base, "documents": documents or []}
    (root / "build.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2))
    return root


def make_budget_build(root: Path, base: str = BASE) -> BudgetBuild:
    sha = hashlib.sha256(SAMPLE_PDF.read_bytes()).hexdigest()
    doc = {
        "file": SAMPLE_PDF.name,
        "sha256": sha,
        "doc_id": "gz-zwfwsjglj-2023-budget",
        "graph": base + "graph/gz-zwfwsjglj-2023-budget",
        "pages": 20,
        "status": "ok",
    }
    write_build(root, budget_quads(base, sha), base, [doc], pdf=SAMPLE_PDF)
    budget = base + "id/budget/gz-zwfwsjglj/2023/budget"
    return BudgetBuild(
        root=root,
        base=base,
        org=base + "id/org/gz-zwfwsjglj",
        budget=budget,
        table=budget + "/table/expenditure-summary",
        mismatch_obs=budget + "/obs/expenditure-summary/20103/total",
        leaf_obs=budget + "/obs/expenditure-summary/2010301/total",
        concept=base + "def/code/func/20103",
        project=base + "id/project/gz-zwfwsjglj/政务云服务",
        source_sha=sha,
        column_total=base + "def/column/total",
    )


# --- a real server ----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.body)


class LiveServer:
    """``budgetkg.serve.app.run`` in a subprocess on a free loopback port."""

    def __init__(self, build_dir: Path, **config: Any) -> None:
        self.build_dir = build_dir
        self.config = config
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = build_dir.parent / f"server-{build_dir.name}.log"

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LiveServer:
        code = (
            "import json, sys\n"
            "from pathlib import Path\n"
            "from budgetkg.serve.app import run\n"
            "from budgetkg.serve.config import ServeConfig\n"
            "cfg = json.loads(sys.argv[3])\n"
            "run(Path(sys.argv[1]), '127.0.0.1', int(sys.argv[2]), ServeConfig(**cfg))\n"
        )
        for _attempt in range(3):
            self.port = free_port()
            log = self.log.open("ab")
            env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    code,
                    str(self.build_dir),
                    str(self.port),
                    json.dumps(self.config),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                try:
                    if self.request("GET", "/status", timeout=2).status == 200:
                        return self
                except OSError:
                    pass
                time.sleep(0.2)
            self.stop()
        raise RuntimeError(f"server did not start; see {self.log}:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        self.proc = None

    def request(
        self,
        method: str,
        path: str,
        body: bytes | str | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 60,
    ) -> Reply:
        """A raw HTTP/1.1 request (http.client adds no Content-Type of its own)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            data = body.encode("utf-8") if isinstance(body, str) else body
            conn.request(method, path, body=data, headers=headers or {})
            resp = conn.getresponse()
            payload = resp.read()
            return Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, payload)
        finally:
            conn.close()


@pytest.fixture(scope="session")
def budget_build(tmp_path_factory: pytest.TempPathFactory) -> BudgetBuild:
    return make_budget_build(tmp_path_factory.mktemp("serve") / "build")


@pytest.fixture(scope="session")
def live_server(budget_build: BudgetBuild) -> Iterator[LiveServer]:
    server = LiveServer(budget_build.root, timeout=4.0, max_rows=500, workers=2).start()
    try:
        yield server
    finally:
        server.stop()
