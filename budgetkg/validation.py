"""Stage 5: validate the budget's arithmetic and consistency with SHACL (pyshacl).

Each document is validated on its own (its graph plus the reference code lists), so the cost
grows linearly with the number of documents. pyshacl is handed a pyoxigraph store, which keeps
the SHACL-SPARQL arithmetic fast. Rounding: every check marked `bks:roundingTier` in
shapes/arithmetic.ttl gets a Warning-severity twin for differences within the tolerance, so
尾数误差 are reported but never counted as violations.
"""

from __future__ import annotations

import hashlib
import html
import re
import string
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path

import pyshacl
import pyshacl.errors
import rdflib
from pyoxigraph import Literal, NamedNode, Quad, Store, Triple
from rdflib.namespace import RDF as R_RDF
from rdflib.namespace import SH

from budgetkg.graph import BK, PREFIXES, RDF, RDFS, XSD, Dataset, GraphBuilder, canonical_decimal
from budgetkg.model import Document
from budgetkg.resources import data_dir

SHAPES_DIR = data_dir("shapes")
BKS = rdflib.Namespace("https://w3id.org/budgetkg/shapes#")
SHN = "http://www.w3.org/ns/shacl#"

#: Default rounding tolerance: how far one printed figure may be from the exact value, in the
#: printed unit (two decimals → half a cent of the unit, i.e. 0.005 万元 = 50 元).
DEFAULT_TOLERANCE = Decimal("0.005")

SEVERITY_ORDER = {"Violation": 0, "Warning": 1, "Info": 2}


def _cheap_truthiness() -> None:
    """pyshacl evaluates `datagraph or shapes_graph` once per result; on an Oxigraph-backed
    data graph that counts every triple each time (seconds per document). A data graph handed
    to pyshacl here is never empty, so its truth value need not count anything."""
    from pyshacl import graph_abstraction

    cls = getattr(graph_abstraction, "OxigraphDataGraph", None)
    if cls is not None and "__bool__" not in cls.__dict__:
        cls.__bool__ = lambda self: True


_cheap_truthiness()


@cache
def shapes_graph() -> rdflib.Graph:
    """All shapes/*.ttl, plus the Warning-severity rounding twin of each arithmetic check."""
    g = rdflib.Graph()
    for path in sorted(SHAPES_DIR.glob("*.ttl")):
        g.parse(path, format="turtle")
    for shape in list(g.subjects(BKS.roundingTier, rdflib.Literal(True))):
        twin = rdflib.URIRef(str(shape) + "-Rounding")
        for p, o in g.predicate_objects(shape):
            if p == SH.severity:
                g.add((twin, p, SH.Warning))
            elif p == SH.sparql:
                node = rdflib.BNode()
                g.add((twin, p, node))
                for p2, o2 in g.predicate_objects(o):
                    if p2 == SH.select:
                        text = str(o2).replace(
                            "FILTER (?diffAbs > ?limit)", "FILTER (?diffAbs > 0 && ?diffAbs <= ?limit)"
                        )
                        g.add((node, p2, rdflib.Literal(text)))
                    elif p2 == SH.message:
                        g.add((node, p2, rdflib.Literal("rounding difference (尾数误差) within tolerance: " + str(o2))))
                    else:
                        g.add((node, p2, o2))
            elif p not in (BKS.roundingTier,):
                g.add((twin, p, o))
    return g


#: What a shape costs relative to the others (pyshacl's time with that shape alone on the sample,
#: in units of about 20 ms; a -Rounding twin costs as much as its shape, unlisted shapes 1).
#: Only used to split the shapes into parts of about equal cost, see `shape_parts`.
SHAPE_COST = {
    "RowTotalEqualsParts": 8,
    "ParentEqualsChildren": 6,
    "TableTotalEqualsTopRows": 4,
    "UnitSubtotalEqualsItems": 4,
    "IncomeEqualsExpenditure": 4,
    "ParentRowPresent": 4,
    "SideTotalEqualsItems": 3,
    "ObservationShape": 2,
}


