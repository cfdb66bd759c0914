"""ingest.smtp: the SMTP receiver (aiosmtpd); touches the spool only.

250 is said only after `spool.accept` returned, i.e. after the bytes are fsynced and the row
committed. When that fails the answer is 451: RFC 5321 lets the sender retry a 4xx, while a
5xx would make it give up and the mail would be lost. Oversized mail is refused with 552 at
MAIL FROM when the client declares SIZE (aiosmtpd advertises it), and in any case before it
reaches the spool. Only the desks' addresses are accepted as recipients: no open relay.
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
        loop = asyncio.get_running_loop()
        accept = partial(
            self.spool.accept,
            raw,
            "smtp",
            mail_from=envelope.mail_from,
            rcpt_to=list(envelope.rcpt_tos),
        )
        try:
            spool_id = await loop.run_in_executor(self.executor, accept)
        except SpoolError as exc:
            log.error("spool refused a message; sender told to retry", extra={"error": str(exc)})
            return "451 4.3.0 cannot store the message right now, please try again later"
        self.on_accept(spool_id)
        log.debug(
            "accepted",
            extra={
                "spool_id": spool_id,
                "mail_from": envelope.mail_from,
                "rcpt_to": envelope.rcpt_tos,
                "size": len(raw),
            },
        )
        return f"250 2.0.0 OK queued as {spool_id[:16]}"


def make_server_factory(config: Config, handler: SpoolHandler) -> Callable[[], Any]:
    smtp = config.settings.smtp

    def factory() -> SMTP:
        return SMTP(
            handler,
            data_size_limit=smtp.max_message_size,
            enable_SMTPUTF8=True,
            decode_data=False,
            hostname=smtp.hostname,
            ident="mailbot",
            timeout=120,
        )

    return factory
