"""Agent commands: the `#` lines at the top of an agent's mail, read (never failing, whatever
the text) and applied to a real ticket in a real SQLite store — its state, clocks, the mails
the customer and the agents would get, the history — and, when one is wrong, nothing at all.
"""

from __future__ import annotations

import email
from collections.abc import Iterator
from datetime import datetime, timedelta
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlmodel import Session, col, select

from mailbot import actions
from mailbot.actions import ActionRefused, logged_hours
from mailbot.agent_address import Secrets, parse_signed, verify
from mailbot.agent_commands import (
    COMMAND_HELP,
    COMMANDS,
    CommandRejected,
    handle_agent_answer,
    parse_commands,
)
from mailbot.config import Agent, DeskSettings
from mailbot.service import App
from mailbot.store import EventRow, Message, OutboxRow, Ticket, Tickets
from tests.conftest import deliver, run, stdout_of
from tests.helpers import NOW, build_app, message

DESK = """
name = "cloudempiere"
title = "cloudempiere"
addresses = ["podpora@cloudempiere.test"]
agents = [
  { address = "dispecing@cloudempiere.test", name = "Dispečing cloudempiere", level = 1 },
  { address = "riesitel2@cloudempiere.test", name = "Martin Kováč", level = 2 },
  { address = "riesitel3@cloudempiere.test", name = "Zuzana Horváthová", level = 3 },
]
language = "sk"
timezone = "Europe/Bratislava"
ticket_prefix = "CEM"
rules = ["loops"]

[[customers]]
name = "Tatra Stroj s.r.o."
domains = ["tatra.test"]
language = "sk"

[calendars.office]
hours = { "mon-fri" = "08:00-17:00" }
country = "SK"
[calendars.always]
always = true

[sla]
calendar = "office"
[[sla.targets]]
priority = "P1"
calendar = "always"
first_response = 1
resolution = 4
[[sla.targets]]
first_response = 8
resolution = 40
"""

SECRETS = Secrets((b"test-secret-one",))
LATER = NOW + timedelta(minutes=30)
"""When the agent's mail is applied: Friday 11:30 in Bratislava."""
BRATISLAVA = ZoneInfo("Europe/Bratislava")
NUMBER = "CEM-000001"
CUSTOMER = "jana@tatra.test"


def app_with_ticket(folder: Path, desk_text: str) -> App:
    """An App over `desk_text` holding one ticket: a customer's mail of NOW (Friday 11:00 in
    Bratislava) with no priority."""
    built = build_app(folder, f"sqlite:///{folder / 'm.db'}", {"cloudempiere": desk_text})
    raw = message(
        "Faktúry sa neexportujú",
        "Dobrý deň, export faktúr do XML padá s chybou 500.",
        sender=CUSTOMER,
        name="Jana Nováková",
        to="podpora@cloudempiere.test",
        message_id="<export-1@tatra.test>",
    )
    outcome = deliver(built, raw, "podpora@cloudempiere.test")
    assert outcome.ticket == NUMBER
    return built


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    """cloudempiere with three solver levels; its ticket has the default 8 h / 40 h target."""
    built = app_with_ticket(tmp_path, DESK)
    yield built
    built.db.dispose()


def desk_of(app: App) -> DeskSettings:
    return app.config.desks["cloudempiere"]


