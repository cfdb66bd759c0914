"""service: builds the rooms from a Config and runs `mailbot serve` (receiver, worker, sender).

Stop order on SIGTERM/SIGINT matters for the invariant: first stop accepting connections and
let accepts in flight finish (a client that got no 250 will retry), then let the worker finish
its current item, then the sender its current mail. Anything left is still in the spool or the
outbox and is picked up on the next start.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from sqlalchemy import Engine

from mailbot.config import Config
from mailbot.ingest.smtp import SpoolHandler, make_server_factory
from mailbot.pipeline import Pipeline, Worker
from mailbot.replies import Renderer
from mailbot.sender import Sender, make_transport
from mailbot.spool import Spool
from mailbot.store import make_engine, upgrade
from mailbot.tickets import Outcome

log = logging.getLogger("mailbot.serve")


@dataclass
class App:
    config: Config
    engine: Engine
    spool: Spool
    renderer: Renderer
    pipeline: Pipeline

    @classmethod
    def build(cls, config: Config, *, migrate: bool = True) -> App:
        engine = make_engine(config.database_url)
        if migrate:
            upgrade(engine)
        spool = Spool(config.spool_dir, engine)
        renderer = Renderer(config.templates_dir)
        return cls(config, engine, spool, renderer, Pipeline(config, engine, spool, renderer))

    def sender(self) -> Sender:
        outbound = self.config.settings.outbound
        transport = make_transport(
            outbound, self.config.maildir, self.config.settings.smtp.hostname
        )
        return Sender(self.engine, outbound, transport, journal=self.config.sent_journal)

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
            wake.wait(1.0)
            wake.clear()
    sender.close()


async def _serve(app: App, ready: threading.Event | None = None) -> None:
    smtp = app.config.settings.smtp
    stop = threading.Event()
    work = threading.Event()
    outbox = threading.Event()

    def on_outcome(outcome: Outcome) -> None:
        if outcome.outcome == "ticket":
            outbox.set()

    worker = Worker(app.pipeline, on_outcome)
    sender = app.sender()
    threads = [
        threading.Thread(target=worker.run_forever, args=(stop, work), name="worker"),
        threading.Thread(target=_sender_loop, args=(sender, stop, outbox), name="sender"),
    ]
    for thread in threads:
        thread.start()

    executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="spool")
    handler = SpoolHandler(app.config, app.spool, executor, on_accept=lambda _id: work.set())
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        make_server_factory(app.config, handler), smtp.host, smtp.port
    )
    done = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, done.set)
    log.info(
        "mailbot serving",
        extra={
            "listen": smtp.listen,
            "desks": sorted(app.config.desks),
            "outbound": "relay" if app.config.settings.outbound.relay else str(app.config.maildir),
        },
    )
    if ready is not None:
        ready.set()
    await done.wait()

    log.info("stopping: no new connections; finishing work in flight")
    server.close()
    try:
        await asyncio.wait_for(server.wait_closed(), timeout=5)
    except TimeoutError:
        log.warning("some SMTP sessions were still open at stop; their senders will retry")
    await loop.run_in_executor(None, executor.shutdown, True)
    stop.set()
    work.set()
    outbox.set()
    for thread in threads:
        await loop.run_in_executor(None, thread.join)
    worker.close()
    app.engine.dispose()
    log.info("stopped cleanly")


def serve(config: Config) -> None:
    app = App.build(config)
    app.recover()
    asyncio.run(_serve(app))
