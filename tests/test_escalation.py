"""Clocks kept: agent answers, waiting, solving, extensions, and one warning and one breach
notice per clock reaching a real SMTP server, under a controlled clock (`--now`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import SHIPPED_DESKS, run, send_all, stdout_of, write_config
from tests.servers import Catcher

MAIL = (
    "Received: from mx.vector.test by mx.cleverbox.test; Mon, 23 Nov 2026 10:00:00 +0200\r\n"
    "From: Олена Коваль <olena@vector.test>\r\nTo: support@cleverbox.test\r\n"
    "Subject: Не открывается склад\r\nMessage-ID: <sklad-1@vector.test>\r\n"
    "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
    "Добрый день! С утра не открывается модуль склада, ошибка 500.\r\n"
).encode()


ARRIVED = "2026-11-23T10:00+02:00"
"""The moment MAIL arrived: it is taken in then, as `serve` would have (not as old mail)."""


@pytest.fixture
def setup(tmp_path: Path, catcher: Catcher) -> tuple[Path, Catcher]:
    """The shipped desks (CleverBox's agent is duty@cleverbox.test), replies to a catcher."""
    config = write_config(
        tmp_path,
        f"sqlite:///{tmp_path / 'm.db'}",
        desks=SHIPPED_DESKS,
        relay=("127.0.0.1", catcher.port),
    )
    (tmp_path / "m.eml").write_bytes(MAIL)
    return config, catcher


def test_one_warning_and_one_breach_reach_the_agents(setup: tuple[Path, Catcher]) -> None:
    config, catcher = setup
    line = json.loads(
        stdout_of(config, "ingest", "--now", ARRIVED, str(config.parent.parent / "m.eml"))
    )
    # Mon 10:00 + 24 working hours (09:00-18:00): Mon 8 + Tue 9 = 17, Wed 09:00 + 7 = 16:00
    assert line["first_response_due"] == "2026-11-25T16:00:00+02:00"
    assert line["resolution_due"] == "2026-11-25T16:00:00+02:00"
    assert (
        stdout_of(config, "sla", "check", "--force", "--now", "2026-11-24T10:00+02:00") == ""
    )  # 9 of 24 h
    warning = [
        json.loads(x)
        for x in stdout_of(
            config, "sla", "check", "--force", "--now", "2026-11-25T12:00+02:00"
        ).splitlines()
    ]
    # Wed 12:00: 8 + 9 + 3 = 20 of 24 working hours = 83 % >= 80 %: one notice for both clocks
    assert [(w["kind"], w["clocks"], w["share"]) for w in warning] == [
        ("sla_warning", ["first_response", "resolution"], 83)
    ]
    assert (
        stdout_of(config, "sla", "check", "--force", "--now", "2026-11-25T12:30+02:00") == ""
    )  # once
    breach = [
        json.loads(x)
        for x in stdout_of(
            config, "sla", "check", "--force", "--now", "2026-11-25T16:01+02:00"
        ).splitlines()
    ]
    assert [(b["kind"], b["ticket"]) for b in breach] == [("sla_breach", "CBX-000001")]
    assert (
        stdout_of(config, "sla", "check", "--force", "--now", "2026-11-26T10:00+02:00") == ""
    )  # once
    send_all(config)
    caught = catcher.wait_for(4)
    to_agents = sorted(str(m["Subject"]) for m in caught if m["To"] == "duty@cleverbox.test")
    assert to_agents == [
        "[CBX-000001] SLA breach: Не открывается склад",
        "[CBX-000001] SLA warning: Не открывается склад",
        "[CBX-000001] Не открывается склад",  # the notice of the new ticket
    ]
    assert len([m for m in caught if m["To"] == "olena@vector.test"]) == 1  # the ack
    # and the month's report counts it as breached
    out = stdout_of(
        config,
        "sla",
        "report",
        "--desk",
        "cleverbox",
        "--month",
        "2026-11",
        "--json",
        "--now",
        "2026-11-26T10:00+02:00",
    )
    total = next(r for r in json.loads(out)["rows"] if r["group"] == "all")
    assert (total["tickets"], total["met"], total["breached"]) == (1, 0, 1)
    html = config.parent.parent / "report.html"
    stdout_of(
        config,
        "sla",
        "report",
        "--desk",
        "cleverbox",
        "--month",
        "2026-11",
        "--html",
        str(html),
        "--now",
        "2026-11-26T10:00+02:00",
    )
    assert "<svg" in html.read_text() and "http" not in html.read_text()


def test_agent_answer_stops_the_first_response_clock_and_a_question_pauses(
    setup: tuple[Path, Catcher],
) -> None:
    config, catcher = setup
    stdout_of(config, "ingest", "--now", ARRIVED, str(config.parent.parent / "m.eml"))
    answered = json.loads(
        stdout_of(
            config,
            "tickets",
            "reply",
            "CBX-000001",
            "--by",
            "anna",
            "-m",
            "Подскажите, какой браузер вы используете?",
            "--wait",
            "--now",
            "2026-11-23T11:00+02:00",
        )
    )
    assert answered["state"] == "waiting_customer" and answered["sla_paused"] is True
    shown = json.loads(stdout_of(config, "tickets", "show", "CBX-000001", "--json"))
    kinds = [e["kind"] for e in shown["events"]]
    assert "first_response" in kinds and kinds[-1] == "sla_paused"
    assert shown["first_responded_at"] is not None
    send_all(config)
    agent_mail = [m for m in catcher.wait_for(2) if "Auto-Submitted" not in m]
    assert len(agent_mail) == 1  # the agent's answer is a person's mail, not an auto-reply
    assert "браузер" in agent_mail[0].get_content()  # type: ignore[attr-defined]
    solved = json.loads(
        stdout_of(
            config,
            "tickets",
            "solve",
            "CBX-000001",
            "--by",
            "anna",
            "--now",
            "2026-11-23T12:00+02:00",
        )
    )
    assert solved["state"] == "solved"


def test_extension_needs_a_running_clock_and_sends_the_notice(setup: tuple[Path, Catcher]) -> None:
    config, catcher = setup
    stdout_of(config, "ingest", "--now", ARRIVED, str(config.parent.parent / "m.eml"))
    # Tue 24 Nov 10:00, before the deadline (Wed 25 Nov 16:00): the extension is allowed
    extended = json.loads(
        stdout_of(
            config,
            "tickets",
            "extend",
            "CBX-000001",
            "--hours",
            "72",
            "--reason",
            "нужна помощь разработчиков",
            "--by",
            "anna",
            "--now",
            "2026-11-24T10:00+02:00",
        )
    )
    # 72 working hours from Mon 10:00: 8 + 9*7 = 71 by Wed 2 Dec 18:00, Thu 09:00 + 1 = 10:00
    assert extended["resolution_due"] == "2026-12-03T10:00:00+02:00"
    send_all(config)
    notices = [m for m in catcher.wait_for(2) if "X-Mailbot-Ticket" in m]
    texts = [m.get_content() for m in notices]  # type: ignore[attr-defined]
    flat = [" ".join(t.split()) for t in texts]
    assert any(
        "нужна помощь разработчиков" in t and "03.12.2026 10:00 по киевскому времени" in t
        for t in flat
    ), texts


def test_an_extension_after_the_deadline_is_refused(setup: tuple[Path, Catcher]) -> None:
    config, _ = setup
    stdout_of(config, "ingest", "--now", ARRIVED, str(config.parent.parent / "m.eml"))
    args = ["tickets", "extend", "CBX-000001", "--hours", "72", "--reason", "позже"]
    late = run(config, *args, "--now", "2026-11-25T16:30+02:00")
    assert late.code == 3 and "has passed" in late.err
    shown = json.loads(stdout_of(config, "tickets", "show", "CBX-000001", "--json"))
    assert shown["resolution_due"] == "2026-11-25T16:00:00+02:00"  # unchanged


def test_customer_answer_to_an_agent_question_resumes_the_clocks(
    setup: tuple[Path, Catcher],
) -> None:
    config, _ = setup
    stdout_of(config, "ingest", "--now", ARRIVED, str(config.parent.parent / "m.eml"))
    stdout_of(
        config,
        "tickets",
        "reply",
        "CBX-000001",
        "--by",
        "anna",
        "--wait",
        "-m",
        "Какой браузер вы используете?",
        "--now",
        "2026-11-23T11:00+02:00",
    )
    answer = config.parent.parent / "answer.eml"
    answer.write_bytes(
        "Received: from mx.vector.test by mx.cleverbox.test; Tue, 24 Nov 2026 12:00:00 +0200\r\n"
        "From: olena@vector.test\r\nTo: support@cleverbox.test\r\n"
        "Subject: Re: [CBX-000001] Не открывается склад\r\nMessage-ID: <answer@vector.test>\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\nChrome 131.\r\n".encode()
    )
    line = json.loads(stdout_of(config, "ingest", "--now", "2026-11-24T12:00+02:00", str(answer)))
    assert (line["ticket"], line["sla_paused"]) == ("CBX-000001", False)
    # Mon 10:00 -> the question at Mon 11:00 used 1 of 24 working hours; the answer resumes
    # the clock at Tue 12:00 (09:00-18:00) with 23 h left: Tue 6 + Wed 9 = 15, Thu 09:00 + 8
    assert line["resolution_due"] == "2026-11-26T17:00:00+02:00"
    shown = json.loads(stdout_of(config, "tickets", "show", "CBX-000001", "--json"))
    assert shown["state"] == "open"
    # the clock resumes, and the answer goes on to the agents (their notice)
    assert [e["kind"] for e in shown["events"]][-3:] == [
        "customer_reply",
        "sla_resumed",
        "reply_queued",
    ]
    # no second acknowledgement: only the original ack and the agent's answer went out to the
    # customer, and a notice of each customer mail to the agents
    assert [r["kind"] for r in shown["replies"]] == [
        "ack",
        "agent_notice",
        "agent_reply",
        "agent_notice",
    ]
