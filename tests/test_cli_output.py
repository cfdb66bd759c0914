"""What the operator reads (issue 10): no `None`, every time in the desk's zone with its
offset (text and JSON), attachments as a JSON list, control characters a mail carries shown
escaped on the terminal (exact in JSON), and every command's --help in whole sentences."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from tests.conftest import SHIPPED_DESKS, run, stdout_of, write_config

NOW = "2026-11-23T10:00+02:00"
DATE = "Mon, 23 Nov 2026 10:00:00 +0200"
EVIL = "\x1b]0;pwned\x07\x1b[2J"
"""Sets the terminal's window title, then clears the screen."""
SHOWN = "\\x1b]0;pwned\\x07\\x1b[2J"
"""The same, as the terminal must show it."""
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
"""What must never reach a terminal from a mail (newline and tab are ours)."""
ISO_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:[+-]\d\d:\d\d|Z)?")
NONE = re.compile(r"\bNone\b")


def _mail(
    sender: str,
    subject: str,
    *,
    to: str = "support@cleverbox.test",
    body: str = "Добрый день! Не открывается модуль склада.",
    attachment: bytes | None = None,
) -> bytes:
    mail = EmailMessage()
    mail["Received"] = f"from mx.test by mx.cleverbox.test; {DATE}"
    mail["From"] = sender
    mail["To"] = to
    mail["Subject"] = subject  # encoded as RFC 2047 where it must be: the ESC survives
    mail["Date"] = DATE
    mail["Message-ID"] = f"<{abs(hash((sender, subject)))}@x.test>"
    mail.set_content(body)
    if attachment is not None:
        mail.add_attachment(attachment, maintype="text", subtype="plain", filename="log.txt")
    return bytes(mail)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_config(tmp_path, f"sqlite:///{tmp_path / 'm.db'}", desks=SHIPPED_DESKS)


def _ingest(config: Path, raw: bytes, name: str) -> dict[str, Any]:
    path = config.parent.parent / name
    path.write_bytes(raw)
    line: dict[str, Any] = json.loads(stdout_of(config, "ingest", "--now", NOW, str(path)))
    return line


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


# -- terminal escapes ------------------------------------------------------------------------


def test_control_characters_of_a_mail_are_escaped_on_the_terminal_exact_in_json(
    config: Path,
) -> None:
    body = f"Hello {EVIL}\x1b[31mred\x1b[0m\n\tindented\u202eevil"
    line = _ingest(config, _mail(f"{EVIL} <olena@vector.test>", EVIL, body=body), "t.eml")
    number = line["ticket"]
    for args in (("tickets", "list"), ("tickets", "show", number)):
        out = stdout_of(config, *args)
        assert not CONTROL.search(out), (args, out)
        assert SHOWN in out
    shown = stdout_of(config, "tickets", "show", number)
    assert f"   Hello {SHOWN}\\x1b[31mred\\x1b[0m" in shown
    assert "\tindented\\u202eevil" in shown  # a tab is harmless; a bidi override is not
    assert json.loads(stdout_of(config, "tickets", "list", "--json"))[0]["subject"] == EVIL
    exact = json.loads(stdout_of(config, "tickets", "show", number, "--json"))
    assert exact["subject"] == EVIL and exact["messages"][0]["subject"] == EVIL

    # a mail nobody takes: its sender and recipient reach `quarantine list/show`
    raw = (
        f'From: "{EVIL}"@evil.test\r\nTo: "{EVIL}"@nowhere.test\r\nSubject: x\r\n'
        f"Message-ID: <q@evil.test>\r\nDate: {DATE}\r\n\r\nbody\r\n"
    ).encode()
    entry = _ingest(config, raw, "q.eml")
    assert entry["reason"] == "no_desk"
    for args in (("quarantine", "list"), ("quarantine", "show", entry["spool_id"][:8])):
        out = stdout_of(config, *args)
        assert not CONTROL.search(out), (args, out)
        assert f'"{SHOWN}"@evil.test' in out
    [listed] = json.loads(stdout_of(config, "quarantine", "list", "--json"))
    assert listed["from"] == f'"{EVIL}"@evil.test'


# -- None, times, attachments ----------------------------------------------------------------


