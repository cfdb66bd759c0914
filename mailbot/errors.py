"""The error tree: every failure a person can act on, each with the exit code the CLI uses.

MailbotError            exit 1   anything mailbot itself reports
 +-- ConfigError        exit 78  a configuration file is missing, unreadable or invalid (EX_CONFIG)
 +-- SpoolError         exit 74  raw bytes could not be made durable (EX_IOERR)
 +-- UnparseableMail    exit 65  bytes that are not a readable e-mail at all (EX_DATAERR)
 +-- NotFound           exit 66  a ticket, spool item or file named on the command line (EX_NOINPUT)
 +-- MailboxUnavailable exit 69  an IMAP server unreachable or refusing the login (EX_UNAVAILABLE)
"""


class MailbotError(Exception):
    exit_code = 1


class ConfigError(MailbotError):
    exit_code = 78


class SpoolError(MailbotError):
    exit_code = 74


class UnparseableMail(MailbotError):
    """Raised by parse() only when nothing usable can be read; the pipeline quarantines it."""

    exit_code = 65


class NotFound(MailbotError):
    exit_code = 66


class MailboxUnavailable(MailbotError):
    """An IMAP mailbox could not be read (network, TLS, login); nothing was marked there."""

    exit_code = 69