def shape_parts(parts: int) -> list[tuple[str, ...]]:
    """The named shapes in `parts` groups of about equal cost (largest first, each to the least
    loaded group), so one document can be validated by several processes at once. Static, so
    every process computes the same groups."""
    shapes = shapes_graph()
    names = sorted(str(s) for s in shapes.subjects(R_RDF.type, SH.NodeShape) if isinstance(s, rdflib.URIRef))

    def cost(name: str) -> int:
        return SHAPE_COST.get(name.removeprefix(str(BKS)).removesuffix("-Rounding"), 1)

    groups: list[list[str]] = [[] for _ in range(max(1, parts))]
    loads = [0] * len(groups)
    for name in sorted(names, key=lambda n: (-cost(n), n)):
        least = loads.index(min(loads))
        groups[least].append(name)
        loads[least] += cost(name)
    return [tuple(sorted(g)) for g in groups]


@cache
def shapes_part(part: int, parts: int) -> rdflib.Graph:
    """The shapes graph without the named shapes of the other parts (each with its property
    shapes, SPARQL constraints and lists: everything reachable through blank nodes)."""
    if parts <= 1:
        return shapes_graph()
    g = rdflib.Graph()
    for triple in shapes_graph():
        g.add(triple)
    dropped = [rdflib.URIRef(n) for i, group in enumerate(shape_parts(parts)) if i != part for n in group]
    todo: list[rdflib.term.Node] = list(dropped)
    while todo:
        node = todo.pop()
        for p, o in list(g.predicate_objects(node)):
            g.remove((node, p, o))
            if isinstance(o, rdflib.BNode):
                todo.append(o)
    return g


@dataclass(frozen=True)
class Finding:
    severity: str  # Violation | Warning | Info
    shape: str
    check: str  # the shape's English label
    focus: str
    value: str | None
    message: str
    document: str
    source_sha256: str = ""  # the PDF, for links to its pages
    table: str = ""
    table_no: int = 0
    row: str = ""
    pages: tuple[int, ...] = ()
    difference: str = ""

    @property
    def iri_key(self) -> str:
        raw = "|".join((self.shape, self.focus, self.value or "", self.message))
        return hashlib.sha1(raw.encode("utf-8")).hexdigest()[:20]


@dataclass
class ValidationReport:
    graph: str
    base: str
    tolerance: Decimal
    findings: list[Finding] = field(default_factory=list)
    triples: list[Triple] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        c = Counter(f.severity for f in self.findings)
        return {k: c.get(k, 0) for k in ("Violation", "Warning", "Info")}

    def worst(self) -> str | None:
        if not self.findings:
            return None
        return min((f.severity for f in self.findings), key=lambda s: SEVERITY_ORDER.get(s, 9))

    def summary_text(self, limit: int = 10) -> str:
        c = self.counts()
        lines = [
            f"validation: {c['Violation']} violation(s), {c['Warning']} rounding warning(s), "
            f"{c['Info']} info (tolerance {self.tolerance} per printed figure)"
        ]
        for f in [f for f in self.findings if f.severity == "Violation"][:limit]:
            where = f"table {f.table_no} {f.table}" if f.table else f.focus
            pages = ",".join(map(str, f.pages))
            lines.append(f"  VIOLATION {f.document}: {where}, p.{pages}: {f.message}")
        more = c["Violation"] - limit
        if more > 0:
            lines.append(f"  … {more} more, see validation/report.html")
        return "\n".join(lines)

    def write(self, directory: Path, documents: Iterable[Document] = ()) -> None:
        from pyoxigraph import RdfFormat, serialize

        from budgetkg.export import sorted_unique

        directory.mkdir(parents=True, exist_ok=True)
        (directory / "report.ttl").write_bytes(
            serialize(sorted_unique(self.triples), format=RdfFormat.TURTLE, prefixes=PREFIXES)
        )
        (directory / "report.html").write_text(render_html(self), encoding="utf-8")


