"""Old mail (issue 8): mail taken in long after it arrived, or whose acknowledgement would
promise a moment already past, becomes a ticket with deadlines counted from its arrival, but
its sender gets no automatic reply and the agents no breach notice for the past; the outcome
line and the ticket's history say why.

Every mail goes through `mailbot ingest --now <intake>` with the shipped desks; its newest
Received: header says when it arrived. Replies go to the outbound maildir (no relay), read
back after sending everything the outbox holds. Due times are worked out in the comments.
"""

from __future__ import annotations

import email
import json
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from mailbot.config import load as load_config
from tests.conftest import SHIPPED_DESKS, copy_desks, run, send_all, stdout_of, write_config

OLENA = "Олена Коваль <olena@vector.test>"
CLEVERBOX = "support@cleverbox.test"
ARRIVED = "Mon, 23 Nov 2026 10:00:00 +0200"
"""Kyiv, 09:00-18:00, 24 working hours: Mon 8 + Tue 9 = 17, both clocks due Wed 25th 16:00."""


def _mail(
    received: str,
    *,
    sender: str = OLENA,
    to: str = CLEVERBOX,
    subject: str = "Не открывается склад",
    body: str = "Добрый день! С утра не открывается модуль склада, ошибка 500.",
    name: str = "m",
) -> bytes:
    return (
        f"Received: from mx.example.test by mx.desk.test; {received}\r\n"
        f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\n"
        f"Message-ID: <{name}@example.test>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        f"{body}\r\n"
    ).encode()


def _ingest(config: Path, raw: bytes, now: str, name: str = "m") -> dict[str, object]:
    path = config.parent.parent / f"{name}.eml"
    path.write_bytes(raw)
    line: dict[str, object] = json.loads(stdout_of(config, "ingest", "--now", now, str(path)))
    return line


def _sent(config: Path, *, to_agents: bool = False) -> list[EmailMessage]:
    """Every mail the sender delivered to the outbound maildir, after sending all it holds;
    the desks' notices to their agents only with `to_agents`."""
    send_all(config)
    folder = config.parent.parent / "sent" / "new"
    paths = sorted(folder.iterdir()) if folder.is_dir() else []
    agents = {
        a for desk in load_config(config, environ={}).desks.values() for a in desk.agent_addresses
    }
    sent = [
        email.message_from_bytes(p.read_bytes(), policy=policy.default)  # type: ignore[misc]
        for p in paths
    ]
    return [m for m in sent if to_agents or str(m["To"]) not in agents]


def _show(config: Path, number: str) -> dict[str, object]:
    shown: dict[str, object] = json.loads(stdout_of(config, "tickets", "show", number, "--json"))
    return shown


def _sla_check(config: Path, now: str) -> list[dict[str, object]]:
    return [
        json.loads(x)
        for x in stdout_of(config, "sla", "check", "--force", "--now", now).splitlines()
    ]


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_config(tmp_path, f"sqlite:///{tmp_path / 'm.db'}", desks=SHIPPED_DESKS)


def test_week_old_mail_opens_its_ticket_without_ack_or_breach_notice(config: Path) -> None:
    (config.parent.parent / "m.eml").write_bytes(_mail(ARRIVED))
    dry = json.loads(
        stdout_of(config, "ingest", "--dry-run", "--now", "2026-11-30T10:00+02:00",
                  str(config.parent.parent / "m.eml"))
    )  # fmt: skip
    assert (dry["outcome"], dry["reason"]) == ("ticket", "old_mail")
    line = _ingest(config, _mail(ARRIVED), "2026-11-30T10:00+02:00")
    assert (line["outcome"], line["ticket"], line["reason"]) == ("ticket", "CBX-000001", "old_mail")
    assert "arrived 2026-11-23T10:00:00+02:00, 7d before it was taken in" in str(line["detail"])
    # the deadlines count from the arrival, not from the intake a week later
    assert line["first_response_due"] == "2026-11-25T16:00:00+02:00"
    assert line["resolution_due"] == "2026-11-25T16:00:00+02:00"

    shown = _show(config, "CBX-000001")
    assert shown["received_at"] == "2026-11-23T10:00:00+02:00"  # the desk's zone
    assert shown["replies"] == []
    events = {e["kind"]: e for e in shown["events"]}  # type: ignore[attr-defined]
    held = {e["reply"]: e for e in shown["events"] if e["kind"] == "reply_suppressed"}  # type: ignore[attr-defined]
    assert (held["ack"]["reason"], held["agent_notice"]["reason"]) == ("old_mail", "old_mail")
    breach = events["sla_breach"]
    assert (breach["clocks"], breach["agents"], breach["settled"]) == (
        ["first_response", "resolution"],
        [],
        "old_mail",
    )
    text = stdout_of(config, "tickets", "show", "CBX-000001")
    assert "reply_suppressed: old mail: it arrived 2026-11-23T10:00:00+02:00" in text
    assert "sla_breach: old mail: first response and resolution was due" in text

    # no breach notice for the past, now or ever; nothing reaches the customer or the agents
    assert _sla_check(config, "2026-11-30T10:05+02:00") == []
    assert _sla_check(config, "2026-12-10T10:00+02:00") == []
    assert _sent(config, to_agents=True) == []

    # the month's report tells the truth: the ticket was answered late
    out = stdout_of(
        config, "sla", "report", "--desk", "cleverbox", "--month", "2026-11", "--json",
        "--now", "2026-12-10T10:00+02:00",
    )  # fmt: skip
    total = next(r for r in json.loads(out)["rows"] if r["group"] == "all")
    assert (total["tickets"], total["met"], total["breached"]) == (1, 0, 1)

    # the same file taken in again prints what was recorded, reason included
    again = _ingest(config, _mail(ARRIVED), "2026-11-30T11:00+02:00")
    assert (again["ticket"], again["reason"]) == ("CBX-000001", "old_mail")
    assert again["detail"] == line["detail"]


