"""pipeline: one spool item -> one outcome (parse, rules, tickets); the worker loop around it.

It composes rooms and owns none: reading raw bytes goes through the spool, deciding through
the rules, writing through tickets (one transaction per outcome). An exception on one item
is charged to that item and the loop goes on, so one bad mail never holds up the next; an
item that fails `max_attempts` times is quarantined with reason `processing_error`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from typing import Any

from mailbot import agent_mail
from mailbot.agent_address import Secrets, load_secrets
from mailbot.agent_reply import agent_text
from mailbot.clock import Clock, system_clock
from mailbot.config import Config, Customer, DeskSettings
from mailbot.errors import NotFound, UnparseableMail
from mailbot.history import gather
from mailbot.kb import load as load_knowledge_bases
from mailbot.language import detect, reply_language
from mailbot.outcomes import (
    AgentAnswer,
    Outcome,
    Plan,
    predict,
    record_drop,
    record_quarantine,
    record_refusal,
)
from mailbot.parse import Mail, MailTooComplex, header_recipients, parse
from mailbot.replies import Renderer
from mailbot.rules import (
    ANNOTATION_KEYS,
    Action,
    Context,
    History,
    Judgement,
    Rule,
    compile_patterns,
    facts_read_by,
    load_rules,
    run,
)
from mailbot.rules._identification import Contracts
from mailbot.spool import Claimed, Spool, WorkMarker, worker_name
from mailbot.store import ConfirmedAddresses, Database, Events, SpoolItem, SpoolState, Tickets
from mailbot.textnorm import new_text
from mailbot.tickets import record_ticket

DETECTABLE = ("en", "ru", "uk", "pl", "sk", "cs", "fa")
"""Languages mailbot has templates and word lists for; detection chooses among these."""

AGENT_RULES = ("loops", "oversized", "distributive_attachment")
"""The desk's rules an agent's mail goes through: never relay a vacation reply, and only
attachments the desk would take from a customer go out to one."""

log = logging.getLogger("mailbot.pipeline")


def agent_rules(desk: DeskSettings, rules: Sequence[Rule], source: str) -> tuple[Rule, ...]:
    """The desk's own attachment rules, after the loop rule (which every desk gets here)."""
    loops = [r for r in rules if r.name == "loops"] or list(
        load_rules(desk.model_copy(update={"rules": ["loops"], "rule": {}}), source)
    )
    return (*loops, *(r for r in rules if r.name in AGENT_RULES[1:]))


