"""metrics: `serve`'s optional loopback HTTP port ([metrics] listen): /metrics for Prometheus
and /health for a supervisor.

The figures are those of `mailbot status` (`status.gather`), computed from the store at
each scrape by a custom collector rather than counted in memory as mail flows: the workers
run in processes of their own, a restart would zero in-memory counters, and a `mailbot poll`
or `worker` on another host changes the same store. So a scrape always says what the
database says, whoever did the work. /health applies the one rule of `status --check`:
200 "healthy", or 503 with the reasons, one a line.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from socketserver import ThreadingMixIn
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from mailbot.errors import Unavailable
from mailbot.status import Status, gather
from mailbot.store.reader import TICKET_STATES
from mailbot.store.status import DatabaseSource

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIEnvironment

    from mailbot.config import Config
    from mailbot.store import Database

log = logging.getLogger("mailbot.metrics")


class MetricsUnavailable(Unavailable):
    """The metrics port cannot be opened (taken, or not an address of this host)."""


Look = Callable[[], Status]
"""One fresh look at the store: what a scrape and a health check each take."""


class StoreCollector(Collector):
    """The status figures as metrics, read from the store at each scrape."""

    def __init__(self, look: Look) -> None:
        self.look = look

    def describe(self) -> Iterable[Metric]:
        return []  # nothing to read at registration: the store is asked at each scrape

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "mailbot_store_up", "1 when the store answered this scrape, 0 when it did not."
        )
        try:
            status = self.look()
        except Exception:
            log.exception("metrics: the store did not answer")
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from _figures(status)


def _figures(status: Status) -> Iterator[Metric]:
    tickets = GaugeMetricFamily(
        "mailbot_tickets", "Tickets by desk and state.", labels=["desk", "state"]
    )
    breached = GaugeMetricFamily(
        "mailbot_tickets_breached",
        "Open tickets whose clock (first_response or resolution) is past its due time.",
        labels=["desk", "clock"],
    )
    due_soon = GaugeMetricFamily(
        "mailbot_tickets_due_soon",
        f"Open tickets whose clock falls due within the next "
        f"{status.due_within.total_seconds() / 3600:g} hours.",
        labels=["desk", "clock"],
    )
    for desk in status.desks:
        for state in TICKET_STATES:
            tickets.add_metric([desk.name, state], desk.tickets.get(state, 0))
        for name, clock in (
            ("first_response", desk.first_response),
            ("resolution", desk.resolution),
        ):
            breached.add_metric([desk.name, name], clock.breached)
            due_soon.add_metric([desk.name, name], clock.due_soon)
    yield from (tickets, breached, due_soon)
    yield GaugeMetricFamily(
        "mailbot_spool_backlog",
        "Accepted mail waiting for its outcome.",
        value=status.spool_waiting,
    )
    age = status.spool_oldest_age
    yield GaugeMetricFamily(
        "mailbot_spool_oldest_age_seconds",
        "Age of the oldest mail waiting for its outcome (0 when none waits).",
        value=max(age.total_seconds(), 0.0) if age is not None else 0.0,
    )
    outbox = GaugeMetricFamily("mailbot_outbox_rows", "Outbox rows by state.", labels=["state"])
    for state, count in (
        ("pending", status.outbox.pending),
        ("failed", status.outbox.failed),
        ("sent", status.outbox.sent),
    ):
        outbox.add_metric([state], count)
    yield outbox
    yield GaugeMetricFamily(
        "mailbot_outbox_retrying",
        "Pending outbox rows already tried at least once (the relay deferred or was away).",
        value=status.outbox.retrying,
    )
    oldest_due = status.outbox.oldest_due
    yield GaugeMetricFamily(
        "mailbot_outbox_oldest_due_age_seconds",
        "How long the longest-due pending reply has been due (0 when none is due).",
        value=(status.now - oldest_due).total_seconds() if oldest_due is not None else 0.0,
    )
    quarantine = GaugeMetricFamily(
        "mailbot_quarantine_items", "Mail in quarantine, by reason.", labels=["reason"]
    )
    for reason, (total, _recent) in sorted(status.quarantine.by_reason.items()):
        quarantine.add_metric([reason], total)
    yield quarantine
    dropped = CounterMetricFamily(
        "mailbot_dropped_mail",
        "Mail recorded and never answered (auto-replies, bounces, lists...), by reason.",
        labels=["reason"],
    )
    for reason, (total, _recent) in sorted(status.dropped.by_reason.items()):
        dropped.add_metric([reason], total)
    yield dropped
    polled = GaugeMetricFamily(
        "mailbot_imap_last_pass_timestamp_seconds",
        "When each IMAP poller last finished a pass (Unix time; absent before its first).",
        labels=["mailbox"],
    )
    for poller in status.pollers:
        if poller.last_pass is not None:
            polled.add_metric([poller.mailbox], poller.last_pass.timestamp())
    yield polled
    yield GaugeMetricFamily(
        "mailbot_healthy",
        "1 when neither the spool nor the outbox is stuck (the rule of /health), else 0.",
        value=1 if status.healthy else 0,
    )


def health_app(look: Look) -> Callable[[WSGIEnvironment, StartResponse], Iterable[bytes]]:
    """/health: 200 and "healthy", or 503 and the reasons; 503 too when the store is down."""

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        try:
            status = look()
        except Exception as exc:
            log.exception("health: the store did not answer")
            code, text = "503 Service Unavailable", f"unhealthy\nstore: {type(exc).__name__}\n"
        else:
            healthy = status.healthy
            code = "200 OK" if healthy else "503 Service Unavailable"
            text = (
                "healthy\n"
                if healthy
                else "unhealthy\n" + "".join(f"{problem}\n" for problem in status.problems)
            )
        body = text.encode()
        start_response(
            code,
            [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))],
        )
        return [body]

    return app


def web_app(look: Look) -> Callable[[WSGIEnvironment, StartResponse], Iterable[bytes]]:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(look))
    ProcessCollector(registry=registry)
    metrics = make_wsgi_app(registry)
    health = health_app(look)

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/metrics":
            scraped: Iterable[bytes] = metrics(environ, start_response)
            return scraped
        if path == "/health":
            return health(environ, start_response)
        body = b"not found: try /metrics or /health\n"
        start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8")])
        return [body]

    return app


class _Server(ThreadingMixIn, WSGIServer):
    """One thread per request: a slow scrape does not hold up /health."""

    daemon_threads = True


class _Server6(_Server):
    address_family = socket.AF_INET6


class _Quiet(WSGIRequestHandler):
    """Scrapes every 15 s are not worth a log line each."""

    def log_message(self, format: str, *args: Any) -> None:
        pass


def start(config: Config, db: Database, clock: Callable[[], datetime]) -> WSGIServer | None:
    """Serve /metrics and /health in a thread of their own when [metrics] listen is set;
    None when it is not. MetricsUnavailable when the port cannot be had."""
    settings = config.settings.metrics
    if not settings.listen:
        return None
    source = DatabaseSource(db)

    def look() -> Status:
        return gather(source, config, clock())

    server_class = _Server6 if ":" in settings.host else _Server
    try:
        server = make_server(
            settings.host,
            settings.port,
            web_app(look),
            server_class=server_class,
            handler_class=_Quiet,
        )
    except OSError as exc:
        raise MetricsUnavailable(
            f"{config.path}: metrics.listen: cannot listen on {settings.listen}: {exc.strerror}"
        ) from exc
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    log.info("metrics serving", extra={"listen": settings.listen, "paths": ["/metrics", "/health"]})
    return server
