"""A separate SMTP server process that catches mailbot's outbound mail for the tests.

Usage: python tests/catcher.py PORT FOLDER [CERT KEY USER PASSWORD]. With a certificate, the
catcher requires STARTTLS and then AUTH (PLAIN/LOGIN) with USER and PASSWORD. Each message
is written to FOLDER/<n>.eml (fsynced, then renamed, so a reader never sees half a file).
A recipient whose local part starts with `refuse` gets a permanent 550, one starting with
`later` a temporary 451.
Prints "ready" on stdout once listening.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import ssl
import sys
from pathlib import Path

from aiosmtpd.smtp import SMTP, AuthResult

counter = itertools.count(1)


class Catcher:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # type: ignore[no-untyped-def]
        local = address.split("@")[0].lower()
        if local.startswith("refuse"):
            return "550 5.1.1 mailbox unavailable (catcher refuses it)"
        if local.startswith("later"):
            return "451 4.3.0 try again later (catcher defers it)"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        n = next(counter)
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


async def main(port: int, folder: Path, tls: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    handler = Catcher(folder)
    options: dict[str, object] = {}
    if tls:
        cert, key, user, password = tls
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        options = {
            "tls_context": context,
            "require_starttls": True,
            "auth_required": True,
            "authenticator": _authenticator(user, password),
        }
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(
            handler, decode_data=False, enable_SMTPUTF8=True, data_size_limit=None, **options
        ),
        "127.0.0.1",
        port,
    )
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), Path(sys.argv[2]), sys.argv[3:]))