def answer(
    app: App,
    text: str,
    *,
    agent: int = 0,
    now: datetime = LATER,
    secrets: Secrets | None = SECRETS,
    setup: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The agent's mail applied in one transaction, as the agent-mail intake does."""
    desk = desk_of(app)
    with app.db.transaction() as session:
        ticket = Tickets(session).by_number(NUMBER)
        assert ticket is not None
        for key, value in (setup or {}).items():
            setattr(ticket, key, value)
        return handle_agent_answer(
            session,
            desk,
            app.renderer,
            ticket,
            agent=desk.agents[agent],
            text=text,
            now=now,
            secrets=secrets,
        )


def ticket(app: App) -> Ticket:
    with Session(app.db.engine) as s:
        return s.exec(select(Ticket).where(col(Ticket.number) == NUMBER)).one()


INTAKE = [("ack", CUSTOMER), ("agent_notice", "dispecing@cloudempiere.test")]
"""(kind, recipient) of what the customer's mail queued: the acknowledgement, and the news of
the ticket to the desk's level-1 agent (nobody is assigned yet)."""


def mails(app: App) -> list[tuple[str, EmailMessage]]:
    """(kind, mail) of every outbox row queued after the customer's mail was taken in (which
    queued exactly INTAKE), oldest first: what the agents' answers and commands sent."""
    with Session(app.db.engine) as s:
        rows = s.exec(select(OutboxRow).order_by(col(OutboxRow.id))).all()
    assert [(row.kind, row.to_addr) for row in rows[: len(INTAKE)]] == INTAKE
    out = []
    for row in rows[len(INTAKE) :]:
        msg = email.message_from_bytes(row.raw, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        out.append((row.kind, msg))
    return out


def body(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content()).replace("\r\n", "\n")


def events(app: App, kind: str | None = None) -> list[EventRow]:
    with Session(app.db.engine) as s:
        rows = s.exec(select(EventRow).order_by(col(EventRow.id))).all()
    return [e for e in rows if kind is None or e.kind == kind]


def snapshot(app: App) -> tuple[Any, ...]:
    """Everything an agent's mail could change."""
    with Session(app.db.engine) as s:
        t = s.exec(select(Ticket)).one()
        return (
            t.model_dump(),
            len(s.exec(select(OutboxRow)).all()),
            len(s.exec(select(EventRow)).all()),
            [(m.direction, m.body_text) for m in s.exec(select(Message)).all()],
            logged_hours(app.db, "cloudempiere", "Tatra Stroj s.r.o."),
        )


def local(moment: datetime | None) -> str | None:
    """A due time as the desk's agents read it."""
    return moment.astimezone(BRATISLAVA).strftime("%a %d.%m. %H:%M") if moment else None


# ---------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("text", "commands", "rest"),
    [
        ("Dobrý deň, opravené.", [], "Dobrý deň, opravené."),
        (
            "#status solved\n\nDobrý deň, opravené.",
            [("status", "solved", "")],
            "Dobrý deň, opravené.",
        ),
        # a phone capitalises, a colon slips in, a Persian client starts with a RTL mark
        ("#Status: Solved\nText", [("status", "solved", "")], "Text"),
        ("\u200f#time 1,5h\r\nمتن", [("time", "90", "")], "متن"),
        ("  #time 1h 30m export fixed\n\nText", [("time", "90", "export fixed")], "Text"),
        ("#time 90m", [("time", "90", "")], ""),
        ("#time 2h\n#priority p1", [("time", "120", ""), ("priority", "P1", "")], ""),
        ("#priority 2\nText", [("priority", "P2", "")], "Text"),
        (
            "#extend 72h čakáme na dodávateľa\nText",
            [("extend", "72", "čakáme na dodávateľa")],
            "Text",
        ),
        ("#fixed 2.4.1\n#confirmed", [("fixed", "2.4.1", ""), ("confirmed", "", "")], ""),
        ("#assign Martin Kováč", [("assign", "Martin Kováč", "")], ""),
        (
            "#internal\n#escalate\n\nPozri logy.",
            [("internal", "", ""), ("escalate", "", "")],
            "Pozri logy.",
        ),
        # the first other line ends the commands: a later # line is the customer's text
        ("Text\n#status solved", [], "Text\n#status solved"),
        ("\n\n  \nText\n\n", [], "Text"),
    ],
)
def test_commands_at_the_top_are_read_and_removed(
    text: str, commands: list[tuple[str, str, str]], rest: str
) -> None:
    parsed = parse_commands(text)
    assert [(c.name, c.argument, c.text) for c in parsed.commands] == commands
    assert parsed.errors == ()
    assert parsed.body == rest


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("#prio P1", "unknown command #prio"),
        ("#status done", "expected #status waiting|solved|closed"),
        ("#status", "expected #status waiting|solved|closed"),
        ("#priority P5", "expected #priority P1, P2, P3 or P4"),
        ("#time 90", "expected a duration"),
        ("#time 1h30mfoo", "expected a duration"),
        ("#time 0m", "at least one minute"),
        ("#time 101h", "at most 100 h"),
        ("#extend 72h", "needs its reason"),
        ("#extend soon please", "expected #extend"),
        ("#extend 0h because", "more than 0"),
        ("#fixed", "expected #fixed <release>"),
        ("#assign", "expected #assign"),
        ("#escalate now", "#escalate takes nothing after it"),
        ("#", "a # with no command"),
        ("#fixed " + "9" * 300, "at most 200 characters"),
    ],
)
def test_a_bad_command_is_an_error_naming_its_line(line: str, says: str) -> None:
    parsed = parse_commands(f"#status waiting\n{line}\nText")
    assert [c.name for c in parsed.commands] == ["status"]
    [error] = parsed.errors
    assert error.line_no == 2
    assert says in str(error) and line.strip()[:20] in str(error)
    assert parsed.body == "Text"


