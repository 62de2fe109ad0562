"""Prose parts of a budget document: 主要职责, 机构设置, 情况说明, 名词解释.

Works on the running text of all pages, by section headings, so it is indifferent to where
pages break. Wrapped lines are re-joined before anything is split.
"""

from __future__ import annotations

import re

from budgetkg.model import GlossaryEntry, PageLine, PageText, Prose

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


TABLE_PAGE = re.compile(
    r"^\s*(?:单位名称|编制单位|预算单位|部门)\s*[：:]|^\s*(?:金额)?单位\s*[：:]\s*(?:千元|万元|元)\s*$"
)
CONTENTS = re.compile(r"^\s*目\s*录\s*$")
TOC_LEADER = re.compile(r"[.．…·\s]{2,}\d*\s*$|\s+\d+\s*$")
TOC_NUMBER = re.compile(rf"^\s*(?:[-•]\s*)?(?:[{NUMERAL}]+、|\d+\s*[.．、]|[（(][{NUMERAL}\d]+[)）])?\s*")
UNIT_LINE = re.compile(r"^\s*(?:单位名称|部门名称|编制单位|预算单位|部门)\s*[：:]")
#: A note under a table (注：…) or a sentence that says the table is empty wherever it is printed.
NOTE_LINE = re.compile(r"^\s*[（(]?\s*注\s*[：:]|故本表|本表(?:本年)?(?:无|为空|没有)|无数据|无发生额|空表")
SENTENCE_END = "。；;"


def page_lines(pages: list[PageText]) -> list[PageLine]:
    """Every printed line but page footers, stripped, with its page number."""
    return [
        PageLine(page.number, line.strip())
        for page in pages
        for line in page.plain_text.splitlines()
        if line.strip() and not FOOTER.match(line)
    ]


def table_pages(lines: list[PageLine]) -> set[int]:
    """Pages that print a table: they carry a 单位名称 / 编制单位 line or a lone 单位：万元 line
    (a prose page that quotes a small table, like the sample's 重点项目 list, has neither)."""
    return {ln.page for ln in lines if TABLE_PAGE.match(ln.text)}


def _sentences(lines: list[PageLine]) -> list[PageLine]:
    """The running prose as sentences: every page but the contents and the table pages.

    Documents put their 情况说明 in a 第三部分 (Guangzhou), in "其他相关情况说明" (Shanghai), in
    several parts (Shenzhen) or first (Changsha), so no section is singled out: the prose of the
    other parts carries few figures, and a figure whose subject is unknown is only listed.
    Wrapped lines are re-joined first; a sentence ends at 。 or ； outside brackets (the 三公
    paragraph puts whole clauses with their own 。 inside （…）, they stay with the figure they
    explain); headings (第N部分, 一、…情况) stand alone. Each sentence keeps the page it starts on.
    """
    skip = table_pages(lines) | {ln.page for ln in _contents(lines)}
    lines = [ln for ln in lines if ln.page not in skip]
    out: list[PageLine] = []
    text, page, depth = "", 0, 0

    def flush() -> None:
        nonlocal text
        if text.strip():
            out.append(PageLine(page, text.strip()))
        text = ""

    for ln in lines:
        if _standalone(ln.text):
            flush()
            page, text, depth = ln.page, ln.text, 0  # a bracket left open does not run past a heading
            flush()
            continue
        addition = _join([text, ln.text])[len(text) :] if text else ln.text  # a space only between ASCII words
        for ch in addition:
            if not text:
                page = ln.page
            text += ch
            if ch in "（(":
                depth += 1
            elif ch in "）)":
                depth = max(0, depth - 1)
            elif ch in SENTENCE_END and depth == 0:
                flush()
    flush()
    return out


def _standalone(line: str) -> bool:
    """A heading that is a sentence of its own: 第N部分 …, or a short 一、… without figures."""
    return bool(PART.match(line) or (HEADING.match(line) and len(line) <= 40 and not re.search(r"\d", line[3:])))


def _contents(lines: list[PageLine]) -> list[PageLine]:
    """The entries of the contents page (the first page with a 目录 line), without their
    numbering and page-number leaders."""
    at = next((i for i, ln in enumerate(lines) if CONTENTS.match(ln.text)), None)
    if at is None:
        return []
    page = lines[at].page
    out = []
    for ln in lines[at + 1 :]:
        if ln.page != page:
            break
        entry = TOC_NUMBER.sub("", TOC_LEADER.sub("", ln.text)).strip()
        if len(entry) >= 4:
            out.append(PageLine(ln.page, entry))
    return out


def _headings(lines: list[PageLine]) -> list[PageLine]:
    """Lines that name the document, its unit or its year: the cover page, part and section
    headings, table titles and 单位名称 lines (what the coherence audit compares)."""
    first = lines[0].page if lines else 0
    out = []
    for ln in lines:
        t = ln.text
        if ln.page != first and re.search(r"\d\.\d", t):  # a table row, not a heading
            continue
        if (
            ln.page == first
            or PART.match(t)
            or UNIT_LINE.match(t)
            or (HEADING.match(t) and len(t) <= 40)
            or (len(t) <= 60 and re.sub(r"[\s(（].*$", "", t).endswith("表"))
        ):
            out.append(ln)
    return out


def _notes(lines: list[PageLine]) -> list[PageLine]:
    """注：… lines and empty-table statements, a wrapped second line joined."""
    out = []
    for i, ln in enumerate(lines):
        if not NOTE_LINE.search(ln.text) or len(ln.text) > 200:
            continue
        text = ln.text
        nxt = lines[i + 1] if i + 1 < len(lines) else None
        if nxt and nxt.page == ln.page and not text.endswith("。") and len(nxt.text) <= 60:
            text = _join([text, nxt.text])
        out.append(PageLine(ln.page, text))
    return out


def read_prose(pages: list[PageText]) -> Prose:
    lines = _lines(pages)
    numbered = page_lines(pages)
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
        sentences=tuple(_sentences(numbered)),
        contents=tuple(_contents(numbered)),
        headings=tuple(_headings(numbered)),
        notes=tuple(_notes(numbered)),
    )
