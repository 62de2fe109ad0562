"""The SPARQL endpoint's lean path: one-pattern lookups answered before the page machinery.

A point lookup (``SELECT ?p ?o WHERE { <iri> ?p ?o }``) costs the engine about 150 µs on the
sample; Starlette's router, the CORS, gzip and security-header middlewares and the protocol code
around it cost as much again, which is why ``budgetkg serve`` answered lookups several times
slower than ``oxigraph serve`` on the same store (issue #12). This layer sits outside all of
them and answers, from the raw ASGI scope, exactly the requests whose answer it can give in
full and identically to the full path:

* ``GET``/``HEAD`` on ``/sparql`` with one ``query`` parameter (and at most ``format``/``output``),
  no dataset parameters, no ``Origin`` header (CORS answers stay with the CORS middleware);
* a query of :func:`budgetkg.serve.inline.lookup_shape` (one triple pattern, nothing else: it
  cannot run away, so it needs neither the guard nor a killable worker) for which a results
  format is acceptable and which is not a browser asking for the editor;
* an answer within the in-process caps (:data:`budgetkg.serve.inline.INLINE_ROWS`).

Everything else — errors included — falls through to the full application, which gives the
answer it always gave (and does not evaluate the lookup a second time: see
:data:`budgetkg.serve.sparql.INLINE_TRIED`). The answer carries the same headers as the full
path's: the security headers of :class:`budgetkg.serve.app.Hardened`, and, for a client that
accepts gzip, it goes through the same gzip middleware.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from budgetkg.serve import sparql
from budgetkg.serve.inline import lookup_shape
from budgetkg.serve.negotiation import RESULT_FORMATS, by_name, negotiate, prefers_html
from budgetkg.serve.site import Site

ENDPOINT_PATHS = frozenset({"/sparql", "/sparql/"})
_ALLOWED_PARAMS = frozenset({"query", "format", "output"})

Answer = tuple[list[tuple[bytes, bytes]], bytes]  # (headers, body) of a 200


def quick_answer(site: Site, scope: Scope) -> Answer | None:
    """The whole 200 answer to a lookup, or None to let the full application answer."""
    inline = site.pool.inline
    if inline is None:
        return None
    accept: str | None = None
    for name, value in scope["headers"]:
        if name == b"accept":
            accept = value.decode("latin-1")
        elif name == b"origin":
            return None
    try:
        params = sparql._parse_qs(scope.get("query_string", b""), "URL query string")
    except sparql.ProtocolError:
        return None
    query: str | None = None
    fmt_name: str | None = None
    for key, value in params:
        if key not in _ALLOWED_PARAMS:
            return None
        if key == "query":
            if query is not None:
                return None
            query = value
        else:
            fmt_name = value
    if query is None or (fmt_name is None and prefers_html(accept)):
        return None
    per_row = lookup_shape(query)
    if per_row is None:
        return None
    fmt = by_name(fmt_name, RESULT_FORMATS) if fmt_name else negotiate(accept, RESULT_FORMATS)
    if fmt is None:
        return None
    request = Request(scope)
    job = sparql.query_job(site, request, query, fmt, None, [], [])
    outcome = inline.run(job, per_row)
    if outcome is None:
        scope[sparql.INLINE_TRIED] = True
        return None
    headers = [(b"content-type", fmt.content_type.encode("latin-1"))]
    extra = sparql.answer_headers(fmt, outcome)
    if site.config.cors:  # what the CORS layer adds to an answer to a request without Origin
        extra["Vary"] += ", Origin"
    headers += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in extra.items()]
    return headers, (b"" if scope["method"] == "HEAD" else outcome.body)


class LookupFastPath:
    """Outermost ASGI layer: lookups answered by :func:`quick_answer`, all else passed on.

    ``site``: the running server's :class:`Site` (None before start-up and after shutdown);
    ``security_headers``: the headers every answer of this server carries.
    """

    def __init__(
        self,
        app: ASGIApp,
        site: Callable[[], Site | None],
        security_headers: tuple[tuple[bytes, bytes], ...],
        gzip_minimum_size: int,
        gzip_level: int,
    ) -> None:
        self.app = app
        self.site = site
        self.security_headers = list(security_headers)
        self.gzip_minimum_size = gzip_minimum_size
        self.gzip_level = gzip_level

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD") and scope["path"] in ENDPOINT_PATHS:
            site = self.site()
            answer = quick_answer(site, scope) if site is not None else None
            if answer is not None:
                await self._send(scope, receive, send, *answer)
                return
        await self.app(scope, receive, send)

    async def _send(self, scope: Scope, receive: Receive, send: Send, headers: list, body: bytes) -> None:
        message = {"type": "http.response.body", "body": body, "more_body": False}
        encodings = next((value for name, value in scope["headers"] if name == b"accept-encoding"), b"")
        if b"gzip" not in encodings:
            if len(body) >= self.gzip_minimum_size:  # what the gzip layer says of a body it could compress
                headers = [(k, v + b", Accept-Encoding" if k == b"vary" else v) for k, v in headers]
            await send({"type": "http.response.start", "status": 200, "headers": headers + self.security_headers})
            await send(message)
            return
        start = {"type": "http.response.start", "status": 200, "headers": headers + self.security_headers}

        async def answer(scope: Scope, receive: Receive, send: Send) -> None:
            await send(start)
            await send(message)

        # The full path's own gzip layer decides (encoding, Vary, Content-Length) as it does there.
        await GZipMiddleware(answer, minimum_size=self.gzip_minimum_size, compresslevel=self.gzip_level)(
            scope, receive, send
        )