def test_a_command_given_twice_is_an_error() -> None:
    parsed = parse_commands("#status solved\n#status closed\nText")
    assert [c.argument for c in parsed.commands] == ["solved"]
    assert [str(e) for e in parsed.errors] == ["line 2 '#status closed': #status given twice"]


def test_the_help_lists_every_command_the_parser_knows() -> None:
    helped = {line.split()[0] for line in COMMAND_HELP.splitlines() if line.startswith("#")}
    assert helped == {f"#{name}" for name in COMMANDS}
    for name in COMMANDS:  # and each is a command, not an "unknown command"
        assert "unknown" not in " ".join(str(e) for e in parse_commands(f"#{name}").errors)


COMMAND_LIKE = st.one_of(
    st.sampled_from(
        [
            "#status solved",
            "#status",
            "#priority P1",
            "#time 1h30m",
            "#time 1,5h",
            "#extend 72h why",
            "#fixed 2.4.1",
            "#assign x",
            "#internal",
            "#",
            "",
            "  ",
            "\u200f#escalate",
            "Text",
        ]
    ),
    st.text(),
    st.text(alphabet="#:0123456789hm ,.\u200f\tPp").map(lambda s: "#" + s),
)


@given(st.lists(COMMAND_LIKE, max_size=12).map("\n".join) | st.text())
def test_any_text_parses_without_raising_and_splits_cleanly(text: str) -> None:
    parsed = parse_commands(text)
    whole = "\n".join(text.splitlines()).rstrip()
    # the answer is the mail's own text, from its first line that is no command on
    assert whole.endswith(parsed.body)
    head = whole[: len(whole) - len(parsed.body)].splitlines()
    # what was removed is blank lines and command lines, each read or refused exactly once
    alone = [parse_commands(line) for line in head]
    assert all(p.body == "" and len(p.commands) + len(p.errors) <= 1 for p in alone)
    assert sum(len(p.commands) + len(p.errors) for p in alone) == len(parsed.commands) + len(
        parsed.errors
    )
    again = parse_commands(parsed.body)
    assert (again.commands, again.errors, again.body) == ((), (), parsed.body)
    assert len({c.name for c in parsed.commands}) == len(parsed.commands)


# ---------------------------------------------------------------------------- applying


def test_the_fixture_ticket_has_the_default_target(app: App) -> None:
    t = ticket(app)
    # Fri 11:00 + 8 working hours (08:00-17:00): 6 on Friday, 2 on Monday
    assert (local(t.first_response_due), local(t.resolution_due)) == (
        "Mon 23.11. 10:00",
        "Thu 26.11. 15:00",
    )
    assert (t.priority, t.level, t.assignee, t.language) == (None, 1, None, "sk")


def test_a_plain_answer_goes_to_the_customer_from_the_desk(app: App) -> None:
    result = answer(app, "Dobrý deň,\n\nexport opravíme do zajtra.")
    assert result["commands"] == [] and result["answered"] is True
    [(kind, mail)] = mails(app)
    assert kind == "agent_reply"
    assert (mail["To"], mail["From"].addresses[0].addr_spec) == (
        CUSTOMER,
        "podpora@cloudempiere.test",
    )
    assert mail["In-Reply-To"] == "<export-1@tatra.test>"
    assert str(mail["Subject"]) == f"[{NUMBER}] Faktúry sa neexportujú"
    assert body(mail).startswith("Dobrý deň,\n\nexport opravíme do zajtra.\n")
    assert "Dispečing cloudempiere" in body(mail)  # signed with the agent's configured name
    t = ticket(app)
    assert (t.state, t.first_responded_at) == ("open", LATER)


