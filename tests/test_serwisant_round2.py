"""Serwisant Online, issue 11 (POLICIES.md §1, seed 000 ¶4, ¶6-7): deadlines in working days,
entitlements before the exclusions they are the subject of, and the contact-form answer to
training and installation requests, through `mailbot ingest --json` with the shipped desk.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailbot.business_time import Calendar
from tests.conftest import SHIPPED_DESKS, run, write_config
from tests.test_business_time import (
    CLEVERBOX,
    CRMONLINE,
    NIGHTS,
    PROPERTY,
    PROPERTY_CALENDARS,
    SERWISANT,
    SPLIT,
    US,
    calendar_and_instant,
    is_working_or_end,
    w,
)
from tests.test_desks import Desks, modern, text_of

# -- the arithmetic of working days -----------------------------------------------------------

DAY_CALENDARS = [*PROPERTY_CALENDARS, CLEVERBOX]
# Calendars without working time in an hour the clocks repeat (Europe's autumn night): the
# wall clock of a working moment only grows there, which monotonicity in the start needs.
OFFICE_CALENDARS = [SERWISANT, CRMONLINE, SPLIT, NIGHTS, CLEVERBOX]
# Every working day with the same hours: N days are N times the day's working time.
UNIFORM_CALENDARS = [SERWISANT, CRMONLINE, CLEVERBOX]

days = st.integers(0, 30)


def working_day_of(calendar: Calendar, r: datetime) -> date:
    """The local day a result belongs to (an interval's end belongs to its interval's day)."""
    moment = r if calendar.is_working(r) else r - US
    return moment.astimezone(calendar.zone).date()


def has_work(calendar: Calendar, day: date) -> bool:
    start = datetime(day.year, day.month, day.day, tzinfo=calendar.zone)
    return calendar.working_time_between(start, start + timedelta(days=1)) > timedelta(0)


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        # the policy's own example: Wednesday 11:00 -> Thursday 11:00, Friday 11:00
        (w(2026, 12, 2, 11), 1, w(2026, 12, 3, 11)),
        (w(2026, 12, 2, 11), 2, w(2026, 12, 4, 11)),
        # after hours counts from the next working-day start (Thursday 09:00)
        (w(2026, 12, 2, 18), 1, w(2026, 12, 4, 9)),
        (w(2026, 12, 2, 16), 2, w(2026, 12, 7, 9)),  # 16:00 is after hours; Sat, Sun off
        (w(2026, 12, 3, 7, 30), 1, w(2026, 12, 4, 9)),  # before opening: that day's 09:00
        # Friday -> Monday; 10 November 2026 (Tue) -> 12th: 11 November is Independence Day
        (w(2026, 12, 4, 15, 59), 1, w(2026, 12, 7, 15, 59)),
        (w(2026, 11, 10, 11), 1, w(2026, 11, 12, 11)),
        # Wigilia (24 Dec, a day off since 2025), Christmas 25-26 Dec, then the weekend
        (w(2026, 12, 23, 11), 1, w(2026, 12, 28, 11)),
        (w(2026, 12, 23, 11), 2, w(2026, 12, 29, 11)),
        (w(2026, 12, 24, 10), 1, w(2026, 12, 29, 9)),  # a holiday is after hours all day
        (w(2026, 12, 2, 11), 0, w(2026, 12, 2, 11)),
    ],
)
def test_working_days_table(start: datetime, n: int, expected: datetime) -> None:
    result = SERWISANT.add_working_days(start, n)
    assert result.tzinfo is UTC
    assert result == expected, f"{result.astimezone(expected.tzinfo)} != {expected}"


def test_a_shorter_day_keeps_the_result_inside_its_hours() -> None:
    # SPLIT: Mon-Thu 08-12 and 13-17, Fri 08-12. Thursday 14:00 + 1 day: Friday closes at 12
    assert SPLIT.add_working_days(w(2026, 12, 3, 14), 1) == w(2026, 12, 4, 12)
    # Thursday 12:30 is in the lunch break: the clock starts at 13:00; Friday ends at 12:00
    assert SPLIT.add_working_days(w(2026, 12, 3, 12, 30), 1) == w(2026, 12, 4, 12)
    assert SPLIT.add_working_days(w(2026, 12, 3, 9), 1) == w(2026, 12, 4, 9)


def test_days_must_be_a_whole_number() -> None:
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match="whole number"):
            SERWISANT.add_working_days(w(2026, 12, 2, 11), bad)  # type: ignore[arg-type]


@PROPERTY
@given(calendar_and_instant(DAY_CALENDARS), days)
def test_working_days_land_in_working_hours_of_a_working_day(
    ct: tuple[Calendar, datetime], n: int
) -> None:
    calendar, t = ct
    r = calendar.add_working_days(t, n)
    assert r.tzinfo is UTC
    assert is_working_or_end(calendar, r)
    assert r >= t.astimezone(UTC)
    if n == 0:
        assert r == calendar.next_working_moment(t)
        return
    # holidays and days without hours are skipped: exactly n working days on from the start's
    start_day = working_day_of(calendar, calendar.next_working_moment(t))
    end_day = working_day_of(calendar, r)
    assert end_day not in calendar.holidays or calendar.always
    between = [start_day + timedelta(days=k) for k in range(1, (end_day - start_day).days + 1)]
    assert sum(has_work(calendar, d) for d in between) == n
    assert calendar.working_time_between(t, r) > timedelta(0)


@PROPERTY
@given(calendar_and_instant(OFFICE_CALENDARS), calendar_and_instant(OFFICE_CALENDARS), days)
def test_working_days_are_monotonic_in_the_start(
    ct1: tuple[Calendar, datetime], ct2: tuple[Calendar, datetime], n: int
) -> None:
    calendar = ct1[0]
    t1, t2 = sorted([ct1[1], ct2[1].astimezone(calendar.zone)])
    assert calendar.add_working_days(t1, n) <= calendar.add_working_days(t2, n)


@PROPERTY
@given(calendar_and_instant(DAY_CALENDARS), days, days)
def test_more_days_are_never_earlier(ct: tuple[Calendar, datetime], a: int, b: int) -> None:
    calendar, t = ct
    a, b = min(a, b), max(a, b)
    assert calendar.add_working_days(t, a) <= calendar.add_working_days(t, b)
    if a < b:
        assert calendar.add_working_days(t, a) < calendar.add_working_days(t, b)


@PROPERTY
@given(calendar_and_instant(UNIFORM_CALENDARS), days, days)
def test_uniform_days_compose_and_are_whole_days_of_working_time(
    ct: tuple[Calendar, datetime], a: int, b: int
) -> None:
    calendar, t = ct
    r = calendar.add_working_days(t, a + b)
    assert r == calendar.add_working_days(calendar.add_working_days(t, a), b)
    day_length = {SERWISANT: 7, CRMONLINE: 8, CLEVERBOX: 9}[calendar]
    assert calendar.working_time_between(t, r) == timedelta(hours=day_length * (a + b))


# -- through `mailbot ingest --json`, with the shipped desk -------------------------------------

DESK = "pomoc@serwisant.test"
KOWALSKI = ("Jan Kowalski", "jan@kowalski-serwis.test")  # standard since 2026-11-10
NOWAK = ("Anna Nowak", "biuro@elektronowak.test")  # basic
MEGA = ("Piotr Wiśniewski", "it@megaserwis.test")  # all-in-one, installation used
MAX = ("Tomasz Lis", "admin@serwismax.test")  # all-in-one, installation not used yet
SIGN = "\n\nPozdrawiam\nJan\n-- \nAuto-Serwis, tel. 604 123 456\n"


@pytest.fixture
def desks(tmp_path: Path) -> Desks:
    db = tmp_path / "mailbot.db"
    return Desks(tmp_path, write_config(tmp_path, f"sqlite:///{db}", desks=SHIPPED_DESKS), db)


def ingest(
    desks: Desks, sender: tuple[str, str], subject: str, text: str, when: datetime
) -> dict[str, Any]:
    """One mail that arrived at `when`, taken in by `mailbot ingest --now <when>`."""
    raw = modern(sender, DESK, subject, text + SIGN, when=when)
    path = desks.folder / "in" / f"{len(desks.received)}.eml"
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(raw)
    code, out, err = run(desks.config, "ingest", "--now", when.isoformat(), str(path))
    assert code == 0, out + err
    line: dict[str, Any] = json.loads(out)
    desks.received[line["spool_id"]] = raw
    return line


def local(text: str | None) -> datetime:
    assert text is not None
    return datetime.fromisoformat(text)


@pytest.mark.parametrize(
    ("arrived", "first", "resolution"),
    [
        # the policy's example: Wednesday 11:00 -> Thursday 11:00, Friday 11:00 at the latest
        (w(2026, 12, 2, 11), w(2026, 12, 3, 11), w(2026, 12, 4, 11)),
        # after hours: counted from Thursday 09:00
        (w(2026, 12, 2, 18, 30), w(2026, 12, 4, 9), w(2026, 12, 7, 9)),
        # before Wigilia and Christmas (24-26 Dec) and the weekend: Monday 28th, Tuesday 29th
        (w(2026, 12, 23, 11), w(2026, 12, 28, 11), w(2026, 12, 29, 11)),
        # Tuesday before Independence Day (11 Nov): Thursday 12th, Friday 13th
        (w(2026, 11, 10, 14, 15), w(2026, 11, 12, 14, 15), w(2026, 11, 13, 14, 15)),
    ],
)
def test_24_to_48_h_are_one_and_two_working_days(
    desks: Desks, arrived: datetime, first: datetime, resolution: datetime
) -> None:
    line = ingest(
        desks,
        NOWAK,
        "Nie drukuje się protokół",
        "Dzień dobry,\n\nprzy zleceniu 2291 protokół przyjęcia drukuje się pusty, "
        "wcześniej działało.",
        arrived,
    )
    assert (line["outcome"], line["ticket"]) == ("ticket", "SRW-000001"), line
    assert local(line["first_response_due"]) == first
    assert local(line["resolution_due"]) == resolution
    # the acknowledgement promises the first answer by Thursday 11:00, as the desk writes times
    from mailbot.config import load
    from mailbot.replies import format_deadline

    desk = load(desks.config, environ={}).desks["serwisant"]
    ack = text_of(desks.reply(line["spool_id"]))
    assert "SRW-000001" in ack and format_deadline(first, desk, "pl") in ack, ack
    assert f"{first:%H:%M}" in format_deadline(first, desk, "pl")


def test_payments_stay_the_same_working_day(desks: Desks) -> None:
    line = ingest(
        desks,
        NOWAK,
        "Płatność",
        "Dzień dobry,\n\nplatnosc kartą za abonament nie przeszła, a pieniądze zeszły z konta.",
        w(2026, 12, 2, 11),
    )
    assert line["category"] == "payments"
    assert local(line["first_response_due"]) == w(2026, 12, 2, 16)
    assert local(line["resolution_due"]) == w(2026, 12, 2, 16)


# -- entitlements before exclusions; the booking instructions -----------------------------------

INSTALL_HOSTING = (
    "Instalacja panelu klienta",
    "Dzień dobry,\n\nchcielibyśmy skorzystać z instalacji panelu klienckiego na naszym "
    "hostingu (panel.naszserwis.pl, serwer w home.pl). Kiedy możecie to zrobić?",
)
WEDNESDAY = w(2026, 12, 2, 11)


def test_an_entitled_installation_on_own_hosting_is_booked_not_refused(desks: Desks) -> None:
    line = ingest(desks, MAX, *INSTALL_HOSTING, WEDNESDAY)
    assert (line["outcome"], line["reason"], line["ticket"]) == ("ticket", None, "SRW-000001")
    reply = desks.reply(line["spool_id"])
    assert "[SRW-000001]" in str(reply["Subject"])
    text = text_of(reply)
    for words in (
        "Dzień dobry",
        "jednorazowa bezpłatna instalacja panelu klienckiego",
        "Państwa obecny plan obejmuje usługę",
        "formularz kontaktowy",
        "https://serwisant.online/kontakt",
        "+48 33 443-68-90 (w dni robocze w godz. 9:00–16:00)",
        "warunki techniczne instalacji",
    ):
        assert words in text, f"{words!r} not in {text}"
    assert "hosting" not in text.lower() and "wyłączon" not in text
    shown = desks.run("tickets", "show", "SRW-000001", "--json")
    assert shown.exit_code == 0, shown.output
    events = [e["kind"] for e in json.loads(shown.output)["events"]]
    assert "entitlement_booking" in events, events  # an agent sees it is a booking


@pytest.mark.parametrize(
    ("sender", "why_words"),
    [
        (MEGA, "Państwa firma już z niej skorzystała"),  # all-in-one, installation used
        (KOWALSKI, "nie jest objęta Państwa planem subskrypcji"),  # standard
    ],
)
def test_an_installation_not_entitled_says_why_not_own_hosting(
    desks: Desks, sender: tuple[str, str], why_words: str
) -> None:
    line = ingest(desks, sender, *INSTALL_HOSTING, WEDNESDAY)
    assert (line["outcome"], line["reason"]) == ("quarantined", "not_entitled"), line
    text = text_of(desks.reply(line["spool_id"]))
    assert "jednorazowa bezpłatna instalacja panelu klienckiego" in text and why_words in text
    assert "hosting" not in text.lower() and "administrator" not in text


def test_a_problem_with_a_panel_on_own_hosting_is_still_excluded(desks: Desks) -> None:
    line = ingest(
        desks,
        MAX,
        "Panel nie działa",
        "Dzień dobry,\n\npanel kliencki zainstalowany na naszym serwerze od wczoraj pokazuje "
        "błąd 500, klienci nie widzą statusu napraw.",
        WEDNESDAY,
    )
    assert (line["outcome"], line["reason"]) == ("quarantined", "out_of_scope"), line
    assert "zainstalowanym na serwerze lub hostingu" in text_of(desks.reply(line["spool_id"]))


def test_entitled_training_is_booked_through_the_contact_form(desks: Desks) -> None:
    # Kowalski's standard plan began on 2026-11-10: 22 days before this Wednesday
    line = ingest(
        desks,
        KOWALSKI,
        "Szkolenie",
        "Dzień dobry,\n\njesteśmy nowi w aplikacji, chcielibyśmy umówić szkolenie online dla "
        "naszych serwisantów. Jakie macie wolne terminy?",
        WEDNESDAY,
    )
    assert (line["outcome"], line["ticket"]) == ("ticket", "SRW-000001"), line
    text = text_of(desks.reply(line["spool_id"]))
    for words in (
        "bezpłatne godzinne szkolenie wideo (Google Meet)",
        "https://serwisant.online/kontakt",
        "+48 33 443-68-90",
        "godzinne spotkanie wideo w Google Meet",
    ):
        assert words in text, f"{words!r} not in {text}"
    assert "Odpowiemy najpóźniej" not in text  # not the fault report's acknowledgement


def test_training_past_its_30_days_is_refused_saying_why(desks: Desks) -> None:
    line = ingest(
        desks,
        KOWALSKI,
        "Szkolenie",
        "Dzień dobry,\n\nchcielibyśmy umówić szkolenie online dla nowych pracowników.",
        w(2027, 1, 13, 11),  # 64 days after 2026-11-10
    )
    assert (line["outcome"], line["reason"]) == ("quarantined", "not_entitled"), line
    assert "okres już minął" in text_of(desks.reply(line["spool_id"]))


def test_an_installation_asked_for_in_english_is_booked_too(desks: Desks) -> None:
    # the desk answers in the customer's language (Serwis-Max has none set: Polish)
    line = ingest(
        desks,
        MAX,
        "Client panel",
        "Hello,\n\ncould you please install the client panel on our own hosting? "
        "We have a VPS ready for it.\n\nThanks",
        WEDNESDAY,
    )
    assert line["outcome"] == "ticket", line
    assert "https://serwisant.online/kontakt" in text_of(desks.reply(line["spool_id"]))


def test_the_english_booking_reply() -> None:
    from mailbot.config import load
    from mailbot.replies import Renderer, sample_values
    from mailbot.rules import Context, load_rules
    from tests.conftest import REPO
    from tests.helpers import message, parsed

    desk = load(REPO / "config" / "mailbot.toml", environ={}).desks["serwisant"]
    [rule] = [r for r in load_rules(desk) if r.name == "not_entitled"]
    mail = parsed(message("Panel", "Please install the client panel on our server."))
    customer = next(c for c in desk.customers if c.name == "Serwis-Max")
    verdict = rule.check(mail, Context(desk, None, WEDNESDAY, customer=customer))
    assert verdict is not None and verdict.reply == "entitlement_booking"
    values = {**sample_values(desk), "customer_name": "Tomasz Lis", **verdict.values}
    text = " ".join(Renderer(REPO / "templates").render_text("en", verdict.reply, values).split())
    for words in (
        "Hello Tomasz Lis",
        'Your current plan includes the service "one-time free installation of the client',
        "contact form on our website: https://serwisant.online/kontakt",
        "by phone at +48 33 443-68-90 (on working days, 9:00–16:00 Warsaw time)",
        "technical requirements of the installation",
    ):
        assert words in text, f"{words!r} not in {text}"


# -- configuration --------------------------------------------------------------------------------


def broken_desk(tmp_path: Path, old: str, new: str) -> Path:
    folder = tmp_path / "desks"
    folder.mkdir()
    text = (SHIPPED_DESKS / "serwisant.toml").read_text()
    assert old in text
    (folder / "serwisant.toml").write_text(text.replace(old, new, 1))
    return write_config(tmp_path, f"sqlite:///{tmp_path / 'm.db'}", desks=folder)


@pytest.mark.parametrize(
    ("old", "new", "words"),
    [
        (
            'first_response = "1 working day"',
            'first_response = "1 working dya"',
            ("sla.targets.1.first_response", "'1 working dya' is no deadline"),
        ),
        (
            'resolution = "2 working days"',
            'resolution = "2 days"',
            ("sla.targets.1.resolution", "whole working days"),
        ),
        (
            'unless_entitlement = ["client_panel_installation"]',
            'unless_entitlement = ["panel_install"]',
            ("rule.out_of_scope", "unless_entitlement", "'panel_install' is no entitlement"),
        ),
        (
            'form = "https://serwisant.online/kontakt"',
            'form = "serwisant.online/kontakt"',
            ("rule.not_entitled", "booking.form"),
        ),
    ],
)
def test_check_config_refuses_a_broken_deadline_or_entitlement(
    tmp_path: Path, old: str, new: str, words: tuple[str, ...]
) -> None:
    code, out, err = run(broken_desk(tmp_path, old, new), "check-config")
    assert code == 78, out + err
    assert "serwisant.toml" in err, err
    for word in words:
        assert word in err, err


def test_check_config_passes_on_the_shipped_desk() -> None:
    code, out, err = run(SHIPPED_DESKS.parent / "mailbot.toml", "check-config")
    assert code == 0, out + err


def test_the_issues_data_deletion_without_the_listed_verbs_is_refused(desks: Desks) -> None:
    line = ingest(
        desks,
        NOWAK,
        "Stare zlecenia",
        "Dzień dobry,\n\nczy da się wyczyścić stare zlecenia z bazy? Mamy ich kilka tysięcy.",
        WEDNESDAY,
    )
    assert (line["outcome"], line["reason"]) == ("quarantined", "out_of_scope"), line
    assert "operacje na danych" in text_of(desks.reply(line["spool_id"]))
    asked = ingest(
        desks,
        NOWAK,
        "Klienci",
        "Dzień dobry,\n\nnie chcemy niczego usuwać z bazy, pytamy tylko, jak ukryć "
        "nieaktywnych klientów na liście.",
        WEDNESDAY,
    )
    assert (asked["outcome"], asked["reason"]) == ("ticket", None), asked


# -- the two additions to _keywords: `...` and negations ------------------------------------------


def test_a_wide_phrase_joins_words_up_to_eight_apart_in_one_sentence() -> None:
    from mailbot.rules._keywords import KeywordSet, check_keywords, fold

    words = KeywordSet.of({"pl": ["panel* ... {nasz*,własn*} {serwer*,hosting*}"]})
    assert words.matches(fold("panel kliencki, który mamy zainstalowany na naszym serwerze"))
    assert words.matches(fold("Panel po aktualizacji do PHP 8.3 na naszym serwerze"))
    assert words.matches(fold("Panel: a b c d e f g na naszym serwerze"))  # 8 apart
    assert not words.matches(fold("Panel: a b c d e f g h na naszym serwerze"))  # 9 apart
    assert not words.matches(fold("Panel działa. Serwer? Nasz serwer też."))  # two sentences
    assert not words.matches(fold("nasz serwer ma panel"))  # in its order only
    for bad in ("... panel*", "panel* ...", "{panel* ... serwer*}"):
        with pytest.raises(ValueError):
            check_keywords({"pl": [bad]})


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("nie chcemy zmieniać wyglądu wydruku", False),
        ("we do not need any redesign of the printout", False),
        ("we don't want to change the look of the printout", False),
        ("chcemy zmienić wygląd wydruku", True),
        # a negation in another clause negates nothing here
        ("panel nie działa, prosimy zmienić wygląd wydruku", True),
        # nor one further than three words before
        ("nie wiem, czy to możliwe, ale prosimy zmienić wygląd wydruku", True),
    ],
)
def test_negated_phrases_are_passed_over_where_a_rule_asks(text: str, found: bool) -> None:
    from mailbot.rules._keywords import KeywordSet, fold

    words = KeywordSet.of(
        {"pl": ["{zmieni*,zmian*} ... wygląd* ... wydruk*"], "en": ["{change,redesign} ... print*"]}
    )
    assert words.found(fold(text), skip_negated=True) is found
    assert words.found(fold(text)) is True  # a rule that does not ask reads as before


def test_a_clock_of_working_days_that_waited_keeps_the_time_used() -> None:
    """Waiting for the customer stops the clock: one working day (7 h here) less the 3 h
    used before the wait are left when the customer answers (Thursday 10:00 -> 14:00)."""
    from mailbot import deadlines
    from mailbot.config import load
    from tests.conftest import REPO

    desk = load(REPO / "config" / "mailbot.toml", environ={}).desks["serwisant"]
    clock = deadlines.choose(desk, None, {"category": None})
    assert clock is not None
    assert (clock.first_response, clock.resolution) == ("1 working day", "2 working days")
    start = w(2026, 12, 2, 11)
    assert deadlines.due(desk, clock, clock.first_response, start, timedelta(0)) == w(
        2026, 12, 3, 11
    )
    resumed = w(2026, 12, 3, 10)
    used = timedelta(hours=3)
    assert deadlines.due(desk, clock, clock.first_response, resumed, used) == w(2026, 12, 3, 14)
    assert deadlines.due(desk, clock, clock.resolution, resumed, used) == w(2026, 12, 4, 14)
    # more used than the target: due at once (the next working moment)
    assert deadlines.due(desk, clock, clock.first_response, resumed, 8 * timedelta(hours=1)) == (
        resumed
    )
