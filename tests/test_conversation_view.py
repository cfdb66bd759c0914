"""`mailbot tickets show N` reads like the conversation: who, when in the desk's time zone,
what they newly wrote, what they attached; then the replies' delivery and the history."""

from __future__ import annotations

import email.utils
import json
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from mailbot import config as config_mod
from mailbot.service import App
from mailbot.store import Message, Messages, Tickets
from tests.conftest import run, stdout_of, write_config

DESK = """
name = "cleverbox"
title = "CleverBox:CRM"
addresses = ["support@cleverbox.test"]
language = "ru"
timezone = "Europe/Kyiv"
ticket_prefix = "CBX"
rules = ["loops"]
agents = [{ address = "duty@cleverbox.test", name = "Олена Коваленко" }]
"""
QUOTED = (
    "\n\nПт, 20 нояб. 2026 г. в 12:00, CleverBox:CRM <support@cleverbox.test> пишет:\n"
    "> Перезапустите службу обмена.\n> -- \n> CleverBox:CRM"
)


def _mail(
    folder: Path, name: str, subject: str, body: str, date: str, *, attach: str | None = None
) -> Path:
    msg = EmailMessage()
    msg["From"] = email.utils.formataddr(("Олена Коваль", "olena@vector.test"))
    msg["To"] = "support@cleverbox.test"
    msg["Subject"] = subject
    msg["Date"] = date
    msg["Message-ID"] = email.utils.make_msgid(domain="vector.test")
    msg.set_content(body)
    if attach is not None:
        msg.add_attachment(b"\x89PNG\r\n\x1a\n" + bytes(64), "image", "png", filename=attach)
    path = folder / f"{name}.eml"
    path.write_bytes(msg.as_bytes(policy=policy.SMTP))
    return path


@pytest.fixture
def conversation(tmp_path: Path) -> Path:
    """A customer's mail with a screenshot, the agent's answer by CLI, the customer's reply
    quoting it. On SQLite only: `tickets reply` run in-process leaves its App's engine open
    (cli/_context.app registers no dispose), which on PostgreSQL is an unclosed connection."""
    desks = tmp_path / "desks"
    desks.mkdir()
    (desks / "cleverbox.toml").write_text(DESK, encoding="utf-8")
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'mailbot.db'}", desks=desks)
    first = _mail(
        tmp_path,
        "first",
        "Не проводится накладная",
        "Добрый день! Накладная №15 не проводится, скрин во вложении.",
        "Fri, 20 Nov 2026 11:55:00 +0200",
        attach="скрин.png",
    )
    stdout_of(config, "ingest", "--now", "2026-11-20T11:56+02:00", str(first))
    stdout_of(
        config,
        "tickets", "reply", "CBX-000001", "--by", "duty@cleverbox.test",
        "--message", "Перезапустите службу обмена.", "--now", "2026-11-20T12:00+02:00",
    )  # fmt: skip
    follow_up = _mail(
        tmp_path,
        "follow-up",
        "Re: [CBX-000001] Не проводится накладная",
        "Спасибо, заработало!" + QUOTED,
        "Fri, 20 Nov 2026 12:30:00 +0200",
    )
    stdout_of(config, "ingest", "--now", "2026-11-20T12:31+02:00", str(follow_up))
    return config


def _shown(config: Path) -> dict[str, Any]:
    shown: dict[str, Any] = json.loads(stdout_of(config, "tickets", "show", "CBX-000001", "--json"))
    return shown


