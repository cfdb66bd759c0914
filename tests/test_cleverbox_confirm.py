"""CleverBox, issue 11: an agent confirms an address identified by company name and contract
number (POLICIES.md §5: "the new address remembered for them only after an agent confirms
it"), against the shipped desk file, through `mailbot ingest --json` and `mailbot customers`.

Before the confirmation the address is a stranger's: a mail without the contract number is
refused. `customers confirm <address> --ticket <number>` (only from the ticket opened by
contract identification from that very address) makes it the customer's: its next mail opens
a ticket as a contact's would. `customers unconfirm` takes it back.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, SHIPPED_DESKS, invoke, write_config
from tests.test_cleverbox_identification import STRANGER, agent_notices, events
from tests.test_desks import (
    CLEVERBOX,
    OLENA,
    Desks,
    check_reply,
    desks,
    modern,
    outcome,
    plain,
)

__all__ = ["desks"]  # the fixture, used by name

ADDRESS = STRANGER[1]
AT = "2026-11-24T10:30:00+02:00"
"""When the agent confirms (--now): the history's time comes from the injected clock."""


def identified() -> bytes:
    return modern(
        STRANGER,
        CLEVERBOX,
        "Не працює імпорт контактів",
        "Добрий день!\n\nПишу з особистої пошти. Під час імпорту контактів з Excel система\n"
        "зависає на 0%. Наш договір № СВ 2024-117.\n\n"
        "З повагою,\nІрина Савчук\nбухгалтер, ТОВ «Вектор»\n",
    )


def without_number(subject: str, text: str) -> bytes:
    return modern(STRANGER, CLEVERBOX, subject, f"Добрий день!\n\n{text}\n\nІрина Савчук\n")


SECOND = ("Не видно угод у звіті", "У звіті по менеджерах не видно угод за листопад.")
THIRD = ("Не формується рахунок", "Не формується рахунок з картки угоди, кнопка неактивна.")
FOURTH = ("Не приходять сповіщення", "Менеджерам перестали приходити сповіщення про задачі.")


def run(desks: Desks, *args: str) -> tuple[int, str, str]:
    result = desks.run(*args)
    return result.exit_code, result.stdout, result.stderr


# -- the main path, as an agent works it ---------------------------------------------------------


def test_a_confirmed_address_writes_as_the_customer_until_it_is_taken_back(desks: Desks) -> None:
    first = desks.ingest("identified.eml", identified())
    outcome(first, "ticket", desk="cleverbox", ticket="CBX-000001")
    [notice] = agent_notices(desks)
    said = " ".join(plain(notice).split())
    assert f"mailbot customers confirm {ADDRESS} --ticket CBX-000001" in said

    second = desks.ingest("second.eml", without_number(*SECOND))
    outcome(second, "quarantined", desk="cleverbox", reason="unknown_customer")

    code, out, err = run(
        desks, "customers", "confirm", ADDRESS, "--ticket", "CBX-000001", "--by", "olena",
        "--now", AT, "--json",
    )  # fmt: skip
    assert code == 0, out + err
    assert json.loads(out) == {
        "confirmed": ADDRESS,
        "desk": "cleverbox",
        "customer": "ТОВ Вектор",
        "ticket": "CBX-000001",
        "by": "olena",
        "at": datetime.fromisoformat(AT).isoformat(),
    }
    [event] = [e for e in events(desks, "CBX-000001") if e["kind"] == "address_confirmed"]
    assert (event["address"], event["customer"], event["by"]) == (ADDRESS, "ТОВ Вектор", "olena")
    assert event["contract"] == "CB-2024-117"
    assert datetime.fromisoformat(event["at"]) == datetime.fromisoformat(AT)

    third = desks.ingest("third.eml", without_number(*THIRD))
    outcome(third, "ticket", desk="cleverbox", ticket="CBX-000002")
    check_reply(
        desks.reply(third["spool_id"]),
        language="uk",
        to=ADDRESS,
        ticket="CBX-000002",
        says=("Ваше звернення зареєстровано під номером CBX-000002",),
    )
    shown = desks.json("tickets", "show", "CBX-000002")
    assert shown["customer"] == "ТОВ Вектор"
    assert "identified_by_contract" not in [e["kind"] for e in shown["events"]]
    # the agents' notice of a confirmed address's ticket asks nothing more
    notices = agent_notices(desks)
    assert len(notices) == 2
    assert "customers confirm" not in plain(notices[-1])

    [vector] = [c for c in desks.json("customers", "list", "--desk", "cleverbox")
                if c["name"] == "ТОВ Вектор"]  # fmt: skip
    assert [(c["address"], c["ticket"], c["by"]) for c in vector["confirmed"]] == [
        (ADDRESS, "CBX-000001", "olena")
    ]

    code, out, err = run(
        desks, "customers", "unconfirm", ADDRESS, "--desk", "cleverbox", "--by", "andrii", "--json"
    )
    assert code == 0, out + err
    assert json.loads(out)["customer"] == "ТОВ Вектор"
    taken_back = [e for e in events(desks, "CBX-000001") if e["kind"] == "address_unconfirmed"]
    assert [e["by"] for e in taken_back] == ["andrii"]

    fourth = desks.ingest("fourth.eml", without_number(*FOURTH))
    outcome(fourth, "quarantined", desk="cleverbox", reason="unknown_customer")
    code, _, err = run(desks, "customers", "unconfirm", ADDRESS, "--desk", "cleverbox")
    assert code == 66 and f"{ADDRESS}: no confirmed address of desk cleverbox" in err


