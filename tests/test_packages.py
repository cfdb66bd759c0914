"""crmonline's prepaid hours and availability credit, through the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mailbot.config import Package
from mailbot.prepaid import availability, expiry
from tests.conftest import SHIPPED_DESKS, run, write_config


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_config(tmp_path, f"sqlite:///{tmp_path / 'm.db'}", desks=SHIPPED_DESKS)


def test_a_package_lasts_one_solar_hijri_year() -> None:
    # 1405-01-15 is 4 April 2026; one Solar Hijri year later, 1406-01-15, is 4 April 2027
    assert expiry(Package(hours=10, purchased="1405-01-15")).isoformat() == "2027-04-04"
    # Esfand 30 exists only in leap years: a year later it is the month's last day, Esfand 29
    assert expiry(Package(hours=1, purchased="1403-12-30")).isoformat() == "2026-03-20"


def test_logged_time_comes_off_the_package(config: Path, tmp_path: Path) -> None:
    now = "2026-11-25T10:00+03:30"  # 1405-09-04: the package bought 1405-01-15 is valid
    mail = tmp_path / "m.eml"
    mail.write_bytes(
        "From: ali@nemooneh.test\r\nTo: support@crmonline.test\r\nSubject: گزارش‌ها\r\n"
        "Message-ID: <p1@nemooneh.test>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        "سلام، گزارش‌ها در داشبورد نمایش داده نمی‌شوند، لطفا مشکل را رفع کنید.\r\n".encode()
    )
    line = json.loads(run(config, "ingest", "--now", now, str(mail))[1])
    assert (line["ticket"], line["package_service"]) == ("CRM-000001", "technical_services")
    code, out, _ = run(
        config, "tickets", "log", "CRM-000001", "--minutes", "90", "--by", "reza", "--now", now
    )
    assert code == 0 and json.loads(out)["customer"] == "شرکت نمونه"
    run(config, "tickets", "log", "CRM-000001", "--minutes", "30", "--by", "reza", "--now", now)
    code, out, _ = run(config, "packages", "show", "شرکت نمونه", "--json", "--now", now)
    shown = json.loads(out)["packages"][-1]
    assert (shown["hours"], shown["used"], shown["left"]) == (10, 2.0, 8.0)
    assert (shown["purchased_solar"], shown["purchased"]) == ("1405-01-15", "2026-04-04")
    assert (shown["expires_solar"], shown["expires"]) == ("1406-01-15", "2027-04-04")
    code, text, _ = run(config, "packages", "show", "شرکت نمونه", "--now", now)
    assert "10 bought, 2 used, 8 left" in text and "1406-01-15 (Solar Hijri) = 2027-04-04" in text
    code, _, err = run(config, "packages", "show", "پارس داده")
    assert code == 66 and "has no package" in err


def test_availability_credit_when_under_98_percent(config: Path) -> None:
    # Aban 1405 = 23 Oct .. 21 Nov 2026: 30 days = 43,200 minutes; 98 % allows 864 minutes
    code, out, _ = run(
        config,
        "sla",
        "availability",
        "--desk",
        "crmonline",
        "--month",
        "1405-08",
        "--json",
        "--outage",
        "2026-11-01T10:00+03:30",
        "2026-11-01T20:00+03:30",
        "--outage",
        "2026-11-01T19:00+03:30",
        "2026-11-02T01:00+03:30",
    )
    assert code == 0
    data = json.loads(out)
    assert data["start"].startswith("2026-10-23") and data["end"].startswith("2026-11-22")
    # overlapping outages count once: 10:00 .. 01:00 = 15 h = 900 minutes > 864
    assert data["outage_minutes"] == 900
    assert data["availability_percent"] == round((1 - 900 / 43200) * 100, 3)
    assert data["credit_minutes"] == 2700  # 3 x the outage
    _code, out, _ = run(
        config,
        "sla",
        "availability",
        "--desk",
        "crmonline",
        "--month",
        "1405-08",
        "--json",
        "--outage",
        "2026-11-01T10:00+03:30",
        "2026-11-01T12:00+03:30",
    )
    assert json.loads(out)["credit_minutes"] == 0  # 99.72 %: no credit


def test_outage_parts_outside_the_month_do_not_count() -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    zone = ZoneInfo("Asia/Tehran")
    result = availability(
        "1405-08",
        zone,
        [(datetime(2026, 10, 22, 22, tzinfo=zone), datetime(2026, 10, 23, 2, tzinfo=zone))],
    )
    assert result.outage.total_seconds() == 2 * 3600


def test_overlapping_packages_use_up_the_one_expiring_first() -> None:
    from datetime import date

    from mailbot.prepaid import Logged, ledger

    # bought again on 1405-01-01 (21 March 2026) before the 1404-01-15 package expired
    old, new = Package(hours=2, purchased="1404-01-15"), Package(hours=10, purchased="1405-01-01")
    rows = [
        Logged(date(2026, 3, 25), 90, charged=True),  # both valid: the old one pays
        Logged(date(2026, 3, 26), 60, charged=True),  # 30 min left on the old one, 30 on the new
        Logged(date(2026, 3, 27), 45, charged=False),  # free support
        Logged(date(2025, 1, 1), 60, charged=True),  # before any package: nobody pays
    ]
    result = ledger([old, new], rows, date(2026, 3, 28))
    assert [(b.used, b.left) for b in result.packages] == [(2.0, 0.0), (0.5, 9.5)]
    assert (result.free_hours, result.uncovered_hours) == (0.75, 1.0)
    assert result.charged_to_valid == 2.5


def test_time_logged_before_the_upgrade_stays_charged(tmp_path: Path) -> None:
    """Migration 0009: tickets with time logged under 0008 keep being charged."""
    import sqlite3

    from alembic import command
    from alembic.config import Config as AlembicConfig
    from sqlalchemy import create_engine

    from tests.conftest import REPO

    engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(REPO / "mailbot" / "migrations"))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "0008")
    with sqlite3.connect(tmp_path / "old.db") as conn:
        for n in (1, 2):
            conn.execute(
                "INSERT INTO ticket (id, desk, number, subject, requester, requester_name, state,"
                " language, missing, received_at, sla_used_seconds, level, created_at, updated_at)"
                " VALUES (?, 'crmonline', ?, 's', 'a@b.test', '', 'open', 'fa', '[]',"
                " '2026-01-01 00:00:00', 0, 1, '2026-01-01 00:00:00', '2026-01-01 00:00:00')",
                (n, f"CRM-00000{n}"),
            )
        conn.execute(
            "INSERT INTO time_log (desk, customer, ticket_id, minutes, by, note, at)"
            " VALUES ('crmonline', 'x', 1, 30, 'r', '', '2026-01-01 00:00:00')"
        )
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")
    engine.dispose()
    with sqlite3.connect(tmp_path / "old.db") as conn:
        rows = conn.execute("SELECT number, package_service FROM ticket ORDER BY id").fetchall()
    assert rows == [("CRM-000001", "charged_before_0009"), ("CRM-000002", None)]