def settings_triples(tolerance: Decimal) -> list[Triple]:
    node = NamedNode(BK + "validationSettings")
    return [
        Triple(
            node,
            NamedNode(BK + "roundingTolerance"),
            Literal(canonical_decimal(Decimal(tolerance)), datatype=NamedNode(XSD + "decimal")),
        )
    ]


def validate_datasets(
    datasets: list[Dataset], builder: GraphBuilder, tolerance: str | Decimal | None = None
) -> ValidationReport:
    tol = parse_tolerance(tolerance)
    reference = next((d for d in datasets if d.document is None), None)
    ref_triples = reference.triples if reference else []
    findings: list[Finding] = []
    for ds in datasets:
        if ds.document is None:
            continue
        source = ds.document.source
        findings.extend(validate_document(ds.triples, ref_triples, source.name, tol, source.sha256))
    return make_report(builder.validation_graph, builder.base, tol, findings)


def make_report(graph: str, base: str, tol: Decimal, findings: Iterable[Finding]) -> ValidationReport:
    """The report of a run from its findings, in any order: documents may be validated one by
    one or in parallel processes, the report comes out the same."""
    report = ValidationReport(graph, base, tol, list(findings))
    report.findings.sort(  # a total order: the same report whatever order the findings came in
        key=lambda f: (
            SEVERITY_ORDER.get(f.severity, 9),
            f.document,
            f.table_no,
            f.pages,
            f.message,
            f.shape,
            f.focus,
            f.value or "",
        )
    )
    report.triples = report_triples(report)
    return report


def parse_tolerance(value: str | Decimal | None) -> Decimal:
    if value is None:
        return DEFAULT_TOLERANCE
    try:
        tol = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"tolerance {value!r} is not a decimal number") from None
    if tol < 0:
        raise ValueError("tolerance must not be negative")
    return tol


def validate_document(
    doc_triples: list[Triple], ref_triples: list[Triple], document: str, tol: Decimal, sha256: str = ""
) -> list[Finding]:
    store = Store()
    store.bulk_extend(Quad(t.subject, t.predicate, t.object) for t in doc_triples)
    store.bulk_extend(Quad(t.subject, t.predicate, t.object) for t in ref_triples)
    store.bulk_extend(Quad(t.subject, t.predicate, t.object) for t in settings_triples(tol))
    return validate_loaded(store, document, sha256)


def validate_loaded(store: Store, document: str, sha256: str = "", part: int = 0, parts: int = 1) -> list[Finding]:
    """Validate a store that already holds one document's graph, the reference graph and the
    settings (a parallel build loads them from N-Triples, cheaper than Python triples); only
    with the shapes of `part` of `parts` (see `shape_parts`) when the work is shared out."""
    _conforms, results, _text = pyshacl.validate(
        store, shacl_graph=shapes_part(part, parts), inference="none", advanced=False, allow_warnings=True
    )
    if isinstance(results, pyshacl.errors.ValidationFailure):
        raise RuntimeError(f"SHACL validation could not run: {results}")
    return list(_findings(results, store, document, sha256))


