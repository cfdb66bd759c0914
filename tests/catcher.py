"""The outside world's SMTP server, catching mailbot's outbound mail for the tests.

`tests.servers.Catcher` runs it in the test's process (aiosmtpd's `Controller`, a thread of
its own); run as a script it is a separate process, for tests about processes:
python tests/catcher.py PORT FOLDER [CERT KEY USER PASSWORD], printing "ready" once listening.

With a certificate, the catcher requires STARTTLS and then AUTH (PLAIN/LOGIN) with USER and
PASSWORD. Each message is written to FOLDER/<pid>-<n>.eml (fsynced, then renamed, so a reader
never sees half a file). A recipient whose local part starts with `refuse` gets a permanent
550, one starting with `later` a temporary 451.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import ssl
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult


class CatchingHandler:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.counter = itertools.count(1)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # type: ignore[no-untyped-def]
        local = address.split("@")[0].lower()
        if local.startswith("refuse"):
            return "550 5.1.1 mailbox unavailable (catcher refuses it)"
        if local.startswith("later"):
            return "451 4.3.0 try again later (catcher defers it)"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        n = next(self.counter)
        tmp = self.folder / f".{n}.tmp"
        with open(tmp, "wb") as fh:
            fh.write(envelope.original_content or envelope.content)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.folder / f"{os.getpid()}-{n:07d}.eml")
        return "250 OK caught"


def _authenticator(user: str, password: str):  # type: ignore[no-untyped-def]
    def check(server, session, envelope, mechanism, auth_data):  # type: ignore[no-untyped-def]
        ok = auth_data.login == user.encode() and auth_data.password == password.encode()
        return AuthResult(success=ok, handled=False)

    return check


def smtp_options(tls: Sequence[str | Path] | None) -> dict[str, Any]:
    """aiosmtpd's `SMTP` keywords: raw bytes, no size limit, and STARTTLS + AUTH on request."""
    # a fixed name: aiosmtpd otherwise asks the resolver for this host's FQDN per session
    options: dict[str, Any] = {
        "hostname": "catcher.test",
        "decode_data": False,
        "enable_SMTPUTF8": True,
        "data_size_limit": None,
    }
    if tls:
        cert, key, user, password = (str(arg) for arg in tls)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        options |= {
            "tls_context": context,
            "require_starttls": True,
            "auth_required": True,
            "authenticator": _authenticator(user, password),
        }
    return options


async def main(port: int, folder: Path, tls: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    handler = CatchingHandler(folder)
    options = smtp_options(tls or None)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(handler, **options), "127.0.0.1", port)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), Path(sys.argv[2]), sys.argv[3:]))
