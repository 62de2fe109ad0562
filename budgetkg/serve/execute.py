"""What a query worker process does with one job: check, evaluate, cap, serialise.

Everything that can take long or use much memory happens here, inside a process the server
can kill, and the result is complete before the HTTP process sends a status line — so a
client never gets a 200 that is cut off later.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyoxigraph as ox

from budgetkg.serve import guard, nesting

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
    max_bytes: int = 16 * 1024 * 1024  # ServeConfig.max_bytes; the answer's size, counted as it grows
    result_format: str | None = "json"  # for SELECT/ASK; None: no acceptable format (406)
    graph_format: str | None = "turtle"  # for CONSTRUCT/DESCRIBE
    default_graphs: list[str] | None = None  # protocol dataset (default-graph-uri)
    named_graphs: list[str] | None = None  # protocol dataset (named-graph-uri)
    native: bool = False
    bindings: dict[str, str] = field(default_factory=dict)  # variable -> IRI, pre-bound
    prefixes: dict[str, str] = field(default_factory=dict)  # for Turtle output
    base_iri: str | None = None
    check: bool = True  # run the safety check (off only for the server's own queries)
    rewrite: tuple[str, str] | None = None  # (stored base, served base): see Site.rewrites_base


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


def _served(iri: str, rewrite: tuple[str, str] | None) -> str:
    """An IRI as the client sees it: the stored base replaced by the served one."""
    if rewrite is not None and iri.startswith(rewrite[0]):
        return rewrite[1] + iri[len(rewrite[0]) :]
    return iri


def _served_term(t: Any, rewrite: tuple[str, str] | None) -> Any:
    if rewrite is None:
        return t
    if isinstance(t, ox.NamedNode):
        return ox.NamedNode(_served(t.value, rewrite))
    if isinstance(t, ox.Triple):
        return ox.Triple(
            _served_term(t.subject, rewrite), _served_term(t.predicate, rewrite), _served_term(t.object, rewrite)
        )
    return t


def stored_query(text: str, rewrite: tuple[str, str] | None) -> str:
    """The query with IRIs under the served base written under the stored one (IRI refs only)."""
    if rewrite is None:
        return text
    return text.replace("<" + rewrite[1], "<" + rewrite[0])


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


def too_many_bytes(max_bytes: int) -> Outcome:
    return Outcome(
        status=413,
        message=(
            f"Result too large: this answer is bigger than {max_bytes} bytes, the limit of this "
            "server (one value can be that large on its own). Select fewer or shorter values, or "
            "download the whole graph from /dumps/ (see /catalog.ttl) and query it locally."
        ),
    )


def term_size(t: Any) -> int:
    """Characters a term adds to an answer (value, datatype, language): the byte cap's measure."""
    if t is None:
        return 0
    if isinstance(t, ox.Literal):
        return len(t.value) + len(t.datatype.value) + len(t.language or "") + 8
    if isinstance(t, ox.Triple):
        return term_size(t.subject) + term_size(t.predicate) + term_size(t.object)
    return len(t.value) + 8


def _open_kwargs(job: Job, info: guard.QueryInfo) -> dict[str, Any]:
    """Dataset of the query: protocol dataset, else the query's FROM, else the union."""
    kw: dict[str, Any] = {}
    if job.default_graphs is not None or job.named_graphs is not None:
        back = (job.rewrite[1], job.rewrite[0]) if job.rewrite else None
        kw["default_graph"] = [ox.NamedNode(_served(g, back)) for g in job.default_graphs or []]
        kw["named_graphs"] = [ox.NamedNode(_served(g, back)) for g in job.named_graphs or []]
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
            deep = nesting.too_deep(job.query)
            if deep:
                return Outcome(status=400, message=deep)
            guard.check(job.query, strict=not sandboxed)
        info = guard.classify(job.query)
        result = store.query(stored_query(job.query, job.rewrite), **_open_kwargs(job, info))
    except guard.Refused as exc:
        return Outcome(status=exc.status, message=exc.message)
    except SyntaxError as exc:
        return Outcome(status=400, message=f"SPARQL syntax error: {exc}")
    except ValueError as exc:
        return Outcome(status=400, message=f"Invalid request: {exc}")
    except RuntimeError as exc:
        # Oxigraph reports what it cannot evaluate (an unknown custom function, an unsupported
        # feature) as RuntimeError before evaluation starts: the query's fault, so 400.
        return Outcome(status=400, message=f"Query not supported: {exc}")
    except OSError as exc:
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


