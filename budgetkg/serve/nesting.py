"""Refuse queries nested too deeply for the engine's parser, before any process parses them.

Oxigraph's SPARQL parser and evaluator recurse once per nesting level: about 3 000 nested ``{``
or 5 000 nested ``(`` (10 KB of text) overflow the worker's stack and kill it, which the client
would see as a 503 for a query that is simply malformed for this server. Real queries nest a
few levels; :data:`MAX_NESTING` leaves two orders of magnitude of room and stays far below the
depth that crashes (measured on pyoxigraph 0.4/0.5 with the default 8 MiB stack).

The scan follows the engine's lexical view where it matters: brackets inside string literals
and comments do not count; ``\\u`` escapes are not decoded outside strings (Oxigraph does not
either). Brackets inside IRIs are counted, which can only over-estimate the depth.
"""

from __future__ import annotations

MAX_NESTING = 200

TOO_DEEP_MESSAGE = (
    "Query nested too deeply: more than {limit} levels of {{ }}, ( ) or [ ] (sub-queries, groups, "
    "expressions). This server refuses such queries before parsing them; flatten the query."
)

_OPEN = {"{": "}", "(": ")", "[": "]"}
_CLOSE = frozenset(_OPEN.values())


def nesting_depth(text: str, stop_at: int | None = None) -> int:
    """Deepest bracket nesting of a SPARQL text outside strings and comments.

    ``stop_at``: return as soon as this depth is reached (the caller only needs "too deep").
    """
    depth = deepest = 0
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "#":
            end = text.find("\n", i)
            i = n if end < 0 else end + 1
            continue
        if c in "\"'":
            i = _skip_string(text, i)
            continue
        if c in _OPEN:
            depth += 1
            if depth > deepest:
                deepest = depth
                if stop_at is not None and deepest >= stop_at:
                    return deepest
        elif c in _CLOSE and depth > 0:
            depth -= 1
        i += 1
    return deepest


def _skip_string(text: str, i: int) -> int:
    """Index just after the string literal starting at ``i`` (short or long form)."""
    quote = text[i]
    long = text.startswith(quote * 3, i)
    delim = quote * 3 if long else quote
    j = i + len(delim)
    n = len(text)
    while j < n:
        c = text[j]
        if c == "\\":
            j += 2
            continue
        if text.startswith(delim, j):
            return j + len(delim)
        if not long and c in "\r\n":
            return j  # unterminated short string: the parser will report it
        j += 1
    return n


def too_deep(text: str, limit: int = MAX_NESTING) -> str | None:
    """The 400 message for a query nested deeper than ``limit``, else None."""
    if nesting_depth(text, stop_at=limit + 1) > limit:
        return TOO_DEEP_MESSAGE.format(limit=limit)
    return None