def test_no_none_and_every_time_in_the_desks_zone_with_its_offset(config: Path) -> None:
    ticket = _ingest(config, _mail("olena@vector.test", "Склад", attachment=b"hello"), "a.eml")
    quarantined = _ingest(config, _mail("stranger@nowhere.test", "Помогите"), "b.eml")
    assert quarantined["outcome"] == "quarantined"
    entry = quarantined["spool_id"][:8]
    crm = _ingest(
        config,
        _mail("ali@nemooneh.test", "سلام", to="support@crmonline.test", body="مشکل داریم"),
        "c.eml",
    )
    stdout_of(config, "tickets", "log", crm["ticket"], "--minutes", "30")

    texts = {
        "tickets list": stdout_of(config, "tickets", "list"),
        "tickets show": stdout_of(config, "tickets", "show", ticket["ticket"]),
        "quarantine list": stdout_of(config, "quarantine", "list"),
        "quarantine show": stdout_of(config, "quarantine", "show", entry),
        "packages show": stdout_of(config, "packages", "show", "شرکت نمونه"),
        "sla check": run(config, "sla", "check", "--dry-run", "--now", "2026-12-01T10:00+02:00")[1],
    }
    for name, text in texts.items():
        assert not NONE.search(text), (name, text)
    # Kyiv in November is +02:00, Tehran +03:30: every time shown says which
    assert "2026-11-23 10:00 +02:00" in texts["tickets list"]
    assert "2026-11-23 11:30 +03:30" in texts["tickets list"]  # the crmonline ticket
    assert "received 2026-11-23 10:00 +02:00" in texts["tickets show"]
    assert "2026-11-23 10:00 +02:00" in texts["quarantine list"]
    assert "accepted_at: 2026-11-23 10:00 +02:00" in texts["quarantine show"]

    number, desk = ticket["ticket"], "cleverbox"
    notices = [json.loads(x) for x in texts["sla check"].splitlines()]
    documents = {
        "tickets list": json.loads(stdout_of(config, "tickets", "list", "--json", "--desk", desk)),
        "tickets show": json.loads(stdout_of(config, "tickets", "show", number, "--json")),
        "quarantine list": json.loads(stdout_of(config, "quarantine", "list", "--json")),
        "quarantine show": json.loads(stdout_of(config, "quarantine", "show", entry, "--json")),
        "sla check": [n for n in notices if n["desk"] == "cleverbox"],
    }
    due_in_tehran = [
        json.loads(x)["due"] for x in texts["sla check"].splitlines() if '"crmonline"' in x
    ]
    assert due_in_tehran and all(d.endswith("+03:30") for d in due_in_tehran)
    assert documents["sla check"], "a breach is due by then: the view has a time to check"
    for name, document in documents.items():
        strings = list(_strings(document))
        assert "None" not in strings, name
        times = [t for s in strings for t in ISO_TIME.findall(s)]
        assert times, name
        assert all(t.endswith("+02:00") for t in times), (name, times)
    shown = documents["tickets show"]
    assert shown["first_responded_at"] is None  # JSON says null, never "None"
    assert shown["messages"][0]["attachments"] == [
        {"name": "log.txt", "size": 5, "type": "text/plain"}
    ]
    crm_json = json.loads(stdout_of(config, "tickets", "show", crm["ticket"], "--json"))
    assert crm_json["received_at"] == "2026-11-23T11:30:00+03:30"


# -- help ------------------------------------------------------------------------------------


def _commands() -> Iterator[tuple[list[str], click.Command]]:
    from mailbot.cli import cli

    def walk(command: click.Command, path: list[str]) -> Iterator[tuple[list[str], click.Command]]:
        yield path, command
        if isinstance(command, click.Group):
            ctx = click.Context(command)
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                assert sub is not None
                yield from walk(sub, [*path, name])

    yield from walk(cli, [])


def _balanced(text: str) -> bool:
    return text.count("(") == text.count(")")


def test_every_help_is_whole_sentences_that_say_what_the_command_does() -> None:
    from mailbot.cli import cli

    seen = 0
    for path, command in _commands():
        seen += 1
        where = " ".join(["mailbot", *path])
        result = CliRunner().invoke(cli, [*path, "--help"], obj={})
        assert result.exit_code == 0, (where, result.output)
        out = result.output
        for line in out.splitlines()[1:]:  # after "Usage: ... [ARGS]..."
            assert not line.rstrip().endswith(("(e.g.", "...")), (where, line)
        flat = " ".join(out.split())
        summary = command.get_short_help_str(limit=10_000)
        assert summary.endswith(".") and _balanced(summary), (where, summary)
        assert "e.g." not in summary, (where, summary)
        if path:
            # the parent's listing shows the whole first sentence, not a cut one
            parent = CliRunner().invoke(cli, [*path[:-1], "--help"], obj={}).output
            assert " ".join(summary.split()) in " ".join(parent.split()), (where, parent)
        for paragraph in (command.help or "").split("\n\n"):
            text = " ".join(paragraph.split())
            if text and not text.startswith("\b"):
                assert _balanced(text), (where, text)
                assert text.endswith((".", ":")), (where, text)
        for param in command.params:
            helped = getattr(param, "help", None)
            if helped:
                assert helped.endswith((".", ")")) and _balanced(helped), (where, helped)
        assert where.split()[-1] in flat or not path
    assert seen >= 25
    listing = " ".join(CliRunner().invoke(cli, ["tickets", "--help"], obj={}).output.split())
    assert "list List the queue in the order it is worked" in listing