def test_an_hour_old_mail_gets_its_acknowledgement(config: Path) -> None:
    line = _ingest(config, _mail(ARRIVED), "2026-11-23T11:00+02:00")
    assert (line["ticket"], line["reason"], line["detail"]) == ("CBX-000001", None, None)
    [ack] = _sent(config)
    assert ack["To"] == "olena@vector.test" and "CBX-000001" in str(ack["Subject"])
    kinds = [e["kind"] for e in _show(config, "CBX-000001")["events"]]  # type: ignore[attr-defined]
    assert "reply_sent" in kinds and "reply_suppressed" not in kinds and "sla_breach" not in kinds
    assert _sla_check(config, "2026-11-25T16:01+02:00")[0]["kind"] == "sla_breach"


def test_a_deadline_still_ahead_escalates_as_usual(config: Path) -> None:
    """Serwisant, 09:00-16:00: from Fri 20th 15:00, one working day is due Mon 23rd 15:00 and
    two Tue 24th 15:00. Taken in Mon 23rd 16:30: the first is past, the resolution still ahead."""
    raw = _mail(
        "Fri, 20 Nov 2026 15:00:00 +0100",
        sender="jan@kowalski-serwis.test",
        to="pomoc@serwisant.test",
        subject="Nie działa wysyłka SMS",
        body="Dzień dobry, od rana nie wychodzą SMS-y z powiadomieniami do klientów.",
    )
    line = _ingest(config, raw, "2026-11-23T16:30+01:00")
    assert (line["ticket"], line["reason"]) == ("SRW-000001", "old_mail")
    assert line["first_response_due"] == "2026-11-23T15:00:00+01:00"
    assert line["resolution_due"] == "2026-11-24T15:00:00+01:00"
    # 8 of the resolution's 14 working hours used at intake (Fri 15-16, Mon 9-16): no warning
    assert _sla_check(config, "2026-11-23T16:35+01:00") == []
    # Tue 24th 12:30: 8 + 3.5 = 11.5 of 14 > 80 %: warned for the resolution only
    warning = _sla_check(config, "2026-11-24T12:30+01:00")
    assert [(w["kind"], w["clocks"]) for w in warning] == [("sla_warning", ["resolution"])]
    breach = _sla_check(config, "2026-11-24T15:01+01:00")
    assert [(b["kind"], b["clocks"]) for b in breach] == [("sla_breach", ["resolution"])]
    sent = _sent(config, to_agents=True)
    assert sorted(str(m["Subject"]).split(":")[0] for m in sent) == [
        "[SRW-000001] SLA breach",
        "[SRW-000001] SLA warning",
    ]
    assert {m["To"] for m in sent} == {"dyzurny@serwisant.test"}  # nothing to the customer


def test_young_mail_whose_first_answer_is_already_due_gets_no_ack(config: Path) -> None:
    """cloudempiere P1: 1 hour around the clock. Arrived Sun 02:00, due 03:00, taken in at
    03:30: an hour and a half old, far below 24 h, but its ack would promise the past."""
    raw = _mail(
        "Sun, 22 Nov 2026 02:00:00 +0100",
        sender="uctaren@tatralog.test",
        to="podpora@cloudempiere.test",
        subject="Kritické: celá firma nemôže fakturovať",
        body="Dobrý deň, celá firma nemôže fakturovať, systém nefunguje. Riešte ihneď, je to"
        " kritické.",
    )
    line = _ingest(config, raw, "2026-11-22T03:30+01:00")
    assert (line["priority"], line["reason"]) == ("P1", "old_mail")
    assert line["first_response_due"] == "2026-11-22T03:00:00+01:00"
    assert "would promise a first answer by 2026-11-22T03:00:00+01:00, already past" in str(
        line["detail"]
    )
    shown = _show(config, str(line["ticket"]))
    kinds = [e["kind"] for e in shown["events"]]  # type: ignore[attr-defined]
    # the customer gets no promise already broken; the agents still hear of a young mail
    assert kinds == ["created", "sla_started", "reply_suppressed", "sla_breach", "reply_queued"]
    assert _sla_check(config, "2026-11-22T04:00+01:00") == []
    assert _sent(config) == []


