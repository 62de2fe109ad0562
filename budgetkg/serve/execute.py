"""What a query worker process does with one job: check, evaluate, cap, serialise.

Everything that can take long or use much memory happens here, inside a process the server
can kill, and the result is complete before the HTTP process sends a status line — so a
client never gets a 200 that is cut off later.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pyoxigraph as ox

from budgetkg.serve import guard

XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
RDF_LANGSTRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"

RESULT_FORMATS = {
    "json": ox.QueryResultsFormat.JSON,
    "xml": ox.QueryResultsFormat.XML,
    "csv": ox.QueryResultsFormat.CSV,
    "tsv": ox.QueryResultsFormat.TSV,
}
GRAPH_FORMATS = {
    "turtle": ox.RdfFormat.TURTLE,
    "ntriples": ox.RdfFormat.N_TRIPLES,
    "jsonld": ox.RdfFormat.JSON_LD,
    "rdfxml": ox.RdfFormat.RDF_XML,
}


@dataclass(slots=True)
class Job:
    """One query to run. ``native`` jobs return Python terms (for pages), others bytes."""

    query: str
    max_rows: int
    result_format: str | None = "json"  # for SELECT/ASK; None: no acceptable format (406)
    graph_format: str | None = "turtle"  # for CONSTRUCT/DESCRIBE
    default_graphs: list[str] | None = None  # protocol dataset (default-graph-uri)
    named_graphs: list[str] | None = None  # protocol dataset (named-graph-uri)
    native: bool = False
    bindings: dict[str, str] = field(default_factory=dict)  # variable -> IRI, pre-bound
    prefixes: dict[str, str] = field(default_factory=dict)  # for Turtle output
    base_iri: str | None = None
    check: bool = True  # run the safety check (off only for the server's own queries)


@dataclass(slots=True)
class Outcome:
    """The answer to a job: an HTTP status, and either bytes or native data."""

    status: int
    kind: str = "error"  # select | ask | graph | error
    format: str | None = None
    body: bytes = b""
    data: Any = None
    message: str = ""
    rows: int = 0


# A term travels between processes as (kind, value, datatype, language).
Term = tuple[str, str, str | None, str | None]


def to_term(t: Any) -> Term:
    """Encode a pyoxigraph term as a plain picklable tuple."""
    if isinstance(t, ox.NamedNode):
        return ("uri", t.value, None, None)
    if isinstance(t, ox.BlankNode):
        return ("bnode", t.value, None, None)
    if isinstance(t, ox.Literal):
        return ("literal", t.value, t.datatype.value, t.language)
    if isinstance(t, ox.Triple):
        return ("triple", str(t), None, None)
    return ("literal", str(t), None, None)


def _json_term(t: Any) -> dict[str, Any]:
    if isinstance(t, ox.NamedNode):
        return {"type": "uri", "value": t.value}
    if isinstance(t, ox.BlankNode):
        return {"type": "bnode", "value": t.value}
    if isinstance(t, ox.Literal):
        out: dict[str, Any] = {"type": "literal", "value": t.value}
        if t.language:
            out["xml:lang"] = t.language
            direction = getattr(t, "direction", None)
            if direction is not None:
                out["its:dir"] = str(direction).rsplit(".", 1)[-1].lower()
        elif t.datatype.value != XSD_STRING:
            out["datatype"] = t.datatype.value
        return out
    if isinstance(t, ox.Triple):
        return {
            "type": "triple",
            "value": {
                "subject": _json_term(t.subject),
                "predicate": _json_term(t.predicate),
                "object": _json_term(t.object),
            },
        }
    raise TypeError(f"unexpected term {t!r}")


def used_prefixes(triples: list[ox.Triple], prefixes: dict[str, str]) -> dict[str, str]:
    """Only the prefixes whose namespace occurs, so small answers stay small."""
    iris: set[str] = set()
    for t in triples:
        for term in (t.subject, t.predicate, t.object):
            if isinstance(term, ox.NamedNode):
                iris.add(term.value)
            elif isinstance(term, ox.Literal):
                iris.add(term.datatype.value)
    return {p: ns for p, ns in prefixes.items() if any(i.startswith(ns) for i in iris)}


def too_large(max_rows: int) -> Outcome:
    return Outcome(
        status=413,
        message=(
            f"Result too large: this query returns more than {max_rows} rows (or triples), the "
            "limit of this server. Add LIMIT/OFFSET to page through the results, or download "
            "the whole graph from /dumps/ (see /catalog.ttl) and query it locally."
        ),
    )


def _open_kwargs(job: Job, info: guard.QueryInfo) -> dict[str, Any]:
    """Dataset of the query: protocol dataset, else the query's FROM, else the union."""
    kw: dict[str, Any] = {}
    if job.default_graphs is not None or job.named_graphs is not None:
        kw["default_graph"] = [ox.NamedNode(g) for g in job.default_graphs or []]
        kw["named_graphs"] = [ox.NamedNode(g) for g in job.named_graphs or []]
    elif not info.has_dataset_clause:
        kw["use_default_graph_as_union"] = True
    if job.bindings:
        kw["substitutions"] = {ox.Variable(k): ox.NamedNode(v) for k, v in job.bindings.items()}
    if job.base_iri:
        kw["base_iri"] = job.base_iri
    return kw


