"""What pages do to values before a template shows them: safe link targets, compact IRIs,
amounts as printed, JSON for a script island.

No markup is built here (or anywhere in Python): templates make it and Jinja2 escapes data.
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Any

from budgetkg.serve.site import PREFIXES

XSD = "http://www.w3.org/2001/XMLSchema#"
NUMERIC = {XSD + t for t in ("decimal", "integer", "int", "long", "double", "float")}


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
