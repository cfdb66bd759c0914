"""service: builds the rooms from a Config and runs `mailbot serve` (receiver, IMAP pollers,
workers, sender) and `mailbot poll` (the pollers alone, processing in their own process).

Stop order on SIGTERM/SIGINT matters for the invariant: first stop accepting connections and
let the open SMTP sessions finish the transaction they are in (idle ones are told 421; one
that is still open after the session timeout is cut off, and its sender, never told 250,
retries), and stop the pollers (a message whose outcome is not committed yet stays unmarked
on its server); then let the workers finish their current item, then the sender its current
mail. Anything left is still in the spool, the outbox or the mailbox and is picked up on the
next start.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from mailbot.agent_address import load_secrets
from mailbot.clock import Clock, system_clock
from mailbot.config import Config, SmtpSettings
from mailbot.errors import (
    ConfigError,
    DatabaseUnavailable,
    MailbotError,
    SpoolError,
    Unavailable,
    first_line,
)
from mailbot.ingest.imap import PassResult, Poller, Taken, build_pollers
from mailbot.ingest.smtp import SESSION_TIMEOUT, Door, SpoolHandler
from mailbot.outcomes import Outcome
from mailbot.pipeline import Pipeline, Worker, process_now
from mailbot.replies import Renderer
from mailbot.sender import Sender, make_transport
from mailbot.spool import Spool
from mailbot.store import Database

log = logging.getLogger("mailbot.serve")


@dataclass
class App:
    config: Config
    db: Database
    spool: Spool
    renderer: Renderer
    pipeline: Pipeline
    clock: Clock = system_clock

    @classmethod
    def build(cls, config: Config, *, migrate: bool = True, clock: Clock = system_clock) -> App:
        try:
            db = Database(config.database_url)
            if migrate:
                db.upgrade()
        except MailbotError:
            raise
        except Exception as exc:  # refused, unknown host, bad password, unopenable file
            raise DatabaseUnavailable.of(config.database_url, exc) from exc
        try:
            spool = Spool(config.spool_dir, db, clock)
        except OSError as exc:
            raise SpoolError(f"spool {config.spool_dir}: cannot use it: {exc.strerror}") from exc
        renderer = Renderer(config.templates_dir)
        # read once here: every worker thread verifies and signs with the same secrets
        secrets = load_secrets(
            os.environ.get(config.settings.agent_mail.secret_env), config.agent_secret_file
        )
        pipeline = Pipeline(config, db, spool, renderer, clock, secrets)
        return cls(config, db, spool, renderer, pipeline, clock)

    def sender(self) -> Sender:
        outbound = self.config.settings.outbound
        transport = make_transport(
            outbound, self.config.maildir, self.config.settings.smtp.hostname
        )
        return Sender(
            self.db, outbound, transport, journal=self.config.sent_journal, clock=self.clock
        )

    def recover(self) -> None:
        adopted = self.spool.adopt_orphans()
        released = self.spool.release_dead_claims()
        if adopted or released:
            log.warning(
                "recovered after an unclean stop",
                extra={"adopted_files": adopted, "released_claims": released},
            )


def _sender_loop(sender: Sender, stop: threading.Event, wake: threading.Event) -> None:
    while not stop.is_set():
        try:
            busy = sender.send_due()
        except Exception:
            log.exception("sender loop error; retrying in 1 s")
            stop.wait(1.0)
            continue
        if not busy:
            # a worker in another process cannot wake us: look again soon
            wake.wait(IDLE_POLL_SECONDS)
            wake.clear()
    sender.close()


IDLE_POLL_SECONDS = 0.05
"""How often an idle worker or sender looks for work it was not told about."""


PARENT_PID_VARIABLE = "MAILBOT_SERVE_PID"
"""Set by serve for the workers it starts: the pid they must die with."""

_PR_SET_PDEATHSIG = 1


def _start_worker(config: Config) -> subprocess.Popen[bytes]:
    """One `mailbot worker` child; it arms its own death signal (see `_die_with_parent`).

    Started from the event loop's thread on purpose: Linux sends the death signal when the
    *thread* that forked the child ends, and an executor thread may end long before serve.
    No `preexec_fn` either: it is not safe in a process that runs threads.
    """
    command = [sys.executable, "-m", "mailbot", "--config", str(config.path), "worker"]
    env = {**os.environ, PARENT_PID_VARIABLE: str(os.getpid())}
    return subprocess.Popen(command, stdout=subprocess.PIPE, env=env)


async def _until_ready(child: subprocess.Popen[bytes]) -> None:
    """Wait (off the event loop) for the child's "ready" line: its models are loaded."""
    assert child.stdout is not None
    loop = asyncio.get_running_loop()
    try:
        line = await loop.run_in_executor(None, child.stdout.readline)
    finally:
        child.stdout.close()
    if line.strip() != b"ready":
        code = await loop.run_in_executor(None, child.wait)
        raise MailbotError(f"worker process {child.pid} failed to start (exit {code})")


