"""Threading by message ids (issue 10): knowing a Message-ID is no right to a conversation.

Anybody copied on a customer's mail knows its Message-ID. A stranger who puts it in
In-Reply-To/References gets a ticket of its own that links the customer's (`related_to`);
the customer's ticket gets no message, keeps its state, and is not reopened when solved.
The ids still thread for the requester and for a colleague of the same customer. Every mail
goes through `mailbot ingest --json` with the shipped desks; replies are read from the
outbound maildir.
"""

from __future__ import annotations

import json
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest

from mailbot.clock import system_clock
from tests.conftest import SHIPPED_DESKS, sent_to, stdout_of, write_config
from tests.helpers import message

SERWISANT = "pomoc@serwisant.test"
JAN = "jan@kowalski-serwis.test"
JAN_ID = "<sms-1@kowalski-serwis.test>"
STRANGER = "mallory@elsewhere.test"


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_config(tmp_path, f"sqlite:///{tmp_path / 'm.db'}", desks=SHIPPED_DESKS)


def _mail(sender: str, subject: str, body: str, to: str = SERWISANT, **headers: str) -> bytes:
    return message(
        subject,
        body,
        sender=sender,
        name="",
        to=to,
        date=format_datetime(system_clock()),
        **headers,
    )


def _ingest(config: Path, name: str, raw: bytes) -> dict[str, Any]:
    path = config.parent.parent / f"{name}.eml"
    path.write_bytes(raw)
    line: dict[str, Any] = json.loads(stdout_of(config, "ingest", str(path)))
    return line


def _show(config: Path, number: str) -> dict[str, Any]:
    shown: dict[str, Any] = json.loads(stdout_of(config, "tickets", "show", number, "--json"))
    return shown


def _inbound(shown: dict[str, Any]) -> list[str]:
    return [m["from"] for m in shown["messages"] if m["direction"] == "in"]


def _jans_ticket(config: Path) -> None:
    line = _ingest(
        config,
        "jan",
        _mail(JAN, "Nie działa wysyłka SMS", "Od rana SMS nie wychodzą.", message_id=JAN_ID),
    )
    assert (line["outcome"], line["ticket"]) == ("ticket", "SRW-000001")


def test_a_strangers_in_reply_to_opens_a_ticket_of_its_own_that_links_the_customers(
    config: Path,
) -> None:
    _jans_ticket(config)
    before = _show(config, "SRW-000001")
    line = _ingest(
        config,
        "mallory",
        _mail(
            STRANGER,
            "Re: Nie działa wysyłka SMS",
            "Proszę zamknąć to zgłoszenie i oddzwonić pod mój numer.",
            In_Reply_To=JAN_ID,
            References=JAN_ID,
        ),
    )
    assert (line["outcome"], line["ticket"]) == ("ticket", "SRW-000002")
    after = _show(config, "SRW-000001")
    assert _inbound(after) == [JAN]
    assert after["state"] == before["state"] == "new"
    assert "customer_reply" not in [e["kind"] for e in after["events"]]
    stranger = _show(config, "SRW-000002")
    assert stranger["related_to"] == "SRW-000001" and stranger["requester"] == STRANGER
    assert _inbound(stranger) == [STRANGER]
    # the stranger is told of its own ticket, nothing of Jan's
    [ack] = sent_to(config, STRANGER)
    assert "SRW-000002" in str(ack["Subject"]) and "SRW-000001" not in ack.get_content()


def test_a_stranger_cannot_reopen_a_solved_ticket_by_its_message_id(config: Path) -> None:
    _jans_ticket(config)
    stdout_of(config, "tickets", "solve", "SRW-000001", "--by", "dyzurny")
    jan_before = len(sent_to(config, JAN))  # the acknowledgement and the solved notice
    line = _ingest(
        config,
        "mallory",
        _mail(STRANGER, "Re: [SRW-000001] SMS", "Nadal nie działa!", References=JAN_ID),
    )
    assert (line["outcome"], line["ticket"]) == ("ticket", "SRW-000002")
    after = _show(config, "SRW-000001")
    assert after["state"] == "solved" and _inbound(after) == [JAN]
    assert "reopened" not in [e["kind"] for e in after["events"]]
    assert len(sent_to(config, JAN)) == jan_before  # Jan hears nothing of it


def test_the_requester_and_a_colleague_of_the_same_customer_still_thread(config: Path) -> None:
    _jans_ticket(config)
    line = _ingest(config, "jan2", _mail(JAN, "Re: SMS", "Dalej nie działa.", In_Reply_To=JAN_ID))
    assert (line["outcome"], line["ticket"]) == ("ticket", "SRW-000001")
    # cloudempiere knows Tatra Logistics by its domain: a colleague continues the thread
    first = _ingest(
        config,
        "jana",
        _mail(
            "jana@tatralog.test",
            "Faktúra",
            "Faktúra sa nedá uložiť.",
            to="podpora@cloudempiere.test",
            message_id="<fa-1@tatralog.test>",
        ),
    )
    colleague = _ingest(
        config,
        "peter",
        _mail(
            "peter@tatralog.test",
            "Re: Faktúra",
            "Aj u mňa.",
            to="podpora@cloudempiere.test",
            In_Reply_To="<fa-1@tatralog.test>",
        ),
    )
    assert colleague["ticket"] == first["ticket"]
    assert _inbound(_show(config, first["ticket"])) == ["jana@tatralog.test", "peter@tatralog.test"]


def test_on_a_desk_for_customers_only_the_stranger_is_refused_not_threaded(
    config: Path,
) -> None:
    """CleverBox's unknown_customer rule lets follow-ups through: an id must not make a
    stranger's mail a follow-up of a customer's ticket."""
    first = _ingest(
        config,
        "olena",
        _mail(
            "olena@vector.test",
            "Не открывается склад",
            "Добрый день! Склад не открывается.",
            to="support@cleverbox.test",
            message_id="<sklad@vector.test>",
        ),
    )
    assert first["ticket"] == "CBX-000001"
    line = _ingest(
        config,
        "mallory",
        _mail(
            STRANGER,
            "Re: Не открывается склад",
            "Закройте заявку.",
            to="support@cleverbox.test",
            In_Reply_To="<sklad@vector.test>",
        ),
    )
    assert (line["outcome"], line["reason"], line["ticket"]) == (
        "quarantined",
        "unknown_customer",
        None,
    )
    assert _inbound(_show(config, "CBX-000001")) == ["olena@vector.test"]
