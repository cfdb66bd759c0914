"""The `mailbot` command as an admin uses it: help, check-config, db upgrade, tickets."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from mailbot.cli import cli
from tests.conftest import REPO, run, write_config

MAIL = (
    b"From: Jan Kowalski <jan@kowalski-serwis.test>\r\nTo: pomoc@serwisant.test\r\n"
    b"Subject: =?utf-8?q?P=C5=82atno=C5=9B=C4=87_nie_przesz=C5=82a?=\r\n"
    b"Message-ID: <p1@kowalski-serwis.test>\r\nDate: Mon, 16 Nov 2026 15:50:00 +0100\r\n\r\n"
    b"Dzie\xc5\x84 dobry, p\xc5\x82atno\xc5\x9b\xc4\x87 online nie przesz\xc5\x82a.\r\n"
)


def test_help_teaches_the_first_steps() -> None:
    result = CliRunner().invoke(cli, ["--help"], obj={})
    assert result.exit_code == 0
    for words in ("check-config", "serve", "ingest", "tickets"):
        assert words in result.output
    ingest_help = CliRunner().invoke(cli, ["ingest", "--help"], obj={}).output
    assert "one JSON line per file" in ingest_help and "--desk" in ingest_help


def test_check_config_on_the_shipped_files() -> None:
    code, out, _ = run(REPO / "config" / "mailbot.toml", "check-config")
    assert code == 0, out
    assert "OK, 5 desk(s)" in out and "support@cleverbox.test" in out
    code, out, _ = run(REPO / "config" / "mailbot.toml", "check-config", "--json")
    assert {d["desk"] for d in json.loads(out)["desks"]} == {
        "serwisant", "cloudempiere", "grsoft", "crmonline", "cleverbox"}  # fmt: skip


def test_bad_config_exits_78_with_one_line(tmp_path: Path) -> None:
    path = write_config(tmp_path, f"sqlite:///{tmp_path / 'm.db'}", extra="[smtp_typo]\nx = 1\n")
    code, _, err = run(path, "check-config")
    assert code == 78
    assert err.count("\n") == 1 and "smtp_typo: unknown key" in err and str(path) in err


def test_db_upgrade_then_tickets_list_and_show(tmp_path: Path) -> None:
    path = write_config(tmp_path, f"sqlite:///{tmp_path / 'm.db'}")
    code, out, _ = run(path, "db", "upgrade")
    assert code == 0 and "schema up to date" in out
    assert run(path, "db", "upgrade")[0] == 0  # idempotent
    assert run(path, "tickets", "list")[1].strip() == "no tickets"
    mail = tmp_path / "m.eml"
    mail.write_bytes(MAIL)
    code, out, _ = run(path, "ingest", "--now", "2026-11-16T15:55+01:00", str(mail))  # its day
    assert code == 0
    line = json.loads(out)
    assert (line["outcome"], line["ticket"], line["desk"]) == ("ticket", "SRW-000001", "serwisant")
    code, out, _ = run(path, "tickets", "list")
    assert "SRW-000001" in out and "Płatność nie przeszła" in out and "answer due" in out
    code, out, _ = run(path, "tickets", "list", "--json", "--desk", "serwisant")
    [ticket] = json.loads(out)
    assert ticket["number"] == "SRW-000001" and ticket["received_at"].startswith("2026-11-16T15:50")
    assert ticket["received_at"].endswith("+01:00")  # the desk's zone (Warsaw), with its offset
    code, out, _ = run(path, "tickets", "show", "srw-000001")
    assert code == 0 and "reply_queued" in out
    assert "Dzień dobry, płatność online nie przeszła." in out
    code, out, _ = run(path, "tickets", "show", "SRW-000001", "--json")
    shown = json.loads(out)
    assert [m["direction"] for m in shown["messages"]] == ["in", "out"]
    assert shown["replies"][0]["state"] == "pending"


def test_unknown_ticket_exits_66_and_unknown_desk_2(tmp_path: Path) -> None:
    path = write_config(tmp_path, f"sqlite:///{tmp_path / 'm.db'}")
    code, _, err = run(path, "tickets", "show", "SRW-999999")
    assert code == 66 and "SRW-999999: not found" in err
    mail = tmp_path / "m.eml"
    mail.write_bytes(MAIL)
    code, _, err = run(path, "ingest", "--desk", "nope", str(mail))
    assert code == 2 and "'nope' is no desk; the desks are: " in err