class _RowCap(Exception):
    """More rows than the cap: serialisation stopped."""


class _ByteCap(Exception):
    """More bytes than the cap: serialisation stopped."""


class _CappedBuffer:
    """A file-like sink for Oxigraph's serialiser that stops it at a row or byte cap."""

    def __init__(self, max_rows: int, max_bytes: int) -> None:
        self.max_lines = max_rows + 1  # the header line
        self.max_bytes = max_bytes
        self.lines = 0
        self.size = 0
        self.chunks: list[bytes] = []

    def write(self, data: bytes) -> int:
        chunk = bytes(data)
        self.lines += chunk.count(b"\n")
        self.size += len(chunk)
        if self.lines > self.max_lines:
            raise _RowCap
        if self.size > self.max_bytes:
            raise _ByteCap
        self.chunks.append(chunk)
        return len(chunk)

    def flush(self) -> None:
        pass


def capped_tsv(result: Any, max_rows: int, max_bytes: int) -> bytes:
    """SELECT results as SPARQL TSV, written by Oxigraph itself and stopped at the caps.

    Raises ``_RowCap`` or ``_ByteCap`` (the serialiser's write fails, so it stops at once)."""
    sink = _CappedBuffer(max_rows, max_bytes)
    try:
        result.serialize(sink, ox.QueryResultsFormat.TSV)
    except (_RowCap, _ByteCap):
        raise
    except Exception as exc:  # the caps raised inside the serialiser may come back wrapped
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, _RowCap | _ByteCap):
            raise cause from None
        if sink.lines > sink.max_lines:
            raise _RowCap from exc
        if sink.size > sink.max_bytes:
            raise _ByteCap from exc
        raise
    return b"".join(sink.chunks)


def capped_results(result: Any, fmt: Any, max_bytes: int) -> bytes:
    """SELECT results in ``fmt``, written by Oxigraph itself and stopped once they pass
    ``max_bytes`` (raises ``_ByteCap``); rows are not counted here (see :func:`served_results`)."""
    sink = _CappedBuffer(1 << 62, max_bytes)
    try:
        result.serialize(sink, fmt)
    except _ByteCap:
        raise
    except Exception as exc:
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, _ByteCap) or sink.size > sink.max_bytes:
            raise _ByteCap from exc
        raise
    return b"".join(sink.chunks)


# Where an IRI term starts in Oxigraph's JSON and XML results. Neither sequence can occur inside
# a value: JSON escapes every quote of a string (so an unescaped ``"type":"uri"`` is markup), XML
# escapes every ``<`` of text (so ``<uri>`` is an element).
_JSON_IRI = b'{"type":"uri","value":"'
_XML_IRI = b"<uri>"
_JSON_TERM = b'{"type":"'
_JSON_TRIPLE = b'{"type":"triple"'


def served_results(body: bytes, result_format: str, rewrite: tuple[str, str] | None) -> bytes:
    """JSON or XML results with IRIs under the stored base shown under the served one, exactly
    (IRI terms only, as :func:`tsv_answer` does for TSV; a datatype or a literal is left alone)."""
    if rewrite is None:
        return body
    mark = _JSON_IRI if result_format == "json" else _XML_IRI
    return body.replace(mark + rewrite[0].encode(), mark + rewrite[1].encode())


def json_rows(body: bytes, terms_per_row: int) -> int:
    """Rows of SPARQL JSON results whose every row binds ``terms_per_row`` variables.

    Counted from the term objects (``{"type":"`` cannot occur inside a string, see above); an
    RDF-star triple term is one object holding three more, which are taken off again.
    """
    terms = body.count(_JSON_TERM) - 3 * body.count(_JSON_TRIPLE)
    return terms // terms_per_row


