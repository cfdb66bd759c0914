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
It also caps them: so many in all and per client address (one more is told 421 at once),
each closed after `idle_timeout_seconds` of silence and `session_max_seconds` in all; an
idle crowd must not use up serve's file handles, nor a NOOP now and then keep one forever.

DATA is streamed into a temporary spool file (`Spool.incoming`) as it arrives: aiosmtpd's own
DATA keeps a bytearray per line and joins them, ~80 times the message in memory for a mail of
blank lines. Lines of any length are accepted, as Postfix does (RFC 5321's 1,000 is a floor
for what a server must take, and mail with longer lines exists); only the size limit refuses.
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
from mailbot.spool import Incoming, Spool

log = logging.getLogger("mailbot.smtp")

SESSION_TIMEOUT = 120.0
"""How long a stop waits for open sessions to finish their transaction."""

TRY_LATER = "451 4.3.0 cannot store the message right now, please try again later"
STOPPING = b"421 4.3.2 mailbot is stopping, please try again later\r\n"
BUSY = b"421 4.7.0 too many connections, please try again later\r\n"
FROM_YOU = b"421 4.7.0 too many connections from your address, please try again later\r\n"
TOO_LONG = b"421 4.4.2 session lasted too long, closing\r\n"
IDLE = b"421 4.4.2 idle too long, closing\r\n"

_END = b"\r\n.\r\n"
_CHUNK = 65536


class DataDecoder:
    """SMTP DATA as it arrives in arbitrary pieces -> the message (RFC 5321 4.5.2).

    The end is a line holding only "."; a line that starts with "." lost that dot to the
    sender's dot-stuffing. Both patterns begin with CRLF, so the stream is searched as if a
    CRLF came before it, and at most 4 bytes that might begin either pattern are held back
    between pieces. Work per piece is a few bytes operations, however many lines it has.
    """

    def __init__(self) -> None:
        self._carry = b"\r\n"  # the imaginary CRLF before the first line
        self._skip = 2
        self.done = False

    def feed(self, piece: bytes) -> tuple[bytes, bytes]:
        """The message bytes `piece` completes, and what came after the end (else b"")."""
        buf = self._carry + piece
        end = buf.find(_END)
        if end != -1:
            body, rest, self._carry = buf[: end + 2], buf[end + len(_END) :], b""
            self.done = True
        else:
            cut = buf.rfind(b"\r\n", max(0, len(buf) - 4))
            if cut == -1:
                cut = len(buf) - 1 if buf.endswith(b"\r") else len(buf)
            body, rest, self._carry = buf[:cut], b"", buf[cut:]
        out = body.replace(b"\r\n.", b"\r\n")
        if self._skip and out:
            out, self._skip = out[self._skip :], 0
        return out, rest


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

    async def store(self, session: Session, envelope: Envelope, incoming: Incoming) -> str:
        """Make a received message durable and recorded; the answer for the sender."""
        context = {
            "peer": str(session.peer),
            "mail_from": envelope.mail_from,
            "rcpt_to": list(envelope.rcpt_tos),
            "size": incoming.size,
        }
        accept = partial(
            self.spool.accept_incoming,
            incoming,
            "smtp",
            mail_from=envelope.mail_from,
            rcpt_to=list(envelope.rcpt_tos),
            wait=self.config.settings.smtp.store_wait_seconds,
        )
        try:
            stored = asyncio.get_running_loop().run_in_executor(self.executor, accept)
            # shielded: a sender hanging up must not cancel a store under way (the spool
            # thread owns `incoming` then, and removes the temporary itself)
            stored.add_done_callback(lambda done: done.cancelled() or done.exception())
            spool_id = await asyncio.shield(stored)
        except SpoolError as exc:
            log.error(
                "spool refused a message; sender told to retry",
                extra={**context, "error": str(exc)},
            )
            return TRY_LATER
        except Exception:
            incoming.discard()  # accept never ran: nobody else will remove the temporary
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


def _host_of(transport: asyncio.BaseTransport) -> str:
    peer = transport.get_extra_info("peername")
    return str(peer[0]) if isinstance(peer, tuple) and peer else str(peer)