class Pipeline:
    def __init__(
        self,
        config: Config,
        db: Database,
        spool: Spool,
        renderer: Renderer,
        clock: Clock = system_clock,
        agent_secrets: Secrets | None = None,
    ) -> None:
        """`agent_secrets` sign and verify agents' reply addresses; read from the
        configuration when not given (App.build reads them once for the whole App)."""
        self.config = config
        self.db = db
        self.spool = spool
        self.renderer = renderer
        self.clock = clock
        self.rules: dict[str, tuple[Rule, ...]] = {
            name: load_rules(desk, config.desk_files.get(name, f"desk {name}"))
            for name, desk in config.desks.items()
        }
        self.facts = {name: facts_read_by(rules) for name, rules in self.rules.items()}
        self.kb = load_knowledge_bases(config)
        self.contracts = {name: Contracts(desk.customers) for name, desk in config.desks.items()}
        self.agent_rules = {
            name: agent_rules(desk, self.rules[name], str(config.desk_files.get(name, name)))
            for name, desk in config.desks.items()
        }
        self.agent_secrets = agent_secrets or load_secrets(
            os.environ.get(config.settings.agent_mail.secret_env), config.agent_secret_file
        )

    def warm_up(self) -> None:
        """Load what the first mail would otherwise wait for: the language model and the
        keyword patterns (5 to 6 s for the shipped desks, not counted against a mail's
        `item_time_limit`)."""
        detect("warm up the language model, please", DETECTABLE)
        compile_patterns()

    def route(self, item: Claimed, raw: bytes, forced: str | None = None) -> DeskSettings | None:
        """The SMTP envelope decides; a file or mailbox without one is routed by its headers."""
        if forced:
            return self.config.desks.get(forced)
        for address in (*item.rcpt_to, *header_recipients(raw)):
            desk = self.config.desk_for_address(address)
            if desk is not None:
                return desk
        return None

    def plan(
        self,
        item: Claimed,
        raw: bytes,
        forced_desk: str | None = None,
        replies_suppressed: str | None = None,
    ) -> Plan | Outcome:
        """Read and judge, writing nothing: a Plan, or an Outcome when there is nothing to plan.

        `replies_suppressed` (why) applies the outcome without any automatic reply."""
        now = self.clock()
        desk = self.route(item, raw, forced_desk)
        if desk is None:
            to = ", ".join(item.rcpt_to or header_recipients(raw) or ("(none)",))
            return Outcome(
                item.id, "quarantined", "no_desk", f"no recipient is the address of a desk: {to}"
            )
        try:
            mail = parse(
                raw,
                accepted_at=item.accepted_at,
                # a transport that knows when the mail arrived (SMTP: now; IMAP: INTERNALDATE) says
                # so in accepted_at; for files the newest Received: header is the best we have
                arrival_from_headers=item.source not in ("smtp", "imap"),
                fallback_charsets=desk.fallback_charsets,
                languages=(desk.language, *desk.languages),
            )
        except MailTooComplex as exc:  # past a hard limit of parts, depth or lines
            return Outcome(item.id, "quarantined", exc.reason, str(exc), desk.name)
        except UnparseableMail as exc:
            return Outcome(item.id, "quarantined", "unparseable", str(exc), desk.name)
        if agent_mail.claims_agent_rights(desk, mail, item.rcpt_to):
            return self.plan_agent_mail(item, desk, mail, replies_suppressed)
        customer, identified_by = desk.customer_for(mail.from_addr)
        if customer is None and mail.from_addr:
            # an address an agent confirmed after identification by contract: from then on
            # the customer's own, like a contact the desk file lists
            customer = self.confirmed_customer(desk, mail.from_addr)
            identified_by = "confirmed" if customer is not None else None
        contract = None
        if customer is None:
            # a stranger giving the company name and contract number, as our refusal asks:
            # that customer's request, its address unconfirmed until an agent says so
            found = self.contracts[desk.name].identify(mail)
            if found is not None:
                customer, identified_by, contract = found.customer, "contract", found.contract
        # only a desk that answers in the mail's language needs to know it (0.2 ms a mail)
        detected = (
            detect(f"{mail.subject}\n{new_text(mail.text)}", DETECTABLE)
            if desk.reply_language == "mail"
            else None
        )
        history = gather(
            self.db, desk, mail, customer, now, self.facts[desk.name], by_address=contract is None
        )
        language = reply_language(desk, customer, detected)
        articles = tuple(
            self.kb[desk.name].search(f"{mail.subject}\n{new_text(mail.text)}", language)
        )
        context = Context(
            desk=desk,
            envelope_from=item.mail_from,
            now=now,
            customer=customer,
            identified_by=identified_by,
            mail_language=detected,
            history=history,
            articles=articles,
        )
        judgement = run(self.rules[desk.name], mail, context, item.skip_rules)
        stop = judgement.stopping
        if (stop is None or stop.action != Action.drop) and not mail.from_addr:
            return Outcome(
                item.id,
                "quarantined",
                "no_sender",
                "no From or Sender address to answer",
                desk.name,
            )
        return Plan(
            item.id,
            desk,
            mail,
            judgement,
            customer,
            language,
            history,
            now,
            self.config.old_mail_after(desk),
            replies_suppressed,
            self.agent_secrets,
            articles=articles,
            contract=contract,
            envelope_from=item.mail_from,
        )

    def confirmed_customer(self, desk: DeskSettings, address: str) -> Customer | None:
        """The customer an agent confirmed `address` for (`mailbot customers confirm`), if
        the desk file still has that customer. Read for every unknown sender: an agent may
        confirm while serve runs."""
        with self.db.reading() as session:
            name = ConfirmedAddresses(session).customer_of(desk.name, address)
        return next((c for c in desk.customers if c.name == name), None) if name else None

    def plan_agent_mail(
        self, item: Claimed, desk: DeskSettings, mail: Mail, replies_suppressed: str | None
    ) -> Plan | Outcome:
        """A mail that claims agent rights: an auto-reply is dropped first (a vacation notice
        is never relayed), then every agent check, then the desk's attachment rules."""
        now = self.clock()
        context = Context(desk=desk, envelope_from=item.mail_from, now=now)
        rules = self.agent_rules[desk.name]

        def plan(judgement: Judgement, answer: AgentAnswer | None) -> Plan:
            return Plan(
                item.id,
                desk,
                mail,
                judgement,
                None,
                desk.language,
                History(),
                now,
                self.config.old_mail_after(desk),
                replies_suppressed,
                self.agent_secrets,
                answer,
                envelope_from=item.mail_from,
            )

        looping = run(rules[:1], mail, context, item.skip_rules)
        if looping.stopping is not None:
            return plan(looping, None)

        def ticket_on_desk(number: str) -> bool:
            with self.db.reading() as session:
                return Tickets(session).by_number(number, desk=desk.name) is not None

        verified = agent_mail.check(
            desk, mail, item.rcpt_to, *agent_mail.verify_with(self.agent_secrets), ticket_on_desk
        )
        if isinstance(verified, str):
            return Outcome(item.id, "quarantined", agent_mail.FORGED, verified, desk.name)
        answer = AgentAnswer(verified.agent, verified.number, agent_text(mail))
        return plan(run(rules[1:], mail, context, item.skip_rules), answer)

    def process(
        self,
        item: Claimed,
        forced_desk: str | None = None,
        replies_suppressed: str | None = None,
    ) -> Outcome:
        max_attempts = self.config.settings.spool.max_attempts
        if item.attempts >= max_attempts:
            detail = self.spool.get(item.id).detail or "no error recorded"
            return record_quarantine(
                self.db,
                item.id,
                desk=None,
                reason="processing_error",
                detail=f"failed {item.attempts} times; last: {detail}",
                now=self.clock(),
            )
        planned = self.plan(item, self.spool.read(item.id), forced_desk, replies_suppressed)
        if isinstance(planned, Outcome):
            return record_quarantine(
                self.db,
                item.id,
                desk=planned.desk,
                reason=planned.reason or "unknown",
                detail=planned.detail or "",
                now=self.clock(),
            )
        return self.apply(planned)

    def apply(self, plan: Plan) -> Outcome:
        stop = plan.judgement.stopping
        if stop is not None and stop.action == Action.drop:
            return record_drop(
                self.db,
                plan.spool_id,
                desk=plan.desk.name,
                reason=stop.reason,
                detail=stop.detail,
                now=plan.now,
            )
        if plan.agent_answer is not None:
            if stop is not None:
                return agent_mail.record_agent_refusal(self.db, plan, stop, self.renderer)
            return agent_mail.record_agent_reply(self.db, plan, self.renderer)
        if stop is not None:
            return record_refusal(self.db, self.unrepeated(plan, stop.reason), stop, self.renderer)
        return record_ticket(self.db, plan, self.renderer)

    def unrepeated(self, plan: Plan, refusal: str) -> Plan:
        """The plan, holding the reply back when this very mail already had this refusal
        queued (a release from quarantine that runs the same rules again): the customer hears
        a refusal once per mail; the history records the one held back (reply_suppressed)."""
        if plan.replies_suppressed is not None:
            return plan
        with self.db.reading() as session:
            events = Events(session).of_spool_item(plan.spool_id)
        if not any(e.kind == "reply_queued" and e.detail.get("reply") == refusal for e in events):
            return plan
        why = f"this mail's sender already had the {refusal} refusal for it; not sent twice"
        return dataclasses.replace(plan, replies_suppressed=why)

    def dry_run(self, item: Claimed, raw: bytes, forced_desk: str | None = None) -> Outcome:
        planned = self.plan(item, raw, forced_desk)
        return planned if isinstance(planned, Outcome) else predict(planned)