def test_the_main_path_on_each_database(tmp_path: Path, db_url: str) -> None:
    """The same story without the reply texts (they are read from SQLite above), on SQLite
    and PostgreSQL: the confirmed address is read where the desk's contacts are."""
    from tests.servers import mailbot_cli

    config = write_config(tmp_path, db_url, desks=SHIPPED_DESKS)

    def ingest(*mails: tuple[str, bytes]) -> list[dict[str, Any]]:
        paths = []
        for name, raw in mails:
            (tmp_path / name).write_bytes(raw)
            paths.append(str(tmp_path / name))
        # a process of its own: in this process ingest would leave its connections open
        done = mailbot_cli(config, "ingest", *paths)
        assert done.returncode == 0, done.stdout + done.stderr
        return [json.loads(line) for line in done.stdout.splitlines()]

    first, second = ingest(("1.eml", identified()), ("2.eml", without_number(*SECOND)))
    assert (first["ticket"], second["reason"]) == ("CBX-000001", "unknown_customer")
    confirmed = invoke(config, "customers", "confirm", ADDRESS, "--ticket", "cbx-000001")
    assert confirmed.exit_code == 0, confirmed.output
    assert f"{ADDRESS} confirmed for ТОВ Вектор (cleverbox), from CBX-000001" in confirmed.stdout
    [third] = ingest(("3.eml", without_number(*THIRD)))
    assert (third["outcome"], third["ticket"]) == ("ticket", "CBX-000002")
    shown = invoke(config, "tickets", "show", "CBX-000002", "--json")
    assert json.loads(shown.stdout)["customer"] == "ТОВ Вектор"
    again = invoke(config, "customers", "confirm", ADDRESS, "--ticket", "CBX-000001")
    assert again.exit_code == 3 and "already confirmed for ТОВ Вектор" in again.stderr
    taken = invoke(config, "customers", "unconfirm", ADDRESS.upper(), "--desk", "cleverbox")
    assert taken.exit_code == 0, taken.output
    [fourth] = ingest(("4.eml", without_number(*FOURTH)))
    assert fourth["reason"] == "unknown_customer"


# -- what cannot be confirmed --------------------------------------------------------------------


def test_confirming_from_the_wrong_ticket_is_refused_and_remembers_nothing(desks: Desks) -> None:
    contact = modern(OLENA, CLEVERBOX, "Не работает телефония", "Звонки не записываются.\n")
    by_contact, by_contract = desks.ingest_many(("olena.eml", contact), ("ira.eml", identified()))
    outcome(by_contact, "ticket", desk="cleverbox", ticket="CBX-000001")
    outcome(by_contract, "ticket", desk="cleverbox", ticket="CBX-000002")

    code, _, err = run(desks, "customers", "confirm", ADDRESS, "--ticket", "CBX-000001")
    assert code == 3
    assert "CBX-000001 was not opened by identification by company name and contract" in err

    other = "someone@gmail.test"
    code, _, err = run(desks, "customers", "confirm", other, "--ticket", "CBX-000002")
    assert code == 3
    assert f"CBX-000002 was identified from {ADDRESS}, not from {other}" in err

    code, _, err = run(desks, "customers", "confirm", ADDRESS, "--ticket", "CBX-000099")
    assert code == 66 and "CBX-000099: not found" in err

    [vector] = [c for c in desks.json("customers", "list", "--desk", "cleverbox")
                if c["name"] == "ТОВ Вектор"]  # fmt: skip
    assert vector["confirmed"] == []
    assert "address_confirmed" not in [e["kind"] for e in events(desks, "CBX-000002")]
    refused = desks.ingest("again.eml", without_number(*SECOND))
    outcome(refused, "quarantined", desk="cleverbox", reason="unknown_customer")


def test_unconfirm_names_a_desk_that_exists(desks: Desks) -> None:
    code, _, err = run(desks, "customers", "unconfirm", ADDRESS, "--desk", "clevrbox")
    assert code == 2 and "'clevrbox' is no desk" in err