def run_job(store: ox.Store, job: Job, sandboxed: bool = True) -> Outcome:
    """Run one job against the store; never raises for bad queries (returns an Outcome).

    ``sandboxed``: this process cannot open network sockets (:mod:`budgetkg.serve.sandbox`);
    when it is not, the guard refuses any query that mentions ``service`` at all.
    """
    try:
        if job.check:
            guard.check(job.query, strict=not sandboxed)
        info = guard.classify(job.query)
        result = store.query(job.query, **_open_kwargs(job, info))
    except guard.Refused as exc:
        return Outcome(status=exc.status, message=exc.message)
    except SyntaxError as exc:
        return Outcome(status=400, message=f"SPARQL syntax error: {exc}")
    except ValueError as exc:
        return Outcome(status=400, message=f"Invalid request: {exc}")
    except (OSError, RuntimeError) as exc:
        return Outcome(status=500, message=f"Query failed: {exc}")
    except Exception as exc:  # noqa: BLE001 - a worker must survive any bad query
        return Outcome(status=500, message=f"Query failed: {type(exc).__name__}: {exc}")
    try:
        return _materialise(result, job)
    except OSError as exc:
        return Outcome(status=500, message=f"Query evaluation failed: {exc}")
    except (SyntaxError, ValueError, TypeError) as exc:
        return Outcome(status=400, message=f"Query evaluation failed: {exc}")
    except Exception as exc:  # noqa: BLE001 - a worker must survive any bad query
        return Outcome(status=500, message=f"Query failed: {type(exc).__name__}: {exc}")


def _materialise(result: Any, job: Job) -> Outcome:
    if isinstance(result, ox.QueryBoolean):
        value = bool(result)
        if job.native:
            return Outcome(status=200, kind="ask", data=value, rows=1)
        if job.result_format is None:
            return Outcome(status=406, kind="ask", message="")
        body = result.serialize(format=RESULT_FORMATS[job.result_format])
        return Outcome(status=200, kind="ask", format=job.result_format, body=body, rows=1)
    if isinstance(result, ox.QuerySolutions):
        variables = [v.value for v in result.variables]
        rows: list[Any] = []
        for solution in result:
            if len(rows) >= job.max_rows:
                return too_large(job.max_rows)
            rows.append(solution)
        if job.native:
            data = {
                "vars": variables,
                "rows": [{v: to_term(s[v]) for v in variables if s[v] is not None} for s in rows],
            }
            return Outcome(status=200, kind="select", data=data, rows=len(rows))
        if job.result_format is None:
            return Outcome(status=406, kind="select")
        doc = {
            "head": {"vars": variables},
            "results": {"bindings": [{v: _json_term(s[v]) for v in variables if s[v] is not None} for s in rows]},
        }
        body = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()
        if job.result_format != "json":
            parsed = ox.parse_query_results(body, ox.QueryResultsFormat.JSON)
            body = parsed.serialize(format=RESULT_FORMATS[job.result_format])
        return Outcome(status=200, kind="select", format=job.result_format, body=body, rows=len(rows))
    triples: list[ox.Triple] = []
    for triple in result:
        if len(triples) >= job.max_rows:
            return too_large(job.max_rows)
        triples.append(triple)
    if job.native:
        data = [(to_term(t.subject), to_term(t.predicate), to_term(t.object)) for t in triples]
        return Outcome(status=200, kind="graph", data=data, rows=len(triples))
    if job.graph_format is None:
        return Outcome(status=406, kind="graph")
    fmt = GRAPH_FORMATS[job.graph_format]
    kwargs: dict[str, Any] = {}
    if job.prefixes and fmt in (ox.RdfFormat.TURTLE, ox.RdfFormat.RDF_XML, ox.RdfFormat.JSON_LD):
        kwargs["prefixes"] = used_prefixes(triples, job.prefixes)
    body = ox.serialize(triples, format=fmt, **kwargs) or b""
    return Outcome(status=200, kind="graph", format=job.graph_format, body=body, rows=len(triples))
