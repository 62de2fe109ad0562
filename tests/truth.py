"""Ground truth from the published text of a budget (tab-separated tables, page blocks).

The text is what the department published; the PDF is that text laid out. Reading the text's
tables here, independently of the PDF reader, gives the expected amounts row by row.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from budgetkg.mapping import load_mappings, normalise_title, squash

AMOUNT = re.compile(r"^-?[\d,]+(?:\.\d+)?$")
BRACKET = re.compile(r"^\[(\d+)\](.*)$")
LABEL_HEADERS = {"科目名称", "功能科目名称", "部门预算支出经济科目", "项目"}
META = re.compile(r"^(单位名称|单位)\s*[：:]")


@dataclass(frozen=True)
class TruthLine:
    table_no: int
    table_title: str
    code: str
    item: str  # squashed
    measure: str  # squashed column path
    amount: str


@dataclass
class TruthProject:
    name: str
    target: str


def _paths(header_rows: list[list[str]], width: int) -> list[tuple[str, ...]]:
    rows = [r + [""] * (width - len(r)) for r in header_rows]
    paths = []
    for j in range(width):
        path = []
        for depth, row in enumerate(rows):
            label = squash(row[j])
            if not label and depth < len(rows) - 1:
                # horizontally merged: inherit the nearest label to the left, if below it
                # something is printed in this column
                below = any(squash(r[j]) for r in rows[depth + 1 :])
                if below:
                    k = j
                    while k > 0 and not squash(row[k]):
                        k -= 1
                    label = squash(row[k])
            if label:
                path.append(label)
        paths.append(tuple(path))
    return paths


def parse_truth(text: str) -> tuple[list[TruthLine], list[TruthProject]]:
    mappings = load_mappings()
    lines = text.splitlines()
    out: list[TruthLine] = []
    projects: list[TruthProject] = []
    title: str | None = None
    number = 0
    header: list[list[str]] = []
    paths: list[tuple[str, ...]] = []
    last_row: dict | None = None
    in_header = False
    rows: list[dict] = []
    header_len = 0
    for raw in lines:
        line = raw.rstrip("\n")
        stripped = line.strip()
        if not stripped:
            continue
        if "\t" not in line:
            kind = mappings.kind_for_title(stripped)
            if kind is not None:
                repeated = title == normalise_title(stripped)
                if not repeated:
                    last_row = None
                    header_len = 0
                title, number = normalise_title(stripped), kind.number
                header, in_header = [], True
                continue
            if META.match(stripped):
                continue
            if stripped.startswith("注") or stripped.startswith("第"):
                title = None
            continue
        if title is None:
            continue
        fields = line.split("\t")
        has_amount = any(AMOUNT.match(f.strip()) for f in fields[1:] if f.strip())
        if (
            in_header
            and not has_amount
            and not (number == 13 and header)
            and (not header_len or len(header) < header_len)
        ):
            header.append(fields)
            continue
        if in_header:
            width = max(len(h) for h in header + [fields])
            paths = _paths(header, width)
            header_len = len(header)
            in_header = False
        if not has_amount:
            if last_row is not None:  # continuation of the row above (cut by a page break)
                for j, f in enumerate(fields):
                    if f.strip():
                        last_row["cells"][j] = last_row["cells"][j] + f.strip()
            continue
        last_row = {"cells": [f.strip() for f in fields] + [""] * (len(paths) - len(fields))}
        last_row["paths"] = paths
        last_row["table"] = (number, title)
        rows.append(last_row)
    for row in rows:
        out.extend(_row_lines(row))
        number, _ = row["table"]
        names = [p[-1] if p else "" for p in row["paths"]]
        if "绩效目标" in names:
            target = row["cells"][names.index("绩效目标")]
            if target:
                projects.append(TruthProject(squash(row["cells"][0]), squash(target)))
    return out, projects


def _row_lines(row: dict) -> list[TruthLine]:
    number, title = row["table"]
    cells: list[str] = row["cells"]
    paths: list[tuple[str, ...]] = row["paths"]
    out = []
    two_sided = paths and paths[0] and paths[0][0] in {"收入"}
    if two_sided:
        for label_col in range(0, len(paths), 2):
            label = cells[label_col] if label_col < len(cells) else ""
            if not label or label_col + 1 >= len(cells):
                continue
            out.append(TruthLine(number, title, "", squash(label), "".join(paths[label_col + 1]), cells[label_col + 1]))
        return out
    code = ""
    label = ""
    for j, path in enumerate(paths):
        leaf = path[-1] if path else ""
        value = cells[j] if j < len(cells) else ""
        if leaf == "科目编码":
            code = value
            continue
        label_column = j == 0 or "项目类别" in leaf or leaf in LABEL_HEADERS
        if not label and label_column and (not AMOUNT.match(value or "x") or j == 0):
            label = value
            m = BRACKET.match(label)
            if m:
                code, label = m.group(1), m.group(2)
            continue
        if leaf == "绩效目标" or not value:
            continue
        if AMOUNT.match(value):
            out.append(TruthLine(number, title, code, squash(label), "".join(path), value.replace(",", "")))
    return out


def counter(lines: list[TruthLine]) -> Counter:
    return Counter((ln.table_no, ln.code, ln.item, ln.measure, ln.amount) for ln in lines)
