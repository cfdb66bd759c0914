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
    mail = tmp_path / "m.eml"
    mail.write_bytes(
        "From: ali@nemooneh.test\r\nTo: support@crmonline.test\r\nSubject: سوال درباره پرتال\r\n"
        "Message-ID: <p1@nemooneh.test>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        "سلام، گزارش‌ها در پرتال نمایش داده نمی‌شوند.\r\n".encode()
    )
    line = json.loads(run(config, "ingest", str(mail))[1])
    assert line["ticket"] == "CRM-000001"
    code, out, _ = run(config, "tickets", "log", "CRM-000001", "--minutes", "90", "--by", "reza")
    assert code == 0 and json.loads(out)["customer"] == "شرکت نمونه"
    run(config, "tickets", "log", "CRM-000001", "--minutes", "30", "--by", "reza")
    code, out, _ = run(config, "packages", "show", "شرکت نمونه", "--json")
    shown = json.loads(out)
    assert (shown["hours"], shown["used"], shown["left"]) == (10, 2.0, 8.0)
    assert (shown["purchased_solar"], shown["purchased"]) == ("1405-01-15", "2026-04-04")
    assert (shown["expires_solar"], shown["expires"]) == ("1406-01-15", "2027-04-04")
    code, text, _ = run(config, "packages", "show", "شرکت نمونه")
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