def test_the_same_mail_half_an_hour_earlier_is_acknowledged(config: Path) -> None:
    raw = _mail(
        "Sun, 22 Nov 2026 02:00:00 +0100",
        sender="uctaren@tatralog.test",
        to="podpora@cloudempiere.test",
        subject="Kritické: celá firma nemôže fakturovať",
        body="Dobrý deň, celá firma nemôže fakturovať, systém nefunguje. Riešte ihneď.",
    )
    line = _ingest(config, raw, "2026-11-22T02:30+01:00")
    assert (line["priority"], line["reason"]) == ("P1", None)
    assert [m["To"] for m in _sent(config)] == ["uctaren@tatralog.test"]
    assert [b["clocks"] for b in _sla_check(config, "2026-11-22T03:01+01:00")] == [
        ["first_response"]
    ]


@pytest.mark.parametrize(
    ("setting", "where", "now", "acknowledged"),
    [
        (None, "", "2026-11-24T10:00+02:00", True),  # exactly 24 h: not older than 24 h
        (None, "", "2026-11-24T10:01+02:00", False),
        ("2h", "intake", "2026-11-23T12:00+02:00", True),
        ("2h", "intake", "2026-11-23T12:01+02:00", False),
        ("1d12h", "desk", "2026-11-24T22:00+02:00", True),
        ("1d12h", "desk", "2026-11-24T22:01+02:00", False),
    ],
)
def test_the_boundary_is_the_configured_age(
    tmp_path: Path, setting: str | None, where: str, now: str, acknowledged: bool
) -> None:
    desks = copy_desks(tmp_path)
    extra = ""
    if where == "intake":
        extra = f'[intake]\nold_mail_after = "{setting}"\n'
    elif where == "desk":  # the desk's own value wins over [intake]'s
        extra = '[intake]\nold_mail_after = "1h"\n'
        cleverbox = desks / "cleverbox.toml"
        cleverbox.write_text(f'old_mail_after = "{setting}"\n' + cleverbox.read_text())
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'm.db'}", desks=desks, extra=extra)
    line = _ingest(config, _mail(ARRIVED), now)
    assert line["first_response_due"] == "2026-11-25T16:00:00+02:00"  # ahead in every case
    assert (line["reason"] is None) == acknowledged
    assert len(_sent(config)) == (1 if acknowledged else 0)


def test_old_mail_gets_no_refusal_and_no_question(config: Path) -> None:
    stranger = _mail(
        ARRIVED,
        sender="Андрій Мельник <a.melnyk@novyi-magazyn.test>",
        subject="Не працює імпорт контактів",
        body="Добрий день! Під час імпорту контактів з файлу Excel система зависає.",
        name="stranger",
    )
    refused = _ingest(config, stranger, "2026-11-30T10:00+02:00", "stranger")
    assert (refused["outcome"], refused["reason"]) == ("quarantined", "unknown_customer")
    entry = json.loads(
        stdout_of(config, "quarantine", "show", str(refused["spool_id"])[:12], "--json")
    )
    [suppressed] = [e for e in entry["events"] if e["kind"] == "reply_suppressed"]
    assert (suppressed["reply"], suppressed["reason"]) == ("unknown_customer", "old_mail")

    vague = _mail(
        ARRIVED,
        sender="Иванов Сергей <ivanov@romashka.test>",
        to="info@grsoft.test",
        subject="Помогите",
        body="не работает!!!",
        name="vague",
    )
    asked = _ingest(config, vague, "2026-11-30T10:00+02:00", "vague")
    assert (asked["outcome"], asked["reason"]) == ("ticket", "old_mail") and asked["missing"]
    shown = _show(config, str(asked["ticket"]))
    assert shown["state"] == "waiting_customer" and shown["replies"] == []
    held = [e["reply"] for e in shown["events"] if e["kind"] == "reply_suppressed"]  # type: ignore[attr-defined]
    assert held == ["missing_fields", "agent_notice"]
    assert _sent(config, to_agents=True) == []


@pytest.mark.parametrize("value", ['"24 hours"', '"0h"', '"-1h"', "24", '"h"'])
def test_a_bad_old_mail_after_names_the_file_and_the_key(tmp_path: Path, value: str) -> None:
    path = write_config(
        tmp_path, f"sqlite:///{tmp_path / 'm.db'}", extra=f"[intake]\nold_mail_after = {value}\n"
    )
    code, _, err = run(path, "check-config")
    assert code == 78
    assert str(path) in err and "intake.old_mail_after: expected a duration" in err


def test_a_bad_desk_old_mail_after_names_the_desk_file(tmp_path: Path) -> None:
    desks = copy_desks(tmp_path)
    grsoft = desks / "grsoft.toml"
    grsoft.write_text('old_mail_after = "soon"\n' + grsoft.read_text())
    path = write_config(tmp_path, f"sqlite:///{tmp_path / 'm.db'}", desks=desks)
    code, _, err = run(path, "check-config")
    assert code == 78
    assert str(grsoft) in err and "old_mail_after: expected a duration like 24h" in err