def _findings(results: rdflib.Graph, store: Store, document: str, sha256: str) -> Iterable[Finding]:
    shapes = shapes_graph()
    for result in results.subjects(R_RDF.type, SH.ValidationResult):
        severity = str(results.value(result, SH.resultSeverity)).rsplit("#", 1)[-1]
        shape = results.value(result, SH.sourceShape)
        focus = str(results.value(result, SH.focusNode))
        value = results.value(result, SH.value)
        message = str(results.value(result, SH.resultMessage) or "")
        path = results.value(result, SH.resultPath)
        if path is not None and not message.startswith("rounding"):
            message = f"{path.n3().rsplit('#', 1)[-1].rstrip('>')}: {message}"
        shape_iri = _shape_of(shapes, shape)
        check = (
            str(shapes.value(rdflib.URIRef(shape_iri.removesuffix("-Rounding")), rdflib.RDFS.label) or "")
            if shape_iri
            else ""
        )
        labels = (
            [str(o) for o in shapes.objects(rdflib.URIRef(shape_iri.removesuffix("-Rounding")), rdflib.RDFS.label)]
            if shape_iri
            else []
        )
        check = next((lab for lab in labels if re.search(r"[a-z]", lab)), check)
        table, table_no, row, pages = _locate(store, focus, str(value) if isinstance(value, rdflib.URIRef) else None)
        diff = re.search(r"difference (-?[\d.]+)", message)
        yield Finding(
            severity=severity,
            shape=shape_iri or str(shape),
            check=check,
            focus=focus,
            value=str(value) if value is not None else None,
            message=message,
            document=document,
            source_sha256=sha256,
            table=table,
            table_no=table_no,
            row=row,
            pages=pages,
            difference=diff.group(1) if diff else "",
        )


def _shape_of(shapes: rdflib.Graph, shape: object) -> str:
    """The named shape a result came from (property shapes and SPARQL nodes are blank)."""
    if isinstance(shape, rdflib.URIRef):
        return str(shape)
    for s in shapes.subjects(SH.property, shape):
        return str(s)
    return ""


def _locate(store: Store, focus: str, value: str | None) -> tuple[str, int, str, tuple[int, ...]]:
    node = value or focus
    q = f"""
    SELECT ?tlabel ?tno ?row ?page WHERE {{
      OPTIONAL {{ <{node}> <{BK}table> ?t . ?t <{RDFS}label> ?tlabel ; <{BK}tableNumber> ?tno . }}
      OPTIONAL {{ <{node}> <{RDFS}label> ?tlabel2 ; <{BK}tableNumber> ?tno2 . }}
      OPTIONAL {{ <{node}> <{BK}rowLabel> ?row . }}
      OPTIONAL {{ <{node}> <{BK}page> ?page . }}
    }}"""
    table, table_no, row, pages = "", 0, "", set()
    for sol in store.query(q):
        if sol["tlabel"] is not None:
            table, table_no = sol["tlabel"].value, int(sol["tno"].value)
        if sol["row"] is not None:
            row = sol["row"].value
        if sol["page"] is not None:
            pages.add(int(sol["page"].value))
    if not table:
        fallback = (
            f"SELECT ?l ?n ?p WHERE {{ <{node}> <{RDFS}label> ?l ; <{BK}tableNumber> ?n . "
            f"OPTIONAL {{ <{node}> <{BK}page> ?p }} }}"
        )
        for sol in store.query(fallback):
            table, table_no = sol["l"].value, int(sol["n"].value)
            if not row and sol["p"] is not None:
                pages.add(int(sol["p"].value))
    return table, table_no, row, tuple(sorted(pages))


