"""A small pool of long-lived query processes that can be killed and replaced.

pyoxigraph has no query timeout and cannot cancel a running query (oxigraph #1926, #1336), so
every query runs in a worker process holding its own read-only store. When the time limit
passes or the client goes away, the server kills that process (SIGKILL) and starts a fresh
one; the event loop itself never evaluates SPARQL and keeps answering other clients.

The processes are :mod:`budgetkg.pool`'s workers, the build's too (spawn with die-with-parent,
one task at a time over a pipe, kill); what is the server's own is here: the forkserver that
starts them, the store, sandbox and memory limit they open first, and the asyncio dispatch
with per-query deadlines, client cancellation and the reserve of short workers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing as mp
import os
from collections.abc import Awaitable
from functools import partial
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from budgetkg.pool import Outcome as PoolOutcome
from budgetkg.pool import Task, exit_reason
from budgetkg.pool import _Worker as PoolWorker  # the spawn/kill layer shared with the build
from budgetkg.serve import sandbox
from budgetkg.serve.execute import Job, Outcome, run_job
from budgetkg.serve.inline import InlineStore

log = logging.getLogger("budgetkg.serve")

_CTX = mp.get_context("forkserver")
_CTX.set_forkserver_preload(["budgetkg.serve.execute", "rdflib.plugins.sparql.parser"])


def _close_forkserver_pipe() -> None:
    """Let the forkserver notice a dead server: every child it forks inherits a copy of the
    server's end of its "alive" pipe, which keeps the forkserver (and so, through
    die-with-parent, the workers) alive after the server died; a worker closes its copy."""
    with contextlib.suppress(Exception):
        from multiprocessing import forkserver

        alive = forkserver._forkserver._forkserver_alive_fd
        if alive is not None:
            os.close(alive)
            forkserver._forkserver._forkserver_alive_fd = None


# What a worker process holds between jobs (set once by _open_store, before any query).
_STORE: Any = None
_STORE_ERROR = ""
_CONFINEMENT = sandbox.Confinement(network_blocked=False, reason="not started")


def _open_store(store_path: str, memory_mb: int | None) -> None:
    """Initializer of a query worker (budgetkg.pool runs it once, after die-with-parent and
    before the first job): no network sockets, ever (SERVICE/SSRF), the memory limit, then the
    store opened read-only."""
    global _STORE, _STORE_ERROR, _CONFINEMENT
    _close_forkserver_pipe()
    _CONFINEMENT = sandbox.confine()
    if memory_mb:
        import resource

        limit = memory_mb * 1024 * 1024
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    import pyoxigraph as ox

    try:
        _STORE = ox.Store.read_only(store_path)
    except OSError as exc:
        _STORE_ERROR = f"cannot open store {store_path}: {exc}"


def _ready() -> tuple[Any, ...]:
    """A worker's first task: ("ready", pid, why it is not sandboxed or "") or ("failed", why)."""
    if _STORE is None:
        return ("failed", _STORE_ERROR or "the store was not opened")
    return ("ready", os.getpid(), _CONFINEMENT.reason)


def _answer(job: Job) -> Outcome:
    """A worker's task for one query."""
    try:
        return run_job(_STORE, job, sandboxed=_CONFINEMENT.network_blocked)
    except MemoryError:
        return Outcome(status=503, message="The query needed more memory than allowed.")


def _stop_watching(loop: asyncio.AbstractEventLoop, fd: int) -> None:
    """Stop watching a worker's pipe, and make it blocking again.

    uvloop (which uvicorn uses when installed) switches a watched fd to non-blocking mode and
    leaves it so; ``Connection.recv`` of an answer larger than the pipe's buffer then fails with
    BlockingIOError halfway, which looked like a dead worker (503) for the validation page.
    """
    loop.remove_reader(fd)
    with contextlib.suppress(OSError):
        os.set_blocking(fd, True)


