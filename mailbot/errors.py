"""The error tree: every failure a person can act on, each with the exit code the CLI uses.

One code, one meaning, for every command (the README's table says the same):

MailbotError               exit 1   anything mailbot itself reports that fits nothing below
 +-- Ambiguous             exit 2   a name given fits more than one thing (a short id prefix)
 +-- Refused               exit 3   the ticket's state or the desk's rules do not allow the action
 +-- UnparseableMail       exit 65  bytes that are not a readable e-mail at all (EX_DATAERR)
 +-- NotFound              exit 66  a ticket, spool item or file named on the command line
 +-- Unavailable           exit 69  a server or resource mailbot needs cannot be reached or used
 |    +-- MailboxUnavailable        an IMAP server unreachable or refusing the login
 |    +-- DatabaseUnavailable       the database cannot be opened, reached or written
 +-- SpoolError            exit 74  raw bytes could not be made durable (EX_IOERR)
 +-- ConfigError           exit 78  configuration missing, unreadable or invalid (EX_CONFIG)

Codes that no exception carries, because a command decides them from a result: 0 done;
2 a usage error (click: a bad option value, options that exclude each other); 4 unhealthy
(`status --check`); 70 `reprocess`: the counts do not add up; 75 `reprocess`: items still
being processed elsewhere.
"""

from __future__ import annotations


class MailbotError(Exception):
    exit_code = 1


class Ambiguous(MailbotError):
    """What the command line named fits several things; the message lists them. A usage
    error like click's own (2): the same command with a longer name will do."""

    exit_code = 2


class Refused(MailbotError):
    """The request was understood and is not allowed now (a solved ticket solved again, time
    logged on a ticket without a package): nothing was written. Not a usage error (the same
    command can succeed on another ticket) and not bad input (nothing was unreadable)."""

    exit_code = 3


class ConfigError(MailbotError):
    exit_code = 78


class SpoolError(MailbotError):
    exit_code = 74


class UnparseableMail(MailbotError):
    """Raised by parse() only when nothing usable can be read; the pipeline quarantines it."""

    exit_code = 65


class NotFound(MailbotError):
    exit_code = 66


class Unavailable(MailbotError):
    """Something outside mailbot that it needs is not there: retrying later may work, so a
    supervisor or cron can tell it apart from a mistake in the command or the config."""

    exit_code = 69


class MailboxUnavailable(Unavailable):
    """An IMAP mailbox could not be read (network, TLS, login); nothing was marked there."""


class DatabaseUnavailable(Unavailable):
    """The database could not be opened or reached (server down, a SQLite file in a folder
    that does not exist or cannot be written); nothing was done."""

    @classmethod
    def of(cls, url: str, exc: BaseException) -> DatabaseUnavailable:
        """The one way every command says it: which database (password masked) and the
        driver's own first line, without SQLAlchemy's wrapping (statement, link to docs)."""
        from mailbot.redact import masked

        return cls(f"database {masked(url)}: cannot be opened or reached: {first_line(exc)}")


def first_line(exc: BaseException) -> str:
    """What an exception (or the driver error SQLAlchemy wraps) says, on one line."""
    inner = getattr(exc, "orig", None) or exc
    if isinstance(inner, OSError) and inner.strerror:
        return f"{inner.strerror}: {inner.filename}" if inner.filename else inner.strerror
    text = str(inner).strip() or type(inner).__name__
    return text.splitlines()[0].strip()
