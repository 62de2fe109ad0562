"""The printed patterns the geometry recognises: amounts, codes, footers, meta lines, titles."""

from __future__ import annotations

import re

AMOUNT = re.compile(r"^[-−]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?$")


DASHES = {"-", "—", "－", "–", "/"}


CODE = re.compile(r"^\d{3}(?:\d{2}){0,2}$")


BRACKET_CODE = re.compile(r"^[\[【［](\d{3,7})[\]】］]")


FOOTER = re.compile(r"^(?:[-－—]\s*\d+\s*[-－—]|第\s*\d+\s*页(?:\s*共\s*\d+\s*页)?|\d+)$")


META = re.compile(r"^(?:单位名称|部门名称|编制部门|编制单位|预算单位名称|单位)\s*[：:]")


CURRENCY = re.compile(r"单位\s*[：:]\s*(万元|元|千元|亿元)")


HEADER_CURRENCY = re.compile(r"[（(](?:单位[：:])?(万元|元|千元|亿元)[)）]")


# a line's own 单位：万元 (not a header cell such as 预算数（单位：万元）)
CURRENCY_WORD = re.compile(r"^(?:金额|货币)?单位[：:](?:万元|元|千元|亿元)$")


UNIT_NAME = re.compile(r"(?:单位名称|部门名称|编制部门|编制单位)\s*[：:]\s*(\S.*?)\s*(?:单位\s*[：:]|$)")


NOTE = re.compile(r"^(?:备\s*)?注\s*[：:]")


LABEL_LINE = re.compile(r"^(?:部门公开)?表\s*\d+(?:[-－]\d+)?$|^公开\s*\d+\s*表$")


SECTION = re.compile(r"^第[一二三四五六七八九十]+部分")


TOTAL_LABEL = re.compile(r"^(?:.{0,10}(?:合计|总计)|小计)$")


ITEM_NUMBER = re.compile(r"^(?:[一二三四五六七八九十]+、|[(（][一二三四五六七八九十\d]+[)）]|\d+[.．、](?!\d))")


GENERIC_TITLE = re.compile(r"表(?:[（(].{1,20}[)）])?$")


def is_amount(text: str) -> bool:
    return bool(AMOUNT.match(text.replace(" ", "")))


def is_number_like(text: str) -> bool:
    return is_amount(text) or text.strip() in DASHES