class _Session(SMTP):
    """aiosmtpd's session, reporting to the `Door` when it opens, ends, or ends a transaction,
    with DATA streamed to the spool and a limit on its whole life."""

    def __init__(self, door: Door, handler: SpoolHandler, **kwargs: Any) -> None:
        self.door = door  # before super(): its __init__ already resets the envelope
        self.spool_handler = handler
        self.host = ""
        self.refused = False
        self._storing = False
        self._life: asyncio.TimerHandle | None = None
        super().__init__(handler, **kwargs)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.host = _host_of(transport)
        refusal = self.door.admit(self)
        if refusal is not None:
            # aiosmtpd is never told: no greeting, no reader task, nothing to clean up
            self.refused = True
            if isinstance(transport, asyncio.WriteTransport):
                transport.write(refusal)
            transport.close()
            return
        super().connection_made(transport)
        self._life = self.loop.call_later(
            self.door.config.settings.smtp.session_max_seconds, self._lived_too_long
        )
        if self.door.stopping:
            self.close_if_idle()

    def connection_lost(self, error: Exception | None) -> None:
        if self.refused:
            return
        if self._life is not None:
            self._life.cancel()
        super().connection_lost(error)
        self.door.ended(self)

    def _lived_too_long(self) -> None:
        if self._storing:  # its answer is a moment away: let the sender hear it
            self._life = self.loop.call_later(1.0, self._lived_too_long)
            return
        log.info("SMTP session lasted too long; closed", extra={"peer": str(self.session_peer)})
        self.close_now(TOO_LONG)

    def _timeout_cb(self) -> None:
        """aiosmtpd closes a silent session without a word; RFC 5321 4.2 prefers a 421."""
        log.info("SMTP session idle too long; closed", extra={"peer": str(self.session_peer)})
        self.close_now(IDLE)

    @property
    def session_peer(self) -> object:
        return self.session.peer if self.session is not None else self.host

    async def smtp_DATA(self, arg: str) -> None:
        """aiosmtpd's DATA, except that the message goes to a spool file as it arrives."""
        if await self.check_helo_needed():
            return
        if await self.check_auth_needed("DATA"):
            return
        assert self.envelope is not None and self.session is not None
        if not self.envelope.rcpt_tos:
            await self.push("503 5.5.1 Error: need RCPT command")
            return
        if arg:
            await self.push("501 5.5.4 Syntax: DATA")
            return
        try:
            incoming = self.spool_handler.spool.incoming()
        except OSError as exc:
            log.error(
                "cannot open a spool file; sender told to retry",
                extra={"peer": str(self.session.peer), "error": str(exc)},
            )
            await self.push(TRY_LATER)
            return
        try:
            await self.push("354 End data with <CR><LF>.<CR><LF>")
            status = await self._receive(incoming)
        except BaseException:  # the sender went away mid-DATA
            incoming.discard()
            raise
        if status is None:
            self._storing = True
            self._reset_timeout()
            try:  # from here the store owns `incoming`, whatever happens to this session
                status = await self.spool_handler.store(self.session, self.envelope, incoming)
            finally:
                self._storing = False
        else:
            incoming.discard()
        self._set_post_data_state()
        await self.push(status)

    async def _receive(self, incoming: Incoming) -> str | None:
        """Read DATA to its end into `incoming`; None if it is whole, else the refusal.

        A refusal is said only after the end, as RFC 5321 4.2.5 implies: the sender is still
        sending and would not read it before.
        """
        decoder = DataDecoder()
        limit = self.data_size_limit
        refusal: str | None = None
        while not decoder.done:
            piece = await self._reader.read(_CHUNK)
            if not piece:
                raise ConnectionResetError("client went away during DATA")
            self._reset_timeout()  # a sender still sending is not idle
            data, rest = decoder.feed(piece)
            if rest:  # pipelined commands after the end: hand them back to aiosmtpd
                self._reader._buffer[:0] = rest  # type: ignore[attr-defined]
            if refusal is not None or not data:
                continue
            if limit and incoming.size + len(data) > limit:
                refusal = f"552 5.3.4 message larger than this server accepts ({limit} bytes)"
                continue
            try:
                incoming.write(data)
            except OSError as exc:
                log.error(
                    "cannot write a spool file; sender told to retry",
                    extra={"peer": str(self.session_peer), "error": str(exc)},
                )
                refusal = TRY_LATER
        return refusal

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

    def close_now(self, why: bytes = STOPPING) -> None:
        if self.transport is None:
            return
        if isinstance(self.transport, asyncio.WriteTransport):
            self.transport.write(why)  # RFC 5321 3.8: a server closing a session says 421 first
        self.transport.close()


class Door:
    """The receiver's open sessions: a stop closes the door and lets them finish."""

    def __init__(self, config: Config, handler: SpoolHandler) -> None:
        self.config = config
        self.handler = handler
        self.sessions: set[_Session] = set()
        self.per_client: dict[str, int] = {}
        self.stopping = False
        self._all_ended: asyncio.Event | None = None

    def admit(self, session: _Session) -> bytes | None:
        """Count a new session in, or the 421 it gets if that would pass a cap."""
        smtp = self.config.settings.smtp
        if len(self.sessions) >= smtp.max_sessions:
            log.warning("SMTP session refused: too many open", extra={"peer": session.host})
            return BUSY
        if self.per_client.get(session.host, 0) >= smtp.max_sessions_per_client:
            log.info(
                "SMTP session refused: too many from one address", extra={"peer": session.host}
            )
            return FROM_YOU
        self.sessions.add(session)
        self.per_client[session.host] = self.per_client.get(session.host, 0) + 1
        return None

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
            timeout=smtp.idle_timeout_seconds,
        )

    def ended(self, session: _Session) -> None:
        if session in self.sessions:
            self.sessions.discard(session)
            left = self.per_client.get(session.host, 1) - 1
            if left > 0:
                self.per_client[session.host] = left
            else:
                self.per_client.pop(session.host, None)
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