def test_status_waiting_sends_the_question_and_the_clocks_wait(app: App) -> None:
    result = answer(app, "#status waiting\n\nV ktorom module sa chyba objavuje?")
    assert result["commands"] == [{"name": "status", "argument": "waiting"}]
    [(kind, mail)] = mails(app)
    assert kind == "agent_reply" and "#status" not in body(mail)
    assert body(mail).startswith("V ktorom module sa chyba objavuje?")
    t = ticket(app)
    assert t.state == "waiting_customer"
    assert (t.sla_running_since, t.first_response_due, t.resolution_due) == (None, None, None)
    assert t.sla_used_seconds == 30 * 60  # Friday 11:00-11:30, kept for when it runs again
    assert [e.detail["name"] for e in events(app, "command")] == ["status"]


def test_status_solved_comes_after_the_answer(app: App) -> None:
    answer(app, "#status solved\nOpravené vo verzii 2.4.1, prosím overte.")
    # the answer first, then the life cycle's notice that the ticket is solved
    assert [(kind, mail["To"]) for kind, mail in mails(app)] == [
        ("agent_reply", CUSTOMER),
        ("solved", CUSTOMER),
    ]
    assert all("#status" not in body(mail) for _, mail in mails(app))
    t = ticket(app)
    assert (t.state, t.solved_at, t.resolution_due) == ("solved", LATER, None)
    order = [e.kind for e in events(app) if e.kind in ("agent_reply", "solved", "command")]
    assert order == ["agent_reply", "solved", "command"]
    [solved] = events(app, "solved")
    assert solved.detail["met"] is True and solved.detail["by"] == "Dispečing cloudempiere"


def test_status_closed_is_final(app: App) -> None:
    result = answer(app, "#status closed")
    assert result["answered"] is False and result["state"] == "closed"
    t = ticket(app)
    assert (t.state, t.solved_at, t.sla_running_since) == ("closed", LATER, None)
    assert [e.detail["previous"] for e in events(app, "closed")] == ["new"]
    assert "agent_reply" not in [k for k, _ in mails(app)]
    with pytest.raises(CommandRejected, match="already closed"):
        answer(app, "#status closed")
    with pytest.raises(CommandRejected, match="no answer can be sent"):
        answer(app, "Ešte jedna vec.")


def test_priority_p1_moves_the_deadlines_to_the_p1_target(app: App) -> None:
    result = answer(app, "#priority P1")
    t = ticket(app)
    assert t.priority == "P1"
    # P1 counts around the clock from the same start: Friday 11:00 + 1 h, + 4 h
    assert (local(t.first_response_due), local(t.resolution_due)) == (
        "Fri 20.11. 12:00",
        "Fri 20.11. 15:00",
    )
    assert result["first_response_due"] == "2026-11-20T12:00:00+01:00"
    [command] = events(app, "command")
    assert command.detail == {
        "by": "Dispečing cloudempiere",
        "agent": "dispecing@cloudempiere.test",
        "name": "priority",
        "argument": "P1",
        "old": None,
        "new": "P1",
    }
    assert events(app, "sla_retargeted")[0].detail["calendar"] == "always"
    assert mails(app) == []  # nothing to the customer


def test_priority_after_the_first_answer_moves_only_the_resolution(app: App) -> None:
    answer(app, "Pozrieme sa na to.")
    answer(app, "#priority P1", now=LATER + timedelta(minutes=5))
    t = ticket(app)
    assert t.first_response_due is None  # answered: that clock is settled
    assert local(t.resolution_due) == "Fri 20.11. 15:00"


def test_assign_by_name_gives_the_ticket_and_a_signed_notice(app: App) -> None:
    result = answer(app, "#assign martin kováč\n#internal\nPozri export, padá na XSD.")
    assert result["assignee"] == "riesitel2@cloudempiere.test"
    [(kind, mail)] = mails(app)
    assert (kind, mail["To"]) == ("agent_assigned", "riesitel2@cloudempiere.test")
    assert "Assigned to you by Dispečing cloudempiere" in body(mail)
    assert "Pozri export, padá na XSD." in body(mail)  # the note travels with it
    signed = parse_signed(str(mail["Reply-To"]))
    assert signed is not None and signed.number == NUMBER
    assert verify(SECRETS, signed, "riesitel2@cloudempiere.test")
    assert ticket(app).assignee == "riesitel2@cloudempiere.test"


def test_assign_without_secrets_sets_the_assignee_only(app: App) -> None:
    answer(app, "#assign riesitel3@cloudempiere.test", secrets=None)
    assert ticket(app).assignee == "riesitel3@cloudempiere.test"
    assert mails(app) == []