async def spawn_workers(config: Config, count: int) -> list[subprocess.Popen[bytes]]:
    """`mailbot worker` processes: the pipeline gets cores of its own, apart from the GIL
    the SMTP receiver and the sender share. Returns once each said it is ready; if one
    cannot start, none is left running."""
    children = [_start_worker(config) for _ in range(count)]
    try:
        for child in children:
            await _until_ready(child)
    except BaseException:
        for child in children:
            child.kill()
        for child in children:
            child.wait()
        raise
    return children


def _die_with_parent() -> None:
    """A worker started by serve dies with it, even when serve is killed -9: a worker left
    alone would go on claiming mail that nobody's receiver or sender looks after."""
    parent = os.environ.pop(PARENT_PID_VARIABLE, None)
    if parent is None:
        return  # started by hand: it lives on its own
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL) != 0:
        log.warning("cannot arm the parent-death signal", extra={"errno": ctypes.get_errno()})
    if os.getppid() != int(parent):
        # serve died before the signal was armed: nothing would ever stop this worker
        raise MailbotError(f"serve (pid {parent}) is gone before this worker started; stopping")


def run_worker(app: App) -> None:
    """`mailbot worker`: claim and process spool items until SIGTERM, then finish the item."""
    _die_with_parent()
    stop = threading.Event()
    wake = threading.Event()

    def on_signal(_signum: int, _frame: object) -> None:
        stop.set()
        wake.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
    worker = Worker(app.pipeline)
    app.pipeline.warm_up()
    log.info("worker started", extra={"worker": worker.name})
    print("ready", flush=True)
    try:
        worker.run_forever(stop, wake, idle=IDLE_POLL_SECONDS)
    finally:
        worker.close()
        app.db.dispose()


async def _listen(smtp: SmtpSettings, factory: Callable[[], asyncio.Protocol]) -> asyncio.Server:
    """Bind the SMTP port, not serving yet: taken, it stops serve before anything started."""
    loop = asyncio.get_running_loop()
    try:
        return await loop.create_server(factory, smtp.host, smtp.port, start_serving=False)
    except OSError as exc:
        raise _cannot_listen(smtp, exc) from exc


async def _open_door(server: asyncio.Server, smtp: SmtpSettings) -> None:
    """Start accepting. Two serves started at once may both bind (SO_REUSEADDR); the second
    to listen learns here that the port is taken."""
    try:
        await server.start_serving()
    except OSError as exc:
        raise _cannot_listen(smtp, exc) from exc


def _cannot_listen(smtp: SmtpSettings, exc: OSError) -> Unavailable:
    if exc.errno is not None and exc.errno > 0:
        reason = os.strerror(exc.errno).lower()  # not asyncio's "error while attempting..."
    else:  # a host name that does not resolve
        reason = exc.strerror or str(exc)
    return Unavailable(f"cannot listen on {smtp.listen}: {reason}")


