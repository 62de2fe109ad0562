"""Complete answers of the public SPARQL endpoint, kept for identical requests.

The served store is a published, read-only dataset: between two builds (a reload) the same
query, in the same format, over the same dataset and seen under the same base, has the same
answer. Aggregating example queries take 5–50 ms of engine time each; a repeated one is then a
dictionary look-up. The cache is bounded in bytes (least recently used answers leave first),
emptied when a new build is swapped in, and bypassed by a request that says
``Cache-Control: no-cache`` (or ``no-store``, which also keeps its answer out), so a client — and
the benchmark's cold figures — can always have the engine evaluate the query afresh.

Only 200 answers are kept: an error (a time limit, a busy pool) says nothing about the next try.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable

from budgetkg.serve.execute import Job, Outcome

AnswerKey = tuple[Hashable, ...]


def answer_key(job: Job) -> AnswerKey:
    """What an answer depends on besides the build: query, formats, dataset, served base, BASE."""
    return (
        job.query,
        job.result_format,
        job.graph_format,
        tuple(job.default_graphs) if job.default_graphs is not None else None,
        tuple(job.named_graphs) if job.named_graphs is not None else None,
        job.rewrite,
        job.base_iri,
        job.max_rows,
        job.max_bytes,
    )


def bypasses(cache_control: str | None) -> tuple[bool, bool]:
    """(do not read the cache, do not store the answer) for a request's Cache-Control header."""
    if not cache_control:
        return False, False
    directives = {d.strip().split("=", 1)[0].lower() for d in cache_control.split(",")}
    no_store = "no-store" in directives
    return no_store or "no-cache" in directives, no_store


class AnswerCache:
    """Least-recently-used 200 answers, at most ``max_bytes`` of bodies in all (0: off).

    ``generation`` changes on :meth:`clear`; an answer computed under an older generation (a
    query that was running while a new build was swapped in) is not stored.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max(0, max_bytes)
        self.size = 0
        self.generation = 0
        self.hits = 0
        self._answers: OrderedDict[AnswerKey, Outcome] = OrderedDict()

    def get(self, key: AnswerKey) -> Outcome | None:
        outcome = self._answers.get(key)
        if outcome is not None:
            self._answers.move_to_end(key)
            self.hits += 1
        return outcome

    def put(self, key: AnswerKey, outcome: Outcome, generation: int) -> None:
        """Keep a 200 answer computed under ``generation`` (one larger than a quarter of the
        cache is not kept: it would push out many answers to keep one)."""
        if outcome.status != 200 or generation != self.generation or key in self._answers:
            return
        size = len(outcome.body) + len(key[0]) + 200
        if size > self.max_bytes // 4:
            return
        self._answers[key] = outcome
        self.size += size
        while self.size > self.max_bytes:
            old_key, old = self._answers.popitem(last=False)
            self.size -= len(old.body) + len(old_key[0]) + 200

    def clear(self) -> None:
        """Forget every answer (a new build is served)."""
        self._answers.clear()
        self.size = 0
        self.generation += 1

    def __len__(self) -> int:
        return len(self._answers)