def test_assign_to_a_stranger_is_refused_naming_the_line(app: App) -> None:
    with pytest.raises(CommandRejected) as refused:
        answer(app, "#assign novak@elsewhere.test\nText")
    assert "line 1 '#assign novak@elsewhere.test'" in str(refused.value)
    assert "not an agent of desk cloudempiere" in str(refused.value)
    assert isinstance(refused.value, ActionRefused)


def test_escalate_climbs_the_levels_and_tells_the_next_one(app: App) -> None:
    answer(app, "#assign dispecing@cloudempiere.test", secrets=None)
    answer(app, "#escalate")
    t = ticket(app)
    assert (t.level, t.assignee) == (2, None)
    [(kind, mail)] = mails(app)
    assert (kind, mail["To"]) == ("agent_assigned", "riesitel2@cloudempiere.test")
    assert "Escalated to level 2 by Dispečing cloudempiere" in body(mail)
    answer(app, "#internal\n#escalate", agent=1)  # an escalation with nothing to say
    assert ticket(app).level == 3
    with Session(app.db.engine) as s:
        assert s.exec(select(Message).where(col(Message.direction) == "note")).all() == []
    assert [m["To"] for _, m in mails(app)][-1] == "riesitel3@cloudempiere.test"
    with pytest.raises(CommandRejected, match="the desk's highest with agents"):
        answer(app, "#escalate", agent=2)
    assert [e.detail["new"] for e in events(app, "escalated")] == [2, 3]


def test_internal_is_a_note_and_nothing_reaches_the_customer(app: App) -> None:
    result = answer(app, "#internal\n\nZákazník má starú verziu, volal som mu.")
    assert result["internal"] is True and result["answered"] is False
    assert mails(app) == []
    with Session(app.db.engine) as s:
        notes = s.exec(select(Message).where(col(Message.direction) == "note")).all()
    assert [(n.author, n.body_text) for n in notes] == [
        ("dispecing@cloudempiere.test", "Zákazník má starú verziu, volal som mu.")
    ]
    t = ticket(app)
    assert t.first_responded_at is None and local(t.first_response_due) == "Mon 23.11. 10:00"


def test_time_is_logged_for_the_customer(app: App) -> None:
    answer(app, "#time 1h30m analýza logov\nDobrý deň, chybu sme našli.")
    assert logged_hours(app.db, "cloudempiere", "Tatra Stroj s.r.o.") == 1.5
    [command] = events(app, "command")
    assert (command.detail["argument"], command.detail["text"]) == ("90", "analýza logov")
    assert [k for k, _ in mails(app)] == ["agent_reply"]


def test_extend_moves_the_deadline_with_a_notice_and_its_reason(app: App) -> None:
    answer(app, "#extend 72h čakáme na opravu od dodávateľa\nDobrý deň, potrebujeme viac času.")
    # 72 working hours from Friday 11:00: 6 + 7 days x 9 = 69, then 3 more on Wednesday
    assert local(ticket(app).resolution_due) == "Wed 02.12. 11:00"
    kinds = [k for k, _ in mails(app)]
    assert kinds == ["extension", "agent_reply"]
    notice = body(mails(app)[0][1])
    assert "čakáme na opravu od dodávateľa" in notice and "02.12.2026 11:00" in notice


def test_an_extension_that_is_none_is_refused_and_rolled_back(app: App) -> None:
    before = snapshot(app)
    # P1 resolves in 4 h; "2 h" is shorter: refused by the action, after #priority ran
    with pytest.raises(CommandRejected, match=r"line 2 '#extend 2h.*no extension"):
        answer(app, "#priority P1\n#extend 2h rýchlejšie\nText")
    assert snapshot(app) == before


def test_extend_after_the_deadline_is_refused_before_anything(app: App) -> None:
    with pytest.raises(CommandRejected, match="the deadline has passed"):
        answer(app, "#extend 72h neskoro\nText", now=NOW + timedelta(days=10))


