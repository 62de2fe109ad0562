"""Prose parts of a budget document: 主要职责, 机构设置, 情况说明, 名词解释.

Works on the running text of all pages, by section headings, so it is indifferent to where
pages break. Wrapped lines are re-joined before anything is split.
"""

from __future__ import annotations

import re

from budgetkg.model import GlossaryEntry, PageText, Prose

NUMERAL = "一二三四五六七八九十"
ITEM_START = re.compile(rf"^\s*(?:[(（][{NUMERAL}]+[)）]|第[{NUMERAL}]+条)")
HEADING = re.compile(rf"^\s*[{NUMERAL}]+、")
PART = re.compile(rf"^\s*第[{NUMERAL}]+部分")
FOOTER = re.compile(r"^\s*(?:[-－—]\s*\d+\s*[-－—]|\d+)\s*$")
GLOSSARY = re.compile(rf"^\s*[{NUMERAL}]+、\s*\**\s*(.+?)\s*\**\s*[：:]\s*\**\s*(.*)$")


def _lines(pages: list[PageText]) -> list[str]:
    out = []
    for page in pages:
        for line in page.plain_text.splitlines():
            if line.strip() and not FOOTER.match(line):
                out.append(line.strip())
    return out


def _join(parts: list[str]) -> str:
    text = ""
    for part in parts:
        if text and (text[-1].isascii() and text[-1].isalnum()) and part[:1].isascii() and part[:1].isalnum():
            text += " " + part
        else:
            text += part
    return text.strip()


def _section(lines: list[str], start: re.Pattern[str], stop: re.Pattern[str]) -> list[str]:
    """Lines after the LAST heading matching `start` (the first is usually the contents page)."""
    starts = [i for i, ln in enumerate(lines) if start.search(ln)]
    if not starts:
        return []
    i = starts[-1] + 1
    out = []
    while i < len(lines) and not stop.search(lines[i]):
        out.append(lines[i])
        i += 1
    return out


def _items(lines: list[str], start: re.Pattern[str]) -> list[str]:
    items: list[list[str]] = []
    for line in lines:
        if start.match(line) or not items:
            items.append([line])
        else:
            items[-1].append(line)
    return [_join(i) for i in items if _join(i)]


def _split_list(text: str) -> list[str]:
    """Split 甲、乙（丙、丁）、戊 on 、 outside brackets."""
    parts, depth, cur = [], 0, ""
    for ch in text:
        if ch in "（(":
            depth += 1
        elif ch in "）)":
            depth = max(0, depth - 1)
        if ch in "、，," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return [p.strip(" 。.；;") for p in parts if p.strip(" 。.；;")]


def read_prose(pages: list[PageText]) -> Prose:
    lines = _lines(pages)
    duties_lines = _section(
        lines,
        re.compile(r"^(?:[一二三四五六七八九十]+、)?\s*(?:主要职责|主要职能|部门职责)\s*$"),
        re.compile(rf"^(?:[{NUMERAL}]+、\s*(?:部门)?机构设置|[{NUMERAL}]+、|第[{NUMERAL}]+部分)"),
    )
    duties = [d for d in _items(duties_lines, ITEM_START) if ITEM_START.match(d)]
    if not duties:
        duties = _items(duties_lines, re.compile(r"^\s*\d+[.、]"))
    text = _join(lines)
    divisions: list[str] = []
    m = re.search(r"内设机构(?:分别)?(?:是|为|包括|有)[：:]?(.+?)。", text)
    if m:
        divisions = _split_list(m.group(1))
    units: list[str] = []
    m = re.search(r"(?:下属单位|所属单位|下属事业单位)(?:具体)?(?:包括|为|是|有)[：:]?(.+?)。", text)
    if m:
        units = [u for u in _split_list(m.group(1)) if len(u) <= 40]
    structure = _join(
        _section(lines, re.compile(r"(?:部门)?机构设置\s*$"), re.compile(rf"^(?:[{NUMERAL}]+、|第[{NUMERAL}]+部分)"))
    )
    explanation_lines = _section(
        lines,
        re.compile(r"^第[一二三四五六七八九十]+部分.*(?:情况说明|预算说明|决算情况说明)"),
        re.compile(r"^第[一二三四五六七八九十]+部分"),
    )
    explanations = []
    for para in _items(explanation_lines, HEADING):
        if "重点项目" in para[:20] and "如下" in para:
            para = para[: para.index("如下") + 3]
        explanations.append(para)
    glossary_lines = _section(
        lines,
        re.compile(r"^(?:第[一二三四五六七八九十]+部分\s*)?名词解释\s*$"),
        re.compile(r"^第[一二三四五六七八九十]+部分"),
    )
    glossary = []
    for entry in _items(glossary_lines, HEADING):
        gm = GLOSSARY.match(entry)
        if gm:
            glossary.append(GlossaryEntry(gm.group(1).strip("*"), gm.group(2).strip()))
    return Prose(
        duties=tuple(duties),
        divisions=tuple(divisions),
        subordinate_units=tuple(units),
        explanations=tuple(explanations),
        glossary=tuple(glossary),
        structure_text=structure,
    )
