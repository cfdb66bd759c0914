"""redact: URLs fit to print. Database, relay and IMAP URLs may carry a password, and they end
up in logs, terminals and `--json` output; every place that shows one goes through here, so a
URL is masked the same way (and an unreadable one shown as little as possible) everywhere."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


def masked(url: str) -> str:
    """`url` with its password replaced by ***; an unreadable URL keeps only its scheme."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:  # an unreadable URL: show none of what may follow the scheme
        return url.split("://", 1)[0] + "://***" if "://" in url else "***"
    if not password:
        return url
    user, _, host = parts.netloc.rpartition("@")
    name = user.split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{name}:***@{host}"))