class PoolError(Exception):
    """The pool could not run a job (busy, timed out, crashed); carries an HTTP answer."""

    def __init__(self, status: int, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after


class _Worker:
    """A query worker: a budgetkg.pool worker process (spawn, die-with-parent, kill) with the
    store opened by :func:`_open_store`; ``short`` ones serve only as overflow (QueryPool)."""

    def __init__(self, store_path: Path, memory_mb: int | None, short: bool = False) -> None:
        self.short = short
        self._process = PoolWorker(_CTX, partial(_open_store, str(store_path), memory_mb))
        self.conn: Connection = self._process.conn
        self.process = self._process.process

    def send(self, fn: Any, *args: Any) -> None:
        """Start one task (``fn(*args)`` in the worker); its :func:`answer` follows on ``conn``."""
        self._process.send(Task(0, fn, args))

    def answer(self) -> Any:
        """The task's return value (blocking read); a task that raised is a 500 Outcome."""
        outcome: PoolOutcome = self.conn.recv()
        if outcome.ok:
            return outcome.value
        return Outcome(status=500, message=f"Query failed: {outcome.reason}")

    def exit_reason(self) -> str:
        """Why the process ended (after a pipe closed on us), or "" while it still runs."""
        with contextlib.suppress(Exception):
            self.process.join(timeout=0.5)
            if self.process.exitcode is not None:
                return exit_reason(self.process.exitcode)
        return ""

    def kill(self) -> None:
        with contextlib.suppress(Exception):
            self._process.stop(kill=True)


class QueryPool:
    """Runs :class:`Job` objects in ``size`` worker processes with a per-job time limit.

    Besides them, ``short_size`` *short* workers take a job only when every normal worker is
    busy, and kill it after ``short_timeout`` seconds: two runaway queries holding the normal
    workers then delay nobody's ``ASK {}``, and a third runaway only holds a short worker for
    ``short_timeout``. (Pure overflow, not a guess about which queries are short: the server
    cannot know that before running them.)
    """

    def __init__(
        self,
        store_path: Path,
        size: int = 2,
        memory_mb: int | None = 4096,
        short_size: int = 1,
        short_timeout: float = 2.0,
        inline: bool = True,
    ) -> None:
        self.store_path = store_path
        self.size = max(1, size)
        self.short_size = max(0, short_size)
        self.short_timeout = short_timeout
        self.memory_mb = memory_mb
        self._idle: asyncio.Queue[_Worker] = asyncio.Queue()
        self._short_idle: asyncio.Queue[_Worker] = asyncio.Queue()
        self._released = asyncio.Event()
        self.inline = InlineStore(store_path) if inline else None
        self._all: set[_Worker] = set()
        self._closing = False
        self._spawning: set[asyncio.Task[None]] = set()
        self.restarts = 0
        self._warned_unsandboxed = False

    @property
    def pids(self) -> list[int]:
        """Process ids of the live workers (for monitoring)."""
        return sorted(w.process.pid for w in self._all if w.process.pid is not None)

    async def start(self) -> None:
        """Start all workers and wait until each has opened the store."""
        results = await asyncio.gather(
            *(self._spawn() for _ in range(self.size)), *(self._spawn(short=True) for _ in range(self.short_size))
        )
        failures = [r for r in results if r]
        if failures:
            await self.close()
            raise RuntimeError(failures[0])
        if self.inline is not None:
            try:
                await asyncio.to_thread(self.inline.open)
            except OSError as exc:
                log.warning("small queries go to workers too: cannot open the store here (%s)", exc)
                self.inline = None

    @property
    def idle(self) -> int:
        """Normal workers free right now."""
        return self._idle.qsize()

    def _release(self, worker: _Worker) -> None:
        (self._short_idle if worker.short else self._idle).put_nowait(worker)
        self._released.set()

    async def _acquire(self, wait: float) -> _Worker:
        """A normal worker if one is free, else a short one, else wait for whichever frees first."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while True:
            for queue in (self._idle, self._short_idle):
                if not queue.empty():
                    return queue.get_nowait()
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError
            self._released.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._released.wait(), timeout=remaining)

    async def _spawn(self, short: bool = False) -> str | None:
        worker = await asyncio.to_thread(_Worker, self.store_path, self.memory_mb, short)
        try:
            worker.send(_ready)
            ready = await asyncio.wait_for(asyncio.to_thread(worker.answer), timeout=120)
        except (EOFError, OSError, TimeoutError) as exc:
            worker.kill()
            return f"query worker did not start: {exc!r}"
        if not isinstance(ready, tuple) or ready[0] != "ready":
            worker.kill()
            return str(ready[1]) if isinstance(ready, tuple) else ready.message
        if ready[2] and not self._warned_unsandboxed:
            self._warned_unsandboxed = True
            log.warning(
                "query workers are not sandboxed (%s): every query mentioning 'service' is refused instead", ready[2]
            )
        if self._closing:
            worker.kill()
            return None
        self._all.add(worker)
        self._release(worker)
        return None

    def _replace(self, worker: _Worker) -> None:
        """Kill a worker and start its replacement in the background."""
        self._all.discard(worker)
        self.restarts += 1

        async def replace() -> None:
            await asyncio.to_thread(worker.kill)
            delay = 1.0
            while not self._closing:
                error = await self._spawn(short=worker.short)
                if not error:
                    return
                log.error("could not replace query worker (retrying in %g s): %s", delay, error)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 60.0)

        task = asyncio.get_running_loop().create_task(replace())
        self._spawning.add(task)
        task.add_done_callback(self._spawning.discard)

    async def run(
        self,
        job: Job,
        timeout: float,
        queue_timeout: float | None = None,
        cancelled: Awaitable[Any] | None = None,
    ) -> Outcome:
        """Run a job; kill its worker when ``timeout`` passes or ``cancelled`` completes."""
        loop = asyncio.get_running_loop()
        try:
            worker = await self._acquire(timeout if queue_timeout is None else queue_timeout)
        except TimeoutError as exc:
            raise PoolError(
                503,
                "All query workers are busy; try again shortly.",
                retry_after=max(1, int(timeout)),
            ) from exc
        try:
            worker.send(_answer, job)
        except (OSError, ValueError) as exc:
            self._replace(worker)
            raise PoolError(503, "A query worker was unavailable; try again.", 1) from exc

        limit = min(timeout, self.short_timeout) if worker.short else timeout
        readable: asyncio.Future[None] = loop.create_future()
        fd = worker.conn.fileno()

        def on_readable() -> None:
            if not readable.done():
                readable.set_result(None)

        loop.add_reader(fd, on_readable)  # uvloop makes the fd non-blocking here: see _stop_watching
        cancel_task: asyncio.Future[Any] | None = asyncio.ensure_future(cancelled) if cancelled is not None else None
        try:
            waiters: set[asyncio.Future[Any]] = {readable}
            if cancel_task is not None:
                waiters.add(cancel_task)
            done, _ = await asyncio.wait(waiters, timeout=limit, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            _stop_watching(loop, fd)
            self._replace(worker)
            raise
        finally:
            if cancel_task is not None and not cancel_task.done():
                cancel_task.cancel()
        _stop_watching(loop, fd)
        if readable not in done:
            self._replace(worker)
            if cancel_task is not None and cancel_task in done:
                raise PoolError(499, "Client went away; query cancelled.")
            if worker.short and limit < timeout:
                raise PoolError(
                    503,
                    "All query workers are busy with long queries; this one ran in the reserve worker, "
                    f"whose time limit is {limit:g} s, and was stopped. Try again shortly.",
                    retry_after=max(1, int(timeout)),
                )
            raise PoolError(
                503,
                f"Query cancelled: it ran longer than this server's time limit of {timeout:g} s. "
                "Narrow it down (more specific patterns, LIMIT), or download the data from "
                "/dumps/ and query it locally.",
                retry_after=max(1, int(timeout)),
            )
        try:
            # The worker has started writing its answer, in one send: read it here rather than in
            # a thread (a thread hop costs more than reading a small answer; a large one is being
            # written as fast as the pipe takes it).
            outcome: Outcome = worker.answer()
        except (EOFError, OSError) as exc:
            why = worker.exit_reason()
            self._replace(worker)
            raise PoolError(
                503,
                "The query worker stopped while running this query (it probably ran out of "
                f"memory{'; ' + why if why else ''}); the query was not completed.",
            ) from exc
        self._release(worker)
        return outcome

    async def close(self) -> None:
        """Stop all workers (SIGKILL: they hold nothing but a read-only store)."""
        self._closing = True
        for task in list(self._spawning):
            task.cancel()
        workers = list(self._all)
        self._all.clear()
        await asyncio.gather(*(asyncio.to_thread(w.kill) for w in workers))
