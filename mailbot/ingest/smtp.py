"""ingest.smtp: the SMTP receiver (aiosmtpd); touches the spool only.

250 is said only after `spool.accept` returned, i.e. after the bytes are fsynced and the row
committed. Anything else that goes wrong inside a session -- the spool refusing, or an error
nobody foresaw -- answers 451: RFC 5321 lets the sender retry a 4xx, while a 5xx (aiosmtpd's
default for an unexpected exception is 500) would make it give up and the mail would be lost.
Known permanent refusals stay permanent: oversized mail gets 552 at MAIL FROM when the client
declares SIZE (aiosmtpd advertises it), and in any case before it reaches the spool; only the
desks' addresses are accepted as recipients (550: no open relay).

`Door` keeps the open sessions so that a stop can let each finish the transaction it is in
(a sender half-way through DATA gets its answer) while idle ones are told 421 and closed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from mailbot.config import Config
from mailbot.errors import SpoolError
from mailbot.spool import Spool

log = logging.getLogger("mailbot.smtp")

SESSION_TIMEOUT = 120.0
"""Seconds a silent client keeps its session; also how long a stop waits for open sessions."""

TRY_LATER = "451 4.3.0 cannot store the message right now, please try again later"
STOPPING = b"421 4.3.2 mailbot is stopping, please try again later\r\n"


class SpoolHandler:
    def __init__(
        self,
        config: Config,
        spool: Spool,
        executor: ThreadPoolExecutor,
        on_accept: Callable[[str], None] = lambda _id: None,
    ) -> None:
        self.config = config
        self.spool = spool
        self.executor = executor
        self.on_accept = on_accept

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if self.config.desk_for_address(address) is None:
            log.info("recipient refused", extra={"rcpt": address, "peer": str(session.peer)})
            return f"550 5.1.1 <{address}>: not a support address here (this is no relay)"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        if raw is None:
            return "554 5.6.0 no message data"
        context = {
            "peer": str(session.peer),
            "mail_from": envelope.mail_from,
            "rcpt_to": list(envelope.rcpt_tos),
            "size": len(raw),
        }
        accept = partial(
            self.spool.accept,
            raw,
            "smtp",
            mail_from=envelope.mail_from,
            rcpt_to=list(envelope.rcpt_tos),
        )
        try:
            spool_id = await asyncio.get_running_loop().run_in_executor(self.executor, accept)
        except SpoolError as exc:
            log.error(
                "spool refused a message; sender told to retry",
                extra={**context, "error": str(exc)},
            )
            return TRY_LATER
        except Exception:
            # here we still know whose message it was; handle_exception would not
            log.exception("unexpected error storing a message; sender told to retry", extra=context)
            return TRY_LATER
        self.on_accept(spool_id)
        log.debug("accepted", extra={**context, "spool_id": spool_id})
        return f"250 2.0.0 OK queued as {spool_id[:16]}"

    async def handle_exception(self, error: Exception) -> str:
        """aiosmtpd asks this for the answer to any other unexpected error in a session."""
        log.error(
            "unexpected error in an SMTP session; sender told to retry",
            exc_info=(type(error), error, error.__traceback__),
        )
        return TRY_LATER


class _Session(SMTP):
    """aiosmtpd's session, reporting to the `Door` when it opens, ends, or ends a transaction."""

    def __init__(self, door: Door, handler: SpoolHandler, **kwargs: Any) -> None:
        self.door = door  # before super(): its __init__ already resets the envelope
        super().__init__(handler, **kwargs)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.door.sessions.add(self)
        if self.door.stopping:
            self.close_if_idle()

    def connection_lost(self, error: Exception | None) -> None:
        super().connection_lost(error)
        self.door.ended(self)

    def _set_post_data_state(self) -> None:
        super()._set_post_data_state()  # type: ignore[no-untyped-call]
        if self.door.stopping:
            # the transaction's answer is written right after this returns: close after it
            self.loop.call_soon(self.close_if_idle)

    def close_if_idle(self) -> None:
        """Close unless a transaction (MAIL FROM onwards) is under way."""
        if self.transport is None or (
            self.envelope is not None and self.envelope.mail_from is not None
        ):
            return
        self.close_now()

    def close_now(self) -> None:
        if self.transport is None:
            return
        if isinstance(self.transport, asyncio.WriteTransport):
            self.transport.write(STOPPING)  # RFC 5321 3.8: a server going down says 421 first
        self.transport.close()


class Door:
    """The receiver's open sessions: a stop closes the door and lets them finish."""

    def __init__(self, config: Config, handler: SpoolHandler) -> None:
        self.config = config
        self.handler = handler
        self.sessions: set[_Session] = set()
        self.stopping = False
        self._all_ended: asyncio.Event | None = None

    def factory(self) -> SMTP:
        smtp = self.config.settings.smtp
        return _Session(
            self,
            self.handler,
            data_size_limit=smtp.max_message_size,
            enable_SMTPUTF8=True,
            decode_data=False,
            hostname=smtp.hostname,
            ident="mailbot",
            timeout=SESSION_TIMEOUT,
        )

    def ended(self, session: _Session) -> None:
        self.sessions.discard(session)
        if not self.sessions and self._all_ended is not None:
            self._all_ended.set()

    async def drain(self, timeout: float = SESSION_TIMEOUT) -> bool:
        """Close idle sessions now and the others as their transaction ends; wait for all.

        The listening socket must already be closed. False if some were still open after
        `timeout`: those are cut off, and their senders (never told 250) will retry.
        """
        self.stopping = True
        self._all_ended = asyncio.Event()
        for session in list(self.sessions):
            session.close_if_idle()
        if not self.sessions:
            return True
        try:
            await asyncio.wait_for(self._all_ended.wait(), timeout)
            return True
        except TimeoutError:
            for session in list(self.sessions):
                session.close_now()
            return False
