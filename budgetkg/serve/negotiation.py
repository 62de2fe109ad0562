"""HTTP content negotiation: Accept header with q-values, plus a ``format`` parameter override.

One table of formats serves the SPARQL endpoint, resource pages and descriptions alike, so a
client gets the same media types everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True, slots=True)
class Format:
    """A representation the server can produce."""

    name: str  # internal name, also what workers receive
    media_type: str  # sent in Content-Type (charset added for text types)
    aliases: tuple[str, ...]  # accepted values of the ``format`` parameter and file suffixes
    also: tuple[str, ...] = ()  # further media types that select this format

    @property
    def content_type(self) -> str:
        textual = self.media_type.startswith("text/") or self.media_type.endswith(
            ("+json", "+xml", "/json", "/xml", "/n-triples", "/html", "ld+json")
        )
        return f"{self.media_type}; charset=utf-8" if textual else self.media_type


SPARQL_JSON = Format("json", "application/sparql-results+json", ("json", "srj"), ("application/json",))
SPARQL_XML = Format("xml", "application/sparql-results+xml", ("xml", "srx"), ("application/xml", "text/xml"))
SPARQL_CSV = Format("csv", "text/csv", ("csv",))
SPARQL_TSV = Format("tsv", "text/tab-separated-values", ("tsv",))
TURTLE = Format("turtle", "text/turtle", ("turtle", "ttl"), ("application/x-turtle",))
NTRIPLES = Format("ntriples", "application/n-triples", ("ntriples", "nt", "n-triples"), ("text/plain",))
JSONLD = Format("jsonld", "application/ld+json", ("jsonld", "json-ld"), ("application/json",))
RDFXML = Format("rdfxml", "application/rdf+xml", ("rdfxml", "rdf", "xml"), ("application/xml", "text/xml"))
HTML = Format("html", "text/html", ("html", "htm"), ("application/xhtml+xml",))
CSV = Format("csv", "text/csv", ("csv",))

RESULT_FORMATS: tuple[Format, ...] = (SPARQL_JSON, SPARQL_XML, SPARQL_CSV, SPARQL_TSV)
GRAPH_FORMATS: tuple[Format, ...] = (TURTLE, NTRIPLES, JSONLD, RDFXML)


@dataclass(frozen=True, slots=True)
class _Range:
    type: str
    subtype: str
    q: float
    specificity: int


def parse_accept(header: str | None) -> list[_Range]:
    """Parse an Accept header into media ranges, ignoring malformed parts."""
    if not header:
        return [_Range("*", "*", 1.0, 0)]
    ranges: list[_Range] = []
    for part in header.split(","):
        fields = [f.strip() for f in part.split(";")]
        mt = fields[0].lower()
        if "/" not in mt:
            if mt == "*":
                mt = "*/*"
            else:
                continue
        typ, _, sub = mt.partition("/")
        q = 1.0
        params = 0
        for f in fields[1:]:
            key, _, value = f.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = max(0.0, min(1.0, float(value.strip())))
                except ValueError:
                    q = 0.0
            elif key.strip():
                params += 1
        spec = 0 if typ == "*" else (1 if sub == "*" else 2 + params)
        ranges.append(_Range(typ, sub, q, spec))
    return ranges


def _quality(ranges: list[_Range], media_type: str) -> tuple[float, int]:
    typ, _, sub = media_type.lower().partition("/")
    best: _Range | None = None
    for r in ranges:
        matches = r.type in ("*", typ) and r.subtype in ("*", sub)
        if matches and (best is None or r.specificity > best.specificity):
            best = r
    return (best.q, best.specificity) if best else (0.0, -1)


@lru_cache(maxsize=512)  # clients send a handful of distinct Accept headers; each costs µs to parse
def negotiate(accept: str | None, formats: tuple[Format, ...]) -> Format | None:
    """Best format for an Accept header: highest q, then most specific match, then our order."""
    ranges = parse_accept(accept)
    best: tuple[float, int, int, int] | None = None
    chosen: Format | None = None
    for order, fmt in enumerate(formats):
        for k, mt in enumerate((fmt.media_type, *fmt.also)):
            q, spec = _quality(ranges, mt)
            if q <= 0:
                continue
            key = (q, spec, int(k == 0), -order)  # a format's own media type beats an alias
            if best is None or key > best:
                best, chosen = key, fmt
    return chosen


def by_name(value: str, formats: tuple[Format, ...]) -> Format | None:
    """Resolve a ``format`` parameter (alias or media type) within the given formats."""
    v = value.strip().lower()
    for fmt in formats:
        if v in fmt.aliases or v == fmt.media_type or v in fmt.also:
            return fmt
    return None


@lru_cache(maxsize=512)
def prefers_html(accept: str | None) -> bool:
    """True when the client ranks HTML at least as high as any RDF or results format."""
    if not accept:
        return False
    ranges = parse_accept(accept)
    html_q, html_spec = _quality(ranges, "text/html")
    if html_q <= 0 or html_spec < 2:
        return False
    others = [_quality(ranges, f.media_type) for f in (*RESULT_FORMATS, *GRAPH_FORMATS)]
    return all((q, s) <= (html_q, html_spec) for q, s in others)
