"""agent_address: the signed Reply-To that turns an agent's "Reply" into an agent's answer.

Every mail to an agent about a ticket carries `Reply-To: support+cbx-000042.<sig>@desk`, where
`sig` is an HMAC over the ticket number and that agent's address. A mail to such an address
is an agent's answer only when its signature verifies for the ticket it names AND the sender
it comes from: the signature cannot be guessed, and one agent's address is no good to another
person or for another ticket. Secrets rotate: the first one signs, every listed one verifies.

Lowercase base32, because mail systems may change the case of a local part.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets as random
from dataclasses import dataclass
from pathlib import Path

from mailbot.errors import ConfigError

SIGNATURE_CHARS = 16
"""80 bits of the HMAC: no one guesses that by writing mail."""

_SIGNED = re.compile(
    r"^(?P<local>[^+@\s]+)\+(?P<number>[a-z][a-z0-9]{1,9}-\d{6,})\."
    rf"(?P<sig>[a-z2-7]{{{SIGNATURE_CHARS}}})@(?P<domain>[^@\s]+)$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Secrets:
    accepted: tuple[bytes, ...]
    """The first signs; all verify (old ones stay here while a rotation settles)."""

    @property
    def signing(self) -> bytes:
        return self.accepted[0]


@dataclass(frozen=True)
class SignedAddress:
    base: str
    """The desk address it was made from (support@desk)."""
    number: str
    """The ticket number, upper case as mailbot writes it (CBX-000042)."""
    signature: str


def signature(secret: bytes, number: str, agent: str) -> str:
    mac = hmac.new(secret, f"{number.upper()}\n{agent.lower()}".encode(), hashlib.sha256)
    return base64.b32encode(mac.digest()).decode().lower()[:SIGNATURE_CHARS]


def signed_address(base: str, number: str, agent: str, secrets: Secrets) -> str:
    """`support+cbx-000042.<sig>@desk` for this agent on this ticket."""
    local, _, domain = base.rpartition("@")
    return f"{local}+{number.lower()}.{signature(secrets.signing, number, agent)}@{domain}"


def parse_signed(address: str) -> SignedAddress | None:
    """The parts of a signed address, or None when `address` is not shaped like one."""
    match = _SIGNED.match(address.strip())
    if match is None:
        return None
    return SignedAddress(
        base=f"{match['local']}@{match['domain']}".lower(),
        number=match["number"].upper(),
        signature=match["sig"].lower(),
    )


def verify(secrets: Secrets, signed: SignedAddress, agent: str) -> bool:
    """Whether `signed` was made for `agent` on its ticket, with any accepted secret."""
    return any(
        hmac.compare_digest(signature(secret, signed.number, agent), signed.signature)
        for secret in secrets.accepted
    )


def load_secrets(env_value: str | None, path: Path) -> Secrets:
    """From the environment variable's value (comma-separated) when set, else from `path`
    (one per line), which is created with one random secret, mode 0600, when missing."""
    if env_value is not None and env_value.strip():
        return _secrets(env_value.replace(",", "\n"), "the agent secret environment variable")
    try:
        return _secrets(path.read_text(encoding="utf-8"), str(path))
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the agent secrets: {exc.strerror}") from exc
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return _secrets(path.read_text(encoding="utf-8"), str(path))
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(random.token_urlsafe(32) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    return _secrets(path.read_text(encoding="utf-8"), str(path))


def _secrets(text: str, where: str) -> Secrets:
    found = tuple(line.strip().encode() for line in text.splitlines() if line.strip())
    if not found:
        raise ConfigError(f"{where}: no agent secret in it")
    if any(len(s) < 16 for s in found):
        raise ConfigError(f"{where}: an agent secret shorter than 16 characters is guessable")
    return Secrets(found)