async def _serve(app: App, ready: threading.Event | None = None) -> None:
    smtp = app.config.settings.smtp
    processes = app.config.settings.worker.processes
    stop = threading.Event()
    work = threading.Event()
    outbox = threading.Event()
    # the port first: a second serve on it stops here, before it starts any worker or
    # adopts, as its own orphans, files the first one is about to record
    server = await _listen(smtp, lambda: door.factory())
    from mailbot.metrics import start as start_metrics  # [metrics] listen: /metrics, /health

    start_metrics(app.config, app.db, app.clock)
    await asyncio.get_running_loop().run_in_executor(None, app.recover)

    def on_outcome(outcome: Outcome) -> None:
        if outcome.outcome == "ticket":
            outbox.set()

    # passwords are read now: a missing one stops serve before it listens (exit 78)
    pollers = build_pollers(app.config, app.spool, lambda _mailbox: lambda _taken: work.set())
    poll_stop = threading.Event()
    sender = app.sender()
    # daemons: should the event loop die, no thread may keep the process (and port) alive
    threads = [
        threading.Thread(
            target=_sender_loop, args=(sender, stop, outbox), name="sender", daemon=True
        )
    ]
    children = await spawn_workers(app.config, processes)
    worker = Worker(app.pipeline, on_outcome) if processes == 0 else None
    if worker is not None:
        log.warning(
            "worker.processes = 0: the pipeline runs inside serve, where "
            "worker.item_time_limit cannot stop a mail that takes too long"
        )
        app.pipeline.warm_up()
        threads.append(
            threading.Thread(
                target=worker.run_forever, args=(stop, work), name="worker", daemon=True
            )
        )
    for thread in threads:
        thread.start()
    poll_threads = _start_pollers(pollers, poll_stop)

    executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="spool")
    handler = SpoolHandler(app.config, app.spool, executor, on_accept=lambda _id: work.set())
    loop = asyncio.get_running_loop()
    door = Door(app.config, handler)
    await _open_door(server, smtp)
    done = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, done.set)
    log.info(
        "mailbot serving",
        extra={
            "listen": smtp.listen,
            "desks": sorted(app.config.desks),
            "worker_processes": processes,
            "imap": [p.mailbox.name for p in pollers],
            "outbound": "relay" if app.config.settings.outbound.relay else str(app.config.maildir),
        },
    )
    if ready is not None:
        ready.set()
    supervisor = _Supervisor(app, children)
    while not done.is_set():
        try:
            await asyncio.wait_for(done.wait(), timeout=supervisor.interval)
        except TimeoutError:
            await supervisor.tick()
    children = supervisor.children

    log.info("stopping: no new connections; letting open SMTP sessions finish")
    poll_stop.set()
    server.close()
    if not await door.drain(SESSION_TIMEOUT):
        log.warning(
            "some SMTP sessions were still open at stop; their senders will retry",
            extra={"waited_seconds": SESSION_TIMEOUT},
        )
    await server.wait_closed()
    await loop.run_in_executor(None, executor.shutdown, True)
    for thread in poll_threads:
        await loop.run_in_executor(None, thread.join)
    for child in children:
        child.terminate()
    for child in children:
        await loop.run_in_executor(None, child.wait)
    stop.set()
    work.set()
    outbox.set()
    for thread in threads:
        await loop.run_in_executor(None, thread.join)
    if worker is not None:
        worker.close()
    app.db.dispose()
    log.info("stopped cleanly")


def _start_pollers(pollers: Sequence[Poller], stop: threading.Event) -> list[threading.Thread]:
    threads = [
        threading.Thread(
            target=poller.run_forever,
            args=(stop,),
            name=f"imap-{poller.mailbox.name}",
            daemon=True,
        )
        for poller in pollers
    ]
    for thread in threads:
        thread.start()
    return threads


