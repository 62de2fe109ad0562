"""Jinja2 templates of the HTML pages (``budgetkg/serve/templates/*.html``), autoescaped.

Every page extends ``base.html`` (header, navigation, search box, breadcrumbs, footer), so a
web developer changes the look in one place. Data reaches templates as plain values (the view
models of :mod:`budgetkg.serve.views`) and is escaped by Jinja2; no markup is built in Python.
The shared pieces (links, terms, amounts, sum checks, charts) are the macros of ``_macros.html``.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from starlette.responses import HTMLResponse

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
ECHARTS = Path(__file__).resolve().parent / "static" / "vendor" / "echarts" / "echarts.min.js"


def _money(value: Decimal | str | None) -> str:
    from budgetkg.serve.markup import fmt_amount

    return "—" if value is None else fmt_amount(value)


ENV = Environment(
    loader=FileSystemLoader(str(TEMPLATES_DIR)),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
ENV.filters["money"] = _money


def _script_json(data: Any) -> Markup:
    """JSON for a ``<script type="application/json">`` island (cannot close the element)."""
    from budgetkg.serve.markup import script_json

    return Markup(script_json(data))


ENV.filters["script_json"] = _script_json


def render(template: str, **context: Any) -> str:
    """``template`` rendered with ``context``.

    ``charts``: whether the page has a chart; ECharts (1 MB) is loaded only then, and only
    when ``scripts/install_ui.sh`` installed it.
    """
    context["charts"] = bool(context.get("charts")) and ECHARTS.is_file()
    context.setdefault("site_title", "budgetkg")
    context.setdefault("crumbs", [])
    context.setdefault("query", "")
    return ENV.get_template(template).render(**context)


def page(template: str, status_code: int = 200, *, cache: str = "no-cache", **context: Any) -> HTMLResponse:
    """An HTML response from a template."""
    return HTMLResponse(
        render(template, **context), status_code=status_code, headers={"Vary": "Accept", "Cache-Control": cache}
    )