@pytest.mark.parametrize(
    ("language", "confirmed", "fixed"),
    [
        ("sk", "naše testy potvrdili chybu", "Oprava je vo verzii 2.4.1"),
        ("en", "our tests have confirmed the bug", "The fix comes in release 2.4.1"),
        ("pl", "nasze testy potwierdziły błąd", "Poprawka jest w wersji 2.4.1"),
        ("ru", "Наши тесты подтвердили ошибку", "Исправление вошло в версию 2.4.1"),
        ("uk", "Наші тести підтвердили помилку", "Виправлення увійшло до версії 2.4.1"),
        ("fa", "آزمایش‌های ما خطایی را", "این اصلاحیه در نسخه 2.4.1 عرضه می‌شود"),
    ],
)
def test_confirmed_then_fixed_tell_the_customer_in_their_language(
    app: App, language: str, confirmed: str, fixed: str
) -> None:
    answer(app, "#confirmed", setup={"language": language})
    answer(app, "#fixed 2.4.1\n#status solved", now=LATER + timedelta(hours=1))
    told = [(k, m) for k, m in mails(app) if k.startswith("bug_")]
    assert [(k, m["To"], m["Content-Language"]) for k, m in told] == [
        ("bug_confirmed", CUSTOMER, language),
        ("bug_fixed", CUSTOMER, language),
    ]
    assert confirmed in " ".join(body(told[0][1]).split())
    assert fixed in " ".join(body(told[1][1]).split())
    assert NUMBER in body(told[1][1]) and "Dispečing cloudempiere" in body(told[1][1])
    assert ticket(app).state == "solved"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("#status solved\n#prio P1\nText", "line 2 '#prio P1': unknown command #prio"),
        ("#status waiting", "needs a question to the customer"),
        ("#internal\n#status waiting\nQuestion?", "not an #internal note"),
        ("#assign Martin Kováč\n#escalate", "give #assign or #escalate, not both"),
        ("#time 1h\n#time 2h\nText", "#time given twice"),
    ],
)
def test_a_rejected_mail_writes_nothing(app: App, text: str, says: str) -> None:
    before = snapshot(app)
    with pytest.raises(CommandRejected) as refused:
        answer(app, text)
    assert says in str(refused.value)
    assert snapshot(app) == before


def test_status_solved_on_a_solved_ticket_is_refused(app: App) -> None:
    answer(app, "#status solved")
    with pytest.raises(CommandRejected, match="already solved"):
        answer(app, "#status solved")
    # a note and logged time are still welcome on a solved ticket
    answer(app, "#internal\n#time 15m\nZákazník poďakoval.")
    assert logged_hours(app.db, "cloudempiere", "Tatra Stroj s.r.o.") == 0.25


def test_a_refusal_comes_before_anything_is_added_to_the_session(app: App) -> None:
    """The intake may keep its transaction after a refusal (to record the mail and mail the
    agent the help): the refused commands must not have touched it."""
    desk = desk_of(app)
    with app.db.transaction() as session:
        t = Tickets(session).by_number(NUMBER)
        assert t is not None
        with pytest.raises(CommandRejected):
            handle_agent_answer(
                session,
                desk,
                app.renderer,
                t,
                agent=desk.agents[0],
                text="#priority P1\n#time 2h\n#status solved\n#fixd 2.4.1\nText",
                now=LATER,
                secrets=SECRETS,
            )
        assert not (session.new or session.dirty or session.deleted)
        assert t.priority is None and t.state == "new"


def test_priority_on_a_waiting_ticket_changes_the_target_the_clocks_resume_on(app: App) -> None:
    answer(app, "#status waiting\nKtorá verzia?")
    answer(app, "#priority P1", now=LATER + timedelta(minutes=5))
    t = ticket(app)
    assert t.sla_clock is not None and t.sla_clock["calendar"] == "always"
    assert (t.sla_running_since, t.resolution_due) == (None, None)  # still waiting
    with pytest.raises(CommandRejected, match="no running resolution clock"):
        answer(app, "#extend 72h dodávateľ\nText")


def test_solved_then_closed_tells_the_customer_once(app: App) -> None:
    answer(app, "#status solved")
    told = len(mails(app))
    answer(app, "#status closed", now=LATER + timedelta(days=1))
    assert ticket(app).state == "closed"
    assert len(mails(app)) == told  # closing a solved ticket only records it
    assert [e.detail["previous"] for e in events(app, "closed")] == ["solved"]
    assert len(events(app, "solved")) == 1


P1_ONLY = DESK.replace(
    """[[sla.targets]]
first_response = 8
resolution = 40
""",
    "",
).replace(
    '{ address = "riesitel3@cloudempiere.test", name = "Zuzana Horváthová", level = 3 },',
    '{ address = "riesitel3@cloudempiere.test", name = "Martin Kováč", level = 3 },',
)
"""Only P1 has a target (others get none), and two agents share a name."""