def poll(
    app: App,
    *,
    names: Sequence[str] = (),
    once: bool = False,
    report: Callable[[dict[str, Any]], None] = lambda _line: None,
    wait: float = 30.0,
) -> PassResult:
    """`mailbot poll`: the configured pollers without serve. What they take in is processed
    here, before it is marked on the server, so tickets are made without a running serve;
    `report` gets one outcome line per message. `once`: one pass per mailbox, then return;
    else until SIGTERM/SIGINT. A `serve` running beside it is harmless: both take the same
    bytes to the same spool item."""
    app.recover()  # claims of a poll killed earlier would hold its items for their lease
    lock = threading.Lock()
    local = threading.local()
    workers: list[Worker] = []

    def processor(_mailbox: object) -> Callable[[Sequence[Taken]], None]:
        def settle(taken: Sequence[Taken]) -> None:
            worker: Worker | None = getattr(local, "worker", None)
            if worker is None:  # a worker's marker file is per thread
                worker = local.worker = Worker(app.pipeline)
                workers.append(worker)
            ids = list(dict.fromkeys(t.spool_id for t in taken if t.spool_id))
            with lock:  # the round's items in one claim, not one transaction each
                claimed = app.spool.claim(worker.name, len(ids), ids=ids) if ids else []
                fresh = {
                    o.spool_id: o.as_json()
                    for o in worker.run_items(claimed)
                    if o.outcome != "already_done"
                }
            for one in taken:
                if one.spool_id is None:
                    line = {"spool_id": None, "outcome": "skipped", "reason": one.reason}
                elif one.spool_id in fresh:
                    line = dict(fresh[one.spool_id])
                else:  # taken before, or held by a serve beside us: its recorded outcome
                    with lock:
                        line = process_now(worker, one.spool_id, None, wait)
                report({"mailbox": one.mailbox, "uid": one.uid, **line})

        return settle

    pollers = build_pollers(app.config, app.spool, processor, names=names)
    if not pollers:
        raise ConfigError(f"{app.config.path}: imap: no [[imap]] mailbox is configured")
    total = PassResult()
    try:
        if once:
            failure: MailbotError | None = None
            for poller in pollers:
                try:
                    total.add(poller.run_once())
                except MailbotError as exc:  # the other mailboxes still get their pass
                    log.error("mailbox unavailable", extra={**poller.context, "error": str(exc)})
                    failure = failure or exc
            if failure is not None:
                raise failure
            return total
        stop = threading.Event()
        previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in _STOP_SIGNALS}
        try:
            threads = _start_pollers(pollers, stop)
            log.info("polling", extra={"imap": [p.mailbox.name for p in pollers]})
            while not stop.wait(0.5):
                if not any(thread.is_alive() for thread in threads):
                    break
            stop.set()
            for thread in threads:
                thread.join()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return total
    finally:
        for worker in workers:
            worker.close()
        app.db.dispose()


_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def _escalate(app: App) -> None:
    from mailbot.escalation import check

    try:
        for notice in check(app.db, app.config, app.renderer, app.clock()):
            log.warning("SLA notice sent", extra=notice)
    except Exception:
        log.exception("SLA check failed; trying again in 30 s")


async def _replace_dead(
    config: Config, children: list[subprocess.Popen[bytes]]
) -> list[subprocess.Popen[bytes]]:
    """Start workers for the ones that died, without holding up the SMTP sessions."""
    alive = [child for child in children if child.poll() is None]
    dead = [child.returncode for child in children if child.returncode is not None]
    if dead:
        log.error("a worker process died; starting another", extra={"exit_codes": dead})
    while len(alive) < config.settings.worker.processes:
        child = _start_worker(config)
        try:
            await _until_ready(child)
        except MailbotError as exc:
            # keep receiving (the mail waits in the spool); the next tick tries again
            log.error("cannot replace a dead worker yet", extra={"error": str(exc)})
            break
        alive.append(child)
    return alive


MAINTENANCE_SECONDS = 5.0
"""How often serve frees the claims of dead workers and replaces them; SLA checks every 6th."""

FAILSAFE_SECONDS = 10.0
"""After serve's event loop ended with an error, how long the process may take to exit
before it is ended outright (a thread stuck in a lock must not keep the port open)."""


