"""Issue 11: "a rule that is unsure asks or lets the ticket open; it never refuses a customer
on a weak match", through `mailbot ingest --json` on the shipped Serwisant desk.

A weak match (`KeywordSet.strong`: words of a `...` phrase three to eight words apart, in the
body only) opens the ticket with the plain Polish acknowledgement, sends no refusal, and the
ticket's history (`tickets show`) carries `possible_out_of_scope` / `possible_not_entitled`
with the code and the phrase found, and so does the agent's notice mail, in Polish; the same
request said plainly is refused as before. The other desks: tests/test_weak_match_notices.py.
"""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SHIPPED_DESKS, sent_to, write_config
from tests.test_desks import Desks, text_of
from tests.test_serwisant_round2 import KOWALSKI, NOWAK, WEDNESDAY, ingest

DUPLICATES_BY_THE_WAY = (
    "Zdublowane zlecenia",
    "Dzień dobry,\n\nprosimy, jeśli to tylko możliwe jeszcze w tym tygodniu, usunąć "
    "zdublowane zlecenia klienta Nowak.",
)
DUPLICATES_PLAINLY = (
    "Zdublowane zlecenia",
    "Dzień dobry,\n\nprosimy usunąć zdublowane zlecenia klienta Nowak z bazy.",
)
INSTALL_BY_THE_WAY = (
    "Pytanie o panel",
    "Dzień dobry,\n\nchcielibyśmy, jeśli to możliwe jeszcze przed świętami, u siebie "
    "zainstalować nowy panel klienta.",
)
INSTALL_PLAINLY = ("Pytanie o panel", "Dzień dobry,\n\nchcielibyśmy zainstalować panel klienta.")


AGENT = "dyzurny@serwisant.test"


@pytest.fixture
def desks(tmp_path: Path) -> Desks:
    db = tmp_path / "mailbot.db"
    return Desks(tmp_path, write_config(tmp_path, f"sqlite:///{db}", desks=SHIPPED_DESKS), db)


def _doubts(desks: Desks, number: str, kind: str) -> list[dict[str, Any]]:
    shown = desks.json("tickets", "show", number)
    return [e for e in shown["events"] if e["kind"] == kind]


def _notice(desks: Desks) -> str:
    """The one notice the desk's agent was sent, its lines joined."""
    [notice] = sent_to(desks.config, AGENT)
    return text_of(notice)


def _acknowledged(desks: Desks, line: dict[str, Any]) -> EmailMessage:
    """The one reply to the mail: the plain Polish acknowledgement of a new ticket."""
    assert (line["outcome"], line["reason"], line["ticket"]) == ("ticket", None, "SRW-000001")
    reply = desks.reply(line["spool_id"])
    text = text_of(reply)
    assert "Zgłoszenie zostało zarejestrowane pod numerem SRW-000001" in text, text
    return reply


def test_a_weak_exclusion_opens_the_ticket_and_tells_the_agent(desks: Desks) -> None:
    line = ingest(desks, KOWALSKI, *DUPLICATES_BY_THE_WAY, WEDNESDAY)
    reply = _acknowledged(desks, line)
    assert "nie obejmuje" not in text_of(reply)  # no refusal said; desks.reply: one reply
    [doubt] = _doubts(desks, "SRW-000001", "possible_out_of_scope")
    assert doubt["rule"] == "out_of_scope"
    assert doubt["detail"].startswith("possible_out_of_scope: data_operations (found '")
    notice = _notice(desks)
    assert (
        "Uwaga: zgłoszenie może być poza zakresem wsparcia (data_operations: znaleziono „"
    ) in notice, notice
    assert "”); sprawdź przed odpowiedzią." in notice, notice


def test_the_same_exclusion_said_plainly_is_refused(desks: Desks) -> None:
    line = ingest(desks, KOWALSKI, *DUPLICATES_PLAINLY, WEDNESDAY)
    assert (line["outcome"], line["reason"]) == ("quarantined", "out_of_scope"), line
    assert desks.outbox_count() == 1


def test_a_weak_entitlement_opens_the_ticket_and_tells_the_agent(desks: Desks) -> None:
    line = ingest(desks, NOWAK, *INSTALL_BY_THE_WAY, WEDNESDAY)  # basic: no installation
    _acknowledged(desks, line)
    [doubt] = _doubts(desks, "SRW-000001", "possible_not_entitled")
    assert doubt["rule"] == "not_entitled"
    assert "client_panel_installation" in doubt["detail"] and "not_in_plan" in doubt["detail"]
    notice = _notice(desks)
    assert (
        "Uwaga: zgłoszenie może dotyczyć usługi, do której klient nie ma prawa"
        " (client_panel_installation: znaleziono „"
    ) in notice, notice
    assert "”; powód: not_in_plan); sprawdź przed odpowiedzią." in notice, notice


def test_the_same_entitlement_asked_plainly_is_refused(desks: Desks) -> None:
    line = ingest(desks, NOWAK, *INSTALL_PLAINLY, WEDNESDAY)
    assert (line["outcome"], line["reason"]) == ("quarantined", "not_entitled"), line
