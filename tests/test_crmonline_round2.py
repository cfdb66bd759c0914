"""crmonline, issue 11: packages that do not carry over, what is free and what is not.

Against the shipped desk (config/desks/crmonline.toml), through `mailbot ingest --json`,
`tickets log` and `packages show`, reading the Persian reply the customer gets from the
outbox. Every command runs at an explicit `--now`, so the tests pass on any date: شرکت نمونه
bought 10 hours on 1404-01-15 (4 April 2025, valid through 3 April 2026) and 10 more on
1405-01-15 (4 April 2026, valid through 3 April 2027); پارس داده has no package.
"""

from __future__ import annotations

import email
import json
import sqlite3
from email import policy
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SHIPPED_DESKS, copy_desks, run, write_config

OLD_PACKAGE_DAY = "2026-03-01T10:00+03:30"
"""1404-12-10: the 1404 package is valid, the 1405 one not yet bought."""
NEW_PACKAGE_DAY = "2026-11-25T10:00+03:30"
"""1405-09-04, a Wednesday: the 1404 package has expired, the 1405 one is valid."""
ALI = "ali@nemooneh.test"
SARA = "sara@parsdata.test"
PORTAL = "portal.crmonline.center"


class Desk:
    def __init__(self, tmp_path: Path, desks: Path = SHIPPED_DESKS) -> None:
        self.folder = tmp_path
        self.db = tmp_path / "m.db"
        self.config = write_config(tmp_path, f"sqlite:///{self.db}", desks=desks)
        self.count = 0

    def ingest(self, sender: str, subject: str, text: str, now: str) -> dict[str, Any]:
        self.count += 1
        path = self.folder / f"mail{self.count}.eml"
        mail = EmailMessage()
        mail["From"], mail["To"], mail["Subject"] = sender, "support@crmonline.test", subject
        mail["Message-ID"] = make_msgid(domain="client.test")
        mail.set_content(f"سلام،\n{text}\nممنون")
        path.write_bytes(mail.as_bytes())
        code, out, err = run(self.config, "ingest", "--now", now, str(path))
        assert code == 0, out + err
        line: dict[str, Any] = json.loads(out)
        return line

    def reply(self, spool_id: str) -> str:
        with sqlite3.connect(self.db) as conn:
            [(raw,)] = conn.execute("SELECT raw FROM outbox WHERE spool_id = ?", (spool_id,))
        msg = email.message_from_bytes(raw, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        part = msg.get_body(("plain",))
        assert part is not None
        return " ".join(part.get_content().split())

    def log(self, ticket: str, minutes: int, now: str) -> None:
        code, out, err = run(
            self.config, "tickets", "log", ticket, "--minutes", str(minutes), "--by", "reza",
            "--now", now,
        )  # fmt: skip
        assert code == 0, out + err

    def packages(self, now: str, customer: str = "شرکت نمونه") -> dict[str, Any]:
        code, out, err = run(self.config, "packages", "show", customer, "--json", "--now", now)
        assert code == 0, out + err
        shown: dict[str, Any] = json.loads(out)
        return shown


@pytest.fixture
def desk(tmp_path: Path) -> Desk:
    return Desk(tmp_path)


REMOTE_FIX = "لطفا با انی‌دسک وصل شید و تنظیمات ایمیل CRM ما رو درست کنید."
PHONE = "لطفا برای راهنمایی در مورد گزارش فروش با من تماس بگیرید."
PORTAL_QUESTION = "رمز عبورم در پرتال پشتیبانی کار نمیکنه، چطور ریست کنم؟"


def test_hours_used_under_an_expired_package_never_reduce_the_new_one(desk: Desk) -> None:
    old = desk.ingest(ALI, "تنظیمات ایمیل", REMOTE_FIX, OLD_PACKAGE_DAY)
    assert (old["outcome"], old["package_service"]) == ("ticket", "technical_services")
    desk.log(old["ticket"], 600, OLD_PACKAGE_DAY)  # the whole 1404 package

    # the same day, nothing is left: the 1405 package is not bought yet
    refused = desk.ingest(ALI, "تماس", PHONE, "2026-03-02T10:00+03:30")
    assert (refused["outcome"], refused["reason"]) == ("quarantined", "not_entitled")
    assert "ساعات بسته پشتیبانی شما به پایان رسیده است" in desk.reply(refused["spool_id"])

    # under the 1405 package: all 10 hours there, and a paid request opens a ticket
    shown = desk.packages(NEW_PACKAGE_DAY)
    first, second = shown["packages"]
    assert (first["purchased_solar"], first["used"], first["left"]) == ("1404-01-15", 10, 0)
    assert (first["expired"], first["valid"]) == (True, False)
    assert (first["expires_solar"], first["expires"]) == ("1405-01-15", "2026-04-04")
    assert (second["purchased_solar"], second["used"], second["left"]) == ("1405-01-15", 0, 10)
    assert (second["valid"], second["expires_solar"], second["expires"]) == (
        True,
        "1406-01-15",
        "2027-04-04",
    )
    assert (shown["left_now"], shown["free_hours"], shown["uncovered_hours"]) == (10, 0, 0)
    ok = desk.ingest(ALI, "تماس", PHONE, NEW_PACKAGE_DAY)
    assert (ok["outcome"], ok["package_service"]) == ("ticket", "phone_support")

    code, text, _ = run(desk.config, "packages", "show", "شرکت نمونه", "--now", NEW_PACKAGE_DAY)
    assert code == 0
    assert "package bought 1404-01-15 (Solar Hijri) = 2025-04-04: EXPIRED" in text
    assert "10 bought, 10 used, 0 left" in text
    assert "package bought 1405-01-15 (Solar Hijri) = 2026-04-04: valid now" in text
    assert "10 bought, 0 used, 10 left" in text
    assert "expires: 1406-01-15 (Solar Hijri) = 2027-04-04" in text


def test_work_is_charged_to_the_package_valid_the_day_it_was_done(desk: Desk) -> None:
    ticket = desk.ingest(ALI, "تنظیمات ایمیل", REMOTE_FIX, OLD_PACKAGE_DAY)["ticket"]
    desk.log(ticket, 120, OLD_PACKAGE_DAY)  # under the 1404 package
    desk.log(ticket, 90, NEW_PACKAGE_DAY)  # the same ticket, worked on again in 1405
    first, second = desk.packages(NEW_PACKAGE_DAY)["packages"]
    assert (first["used"], second["used"], second["left"]) == (2, 1.5, 8.5)

    # using the 1405 package up: then a paid request is refused, offering packages
    desk.log(ticket, 510, NEW_PACKAGE_DAY)
    assert desk.packages(NEW_PACKAGE_DAY)["left_now"] == 0
    refused = desk.ingest(ALI, "تماس", PHONE, NEW_PACKAGE_DAY)
    assert refused["reason"] == "not_entitled" and "no hours left" in refused["detail"]
    reply = desk.reply(refused["spool_id"])
    assert "یک بسته پشتیبانی خریداری فرمایید" in reply and PORTAL in reply


def test_time_on_free_support_tickets_is_not_charged(desk: Desk) -> None:
    free = desk.ingest(ALI, "پرتال", PORTAL_QUESTION, NEW_PACKAGE_DAY)
    assert (free["outcome"], free["package_service"]) == ("ticket", None)
    desk.log(free["ticket"], 120, NEW_PACKAGE_DAY)
    shown = desk.packages(NEW_PACKAGE_DAY)
    assert (shown["packages"][1]["used"], shown["left_now"], shown["free_hours"]) == (0, 10, 2)
    code, text, _ = run(desk.config, "packages", "show", "شرکت نمونه", "--now", NEW_PACKAGE_DAY)
    assert code == 0 and "free support (not charged): 2 h" in text


@pytest.mark.parametrize(
    "text",
    [
        "گزارش فروش ماهانه ما اعداد اشتباه نشون میده، لطفا مشکل رو بررسی و رفع کنید.",
        "لطفا فرم ثبت سرنخ ما رو سفارشی کنید؛ فقط نام، تلفن و منبع بمونه.",
        "لطفا یک فیلد «کد ملی» به فرم مشتریان اضافه کنید.",
    ],
    ids=["fix-our-problem", "customise-a-form", "add-a-field"],
)
def test_fixing_problems_and_customising_forms_are_package_services(desk: Desk, text: str) -> None:
    refused = desk.ingest(SARA, "درخواست", text, NEW_PACKAGE_DAY)
    assert (refused["outcome"], refused["reason"]) == ("quarantined", "not_entitled")
    assert "technical_services" in refused["detail"] and "no package" in refused["detail"]
    reply = desk.reply(refused["spool_id"])
    assert "بسته پشتیبانی ندارد" in reply and "یک بسته پشتیبانی خریداری فرمایید" in reply
    assert f"ثبت تیکت در پرتال پشتیبانی به نشانی {PORTAL}" in reply
    # the customer with hours left gets the ticket, charged to the package
    ok = desk.ingest(ALI, "درخواست", text, NEW_PACKAGE_DAY)
    assert (ok["outcome"], ok["package_service"]) == ("ticket", "technical_services")


@pytest.mark.parametrize("sender", [SARA, ALI], ids=["no-package", "hours-left"])
def test_analysis_and_design_need_a_separate_contract_through_sales(
    desk: Desk, sender: str
) -> None:
    text = "میخوایم فرآیند فروشمون رو تحلیل و طراحی کنید و روی CRM پیاده بشه."
    refused = desk.ingest(sender, "تحلیل و طراحی", text, NEW_PACKAGE_DAY)
    assert (refused["outcome"], refused["reason"]) == ("quarantined", "not_entitled")
    assert "analysis_design" in refused["detail"] and "separate contract" in refused["detail"]
    reply = desk.reply(refused["spool_id"])
    assert "«تحلیل و طراحی CRM»" in reply
    assert "قراردادی جداگانه" in reply and "بخش فروش crmonline" in reply
    assert "یک بسته پشتیبانی خریداری فرمایید" not in reply  # a package would not help
    assert PORTAL in reply


@pytest.mark.parametrize(
    "text",
    [
        PORTAL_QUESTION,
        "سرویس از صبح قطعه و صفحه ورود باز نمیشه، لطفا رفع کنید.",
        "آیا امکان سفارشی‌سازی فرم‌ها در نسخه ابری وجود دارد؟",
        "چطور میتونم خودم یک فیلد جدید به فرم مشتری اضافه کنم؟",
    ],
    ids=["portal", "service-down", "can-forms-be-customised", "how-do-i-add-a-field"],
)
def test_free_support_stays_free_without_a_package(desk: Desk, text: str) -> None:
    line = desk.ingest(SARA, "سوال", text, NEW_PACKAGE_DAY)
    assert (line["outcome"], line["reason"], line["package_service"]) == ("ticket", None, None)


def test_the_old_single_package_key_is_still_read_and_both_keys_are_refused(
    tmp_path: Path,
) -> None:
    desks = copy_desks(tmp_path)
    path = desks / "crmonline.toml"
    shipped = path.read_text(encoding="utf-8")
    listed = shipped[
        shipped.index("packages = [") : shipped.index("]\n", shipped.index("packages = [")) + 2
    ]
    one = 'package = { hours = 10, purchased = "1405-01-15" }\n'
    path.write_text(shipped.replace(listed, one), encoding="utf-8")
    desk = Desk(tmp_path, desks)
    shown = desk.packages(NEW_PACKAGE_DAY)
    assert [p["purchased_solar"] for p in shown["packages"]] == ["1405-01-15"]

    path.write_text(shipped.replace(listed, listed + one), encoding="utf-8")
    code, _, err = run(desk.config, "check-config")
    assert code == 78
    assert "crmonline.toml" in err and "either `package` (one) or `packages` (a list)" in err


def test_three_dots_in_a_phrase_let_a_persian_object_stand_before_its_verb() -> None:
    from mailbot.rules._keywords import KeywordSet, check_phrases, fold

    words = KeywordSet.of({"fa": ["فیلد* ... اضافه {کنید,کنین}"]})
    assert words.matches(fold("لطفا فیلد کد ملی را به فرم مشتری اضافه کنید"))
    assert not words.matches(fold("فیلد کد ملی را به فرم مشتری در بخش حساب های شرکت اضافه کنید"))
    assert not words.matches(fold("چطور خودم فیلد اضافه کنم؟"))
    for bad in ("... اضافه کنید", "فیلد ...", "فیلد ... ... اضافه"):
        with pytest.raises(ValueError, match="goes between two words"):
            check_phrases([bad])


@pytest.mark.parametrize(
    ("text", "found"),
    [
        # Persian negates the verb, after the object: the phrase asks for nothing
        ("ما نیازی به مشاوره و طراحی نداریم، فقط فیلتر تاریخ کجاست؟", False),
        ("نیازی به اتصال از راه دور نیست، فقط بگید دکمه کجاست", False),
        ("ما دیگه پشتیبانی تلفنی نمی‌خوایم چون تیکت بهتره", False),
        ("دوره‌های آموزشی کارکنان ثبت نمیشه", False),
        # or before it: "no need to", "we do not want"
        ("لازم نیست تماس بگیرید، همین ایمیل کافیه", False),
        ("ما نمی‌خوایم کسی بیاد شرکت", False),
        # a `...` phrase reaching past a comma is read up to the comma
        ("طراحی فرآیند جدید نمیخوایم، فقط میخوایم بدونیم", False),
        ("لطفا مشاوره و طراحی فرآیند فروش رو انجام بدید", True),
        ("لطفا تماس بگیرید", True),
        # a negated verb in the next clause (Persian comma, ؛, ؟) or past "چون" is another's
        ("لطفا با من تماس بگیرید، ایمیل جواب نمیده", True),
        ("مراحل کار رو از نو طراحی کنید؛ فعلی جوابگو نیست", True),
        ("لطفا تماس بگیرید چون سیستم باز نمیشه", True),
        # nor does a negated verb further than three words after
        ("لطفا تماس بگیرید امروز یا فردا صبح زود نمیشه", True),
    ],
)
def test_persian_negated_verbs_after_a_phrase_are_read(text: str, found: bool) -> None:
    from mailbot.rules._keywords import KeywordSet, fold

    words = KeywordSet.of(
        {
            "fa": [
                "{مشاوره و طراحی,اتصال از راه دور,پشتیبانی تلفنی,دوره آموزشی}",
                "تماس {بگیرید}",
                "{بیاد,بیان} شرکت",
                "طراحی {فرآیند*} ... {میخوایم,انجام}",
                "مراحل ... طراحی کنید",
            ]
        }
    )
    assert words.found(fold(text), skip_negated=True) is found
    assert words.found(fold(text)) is True  # a rule that does not ask reads as before


@pytest.mark.parametrize(
    ("text", "found"),
    [
        # an earlier answer quoted in «...» without ">" is not the customer's request
        (
            "جواب داده بودید «برای پشتیبانی تلفنی باید بسته خریداری شود» ولی سوالم چیز دیگه‌ایه",
            False,
        ),
        # a short quotation names a thing: the request stands
        ("لطفا «پشتیبانی تلفنی» رو برای ما فعال کنید", True),
        # the customer's own words after it still ask
        ("گفتید «برای پشتیبانی تلفنی باید بسته بخرید»؛ خریدیم، پشتیبانی تلفنی میخوایم", True),
    ],
)
def test_quoted_sentences_are_passed_over_where_a_rule_asks(text: str, found: bool) -> None:
    from mailbot.rules._keywords import KeywordSet, fold

    words = KeywordSet.of({"fa": ["پشتیبانی تلفنی"]})
    assert words.found(fold(text), skip_quoted=True) is found
    assert words.found(fold(text)) is True
