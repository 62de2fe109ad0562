"""Decide, before anything is evaluated, whether a SPARQL request may run on a read-only server.

This is the friendly layer: it answers updates, ``LOAD`` and ``SERVICE`` with a 403 and a
message at once. It is not what keeps federation out. A text guard is a second parser beside
the engine's, and two parsers can disagree about where a string ends: issue #12's bypass
(``VALUES ?v { "A\\u005C" } SERVICE <…> { } #"``) was a guard that applied SPARQL's ``\\u``
escapes over the whole query while Oxigraph applies them only inside strings and IRIs. What
makes ``SERVICE`` harmless is :mod:`budgetkg.serve.sandbox`: the worker that evaluates a query
cannot open a network socket at all.

Still, the guard should not be fooled where it can help it, so :func:`classify` tokenizes the
text both ways — as written (Oxigraph's reading) and with the codepoint escapes applied first
(the SPARQL 1.1 specification's reading, section 19.2) — and reports a keyword seen in either.

* :func:`refuse_early` runs in the HTTP process on every request.
* :func:`check` runs in the query worker before evaluation: the same, plus, for a query that
  contains the letters ``service`` at all, rdflib's parse tree must show no
  ``ServiceGraphPattern``; a query that cannot be parsed there is refused, not guessed at.
  ``strict`` (used when the worker could not be sandboxed) refuses any query whose text, read
  either way, contains ``service``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

UPDATE_KEYWORDS = frozenset({"INSERT", "DELETE", "LOAD", "CLEAR", "CREATE", "DROP", "COPY", "MOVE", "ADD", "WITH"})
QUERY_FORMS = frozenset({"SELECT", "ASK", "CONSTRUCT", "DESCRIBE"})


class Refused(Exception):
    """A request that this server will not run, with the HTTP status to answer it with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


READ_ONLY_MESSAGE = (
    "This SPARQL endpoint is read-only: SPARQL Update (INSERT, DELETE, LOAD, CLEAR, CREATE, "
    "DROP, COPY, MOVE, ADD) is not accepted. Download the data from /dumps/ to change it locally."
)
SERVICE_MESSAGE = (
    "Federated queries are disabled on this endpoint: SERVICE clauses are refused before "
    "evaluation. Query the remote endpoint directly, or load its data next to a dump of this one."
)

_ESCAPE = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})")
_PN_CHARS = r"[\w\u00B7\u0300-\u036F\u203F-\u2040-]"
_PN_LOCAL_CHAR = rf"(?:{_PN_CHARS}|:|%[0-9A-Fa-f]{{2}}|\\[_~.\-!$&'()*+,;=/?#@%])"
_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<comment>\#[^\r\n]*)
  | (?P<iri><[^<>"{}|^`\\\x00-\x20]*>)
  | (?P<string>\"\"\"(?:[^"\\]|\\.|"(?!""))*\"\"\"|'''(?:[^'\\]|\\.|'(?!''))*'''
                |"(?:[^"\\\r\n]|\\.)*"|'(?:[^'\\\r\n]|\\.)*')
  | (?P<var>[?$]"""
    + _PN_CHARS
    + r"""+)
  | (?P<bnode>_:(?:"""
    + _PN_CHARS
    + r"""|\.(?="""
    + _PN_CHARS
    + r"""))*)
  | (?P<pname>(?:[^\W\d_](?:"""
    + _PN_CHARS
    + r"""|\.(?="""
    + _PN_CHARS
    + r"""))*)?:(?:"""
    + _PN_LOCAL_CHAR
    + r"""|\.(?="""
    + _PN_LOCAL_CHAR
    + r"""))*)
  | (?P<word>[^\W\d]\w*)
  | (?P<number>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)
  | (?P<punct>\^\^|&&|\|\||!=|<=|>=|.)
    """,
    re.VERBOSE | re.DOTALL,
)


def unescape(text: str) -> str:
    """Apply SPARQL's codepoint escapes (section 19.2) so escaped keywords are seen too."""

    def repl(m: re.Match[str]) -> str:
        code = int(m.group(1) or m.group(2), 16)
        return chr(code) if code <= 0x10FFFF else m.group(0)

    return _ESCAPE.sub(repl, text)