# -- the agents' notice --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("ru", "Подтвердить адрес (когда убедитесь):"),
        ("uk", "Підтвердити адресу (коли переконаєтеся):"),
        ("en", "To confirm it (once you are sure):"),
    ],
)
def test_the_notice_tells_agents_how_to_confirm_in_each_language(language: str, words: str) -> None:
    from mailbot.replies import Renderer

    text = Renderer(REPO / "templates").render_text(
        language,
        "agent_notice",
        {
            "ticket_number": "CBX-000123",
            "subject": "Импорт",
            "customer_name": None,
            "requester": ADDRESS,
            "customer": "ТОВ Вектор",
            "unconfirmed_contract": "CB-2024-117",
            "deadline": None,
            "text": "Не работает импорт.",
            "follow_up": False,
            "state": "new",
        },
    )
    assert words in text
    assert f"  mailbot customers confirm {ADDRESS} --ticket CBX-000123\n" in text
    assert all(len(line) <= 78 for line in text.split("\n") if words in line or "--ticket" in line)


# -- the migration -------------------------------------------------------------------------------


def test_migration_0010_upgrades_a_database_with_an_identified_ticket(tmp_path: Path) -> None:
    """A database of 0009 with a ticket opened by contract identification: the first command
    migrates it, and the address is confirmed from that ticket."""
    from alembic import command
    from alembic.config import Config as AlembicConfig
    from sqlalchemy import create_engine

    db = tmp_path / "old.db"
    engine = create_engine(f"sqlite:///{db}")
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(REPO / "mailbot" / "migrations"))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "0009")
    engine.dispose()
    with sqlite3.connect(db) as conn:
        conn.execute(
            "INSERT INTO ticket (id, desk, number, subject, requester, requester_name, state,"
            " customer, language, missing, received_at, sla_used_seconds, level, created_at,"
            " updated_at) VALUES (1, 'cleverbox', 'CBX-000001', 's', ?, '', 'open',"
            " 'ТОВ Вектор', 'uk', '[]', '2026-11-20 08:00:00', 0, 1, '2026-11-20 08:00:00',"
            " '2026-11-20 08:00:00')",
            (ADDRESS,),
        )
        conn.execute(
            "INSERT INTO event (ticket_id, kind, detail, at) VALUES (1, 'identified_by_contract',"
            " ?, '2026-11-20 08:00:00')",
            (
                json.dumps(
                    {"customer": "ТОВ Вектор", "contract": "CB-2024-117", "address": ADDRESS}
                ),
            ),
        )
    config = write_config(tmp_path, f"sqlite:///{db}", desks=SHIPPED_DESKS)

    result = invoke(config, "customers", "confirm", ADDRESS, "--ticket", "CBX-000001")

    assert result.exit_code == 0, result.output
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone() == ("0010",)
        rows = conn.execute("SELECT desk, address, customer FROM confirmed_address").fetchall()
    assert rows == [("cleverbox", ADDRESS, "ТОВ Вектор")]


# -- by mail: #confirm-address in the agent's reply to the notice -------------------------------

DUTY = ("Олена Коваленко", "duty@cleverbox.test")


def agent_answer(desks: Desks, notice: Any, text: str) -> dict[str, Any]:
    reply_to = str(notice["Reply-To"])
    raw = modern(DUTY, reply_to, f"Re: {notice['Subject']}", text)
    return desks.ingest("agent.eml", raw)


def test_an_agent_confirms_by_mail_with_confirm_address(desks: Desks) -> None:
    desks.ingest("identified.eml", identified())
    [notice] = agent_notices(desks)

    done = agent_answer(
        desks, notice, "#confirm-address\n\nДобрий день, Ірино! Дивимося імпорт, напишемо.\n"
    )

    assert done["outcome"] == "agent_reply", done
    [confirmed] = [e for e in events(desks, "CBX-000001") if e["kind"] == "address_confirmed"]
    assert (confirmed["address"], confirmed["by"]) == (ADDRESS, "Олена Коваленко")
    assert "agent_reply" in [e["kind"] for e in events(desks, "CBX-000001")]  # the answer went
    third = desks.ingest("third.eml", without_number(*THIRD))
    outcome(third, "ticket", desk="cleverbox", ticket="CBX-000002")
    assert desks.json("tickets", "show", "CBX-000002")["customer"] == "ТОВ Вектор"


def test_confirm_address_on_a_contacts_ticket_is_refused_to_the_agent(desks: Desks) -> None:
    contact = modern(OLENA, CLEVERBOX, "Не работает телефония", "Звонки не записываются.\n")
    desks.ingest("olena.eml", contact)
    [notice] = agent_notices(desks)

    done = agent_answer(desks, notice, "#confirm-address\n\nДобрый день, смотрим.\n")

    assert done["outcome"] == "agent_reply", done
    with sqlite3.connect(desks.db) as conn:
        [(raw,)] = conn.execute(
            "SELECT raw FROM outbox WHERE kind = 'agent_command_refused'"
        ).fetchall()
        assert conn.execute("SELECT count(*) FROM confirmed_address").fetchone() == (0,)
    from tests.test_desks import _reply

    said = " ".join(plain(_reply(raw)).split())
    assert "CBX-000001 was not opened by identification by company name and contract" in said
    kinds = [e["kind"] for e in events(desks, "CBX-000001")]
    assert "address_confirmed" not in kinds and "agent_reply" not in kinds