class Worker:
    """Claims items and runs them through the pipeline, one at a time, until stopped.

    A failed attempt is recorded (charged, its lease freed) at once. When even that cannot
    be written (the database refuses: locked past its busy timeout, gone), the worker gives
    up the rest of its batch and owes the record: before it claims anything again it pays
    it, charging the item and freeing every claim it holds in one transaction, retried each
    second until the database takes it. So a database error never leaves mail leased to a
    worker for the length of a lease.
    """

    def __init__(self, pipeline: Pipeline, on_outcome: Callable[[Outcome], None] | None = None):
        self.pipeline = pipeline
        self.name = worker_name()
        self.marker = WorkMarker(pipeline.spool, self.name)
        self.on_outcome = on_outcome
        self.owed: tuple[str, str] | None = None
        """(spool id, error) of a failed attempt not recorded yet."""

    def run_items(
        self,
        items: Sequence[Claimed],
        forced_desk: str | None = None,
        replies_suppressed: str | None = None,
    ) -> list[Outcome]:
        """Raises only when a failure could not be recorded (see the class): the caller's
        loop waits and calls again, which first pays what is owed."""
        self.settle()
        outcomes = []
        for item in items:
            self.marker.set(item.id)
            try:
                outcome = self.pipeline.process(item, forced_desk, replies_suppressed)
            except Exception as exc:  # one bad item must never stop the loop
                error = "".join(traceback.format_exception_only(exc)).strip()
                log.error(
                    "processing failed",
                    extra={
                        "spool_id": item.id,
                        "error": error,
                        "trace": traceback.format_exc(limit=8),
                    },
                )
                self.marker.clear()  # not processing now: serve's time limit is not for this
                self.owed = (item.id, error)
                try:
                    self.pipeline.spool.note_failure(item.id, error)
                except Exception:
                    log.exception(
                        "cannot record the failed attempt; giving the batch back once the "
                        "database takes it",
                        extra={"spool_id": item.id, "worker": self.name},
                    )
                    raise
                self.owed = None
                continue
            self.marker.clear()
            outcomes.append(outcome)
            log.info("processed", extra={"spool_id": item.id, **outcome.as_json()})
            if self.on_outcome is not None:
                self.on_outcome(outcome)
        return outcomes

    def settle(self) -> None:
        """Record an owed failed attempt and free every claim this worker still holds."""
        if self.owed is None:
            return
        spool_id, error = self.owed
        self.pipeline.spool.note_failure(spool_id, error, worker=self.name)
        log.warning(
            "failed attempt recorded late; the batch behind it is free again",
            extra={"spool_id": spool_id, "worker": self.name},
        )
        self.owed = None

    def run_once(self, limit: int = 32) -> int:
        self.settle()
        items = self.pipeline.spool.claim(self.name, limit)
        self.run_items(items)
        return len(items)

    def run_forever(self, stop: threading.Event, wake: threading.Event, idle: float = 0.5) -> None:
        while not stop.is_set():
            try:
                busy = self.run_once()
            except Exception:  # the database went away for a moment: wait, do not die
                log.exception("worker loop error; retrying in 1 s")
                stop.wait(1.0)
                continue
            if not busy:
                wake.wait(idle)
                wake.clear()

    def close(self) -> None:
        owed = self.owed[0] if self.owed is not None else None
        if owed is not None:
            log.error(
                "stopping with a failed attempt not recorded; the next start charges it",
                extra={"spool_id": owed, "worker": self.name},
            )
        self.marker.close(owed=owed)


