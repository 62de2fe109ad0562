"""The query page: YASGUI served from local files, or a plain form when it is not installed.

YASGUI is configured for this endpoint only (no endpoint catalogue, endpoint-specific
``persistenceId``) and without the term autocompleters that call an external vocabulary
service, so the page works offline. Without the vendor files a plain form runs the query on
the server and shows the rows as an HTML table, and says how to install the editor.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response

from budgetkg.serve import guard, nesting
from budgetkg.serve.execute import Job
from budgetkg.serve.markup import attr, compact, esc, layout, safe_href, script_json
from budgetkg.serve.site import Site
from budgetkg.serve.workers import PoolError

INSTALL_HINT = (
    "The full query editor (YASGUI) is not installed. Install it once with "
    "<code>bash scripts/install_ui.sh</code> (needs npm); it is then served from this server, "
    "offline."
)

DEFAULT_QUERY = """PREFIX bk: <https://w3id.org/budgetkg/def#>
PREFIX qb: <http://purl.org/linked-data/cube#>
SELECT ?obs ?label ?amount WHERE {
  ?obs a qb:Observation ; bk:amount ?amount .
  OPTIONAL { ?obs bk:rowLabel ?label }
}
ORDER BY DESC(?amount)
LIMIT 20
"""


def _origin(request: Request) -> str:
    site: Site = request.app.state.site
    return site.origin(request)


def _examples_html(site: Site, yasgui: bool) -> str:
    if not site.examples:
        return ""
    items = []
    for i, ex in enumerate(site.examples):
        if yasgui:
            items.append(f'<li><button type="button" class="example" data-example="{i}">{esc(ex.title)}</button></li>')
        else:
            items.append(f'<li><a href="/query?example={attr(ex.name)}">{esc(ex.title)}</a></li>')
    return '<section class="examples"><h2>示例查询 Examples</h2><ul>' + "".join(items) + "</ul></section>"


async def query_page(request: Request, site: Site, query: str | None = None) -> Response:
    """``/query`` (and ``/sparql`` for browsers)."""
    try:
        parse_qsl(request.scope.get("query_string", b"").decode("latin-1"), errors="strict")
    except UnicodeDecodeError:
        return PlainTextResponse(
            "The URL query string has a percent-escape that is not UTF-8.\n",
            status_code=400,
            headers={"Cache-Control": "no-store"},
        )
    params = request.query_params
    if query is None:
        query = params.get("query")
    example = params.get("example")
    if query is None and example:
        query = next((e.query for e in site.examples if e.name == example), None)
    headers = {"Vary": "Accept", "Cache-Control": "no-cache"}
    if site.has_vendor_ui and params.get("ui") != "plain":
        return HTMLResponse(_yasgui_page(request, site, query), headers=headers)
    body = await _plain_page(request, site, query, run=params.get("run") is not None)
    return HTMLResponse(body, headers=headers)


def _yasgui_page(request: Request, site: Site, query: str | None) -> str:
    config = {
        # Relative: query.js resolves it against the page's own address, so the editor talks to
        # the server that served it, whatever Host the request carried.
        "endpoint": "/sparql",
        "query": query,
        "defaultQuery": site.examples[0].query if site.examples else DEFAULT_QUERY,
        "examples": [{"title": e.title, "query": e.query} for e in site.examples],
    }
    head = (
        '<link rel="stylesheet" href="/static/vendor/yasgui/yasgui.min.css">\n'
        '<script src="/static/vendor/yasgui/yasgui.min.js"></script>'
    )
    body = f"""<h1>SPARQL 查询 Query</h1>
<p class="hint">Endpoint <code>{esc(_origin(request) + "/sparql")}</code> · read-only ·
time limit {site.config.timeout:g} s · at most {site.config.max_rows} rows ·
<a href="/query?ui=plain">plain form</a></p>
{_examples_html(site, True)}
<div id="yasgui"></div>
<script id="budgetkg-config" type="application/json">{script_json(config)}</script>
<script src="/static/query.js"></script>"""
    return layout("SPARQL", body, head=head, site_title=site.config.title)


async def _plain_page(request: Request, site: Site, query: str | None, run: bool) -> str:
    text = query if query is not None else (site.examples[0].query if site.examples else DEFAULT_QUERY)
    hint = "" if site.has_vendor_ui else f'<p class="notice" id="install-hint">{INSTALL_HINT}</p>'
    results = ""
    if run and query:
        results = await _run_for_page(site, query)
    body = f"""<h1>SPARQL 查询 Query</h1>
{hint}
{_examples_html(site, False)}
<form method="get" action="/query" class="plain-query">
<input type="hidden" name="ui" value="plain">
<textarea name="query" rows="14" cols="100" spellcheck="false">{esc(text)}</textarea>
<p><button type="submit" name="run" value="1">运行 Run</button>
or download the results as
<button type="submit" formaction="/sparql" name="format" value="csv">CSV</button>
<button type="submit" formaction="/sparql" name="format" value="json">JSON</button></p>
</form>
<div id="results">{results}</div>"""
    return layout("SPARQL", body, site_title=site.config.title)


async def _run_for_page(site: Site, query: str) -> str:
    deep = nesting.too_deep(query)
    if deep:
        return f'<p class="error">{esc(deep)}</p>'
    try:
        guard.refuse_early(query)
    except guard.Refused as exc:
        return f'<p class="error">{esc(exc.message)}</p>'
    job = Job(query=query, max_rows=site.config.max_rows, max_bytes=site.config.max_bytes, native=True)
    try:
        outcome = await site.run(job)
    except PoolError as exc:
        return f'<p class="error">{esc(exc.message)}</p>'
    if outcome.status != 200:
        return f'<p class="error">{esc(outcome.status)}: {esc(outcome.message)}</p>'
    if outcome.kind == "ask":
        return f'<p class="boolean">{"true" if outcome.data else "false"}</p>'
    if outcome.kind == "graph":
        rows = [[_cell(site, s), _cell(site, p), _cell(site, o)] for s, p, o in outcome.data]
        header = ["subject", "predicate", "object"]
    else:
        header = list(outcome.data["vars"])
        rows = [[_cell(site, r.get(v)) for v in header] for r in outcome.data["rows"]]
    head = "".join(f"<th>?{esc(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return (
        f'<p class="count">{len(rows)} rows</p>'
        f'<table class="data results"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
    )


def _cell(site: Site, term: tuple | None) -> str:
    if term is None:
        return ""
    kind, value = term[0], term[1]
    if kind == "uri":
        target = safe_href(site.build.local_path(value) or value)
        if target is None:
            return f'<span class="iri">{esc(value)}</span>'
        return f'<a href="{attr(target)}">{esc(compact(value))}</a>'
    if kind == "bnode":
        return f"_:{esc(value)}"
    lang = term[3]
    return esc(value) + (f'<span class="lang">@{esc(lang)}</span>' if lang else "")
