"""Stage 5: validate the budget's arithmetic and consistency with SHACL.

Each document is validated on its own (its graph plus the reference code lists), so the cost
grows linearly with the number of documents. The shapes (shapes/*.ttl) stay the only statement
of what is checked; how they are evaluated is split by what they are:

- SHACL-SPARQL shapes (`sh:sparql` on a named node shape with plain targets, almost all of
  ours) are evaluated by Oxigraph directly on the document's store (`SparqlCheck`): the
  focus nodes found once per target, the query pre-bound with `$this` when there is one focus
  node (every `bk:Budget` shape: one budget per document), or evaluated once for all of them
  and joined with the focus nodes when there are more. That is what pyshacl does, without its
  per-constraint overhead (query text rewritten, results converted to rdflib terms, a result
  graph built and read back: 0.3 s of the sample's 1 s).
- Everything else (SHACL-core property shapes such as `bks:ConceptShape`, and any shape the
  fast path does not recognise as its own, see `_compile_shape`) goes to pyshacl.

Rounding: a check marked `bks:roundingTier` (shapes/arithmetic.ttl) means itself plus a
Warning-severity twin for differences within the tolerance (`ROUNDING_FILTER` →
`ROUNDING_TWIN_FILTER`), so 尾数误差 are reported but never counted as violations. The fast path
evaluates the check once with both filters' union (`?diffAbs > 0`) and classes each result by
`?diffAbs` against `?limit`; `reference_shapes_graph()` writes the twins out as shapes, which is
what plain pyshacl validates with (the reference tests/test_validation.py compares against).
The tolerance itself is one triple of the data graph (`settings_triples`), read by the queries.
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
from typing import Any, NamedTuple

import rdflib
from pyoxigraph import BlankNode, Literal, NamedNode, Quad, Store, Triple, Variable
from rdflib.namespace import RDF as R_RDF
from rdflib.namespace import RDFS as R_RDFS
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

#: A `bks:roundingTier` check ends its query with this filter (a real mismatch) …
ROUNDING_FILTER = "FILTER (?diffAbs > ?limit)"
#: … and its rounding twin keeps the differences within the limit instead,
ROUNDING_TWIN_FILTER = "FILTER (?diffAbs > 0 && ?diffAbs <= ?limit)"
#: with the check's message after this, at Warning severity, as the shape IRI + this suffix.
ROUNDING_MESSAGE = "rounding difference (尾数误差) within tolerance: "
ROUNDING_SUFFIX = "-Rounding"
#: What one evaluation of a rounding check keeps: the check's results and its twin's.
ROUNDING_EITHER_FILTER = "FILTER (?diffAbs > 0)"


def _cheap_truthiness() -> None:
    """pyshacl evaluates `datagraph or shapes_graph` once per result; on an Oxigraph-backed
    data graph that counts every triple each time (seconds per document). A data graph handed
    to pyshacl here is never empty, so its truth value need not count anything."""
    from pyshacl import graph_abstraction

    cls = getattr(graph_abstraction, "OxigraphDataGraph", None)
    if cls is not None and "__bool__" not in cls.__dict__:
        cls.__bool__ = lambda self: True


@cache
def _pyshacl() -> Any:
    """pyshacl, imported when a shape needs it (0.1 s; a build's workers inherit it from the
    warm-up of `shapes_part`)."""
    import pyshacl
    import pyshacl.errors

    _cheap_truthiness()
    return pyshacl


@cache
def shapes_graph() -> rdflib.Graph:
    """All shapes/*.ttl as written (parsed once per process; a new file there is one more)."""
    g = rdflib.Graph()
    for path in sorted(SHAPES_DIR.glob("*.ttl")):
        g.parse(path, format="turtle")
    for shape in g.subjects(BKS.roundingTier, rdflib.Literal(True)):
        for constraint in g.objects(shape, SH.sparql):
            if ROUNDING_FILTER not in str(g.value(constraint, SH.select) or ""):
                raise ValueError(
                    f"shapes: {shape} is a bks:roundingTier check without “{ROUNDING_FILTER}” in its query"
                )
    return g


def with_rounding_twins(shapes: rdflib.Graph) -> rdflib.Graph:
    """A copy of `shapes` plus the Warning-severity rounding twin of each `bks:roundingTier`
    check, as shapes of their own: what a plain SHACL processor validates with."""
    g = rdflib.Graph()
    for triple in shapes:
        g.add(triple)
    for shape in list(g.subjects(BKS.roundingTier, rdflib.Literal(True))):
        twin = rdflib.URIRef(str(shape) + ROUNDING_SUFFIX)
        g.add((twin, SH.severity, SH.Warning))  # whatever the check's severity (by default sh:Violation)
        for p, o in list(g.predicate_objects(shape)):
            if p == SH.severity:
                continue
            if p == SH.sparql:
                node = rdflib.BNode()
                g.add((twin, p, node))
                for p2, o2 in list(g.predicate_objects(o)):
                    if p2 == SH.select:
                        g.add((node, p2, rdflib.Literal(str(o2).replace(ROUNDING_FILTER, ROUNDING_TWIN_FILTER))))
                    elif p2 == SH.message:
                        g.add((node, p2, rdflib.Literal(ROUNDING_MESSAGE + str(o2))))
                    else:
                        g.add((node, p2, o2))
            elif p != BKS.roundingTier:
                g.add((twin, p, o))
    return g


@cache
def reference_shapes_graph() -> rdflib.Graph:
    """The shapes with their rounding twins written out (for `validate_reference`)."""
    return with_rounding_twins(shapes_graph())


#: What a shape costs relative to the others (its time alone on the sample, in units of about
#: 10 ms, its rounding twin included; unlisted shapes 1). Only used to split the shapes into
#: parts of about equal cost, see `shape_parts`.
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
        return SHAPE_COST.get(name.removeprefix(str(BKS)), 1)

    groups: list[list[str]] = [[] for _ in range(max(1, parts))]
    loads = [0] * len(groups)
    for name in sorted(names, key=lambda n: (-cost(n), n)):
        least = loads.index(min(loads))
        groups[least].append(name)
        loads[least] += cost(name)
    return [tuple(sorted(g)) for g in groups]


def _without(shapes: rdflib.Graph, names: Iterable[rdflib.term.Node]) -> rdflib.Graph:
    """A copy of `shapes` without the named shapes (each with its property shapes, SPARQL
    constraints and lists: everything reachable through blank nodes)."""
    g = rdflib.Graph()
    for triple in shapes:
        g.add(triple)
    todo: list[rdflib.term.Node] = list(names)
    while todo:
        node = todo.pop()
        for p, o in list(g.predicate_objects(node)):
            g.remove((node, p, o))
            if isinstance(o, rdflib.BNode):
                todo.append(o)
    return g


@cache
def _part_graph(part: int, parts: int) -> rdflib.Graph:
    if parts <= 1:
        return shapes_graph()
    others = [rdflib.URIRef(n) for i, group in enumerate(shape_parts(parts)) if i != part for n in group]
    return _without(shapes_graph(), others)


def shapes_part(part: int, parts: int) -> rdflib.Graph:
    """The shapes graph without the named shapes of the other parts. Made once per process,
    with the checks compiled from it (`compiled_part`), so forked workers inherit both."""
    compiled_part(part, parts)
    return _part_graph(part, parts)


# --- SHACL-SPARQL shapes, evaluated by Oxigraph ------------------------------------------------

#: Predicates a shape evaluated as a `SparqlCheck` may carry; any other (a core constraint such
#: as sh:property, sh:deactivated, a shape-level sh:message, sh:target …) leaves it to pyshacl.
_SPARQL_SHAPE_PREDICATES = frozenset(
    {
        R_RDF.type,
        R_RDFS.label,
        R_RDFS.comment,
        SH.severity,
        SH.sparql,
        SH.targetClass,
        SH.targetNode,
        SH.targetSubjectsOf,
        SH.targetObjectsOf,
        BKS.roundingTier,
    }
)
_SPARQL_CONSTRAINT_PREDICATES = frozenset(
    {R_RDF.type, R_RDFS.label, R_RDFS.comment, SH.select, SH.message, SH.prefixes}
)
#: What a constraint's query must not use to be evaluated here: what pyshacl refuses (MINUS,
#: VALUES, SERVICE) or binds in ways of its own ($PATH, $currentShape, $shapesGraph, ?failure,
#: ?path), and rebinding $this. (Keywords, not variables of the same name: `?limit` is no LIMIT.)
_NOT_HERE = re.compile(
    r"(?<![?$\w])(MINUS|VALUES|SERVICE)\b|\$PATH\b|[?$](currentShape|shapesGraph|failure|path)\b"
    r"|\bAS\s+[?$]this\b",
    re.I,
)
_COMMENT = re.compile(r"(?m)(^|(?<=\s))#.*$")
_SELECT = re.compile(r"(?<![?$\w])SELECT\s+(?:(?:DISTINCT|REDUCED)\s+)?", re.I)
_PROJECTION_END = re.compile(r"(?<![?$\w])WHERE\b|\{", re.I)
_THIS = re.compile(r"[?$]this\b")
#: A query evaluated once for many focus nodes is joined with them as a subquery: one that
#: declares its own prefixes, or limits its results, must run once per focus node instead.
_PER_FOCUS_ONLY = re.compile(r"(?<![?$\w])(PREFIX|BASE|LIMIT|OFFSET)\b", re.I)


def _blank_comments(query: str) -> str:
    """The query with its comments blanked out (same length, so positions stay those of the
    query). A `#` inside an IRI follows a non-space and stays."""
    return _COMMENT.sub(lambda m: " " * len(m.group(0)), query)


def _projections(query: str) -> list[tuple[int, str]]:
    """(end of the SELECT keyword, projection text) of each SELECT of a comment-free query,
    the outermost first."""
    out = []
    for m in _SELECT.finditer(query):
        end = _PROJECTION_END.search(query, m.end())
        out.append((m.end(), query[m.end() : end.start() if end else len(query)]))
    return out


@dataclass(frozen=True)
class SparqlCheck:
    """One `sh:sparql` constraint of a named node shape, evaluated on the store directly.

    `query` is the constraint's SELECT as written, or for a rounding check (`rounding`) with
    its filter loosened to keep its twin's results too (`ROUNDING_EITHER_FILTER`) and
    `?diffAbs ?limit` projected for the classing (`extra`: the ones the query did not project
    itself). `whole_graph`: the query may be evaluated once for several focus nodes, joined
    with them (every nested SELECT projects `$this`, as SHACL requires of the outermost one)."""

    shape: str
    severity: str  # Violation | Warning | Info
    query: str
    message: str
    prefixes: tuple[tuple[str, str], ...]
    targets: str  # a SELECT of the focus nodes (?this), see `_targets_query`
    rounding: bool = False
    extra: tuple[str, ...] = ()
    whole_graph: bool = False


@dataclass(frozen=True)
class CompiledShapes:
    """A shapes graph as evaluated: its SPARQL checks, and the rest for pyshacl (None: nothing)."""

    checks: tuple[SparqlCheck, ...]
    core: rdflib.Graph | None


def _declared_prefixes(shapes: rdflib.Graph, constraint: rdflib.term.Node) -> dict[str, str]:
    """The prefixes a constraint's query may use, as pyshacl gives them: those of the data
    graph (rdflib's core ones), then its sh:prefixes declarations (and those of the ontologies
    of the shapes graph, unless it names an ontology itself)."""
    out = {p: str(ns) for p, ns in rdflib.Graph(bind_namespaces="core").namespaces()}
    ontologies = set(shapes.subjects(R_RDF.type, rdflib.OWL.Ontology))
    for holder in shapes.objects(constraint, SH.prefixes):
        sources = {holder} if holder in ontologies else {holder, *ontologies}
        for source in sources:
            for declaration in shapes.objects(source, SH.declare):
                out[str(shapes.value(declaration, SH.prefix))] = str(shapes.value(declaration, SH.namespace))
    return out


def _targets_query(shapes: rdflib.Graph, shape: rdflib.term.Node) -> str | None:
    """A SELECT of the shape's focus nodes, as pyshacl finds them: its target nodes (whether in
    the data or not), the instances of its target classes and of their subclasses, the
    subjects and objects of its target predicates. None: a target this cannot state."""
    union = []
    nodes = list(shapes.objects(shape, SH.targetNode))
    if any(isinstance(n, rdflib.BNode) for n in nodes):
        return None
    if nodes:
        union.append("{ VALUES ?this { " + " ".join(n.n3() for n in nodes) + " } }")
    for cls in shapes.objects(shape, SH.targetClass):
        union.append(f"{{ ?this <{R_RDF.type}>/<{R_RDFS.subClassOf}>* {cls.n3()} }}")
    for p in shapes.objects(shape, SH.targetSubjectsOf):
        union.append(f"{{ ?this {p.n3()} ?targetObject }}")
    for p in shapes.objects(shape, SH.targetObjectsOf):
        union.append(f"{{ ?targetSubject {p.n3()} ?this }}")
    if not union:
        return None
    return "SELECT DISTINCT ?this WHERE { " + " UNION ".join(union) + " }"


def _compile_shape(shapes: rdflib.Graph, shape: rdflib.term.Node) -> list[SparqlCheck] | None:
    """The `SparqlCheck`s of a named node shape, or None when pyshacl is to validate it:
    anything but SPARQL constraints with one message each on plain targets, or a query this
    cannot evaluate as pyshacl would (`_NOT_HERE`)."""
    if not isinstance(shape, rdflib.URIRef) or any(shapes.subject_predicates(shape)):
        return None  # referenced from another shape: pyshacl validates it there
    if set(shapes.predicates(shape)) - _SPARQL_SHAPE_PREDICATES or set(shapes.objects(shape, R_RDF.type)) != {
        SH.NodeShape
    }:
        return None
    targets = _targets_query(shapes, shape)
    if targets is None:
        return None
    severity = shapes.value(shape, SH.severity) or SH.Violation
    rounding = (shape, BKS.roundingTier, rdflib.Literal(True)) in shapes
    checks = []
    for constraint in shapes.objects(shape, SH.sparql):
        selects, messages = list(shapes.objects(constraint, SH.select)), list(shapes.objects(constraint, SH.message))
        if (
            set(shapes.predicates(constraint)) - _SPARQL_CONSTRAINT_PREDICATES
            or len(selects) != 1
            or len(messages) != 1
        ):
            return None
        query = str(selects[0])
        plain = _blank_comments(query)
        projections = _projections(plain)
        if _NOT_HERE.search(plain) or not projections or not _THIS.search(projections[0][1]):
            return None
        base = SparqlCheck(
            shape=str(shape),
            severity=str(severity).rsplit("#", 1)[-1],
            query=query,
            message=str(messages[0]),
            prefixes=tuple(sorted(_declared_prefixes(shapes, constraint).items())),
            targets=targets,
            whole_graph=not _PER_FOCUS_ONLY.search(plain) and all(_THIS.search(p) for _, p in projections),
        )
        checks.extend(_rounding_checks(base) if rounding else [base])
    return checks


def _rounding_checks(check: SparqlCheck) -> list[SparqlCheck]:
    """A rounding check as one evaluation (`ROUNDING_EITHER_FILTER`, classed by `?diffAbs`
    against `?limit`), or as itself and its twin when its projection cannot take
    `?diffAbs ?limit` (a `SELECT *`, or an outer GROUP BY that does not group them)."""
    after_select, projection = _projections(_blank_comments(check.query))[0]
    projected = set(re.findall(r"[?$](\w+)", projection))
    extra = tuple(v for v in ("diffAbs", "limit") if v not in projected)
    if projection.strip().startswith("*"):
        extra = ()
    query = check.query.replace(ROUNDING_FILTER, ROUNDING_EITHER_FILTER)
    query = query[:after_select] + "".join(f"?{v} " for v in extra) + query[after_select:]
    try:
        Store().query(query, prefixes=dict(check.prefixes))  # on nothing: only whether it parses
    except SyntaxError:
        twin = SparqlCheck(
            **{
                **check.__dict__,
                "shape": check.shape + ROUNDING_SUFFIX,
                "severity": "Warning",
                "query": check.query.replace(ROUNDING_FILTER, ROUNDING_TWIN_FILTER),
                "message": ROUNDING_MESSAGE + check.message,
            }
        )
        return [check, twin]
    return [SparqlCheck(**{**check.__dict__, "query": query, "rounding": True, "extra": extra})]


#: What makes a shape validate focus nodes (SHACL 2.1.3; sh:target is pyshacl's advanced one).
_TARGET_PREDICATES = (SH.targetClass, SH.targetNode, SH.targetSubjectsOf, SH.targetObjectsOf, SH.target)


@cache
def compiled_part(part: int = 0, parts: int = 1) -> CompiledShapes:
    """The shapes of `part` of `parts` as evaluated, compiled once per process."""
    return compile_shapes(_part_graph(part, parts))


def compile_shapes(shapes: rdflib.Graph) -> CompiledShapes:
    """A shapes graph as evaluated: its SPARQL shapes as `SparqlCheck`s, the rest for pyshacl."""
    checks: list[SparqlCheck] = []
    compiled = []
    for shape in sorted(set(shapes.subjects(SH.sparql, None)), key=str):
        found = _compile_shape(shapes, shape)
        if found is not None:
            checks.extend(found)
            compiled.append(shape)
    core = _without(shapes, compiled)
    targeted = any(next(core.triples((None, p, None)), None) for p in _TARGET_PREDICATES)
    if not (targeted or next(core.subjects(R_RDF.type, R_RDFS.Class), None)):
        return CompiledShapes(tuple(checks), None)
    _pyshacl()
    return CompiledShapes(tuple(checks), core)


def _text(term: Any) -> str:
    """A term as pyshacl puts it into a message: through rdflib (which writes some literals'
    lexical forms anew, e.g. 1.0E0 as 1.0)."""
    if isinstance(term, Literal):
        if term.language:
            return str(rdflib.Literal(term.value, lang=term.language))
        return str(rdflib.Literal(term.value, datatype=rdflib.URIRef(term.datatype.value)))
    return term.value


def _format_message(template: str, bound: dict[str, Any]) -> str:
    """`{?var}` / `{$var}` of a message replaced by the results' values, as pyshacl does."""
    msg = template
    for var, val in bound.items():
        msg = re.sub(f"{{[?$]{var}}}", _text(val), msg)
    return msg


class RawResult(NamedTuple):
    """One result of a check, before it is located in the document."""

    severity: str
    shape: str
    focus: str
    value: str | None
    value_is_iri: bool  # the value is a node of the graph: the finding is located by it
    message: str


def _run_check(store: Store, check: SparqlCheck, focus: list[Any]) -> list[RawResult]:
    """The results of one check on the store for its focus nodes, deduplicated as pyshacl does
    (one result per focus node and distinct projected values), rounding ones classed."""
    prefixes = dict(check.prefixes)
    if len(focus) > 1 and check.whole_graph and not any(isinstance(f, BlankNode) for f in focus):
        values = " ".join(str(f) for f in focus)
        runs = [
            (
                None,
                store.query(f"SELECT * WHERE {{ VALUES ?this {{ {values} }} {{ {check.query} }} }}", prefixes=prefixes),
            )
        ]
    else:
        runs = [(f, store.query(check.query, prefixes=prefixes, substitutions={Variable("this"): f})) for f in focus]
    # per (focus, distinct projected values): whether it is a real mismatch, a rounding one, or both
    found: dict[tuple, list[bool]] = {}
    for f, solutions in runs:
        names = [v.value for v in solutions.variables]
        for sol in solutions:
            bound = {n: sol[n] for n in names if sol[n] is not None and n not in check.extra}
            this = bound.pop("this", None)
            value = bound.pop("value", None)
            key = (this if this is not None else f, value, tuple(bound.items()), this)
            kinds = found.setdefault(key, [False, False])
            if not check.rounding:
                kinds[0] = True
                continue
            try:
                diff, limit = Decimal(sol["diffAbs"].value), Decimal(sol["limit"].value)
                kinds[0] = kinds[0] or diff > limit
                kinds[1] = kinds[1] or 0 < diff <= limit
            except (InvalidOperation, AttributeError):  # not a number (or unbound): no result, as in SPARQL
                continue
    out: list[RawResult] = []
    for (focus_node, value, rest, this), (real, rounding) in found.items():
        value = value if value is not None else focus_node
        bound = dict(rest)
        if this is not None:
            bound["this"] = this
        bound["value"] = value
        located = isinstance(value, NamedNode)
        if real:
            message = _format_message(check.message, bound)
            out.append(RawResult(check.severity, check.shape, _text(focus_node), _text(value), located, message))
        if rounding:
            message = _format_message(ROUNDING_MESSAGE + check.message, bound)
            twin = check.shape + ROUNDING_SUFFIX
            out.append(RawResult("Warning", twin, _text(focus_node), _text(value), located, message))
    return out


def _sparql_results(store: Store, checks: Iterable[SparqlCheck]) -> list[RawResult]:
    focus: dict[str, list[Any]] = {}
    out: list[RawResult] = []
    for check in checks:
        if check.targets not in focus:
            focus[check.targets] = [sol["this"] for sol in store.query(check.targets)]
        if focus[check.targets]:
            out.extend(_run_check(store, check, focus[check.targets]))
    return out


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
    return validate_loaded(document_store(doc_triples, ref_triples, tol), document, sha256)


def document_store(doc_triples: list[Triple], ref_triples: list[Triple], tol: Decimal) -> Store:
    """The store one document is validated on: its graph, the reference graph, the settings."""
    store = Store()
    store.bulk_extend(Quad(t.subject, t.predicate, t.object) for t in doc_triples)
    store.bulk_extend(Quad(t.subject, t.predicate, t.object) for t in ref_triples)
    store.bulk_extend(Quad(t.subject, t.predicate, t.object) for t in settings_triples(tol))
    return store


def validate_loaded(store: Store, document: str, sha256: str = "", part: int = 0, parts: int = 1) -> list[Finding]:
    """Validate a store that already holds one document's graph, the reference graph and the
    settings (a parallel build loads them from N-Triples, cheaper than Python triples); only
    with the shapes of `part` of `parts` (see `shape_parts`) when the work is shared out."""
    return validate_with(store, compiled_part(part, parts), document, sha256)


def validate_with(store: Store, shapes: CompiledShapes, document: str, sha256: str = "") -> list[Finding]:
    results = _sparql_results(store, shapes.checks)
    if shapes.core is not None:
        results.extend(_pyshacl_results(store, shapes.core))
    return [_finding(r, store, document, sha256) for r in results]


def validate_reference(
    store: Store, document: str, sha256: str = "", shapes: rdflib.Graph | None = None
) -> list[Finding]:
    """Plain pyshacl with every shape and its rounding twin written out (`shapes`: others, as
    written): what `validate_with` must find, finding for finding (tests/test_validation_reference.py)."""
    twins = reference_shapes_graph() if shapes is None else with_rounding_twins(shapes)
    return [_finding(r, store, document, sha256) for r in _pyshacl_results(store, twins)]


def _pyshacl_results(store: Store, shapes: rdflib.Graph) -> list[RawResult]:
    pyshacl = _pyshacl()
    _conforms, results, _report = pyshacl.validate(
        store, shacl_graph=shapes, inference="none", advanced=False, allow_warnings=True
    )
    if isinstance(results, pyshacl.errors.ValidationFailure):
        raise RuntimeError(f"SHACL validation could not run: {results}")
    out = []
    for result in results.subjects(R_RDF.type, SH.ValidationResult):
        severity = str(results.value(result, SH.resultSeverity)).rsplit("#", 1)[-1]
        shape = results.value(result, SH.sourceShape)
        value = results.value(result, SH.value)
        message = str(results.value(result, SH.resultMessage) or "")
        path = results.value(result, SH.resultPath)
        if path is not None and not message.startswith("rounding"):
            message = f"{path.n3().rsplit('#', 1)[-1].rstrip('>')}: {message}"
        out.append(
            RawResult(
                severity,
                _shape_of(shapes, shape) or str(shape),
                str(results.value(result, SH.focusNode)),
                str(value) if value is not None else None,
                isinstance(value, rdflib.URIRef),
                message,
            )
        )
    return out


@cache
def _check_label(shape: str) -> str:
    """The English label of the shape a result came from (a rounding twin: of its check)."""
    labels = [str(o) for o in shapes_graph().objects(rdflib.URIRef(shape.removesuffix(ROUNDING_SUFFIX)), R_RDFS.label)]
    return next((lab for lab in labels if re.search(r"[a-z]", lab)), labels[0] if labels else "")


def _finding(result: RawResult, store: Store, document: str, sha256: str) -> Finding:
    table, table_no, row, pages = _locate(store, result.focus, result.value if result.value_is_iri else None)
    diff = re.search(r"difference (-?[\d.]+)", result.message)
    return Finding(
        severity=result.severity,
        shape=result.shape,
        check=_check_label(result.shape) if result.shape.startswith("http") else "",
        focus=result.focus,
        value=result.value,
        message=result.message,
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
