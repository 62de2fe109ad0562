"""Small HTML building blocks with escaping done in one place (no template engine needed).

Every piece of data goes through :func:`esc` (text) or :func:`attr` (attribute values); the
only raw HTML is what these functions build, so data cannot inject markup.
"""

from __future__ import annotations

import html
import json
from decimal import Decimal, InvalidOperation
from typing import Any

from budgetkg.serve.site import PREFIXES

XSD = "http://www.w3.org/2001/XMLSchema#"
NUMERIC = {XSD + t for t in ("decimal", "integer", "int", "long", "double", "float")}


def esc(value: object) -> str:
    return html.escape(str(value), quote=False)


def attr(value: object) -> str:
    return html.escape(str(value), quote=True)


def script_json(data: Any) -> str:
    """JSON safe to embed in a <script> element (no closing tag, no HTML comment opener)."""
    text = json.dumps(data, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


LINK_SCHEMES = ("http://", "https://")


def safe_href(target: str) -> str | None:
    """A link target a browser may follow: a server-relative path or an http(s) URL.

    IRIs in the data or in query results can be anything (``javascript:…``, ``data:…``); those
    are shown as text, never made live links.
    """
    if target.startswith("/") and not target.startswith("//"):
        return target
    if target.lower().startswith(LINK_SCHEMES):
        return target
    return None


def compact(iri: str) -> str:
    """``prefix:local`` for known namespaces, else the IRI itself."""
    for prefix, ns in PREFIXES.items():
        if iri.startswith(ns) and len(iri) > len(ns):
            local = iri[len(ns) :]
            if all(c.isalnum() or c in "-_." for c in local):
                return f"{prefix}:{local}"
    return iri


def fmt_amount(value: str | Decimal, places: int = 2) -> str:
    """Thousands separators and fixed decimals, as budgets are printed."""
    try:
        d = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return str(value)
    return f"{d:,.{places}f}"


def to_decimal(value: object) -> Decimal | None:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


CSS_LINK = '<link rel="stylesheet" href="/static/app.css">'


def breadcrumbs(crumbs: list[tuple[str, str | None]]) -> str:
    """``首页 › … › here``: (label, server-relative href or None for the current page)."""
    if not crumbs:
        return ""
    items = ['<a href="/">首页 Home</a>']
    for label, target in crumbs:
        safe = safe_href(target) if target else None
        items.append(
            f'<a href="{attr(safe)}">{esc(label)}</a>' if safe else f'<span aria-current="page">{esc(label)}</span>'
        )
    return '<nav class="crumbs" aria-label="breadcrumbs">' + " › ".join(items) + "</nav>"


def search_form(query: str = "", *, cls: str = "search") -> str:
    """The search box of every page (a plain GET form: works without JavaScript)."""
    return (
        f'<form class="{attr(cls)}" method="get" action="/search" role="search">'
        f'<input type="search" name="q" value="{attr(query)}" placeholder="搜索 单位、项目、科目… Search" '
        'aria-label="Search">'
        '<button type="submit">搜索</button></form>'
    )


def layout(
    title: str,
    body: str,
    *,
    head: str = "",
    site_title: str = "budgetkg",
    crumbs: list[tuple[str, str | None]] | None = None,
    query: str = "",
) -> str:
    """Whole page: header with navigation and search, breadcrumbs, main content, footer."""
    return f"""<!DOCTYPE html>
<html lang="zh-Hans">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(title)} · {esc(site_title)}</title>
{CSS_LINK}
{head}
</head>
<body>
<header class="top">
  <a class="brand" href="/">{esc(site_title)}</a>
  <nav>
    <a href="/">预算 Budgets</a>
    <a href="/id/org/">单位 Organisations</a>
    <a href="/id/project/">项目 Projects</a>
    <a href="/def/code/">科目 Codes</a>
    <a href="/query">SPARQL 查询 Query</a>
    <a href="/validation">校验 Validation</a>
    <a href="/dumps/">下载 Downloads</a>
    <a href="/catalog.ttl">DCAT</a>
  </nav>
  {search_form(query)}
</header>
<main>
{breadcrumbs(crumbs or [])}
{body}
</main>
<footer>Data: budgetkg build · <a href="/sparql">SPARQL endpoint</a> · <a href="/lines.csv">lines.csv</a> ·
<a href="/.well-known/void">VoID</a> · <a href="/catalog.jsonld">catalog (JSON-LD)</a></footer>
</body>
</html>
"""


def table(headers: list[str], rows: list[list[str]], *, cls: str = "data") -> str:
    """A table whose cells are already-escaped HTML fragments."""
    head = "".join(f"<th>{h}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f'<table class="{attr(cls)}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
