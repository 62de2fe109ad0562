"""A pool of killable worker processes: one task per worker at a time, each with a deadline.

Used by the build (parsing, graphs, validation) and meant for any caller whose tasks may crash
or hang inside a C library (PDFium, pdfminer, Oxigraph):

- a worker is started with die-with-parent (Linux: the kernel kills it when its parent dies), so
  a killed build or server leaves no process behind;
- a task that overruns the pool's `timeout`, or whose worker dies (segfault, out-of-memory kill),
  fails alone: its worker is killed and replaced, the other tasks carry on;
- data every task needs (a reference graph) is sent once per worker as `Task.shared` and read by
  the task with `shared(key)`;
- results are yielded as they come, and the next task is sent to a worker before its result is
  handed out, so workers never wait for the caller.

`InlinePool` offers the same interface in the calling process, for profilers and debuggers.
Nothing here knows about budgets: tasks are `fn(*args)` with picklable functions and values.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import pickle
import signal
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

from budgetkg.processes import die_with_parent

#: Data a worker keeps between tasks, sent once per worker (see `Task.shared`).
_SHARED: dict[str, Any] = {}


def shared(key: str) -> Any:
    """The value sent to this worker under `key` by a task's `shared` (or by InlinePool)."""
    return _SHARED[key]


@dataclass(frozen=True)
class Task:
    """One unit of work for a worker: `fn(*args)`, with `shared` data sent once per worker."""

    key: int
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    shared: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class Outcome:
    """What became of a task: its return value, or the one-line reason it has none."""

    ok: bool
    value: Any = None  # the task's return value when ok
    reason: str = ""  # why not, as a one-line reason