def _with_customer(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The customer's side of the thread (notices to agents, where a desk sends them, aside)."""
    return [m for m in messages if m["to"] in (None, ["olena@vector.test"])]


def test_json_gives_the_conversation_in_order(conversation: Path) -> None:
    messages = _with_customer(_shown(conversation)["messages"])
    assert [(m["direction"], m["kind"]) for m in messages] == [
        ("in", None),
        ("out", "ack"),
        ("out", "agent_reply"),
        ("in", None),
    ]
    first, ack, answer, follow_up = messages
    assert first["who"] == "Олена Коваль <olena@vector.test>"
    assert first["from"] == "olena@vector.test" and first["author"] is None
    assert first["to"] is None and ack["to"] == ["olena@vector.test"]
    assert first["at"] == "2026-11-20T11:55:00+02:00"  # Kyiv, with its offset
    assert first["subject"] == "Не проводится накладная"
    assert first["text"] == "Добрый день! Накладная №15 не проводится, скрин во вложении."
    assert [a["name"] for a in first["attachments"]] == ["скрин.png"]
    assert ack["who"] == "CleverBox:CRM <support@cleverbox.test>"
    assert ack["subject"] == "[CBX-000001] Не проводится накладная"
    assert ack["delivery"] == "pending" and ack["attachments"] == []
    assert answer["at"] == "2026-11-20T12:00:00+02:00"
    # the agent behind the desk's address, by the name the desk gives them
    assert answer["author"] == "duty@cleverbox.test"
    assert answer["who"] == "CleverBox:CRM (agent Олена Коваленко) <support@cleverbox.test>"
    assert "Перезапустите службу обмена." in answer["text"]
    # the customer's reply without the quoted answer above it
    assert follow_up["text"] == "Спасибо, заработало!"
    assert follow_up["at"] == "2026-11-20T12:30:00+02:00"


def test_text_reads_like_the_thread(conversation: Path) -> None:
    text = stdout_of(conversation, "tickets", "show", "cbx-000001")
    assert text.startswith("CBX-000001  [open]  Не проводится накладная\n")
    assert "received 2026-11-20 11:55 +02:00" in text
    headers = [
        "── 2026-11-20 11:55 +02:00 · Олена Коваль <olena@vector.test>\n",
        "── 2026-11-20 11:56 +02:00 · CleverBox:CRM <support@cleverbox.test>"
        " → olena@vector.test · ack, pending\n",
        "── 2026-11-20 12:00 +02:00 · CleverBox:CRM (agent Олена Коваленко)"
        " <support@cleverbox.test> → olena@vector.test · agent_reply, pending\n",
        "── 2026-11-20 12:30 +02:00 · Олена Коваль <olena@vector.test>\n",
    ]
    places = [text.index(h) for h in headers]
    assert places == sorted(places)
    assert "   attachments: скрин.png\n" in text
    assert "   Спасибо, заработало!\n" in text
    assert "> Перезапустите" not in text  # the quote is the message above, not repeated
    assert text.index("\nreplies:\n") > places[-1]
    assert text.index("\nhistory:\n") > text.index("\nreplies:\n")
    history = text.split("\nhistory:\n")[1]
    assert "  2026-11-20 12:00 +02:00  agent_reply\n" in history
    assert "  2026-11-20 12:31 +02:00  customer_reply\n" in history


def _add(config: Path, **fields: Any) -> None:
    """A message as agent mail and agent commands store them (the agent as author)."""
    app = App.build(config_mod.load(config, environ={}))
    try:
        with app.db.transaction() as session:
            ticket = Tickets(session).by_number("CBX-000001")
            assert ticket is not None and ticket.id is not None
            Messages(session).add(
                Message(
                    ticket_id=ticket.id,
                    desk="cleverbox",
                    message_id=email.utils.make_msgid(domain="cleverbox.test"),
                    received_at=datetime(2026, 11, 20, 11, 0, tzinfo=UTC),
                    **fields,
                )
            )
    finally:
        app.db.dispose()


def test_agents_behind_our_address_and_internal_notes(conversation: Path) -> None:
    _add(
        conversation,
        direction="note",
        author="duty@cleverbox.test",
        from_addr="duty@cleverbox.test",
        subject="Re: [CBX-000001] Не проводится накладная",
        body_text="Клиент на старой версии обмена, уточнить у второй линии.",
    )
    _add(
        conversation,
        direction="out",
        author="duty@cleverbox.test",
        from_addr="support@cleverbox.test",
        subject="[CBX-000001] Не проводится накладная",
        body_text="Обновите обмен до 2.4.1.\n\n-- \nCleverBox:CRM",
    )
    _add(
        conversation,
        direction="in",
        author="someone.gone@cleverbox.test",  # no longer in the desk's list: shown as stored
        from_addr="someone.gone@cleverbox.test",
        subject="Re: [CBX-000001] Не проводится накладная",
        body_text="Проверил, всё так.",
    )
    note, answer, former = _shown(conversation)["messages"][-3:]
    assert note["who"] == "internal note by Олена Коваленко" and note["direction"] == "note"
    assert answer["who"] == "CleverBox:CRM (agent Олена Коваленко) <support@cleverbox.test>"
    assert answer["text"] == "Обновите обмен до 2.4.1."  # our signature left out
    assert former["who"] == "someone.gone@cleverbox.test (agent) <someone.gone@cleverbox.test>"
    text = stdout_of(conversation, "tickets", "show", "CBX-000001")
    assert (
        "── 2026-11-20 13:00 +02:00 · internal note by Олена Коваленко\n"
        "   (internal note: not sent to the customer)\n"
    ) in text
    assert "· CleverBox:CRM (agent Олена Коваленко) <support@cleverbox.test>\n" in text


def test_a_long_mail_is_trimmed_in_text_and_whole_in_json(conversation: Path) -> None:
    body = "\n".join(f"строка {i}" for i in range(1, 41))
    _add(
        conversation,
        direction="in",
        from_addr="olena@vector.test",
        subject="Re: [CBX-000001] лог",
        body_text=body,
    )
    assert _shown(conversation)["messages"][-1]["text"] == body
    text = stdout_of(conversation, "tickets", "show", "CBX-000001")
    assert "   строка 25\n   … 15 more lines\n" in text and "строка 26" not in text


def test_a_ticket_of_a_desk_no_longer_configured_is_shown_in_utc(
    conversation: Path, tmp_path: Path
) -> None:
    (tmp_path / "desks" / "cleverbox.toml").rename(tmp_path / "cleverbox.toml.off")
    (tmp_path / "desks" / "other.toml").write_text(
        DESK.replace("cleverbox", "other").replace("CBX", "OTH"), encoding="utf-8"
    )
    messages = _with_customer(_shown(conversation)["messages"])
    assert messages[0]["at"] == "2026-11-20T09:55:00+00:00"
    assert messages[1]["who"] == "cleverbox <support@cleverbox.test>"
    text = stdout_of(conversation, "tickets", "show", "CBX-000001")
    assert "── 2026-11-20 09:55 +00:00 · Олена Коваль <olena@vector.test>" in text


def test_an_unknown_ticket_is_named_in_the_error(conversation: Path) -> None:
    code, out, err = run(conversation, "tickets", "show", "CBX-000099")
    assert code == 66 and out == "" and "CBX-000099: not found" in err
