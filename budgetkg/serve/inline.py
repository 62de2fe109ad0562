"""Evaluate provably small queries in the HTTP process instead of handing them to a worker.

Handing a query to a killable worker process and back costs about a millisecond — more than a
point lookup itself, and the reason ``budgetkg serve`` answered lookups 4–9× slower than
``oxigraph serve`` on the same store (issue #12). A query of the shape

    [PREFIX p: <iri>]* SELECT [?v…|*] [WHERE] { s p o [.] } [LIMIT n]      (or ASK { s p o })

where each of s, p, o is a variable, an IRI, a prefixed name or a plain literal, cannot run
away: it is one index scan of the store, and every triple the scan visits is a result row, so
its cost is bounded by the rows it returns — which this module caps at :data:`INLINE_ROWS`
(and :data:`INLINE_BYTES`). When the cap is reached, the inline answer is dropped and the query
goes to a worker as usual, with the server's full limits. No ``DISTINCT``, ``ORDER BY``,
``OFFSET``, ``FILTER``, property paths, sub-queries or functions are accepted here (each can
make the engine scan without returning rows).

The shape is checked by one anchored regular expression over the whole text, with no
backslash, ``#`` or long string allowed anywhere: there are no escapes, so the regular
expression and the engine cannot disagree about where a string ends, and a query that
matches contains exactly one triple pattern — no ``SERVICE`` — whatever else it says.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from budgetkg.serve.execute import (
    RESULT_FORMATS,
    Job,
    Outcome,
    _ByteCap,
    _RowCap,
    _served,
    capped_results,
    capped_tsv,
    json_rows,
    served_results,
    stored_query,
    tsv_answer,
    xml_rows,
)

INLINE_ROWS = 2_000
INLINE_BYTES = 1 << 20

_IRI = r"<[^<>\"{}|^`\\\x00-\x20]*>"
_PNAME = r"(?:[A-Za-z][\w.-]*)?:[\w-]*(?:\.[\w-]+)*"
_VAR = r"[?$][A-Za-z_][\w]*"
_LANG = r"@[A-Za-z]+(?:-[A-Za-z0-9]+)*"
_LITERAL = r"\"[^\"\\\r\n]*\"(?:" + _LANG + r"|\^\^(?:" + _IRI + "|" + _PNAME + r"))?|[+-]?\d+(?:\.\d+)?"
_TERM = f"(?:{_IRI}|{_PNAME}|{_VAR})"
_OBJECT = f"(?:{_IRI}|{_PNAME}|{_VAR}|{_LITERAL})"
_PREDICATE = f"(?:{_IRI}|{_PNAME}|{_VAR}|a)"
BOUNDED = re.compile(
    rf"""\s*
    (?:PREFIX\s+(?:[A-Za-z][\w.-]*)?:\s*{_IRI}\s*)*
    (?:SELECT\s+(?P<select>\*\s*|(?:{_VAR}\s*)+)(?:WHERE\s*)?|ASK\s*(?:WHERE\s*)?)
    (?P<pattern>\{{\s*{_TERM}\s+{_PREDICATE}\s+{_OBJECT}\s*\.?\s*\}})
    \s*(?:LIMIT\s+\d{{1,9}}\s*)?
    """,
    re.VERBOSE | re.IGNORECASE,
)


_VARIABLE = re.compile(r"[?$][A-Za-z_]\w*")
_IRI_OR_STRING = re.compile(r'<[^>]*>|"[^"]*"')  # where a "?name" is text, not a variable
_LIMIT = re.compile(r"LIMIT\s+(\d{1,9})\s*$", re.IGNORECASE)


def lookup_shape(query: str) -> int | None:
    """None unless a query is one triple pattern and nothing else (see the module docstring);
    else how many variables each of its rows binds (the projected ones that occur in the
    pattern: every solution of one pattern binds all of its variables)."""
    if "\\" in query:  # no escapes at all (the expression below refuses them too)
        return None
    match = BOUNDED.fullmatch(query)
    if match is None:
        return None
    # A variable repeated in the pattern (``?x ?x ?x``) is a filter over a scan: it can visit
    # every quad of the store and return nothing, so it is not bounded by its rows.
    variables = [v[1:] for v in _VARIABLE.findall(_IRI_OR_STRING.sub(" ", match.group("pattern")))]
    if len(variables) != len(set(variables)):
        return None
    select = match.group("select")
    if select is None or select.strip() == "*":
        return len(variables)
    projected = {v[1:] for v in _VARIABLE.findall(select)}
    return len(projected & set(variables))


def bounded(query: str) -> bool:
    """Whether a query is one triple pattern and nothing else (see the module docstring)."""
    return lookup_shape(query) is not None


class InlineStore:
    """The store opened read-only in the HTTP process, for :func:`bounded` queries only."""

    def __init__(self, store_path: Path) -> None:
        self.store_path = store_path
        self._store: Any = None

    def open(self) -> None:
        import pyoxigraph as ox

        self._store = ox.Store.read_only(str(self.store_path))

    def run(self, job: Job, per_row: int | None = None) -> Outcome | None:
        """The answer, or None when the query is not for this path or outgrew its caps.

        Evaluated with a LIMIT of the cap + 1 and serialised by Oxigraph itself straight into the
        requested format (JSON and XML; CSV by way of TSV, where an IRI can be told from a literal),
        rows counted from the serialisation and IRIs rewritten in it exactly, so a lookup costs the
        engine's time plus a few microseconds of Python. ``per_row``: :func:`lookup_shape` of the
        query when the caller has it already.
        """
        import pyoxigraph as ox

        if self._store is None or job.native or job.bindings or job.result_format is None:
            return None
        if per_row is None:
            per_row = lookup_shape(job.query)
            if per_row is None:
                return None
        text = stored_query(job.query, job.rewrite)
        cap = min(job.max_rows, INLINE_ROWS)
        byte_cap = min(job.max_bytes, INLINE_BYTES)
        m = _LIMIT.search(text)
        asked = int(m.group(1)) if m else None
        limit = cap + 1 if asked is None else min(asked, cap + 1)
        text = (text[: m.start()] if m else text) + f" LIMIT {limit}"
        kwargs: dict = {}
        if job.default_graphs is not None or job.named_graphs is not None:
            back = (job.rewrite[1], job.rewrite[0]) if job.rewrite else None
            kwargs["default_graph"] = [ox.NamedNode(_served(g, back)) for g in job.default_graphs or []]
            kwargs["named_graphs"] = [ox.NamedNode(_served(g, back)) for g in job.named_graphs or []]
        else:
            kwargs["use_default_graph_as_union"] = True
        if job.base_iri:
            kwargs["base_iri"] = job.base_iri
        fmt_name = job.result_format
        fmt = RESULT_FORMATS[fmt_name]
        try:
            result = self._store.query(text, **kwargs)
            if isinstance(result, ox.QueryBoolean):
                return Outcome(status=200, kind="ask", format=fmt_name, body=result.serialize(format=fmt), rows=1)
            if fmt_name == "xml" or (fmt_name == "json" and per_row > 0):
                body = capped_results(result, fmt, byte_cap)
                rows = xml_rows(body) if fmt_name == "xml" else json_rows(body, per_row)
                if rows > cap:
                    return None
                body = served_results(body, fmt_name, job.rewrite)
            else:  # TSV, CSV, or JSON rows without a term to count
                tsv = capped_tsv(result, cap, byte_cap)
                body, rows = tsv_answer(tsv, fmt_name, job.rewrite)
        except (_RowCap, _ByteCap):
            return None  # larger than the inline caps: a worker answers with the real limits
        except (SyntaxError, ValueError, OSError, RuntimeError):
            return None  # let a worker answer with its full error reporting
        if len(body) > byte_cap:
            return None
        return Outcome(status=200, kind="select", format=fmt_name, body=body, rows=rows)
