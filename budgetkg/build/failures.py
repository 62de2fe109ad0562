"""Which stage of the pipeline a failure belongs to, for the one-line `failed: FILE: stage: reason`."""

from __future__ import annotations

from typing import Any

from budgetkg.model import InputError, PageText

#: Pipeline stage of each module, for the one-line `failed: FILE: stage: reason` of a failure.
STAGES = {
    "pdf": "pdf",
    "tables": "tables",
    "reader": "reader",
    "prose": "reader",
    "mapping": "reader",
    "model": "reader",
    "reading": "reading",
    "graph": "graph",
    "validation": "validation",
    "store": "store",
    "lines": "export",
    "export": "export",
}


def failure_reason(exc: BaseException, default_stage: str) -> str:
    """`stage: reason (page N)` for an exception: the stage is that of the innermost budgetkg
    module in the traceback (an error inside pdfplumber called by pdf.py is a pdf-stage error),
    the page that of the innermost frame working on a page or a table, where there is one."""
    stage, page = default_stage, None
    tb = exc.__traceback__
    while tb is not None:
        frame = tb.tb_frame
        module = frame.f_globals.get("__name__", "")
        if module.startswith("budgetkg."):
            stage = STAGES.get(module.split(".")[1], stage)
        found = _page_in(frame.f_locals)
        if found is not None:
            page = found
        tb = tb.tb_next
    if isinstance(exc, InputError):
        reason = exc.reason
    else:
        reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if page is not None and "page" not in reason:
        reason += f" (page {page})"
    return f"{stage}: {reason}"


def _page_in(local_vars: dict[str, Any]) -> int | None:
    """The page a frame works on: a PageText, or a (raw) table's or row's first page."""
    from budgetkg.model import RawRow, RawTable, Row, Table

    for value in local_vars.values():
        if isinstance(value, PageText):
            return value.number
    for value in local_vars.values():
        if isinstance(value, RawTable | Table | RawRow | Row) and value.pages:
            return value.pages[0]
    return None