def test_a_priority_with_a_target_starts_clocks_one_without_stops_them(tmp_path: Path) -> None:
    app = app_with_ticket(tmp_path, P1_ONLY)
    assert ticket(app).sla_clock is None  # no target at intake
    answer(app, "#priority P1")
    t = ticket(app)
    # counted from the mail's arrival, Friday 11:00, around the clock
    assert (local(t.first_response_due), local(t.resolution_due)) == (
        "Fri 20.11. 12:00",
        "Fri 20.11. 15:00",
    )
    answer(app, "#priority P3", now=LATER + timedelta(minutes=1))
    t = ticket(app)
    assert (t.sla_clock, t.first_response_due, t.resolution_due) == (None, None, None)
    assert events(app, "sla_none")[-1].detail["by"] == "Dispečing cloudempiere"
    with pytest.raises(CommandRejected, match="names 2 agents"):
        answer(app, "#assign Martin Kováč")
    app.db.dispose()


def test_the_cli_closes_prioritises_assigns_and_escalates(app: App) -> None:
    config = app.config.path
    at = ["--now", "2026-11-20T11:30+01:00"]
    env = {"MAILBOT_AGENT_SECRETS": "cli-secret-0123456789"}
    out = stdout_of(config, "tickets", "priority", NUMBER, "p1", "--by", "anna", *at)
    assert '"resolution_due": "2026-11-20T15:00:00+01:00"' in out
    out = stdout_of(config, "tickets", "assign", NUMBER, "Martin Kováč", *at, env=env)
    assert '"assignee": "riesitel2@cloudempiere.test"' in out
    [(kind, mail)] = mails(app)
    signed = parse_signed(str(mail["Reply-To"]))
    assert kind == "agent_assigned" and signed is not None
    assert verify(Secrets((b"cli-secret-0123456789",)), signed, "riesitel2@cloudempiere.test")
    code, _, err = run(config, "tickets", "assign", NUMBER, "nobody@x.test", *at, env=env)
    assert code == 3 and "not an agent of desk cloudempiere" in err
    stdout_of(config, "tickets", "escalate", NUMBER, *at, env=env)
    stdout_of(config, "tickets", "escalate", NUMBER, *at, env=env)
    code, _, err = run(config, "tickets", "escalate", NUMBER, *at, env=env)
    assert code == 3 and "no agents at a higher level" in err
    assert (ticket(app).level, ticket(app).assignee) == (3, None)
    out = stdout_of(config, "tickets", "close", NUMBER, *at)
    assert '"state": "closed"' in out
    code, _, err = run(config, "tickets", "close", NUMBER, *at)
    assert code == 3 and "already closed" in err


@pytest.mark.parametrize(
    ("call", "says"),
    [
        (
            lambda s, d, r, t: actions.set_priority_in(s, d, t, priority="P9", by="a", now=LATER),
            "P9",
        ),
        (lambda s, d, r, t: actions.note_in(s, d, t, author="a", text=" ", now=LATER), "text"),
        (
            lambda s, d, r, t: actions.tell_bug_in(
                s, d, r, t, event="bug_eaten", by="a", now=LATER
            ),
            "bug_eaten",
        ),
        (
            lambda s, d, r, t: actions.tell_bug_in(
                s, d, r, t, event="bug_fixed", by="a", now=LATER
            ),
            "release",
        ),
        (
            lambda s, d, r, t: actions.assign_in(
                s, d, r, t, agent=Agent(address="x@y.test"), by="a", now=LATER
            ),
            "not an agent",
        ),
    ],
)
def test_actions_refuse_bad_input_from_any_caller(app: App, call: Any, says: str) -> None:
    before = snapshot(app)
    with pytest.raises(ActionRefused, match=says), app.db.transaction() as session:
        t = Tickets(session).by_number(NUMBER)
        call(session, desk_of(app), app.renderer, t)
    assert snapshot(app) == before


def test_no_notice_to_oneself_nor_without_secrets(app: App) -> None:
    result = answer(app, "#assign dispecing@cloudempiere.test")  # the sender takes it
    assert (result["assignee"], result["commands"][0]["notified"]) == (
        "dispecing@cloudempiere.test",
        0,
    )
    answer(app, "#escalate", secrets=None)
    assert (ticket(app).level, mails(app)) == (2, [])