def report_triples(report: ValidationReport) -> list[Triple]:
    sh = SHN
    base = report.base
    rep = NamedNode(base + "graph/validation/report")
    out = [
        Triple(rep, NamedNode(RDF + "type"), NamedNode(sh + "ValidationReport")),
        Triple(
            rep,
            NamedNode(sh + "conforms"),
            Literal("false" if report.counts()["Violation"] else "true", datatype=NamedNode(XSD + "boolean")),
        ),
        Triple(
            rep,
            NamedNode(BK + "roundingTolerance"),
            Literal(canonical_decimal(Decimal(report.tolerance)), datatype=NamedNode(XSD + "decimal")),
        ),
    ]
    for f in report.findings:
        node = NamedNode(f"{base}graph/validation/result/{f.iri_key}")
        out += [
            Triple(rep, NamedNode(sh + "result"), node),
            Triple(node, NamedNode(RDF + "type"), NamedNode(sh + "ValidationResult")),
            Triple(node, NamedNode(sh + "resultSeverity"), NamedNode(sh + f.severity)),
            Triple(node, NamedNode(sh + "focusNode"), NamedNode(f.focus)),
            # English sentences quoting the printed Chinese names: tagged as what they are
            Triple(node, NamedNode(sh + "resultMessage"), Literal(f.message, language="en")),
        ]
        if f.shape.startswith("http"):
            out.append(Triple(node, NamedNode(sh + "sourceShape"), NamedNode(f.shape)))
        if f.value and f.value.startswith("http"):
            out.append(Triple(node, NamedNode(sh + "value"), NamedNode(f.value)))
        for p in f.pages:
            out.append(Triple(node, NamedNode(BK + "page"), Literal(str(p), datatype=NamedNode(XSD + "integer"))))
        if f.difference:
            out.append(
                Triple(
                    node,
                    NamedNode(BK + "difference"),
                    Literal(canonical_decimal(Decimal(f.difference)), datatype=NamedNode(XSD + "decimal")),
                )
            )
    return out


TEMPLATE = Path(__file__).resolve().parent / "templates" / "report.html"


def render_html(report: ValidationReport) -> str:
    """A report an auditor can work from: counts per check, then every finding in page order."""
    c = report.counts()
    rows = []
    for f in report.findings:
        pages = ", ".join(f'<a href="/source/{f.source_sha256}.pdf#page={p}">{p}</a>' for p in f.pages)
        rows.append(
            f'<tr class="{f.severity.lower()}"><td class="sev">{f.severity}</td><td>{html.escape(f.document)}</td>'
            f"<td>{f.table_no or ''} {html.escape(f.table)}</td><td>{html.escape(f.row)}</td>"
            f'<td>{html.escape(f.message)}</td><td class="num">{html.escape(f.difference)}</td>'
            f"<td>{pages}</td><td>{html.escape(f.check)}</td></tr>"
        )
    checks: dict[str, Counter] = {}
    for f in report.findings:
        checks.setdefault(f.check or f.shape, Counter())[f.severity] += 1
    by_check = "".join(
        f'<tr><td>{html.escape(name)}</td><td class="num">{n["Violation"]}</td><td class="num">{n["Warning"]}</td></tr>'
        for name, n in sorted(checks.items())
    )
    return string.Template(TEMPLATE.read_text(encoding="utf-8")).substitute(
        violations=c["Violation"],
        warnings=c["Warning"],
        infos=c["Info"],
        tolerance=report.tolerance,
        by_check=by_check or '<tr><td colspan="3">No problems found.</td></tr>',
        rows="\n".join(rows) or '<tr><td colspan="8">No problems found.</td></tr>',
    )


def revalidate(build_dir: Path, tolerance: str | Decimal | None = None) -> ValidationReport:
    """Validate an existing build from its store; rewrites validation/ and the store's graph."""
    from budgetkg.manifest import Manifest

    manifest = Manifest.read(build_dir)
    base = manifest.base_uri
    store = Store(str(build_dir / "store"))
    ref_graph = NamedNode(manifest.reference_graph)
    ref = [q.triple for q in store.quads_for_pattern(None, None, None, ref_graph)]
    tol = parse_tolerance(tolerance)
    findings: list[Finding] = []
    for doc in manifest.documents:
        triples = [q.triple for q in store.quads_for_pattern(None, None, None, NamedNode(doc.graph))]
        findings.extend(validate_document(triples, ref, doc.file, tol, doc.sha256))
    report = make_report(manifest.validation_graph, base, tol, findings)
    graph = NamedNode(report.graph)
    store.clear_graph(graph)
    store.bulk_extend(Quad(t.subject, t.predicate, t.object, graph) for t in report.triples)
    store.flush()
    report.write(build_dir / "validation")
    return report