class _Supervisor:
    """serve's upkeep, run between SMTP sessions on the event loop: the time limit of the
    worker processes' items, dead workers' claims, their replacements, the SLA checks.

    Each job is guarded: an error is logged with its traceback and the next tick runs as
    usual, since a loop that died here would leave serve listening with nobody behind it.
    Times are measured on the monotonic clock: they bound real work, not business time.
    """

    def __init__(self, app: App, children: list[subprocess.Popen[bytes]]) -> None:
        self.app = app
        self.children = children
        self.limit = app.config.settings.worker.item_time_limit
        self.interval = min(1.0, max(0.05, self.limit / 5))
        """How often markers are read: an item is stopped at most this long past its limit."""
        self._started: dict[str, tuple[tuple[str, int], float]] = {}
        self._next_round = time.monotonic() + MAINTENANCE_SECONDS
        self._rounds = 0
        self._last_error: dict[str, tuple[str, float]] = {}

    async def tick(self) -> None:
        loop = asyncio.get_running_loop()
        await self._guarded("item time limit", self.enforce_time_limit)
        if time.monotonic() < self._next_round:
            return
        self._next_round = time.monotonic() + MAINTENANCE_SECONDS
        self._rounds += 1
        # a worker that died (killed, out of memory) leaves claims only we can free
        await self._guarded(
            "release dead claims",
            lambda: loop.run_in_executor(None, self.app.spool.release_dead_claims),
        )
        await self._guarded("replace dead workers", self.replace_dead)
        if self._rounds % 6 == 0:  # every 30 s: SLA warnings and breach notices
            await self._guarded(
                "SLA check", lambda: loop.run_in_executor(None, _escalate, self.app)
            )

    async def _guarded(self, job: str, run: Callable[[], Awaitable[object]]) -> None:
        try:
            await run()
        except Exception as exc:
            # the same failure every tick is logged once a minute, not once a second
            now = time.monotonic()
            seen = self._last_error.get(job)
            if seen is not None and seen[0] == repr(exc) and now - seen[1] < 60:
                return
            self._last_error[job] = (repr(exc), now)
            log.exception("serve upkeep failed; serve goes on", extra={"job": job})

    async def replace_dead(self) -> None:
        self.children = await _replace_dead(self.app.config, self.children)

    async def enforce_time_limit(self) -> None:
        """Stop a worker still on the same item after `item_time_limit` seconds; the item is
        charged an attempt, the rest of the worker's batch is freed and another worker
        started, all at once: the mail behind a hostile one waits seconds, not hours."""
        running = {child.pid: child for child in self.children if child.poll() is None}
        if not running:
            return
        loop = asyncio.get_running_loop()
        busy = await loop.run_in_executor(None, self.app.spool.busy_workers, set(running))
        now = time.monotonic()
        started: dict[str, tuple[tuple[str, int], float]] = {}
        over = []
        for one in busy:
            attempt = (one.spool_id, one.started)
            known = self._started.get(one.owner)
            since = known[1] if known is not None and known[0] == attempt else now
            started[one.owner] = (attempt, since)
            if now - since > self.limit:
                over.append(one)
        self._started = started
        for one in over:
            child = running[one.pid]
            log.error(
                "spool item over its time limit; stopping its worker",
                extra={"spool_id": one.spool_id, "worker_pid": one.pid, "limit": self.limit},
            )
            child.kill()
            await loop.run_in_executor(None, child.wait)
            detail = (
                f"took longer than {self.limit:g} s (worker.item_time_limit); "
                "its worker was stopped"
            )
            freed = await loop.run_in_executor(
                None, self.app.spool.release_worker, one.owner, detail
            )
            self._started.pop(one.owner, None)
            log.warning(
                "worker stopped; its item charged an attempt, its other claims freed",
                extra={"spool_id": one.spool_id, "worker_pid": one.pid, "freed": freed},
            )
        if over:
            await self.replace_dead()


def _exit_soon(code: int) -> None:
    """End the process with `code` in FAILSAFE_SECONDS unless it has ended by then."""

    def end() -> None:
        log.critical("serve did not exit in time; ending it", extra={"exit_code": code})
        for handler in logging.getLogger("mailbot").handlers:
            handler.flush()
        os._exit(code)

    timer = threading.Timer(FAILSAFE_SECONDS, end)
    timer.daemon = True
    timer.start()


async def _serve_until_stopped(app: App) -> None:
    """`_serve`, in a process that ends when it does. An error that ends its event loop
    ends serve with exit 1 (so a supervisor restarts it), logged with its traceback; a
    MailbotError (the port taken) keeps its own exit code."""
    try:
        await _serve(app)
    except MailbotError as exc:
        _exit_soon(exc.exit_code)
        raise
    except Exception as exc:
        _exit_soon(1)
        log.critical("serve stopped: its event loop failed", exc_info=True)
        raise MailbotError(f"serve stopped by an unexpected error: {first_line(exc)}") from exc
    except BaseException:
        _exit_soon(1)
        raise


def serve(config: Config) -> None:
    """`mailbot serve`. Whatever it needs is checked before it listens: the database (69),
    the spool folder (74), the port (69); nothing is left running when one fails."""
    app = App.build(config)
    app.spool.check_writable()
    asyncio.run(_serve_until_stopped(app))
