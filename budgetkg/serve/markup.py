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


def layout(
    title: str,
    body: str,
    *,
    head: str = "",
    site_title: str = "budgetkg",
    crumbs: list[tuple[str, str | None]] | None = None,
    query: str = "",
) -> str:
    """Whole page around HTML built here: ``templates/base.html`` (header, search, breadcrumbs,
    footer). ``body`` and ``head`` must be HTML made with :func:`esc`/:func:`attr`."""
    from budgetkg.serve.templating import render

    safe_crumbs = [(label, safe_href(target) if target else None) for label, target in crumbs or []]
    return render(
        "base.html", title=title, body=body, head=head, site_title=site_title, crumbs=safe_crumbs, query=query
    )


def table(headers: list[str], rows: list[list[str]], *, cls: str = "data") -> str:
    """A table whose cells are already-escaped HTML fragments."""
    head = "".join(f"<th>{h}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f'<table class="{attr(cls)}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