def xml_rows(body: bytes) -> int:
    """Rows of SPARQL XML results (``<result>`` cannot occur inside a value, see above)."""
    return body.count(b"<result>")


def tsv_answer(tsv: bytes, result_format: str, rewrite: tuple[str, str] | None) -> tuple[bytes, int]:
    """(body in the requested format, rows) from TSV results; IRIs under the stored base shown
    under the served one — exactly: in TSV an IRI term is ``<…>`` at the start of a field."""
    rows = tsv.count(b"\n") - 1
    if rewrite is not None:
        old, new = ("<" + rewrite[0]).encode(), ("<" + rewrite[1]).encode()
        tsv = tsv.replace(b"\t" + old, b"\t" + new).replace(b"\n" + old, b"\n" + new)
    if result_format == "tsv":
        return tsv, rows
    parsed = ox.parse_query_results(tsv, ox.QueryResultsFormat.TSV)
    return parsed.serialize(format=RESULT_FORMATS[result_format]), rows


def _materialise(result: Any, job: Job) -> Outcome:
    if isinstance(result, ox.QueryBoolean):
        value = bool(result)
        if job.native:
            return Outcome(status=200, kind="ask", data=value, rows=1)
        if job.result_format is None:
            return Outcome(status=406, kind="ask", message="")
        body = result.serialize(format=RESULT_FORMATS[job.result_format])
        return Outcome(status=200, kind="ask", format=job.result_format, body=body, rows=1)
    if isinstance(result, ox.QuerySolutions) and not job.native:
        if job.result_format is None:
            return Outcome(status=406, kind="select")
        try:
            tsv = capped_tsv(result, job.max_rows, job.max_bytes)
        except _RowCap:
            return too_large(job.max_rows)
        except _ByteCap:
            return too_many_bytes(job.max_bytes)
        body, rows = tsv_answer(tsv, job.result_format, job.rewrite)
        if len(body) > job.max_bytes:
            return too_many_bytes(job.max_bytes)
        return Outcome(status=200, kind="select", format=job.result_format, body=body, rows=rows)
    if isinstance(result, ox.QuerySolutions):
        variables = [v.value for v in result.variables]
        rows: list[Any] = []
        size = 0
        for solution in result:
            if len(rows) >= job.max_rows:
                return too_large(job.max_rows)
            size += sum(term_size(solution[v]) for v in variables) + 4
            if size > job.max_bytes:
                return too_many_bytes(job.max_bytes)
            rows.append(solution)
        data = {  # native (the server's own pages): Python terms
            "vars": variables,
            "rows": [{v: to_term(s[v]) for v in variables if s[v] is not None} for s in rows],
        }
        return Outcome(status=200, kind="select", data=data, rows=len(rows))
    triples: list[ox.Triple] = []
    size = 0
    for triple in result:
        if len(triples) >= job.max_rows:
            return too_large(job.max_rows)
        size += term_size(triple) + 4
        if size > job.max_bytes:
            return too_many_bytes(job.max_bytes)
        triples.append(triple)
    if job.native:
        data = [(to_term(t.subject), to_term(t.predicate), to_term(t.object)) for t in triples]
        return Outcome(status=200, kind="graph", data=data, rows=len(triples))
    if job.graph_format is None:
        return Outcome(status=406, kind="graph")
    fmt = GRAPH_FORMATS[job.graph_format]
    if job.rewrite is not None:
        triples = [_served_term(t, job.rewrite) for t in triples]
    kwargs: dict[str, Any] = {}
    if job.prefixes and fmt in (ox.RdfFormat.TURTLE, ox.RdfFormat.RDF_XML, ox.RdfFormat.JSON_LD):
        kwargs["prefixes"] = used_prefixes(triples, job.prefixes)
    body = ox.serialize(triples, format=fmt, **kwargs) or b""
    if len(body) > job.max_bytes:
        return too_many_bytes(job.max_bytes)
    return Outcome(status=200, kind="graph", format=job.graph_format, body=body, rows=len(triples))