def _worker_main(conn: Connection, initializer: Callable[[], None] | None) -> None:
    """Run tasks until told to stop. Ctrl-C goes to the parent, which stops its workers; if the
    parent is killed, the workers die with it (Linux) instead of finishing their tasks."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent()
    if initializer is not None:
        initializer()
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        kind, payload = message
        if kind == "share":
            key, value = payload
            _SHARED[key] = value
            continue
        fn, args = payload
        try:
            outcome = Outcome(True, fn(*args))
        except Exception as exc:  # reported against the task; the worker carries on
            outcome = Outcome(False, reason=f"{type(exc).__name__}: {exc}")
        try:
            conn.send(outcome)
        except (pickle.PicklingError, TypeError, AttributeError) as exc:
            conn.send(Outcome(False, reason=f"result could not be sent back ({type(exc).__name__})"))
        except OSError:  # the parent is gone
            return


def default_context() -> multiprocessing.context.BaseContext:
    """fork on Linux: workers start in milliseconds with the parent's imports (pdfplumber,
    pyshacl, the parsed shapes) instead of importing them again; spawn elsewhere."""
    if sys.platform.startswith("linux"):
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


class _Worker:
    """One worker process, its pipe, and the task it runs (None: idle)."""

    def __init__(self, ctx: multiprocessing.context.BaseContext, initializer: Callable[[], None] | None) -> None:
        parent, child = ctx.Pipe()
        self.process = ctx.Process(target=_worker_main, args=(child, initializer), daemon=True)  # type: ignore[attr-defined]
        self.process.start()
        child.close()
        self.conn = parent
        self.task: Task | None = None
        self.started = 0.0
        self.shared: set[str] = set()

    def send(self, task: Task) -> None:
        for key, value in task.shared:
            if key not in self.shared:
                self.conn.send(("share", (key, value)))
                self.shared.add(key)
        self.conn.send(("run", (task.fn, task.args)))
        self.task, self.started = task, time.monotonic()

    def stop(self, kill: bool = False) -> None:
        if not kill:
            with contextlib.suppress(OSError):
                self.conn.send(None)
            self.process.join(timeout=5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(timeout=5)
        self.conn.close()


class WorkerPool:
    """`size` worker processes that run one task each at a time.

    Unlike a ProcessPoolExecutor, a worker that dies (a segfault or out-of-memory kill inside
    a C library) or overruns `timeout` seconds fails only the task it was running: it is killed,
    replaced, and the other tasks carry on. `context` is a multiprocessing context (default:
    `default_context()`); `initializer` runs once in each worker before its first task.
    """

    def __init__(
        self,
        size: int,
        timeout: float | None = None,
        *,
        context: multiprocessing.context.BaseContext | None = None,
        initializer: Callable[[], None] | None = None,
    ) -> None:
        self.ctx = context or default_context()
        self.timeout = timeout
        self.initializer = initializer
        self.workers = [_Worker(self.ctx, initializer) for _ in range(max(1, size))]

    def pids(self) -> list[int]:
        """Process ids of the current workers (for memory accounting: /proc/PID/status)."""
        return [w.process.pid for w in self.workers if w.process.pid is not None]

    def run(
        self, tasks: Iterable[Task], after_start: Callable[[], None] | None = None
    ) -> Iterator[tuple[Task, Outcome]]:
        """Yield (task, outcome) as tasks finish; `after_start` runs here once the first tasks
        are out, so the caller can use the time the workers need."""
        source = iter(tasks)  # pulled one at a time: a task's payload exists only while it runs
        retry: list[Task] = []

        def start(worker: _Worker) -> None:
            task = retry.pop() if retry else next(source, None)
            if task is None:
                return
            try:
                worker.send(task)
            except OSError:  # died while idle: replace it, the task goes to the next free worker
                retry.append(task)
                self._replace(worker)

        while True:
            for w in self.workers:
                if w.task is None:
                    start(w)
            if after_start is not None:
                after_start()
                after_start = None
            busy = [w for w in self.workers if w.task is not None]
            if not busy:
                if retry:
                    continue
                return
            deadline = None
            if self.timeout is not None:
                deadline = max(0.0, min(w.started for w in busy) + self.timeout - time.monotonic())
            ready = wait([w.conn for w in busy] + [w.process.sentinel for w in busy], timeout=deadline)
            for w in busy:
                assert w.task is not None
                task = w.task
                if w.conn in ready or w.process.sentinel in ready:
                    outcome = self._receive(w, ready)
                    if outcome is None:
                        continue  # the pipe closed, the process is still on its way out
                elif self.timeout is not None and time.monotonic() - w.started > self.timeout:
                    outcome = Outcome(False, reason=f"took longer than {self.timeout:g} s and was stopped")
                    self._replace(w)
                else:
                    continue
                w.task = None
                start(w)  # keep the worker busy while the caller works on the result
                yield task, outcome

    def _receive(self, w: _Worker, ready: list[Any]) -> Outcome | None:
        """The worker's answer; a failed Outcome if it died (the worker is then replaced)."""
        try:
            if w.conn.poll():
                return w.conn.recv()
        except Exception:  # EOF or a message cut short: the process is dying or dead
            pass
        if w.process.is_alive() and w.process.sentinel not in ready:
            return None
        w.process.join(timeout=1)
        outcome = Outcome(False, reason=f"the worker process died ({exit_reason(w.process.exitcode)})")
        self._replace(w)
        return outcome

    def _replace(self, worker: _Worker) -> None:
        worker.stop(kill=True)
        fresh = _Worker(self.ctx, self.initializer)
        worker.process, worker.conn, worker.shared = fresh.process, fresh.conn, fresh.shared
        worker.task = None

    def close(self) -> None:
        for w in self.workers:
            w.stop(kill=w.task is not None)


class InlinePool:
    """The same interface in this process (jobs=0): for profilers and debuggers."""

    def __init__(self) -> None:
        self.workers: list[Any] = []

    def pids(self) -> list[int]:
        return []

    def run(
        self, tasks: Iterable[Task], after_start: Callable[[], None] | None = None
    ) -> Iterator[tuple[Task, Outcome]]:
        if after_start is not None:
            after_start()
        added: set[str] = set()
        try:
            for task in tasks:
                for key, value in task.shared:
                    _SHARED[key] = value
                    added.add(key)
                try:
                    outcome = Outcome(True, task.fn(*task.args))
                except Exception as exc:
                    outcome = Outcome(False, reason=f"{type(exc).__name__}: {exc}")
                yield task, outcome
        finally:
            for key in added:  # this process lives on: do not keep data meant for workers
                _SHARED.pop(key, None)

    def close(self) -> None:
        pass


def exit_reason(code: int | None) -> str:
    """`killed by SIGSEGV` or `exit code 1`: why a process ended, in words."""
    if code is not None and code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"


def make_pool(jobs: int, tasks: int, timeout: float | None) -> WorkerPool | InlinePool:
    """`jobs` workers but no more than `tasks`; jobs ≤ 0: everything in this process."""
    if jobs <= 0:
        return InlinePool()
    return WorkerPool(min(jobs, max(1, tasks)), timeout)