def tokens(text: str, escapes: bool = True) -> list[tuple[str, str]]:
    """Split SPARQL text into (kind, text) tokens; whitespace and comments dropped.

    ``escapes``: apply the codepoint escapes before tokenizing (the specification's order);
    without, the text is read as Oxigraph reads it (escapes only count inside strings/IRIs).
    """
    out: list[tuple[str, str]] = []
    for m in _TOKEN.finditer(unescape(text) if escapes else text):
        kind = m.lastgroup or "punct"
        if kind in ("ws", "comment"):
            continue
        out.append((kind, m.group(0)))
    return out


@dataclass(frozen=True, slots=True)
class QueryInfo:
    """What the tokenizer saw: the operation's form and the keywords that matter for safety."""

    form: str | None  # SELECT, ASK, CONSTRUCT, DESCRIBE, UPDATE or None (unrecognised)
    keywords: frozenset[str] = field(default_factory=frozenset)

    @property
    def has_service(self) -> bool:
        return "SERVICE" in self.keywords

    @property
    def has_dataset_clause(self) -> bool:
        return "FROM" in self.keywords


def classify(text: str) -> QueryInfo:
    """Find the operation form and the bare keywords of a SPARQL request (tokenizer only).

    Keywords are collected from both readings of the text (with and without codepoint escapes
    applied first), so a keyword hidden from one reading is seen by the other.
    """
    raw = tokens(text, escapes=False)
    toks = tokens(text)
    words = frozenset(t.upper() for k, t in toks + raw if k == "word")
    form: str | None = None
    i = 0
    while i < len(toks):
        kind, tok = toks[i]
        up = tok.upper()
        if kind == "word" and up in ("BASE", "VERSION"):
            i += 2
            continue
        if kind == "word" and up == "PREFIX":
            i += 3
            continue
        if kind == "word" and up in QUERY_FORMS:
            form = up
        elif kind == "word" and up in UPDATE_KEYWORDS:
            form = "UPDATE"
        break
    return QueryInfo(form=form, keywords=words)


def refuse_early(text: str) -> QueryInfo:
    """Raise :class:`Refused` for updates, LOAD and visible SERVICE; return what was seen."""
    info = classify(text)
    if info.form == "UPDATE" or "LOAD" in info.keywords:
        raise Refused(403, READ_ONLY_MESSAGE)
    if info.has_service:
        raise Refused(403, SERVICE_MESSAGE)
    return info


def _parse_tree_names(text: str) -> set[str]:
    """Names of all rdflib parse-tree nodes of a query (raises on a syntax error)."""
    from pyparsing import ParseResults
    from rdflib.plugins.sparql.parser import parseQuery
    from rdflib.plugins.sparql.parserutils import CompValue

    names: set[str] = set()
    stack: list[object] = [parseQuery(text)]
    while stack:
        node = stack.pop()
        if isinstance(node, CompValue):
            names.add(node.name)
            stack.extend(node.values())
        elif isinstance(node, list | tuple | ParseResults):
            stack.extend(node)
        elif isinstance(node, dict):
            stack.extend(node.values())
    return names


def mentions_service(text: str) -> bool:
    """Whether the letters ``service`` occur anywhere, read with or without escapes applied."""
    return "service" in text.lower() or "service" in unescape(text).lower()


def check(text: str, strict: bool = False) -> None:
    """The worker's check before evaluation; raises :class:`Refused`."""
    info = refuse_early(text)
    if not mentions_service(text):
        return
    if strict:
        raise Refused(
            403,
            SERVICE_MESSAGE + " (This server could not sandbox its query workers, so any query that "
            "mentions 'service' is refused.)",
        )
    if info.has_service:  # pragma: no cover - refuse_early already raised
        raise Refused(403, SERVICE_MESSAGE)
    try:
        names = _parse_tree_names(text)
    except Exception as exc:  # noqa: BLE001 - any parser failure means "not verified"
        raise Refused(
            403,
            SERVICE_MESSAGE + " This query mentions 'service' and could not be checked by the server's "
            f"parser ({str(exc).splitlines()[0][:200]}).",
        ) from exc
    if "ServiceGraphPattern" in names:
        raise Refused(403, SERVICE_MESSAGE)