def recorded_outcome(db: Database, item: SpoolItem) -> dict[str, Any]:
    """An item finished earlier (the same bytes taken in again): its recorded outcome, in the
    shape of a fresh outcome line."""
    line: dict[str, Any] = {
        "spool_id": item.id,
        "desk": item.desk,
        "outcome": item.outcome,
        "ticket": None,
        "reason": item.reason,
        "detail": item.detail,
        "missing": [],
        **dict.fromkeys(ANNOTATION_KEYS),
    }
    if item.ticket_id is not None:
        with db.reading() as session:
            ticket = Tickets(session).get(item.ticket_id)
        if ticket is not None:
            line["ticket"] = ticket.number
            line["missing"] = list(ticket.missing) if item.outcome == "ticket" else []
            if item.outcome == "ticket":
                line.update({key: getattr(ticket, key) for key in ANNOTATION_KEYS})
    return line


def process_now(
    worker: Worker,
    spool_id: str,
    desk: str | None,
    wait: float,
    replies_suppressed: str | None = None,
) -> dict[str, Any]:
    """Process one item now and return its outcome line; if another worker (a running
    `serve`) holds it, wait up to `wait` seconds for that worker's outcome instead."""
    pipeline = worker.pipeline
    deadline = time.monotonic() + wait
    while True:
        items = pipeline.spool.claim(worker.name, 1, ids=[spool_id])
        if items:
            outcomes = worker.run_items(items, desk, replies_suppressed)
            if outcomes and outcomes[0].outcome != "already_done":
                return dict(outcomes[0].as_json())
        item = pipeline.spool.get(spool_id)
        if item.state != SpoolState.received:
            return recorded_outcome(pipeline.db, item)
        if time.monotonic() > deadline:
            return {
                "spool_id": spool_id,
                "desk": None,
                "outcome": "pending",
                "ticket": None,
                "reason": "still being processed by another worker",
                "detail": item.detail,
            }
        time.sleep(0.1)


def dry_run_bytes(pipeline: Pipeline, raw: bytes, desk: str | None) -> dict[str, Any]:
    """What taking `raw` in would print, writing nothing: the recorded outcome if these very
    bytes were taken before, else what every rule would decide."""
    item = Claimed(hashlib.sha256(raw).hexdigest(), "file", None, (), pipeline.clock(), 0)
    try:
        known: SpoolItem | None = pipeline.spool.get(item.id)
    except NotFound:
        known = None
    if known is not None and known.state != SpoolState.received:
        line = recorded_outcome(pipeline.db, known)
    else:
        line = pipeline.dry_run(item, raw, desk).as_json()
    line["dry_run"] = True
    return line
