"""A small pool of long-lived query processes that can be killed and replaced.

pyoxigraph has no query timeout and cannot cancel a running query (oxigraph #1926, #1336), so
every query runs in a worker process holding its own read-only store. When the time limit
passes or the client goes away, the server kills that process (SIGKILL) and starts a fresh
one; the event loop itself never evaluates SPARQL and keeps answering other clients.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing as mp
import os
import signal
from collections.abc import Awaitable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from budgetkg.processes import die_with_parent
from budgetkg.serve import sandbox
from budgetkg.serve.execute import Job, Outcome, run_job
from budgetkg.serve.inline import InlineStore

log = logging.getLogger("budgetkg.serve")

_CTX = mp.get_context("forkserver")
_CTX.set_forkserver_preload(["budgetkg.serve.execute", "rdflib.plugins.sparql.parser"])


def _die_with_parent() -> None:
    """Linux: get SIGKILL when the forkserver (and so the server) dies, even mid-query.

    The forkserver exits when the server's end of its "alive" pipe closes, but every child it
    forks inherits a copy of that end; closing ours lets the forkserver notice a dead server.
    """
    with contextlib.suppress(Exception):
        from multiprocessing import forkserver

        alive = forkserver._forkserver._forkserver_alive_fd
        if alive is not None:
            os.close(alive)
            forkserver._forkserver._forkserver_alive_fd = None
    die_with_parent()


def _worker_main(conn: Connection, store_path: str, memory_mb: int | None) -> None:
    """Body of a worker process: open the store read-only, then answer jobs forever."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the server decides when workers stop
    _die_with_parent()
    confinement = sandbox.confine()  # before any query: no network sockets, ever (SERVICE/SSRF)
    if memory_mb:
        import resource

        limit = memory_mb * 1024 * 1024
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    import pyoxigraph as ox

    try:
        store = ox.Store.read_only(store_path)
    except OSError as exc:
        conn.send(("failed", f"cannot open store {store_path}: {exc}"))
        return
    conn.send(("ready", os.getpid(), confinement.reason))
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        try:
            outcome = run_job(store, job, sandboxed=confinement.network_blocked)
        except MemoryError:
            outcome = Outcome(status=503, message="The query needed more memory than allowed.")
        conn.send(outcome)


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
    def __init__(self, store_path: Path, memory_mb: int | None, short: bool = False) -> None:
        self.short = short
        parent, child = _CTX.Pipe(duplex=True)
        self.conn: Connection = parent
        self.process = _CTX.Process(
            target=_worker_main,
            args=(child, str(store_path), memory_mb),
            name="budgetkg-query-worker",
            daemon=True,
        )
        self.process.start()
        child.close()

    def kill(self) -> None:
        with contextlib.suppress(Exception):
            self.process.kill()
        with contextlib.suppress(Exception):
            self.process.join(timeout=5)
        with contextlib.suppress(Exception):
            self.conn.close()


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
            ready = await asyncio.wait_for(asyncio.to_thread(worker.conn.recv), timeout=120)
        except (EOFError, OSError, TimeoutError) as exc:
            worker.kill()
            return f"query worker did not start: {exc!r}"
        if ready[0] != "ready":
            worker.kill()
            return str(ready[1])
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
            worker.conn.send(job)
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
            outcome: Outcome = worker.conn.recv()
        except (EOFError, OSError) as exc:
            self._replace(worker)
            raise PoolError(
                503,
                "The query worker stopped while running this query (it probably ran out of "
                "memory); the query was not completed.",
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
