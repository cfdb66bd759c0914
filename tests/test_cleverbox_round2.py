"""CleverBox, issue 11 part 1, against the shipped desk files: the 72-hour cap on extensions
(CLI and an agent's `#extend`), and critical requests (restoring the system or a module) that
get the critical target, say so in the acknowledgement and come first in `tickets list`.

Every mail is taken in at a fixed moment (`ingest --now`), so due times are exact on any
date: the desk counts working hours 09:00-18:00 in Kyiv, Monday 23 November 2026 on.
"""

from __future__ import annotations

import email
import json
from collections.abc import Iterator
from datetime import datetime
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from mailbot.clock import fixed
from mailbot.config import load as load_config
from mailbot.replies import Renderer, sample_values
from mailbot.rules._keywords import Phrases, fold
from mailbot.service import App
from mailbot.store import OutboxRow
from tests.conftest import (
    REPO,
    SHIPPED_DESKS,
    copy_desks,
    deliver,
    run,
    sent_to,
    stdout_of,
    write_config,
)
from tests.helpers import message

ARRIVED = "2026-11-23T10:00+02:00"
"""Monday 10:00 in Kyiv: 24 working hours later is Wednesday 16:00."""
CUSTOMER = "olena@vector.test"
SECRET = "a-test-secret-long-enough-0123456789"


def mail(subject: str, text: str, *, day: str = "Mon, 23 Nov 2026 10:00:00 +0200") -> bytes:
    """A mail of ТОВ Вектор's contact, received by the desk's MX at `day`."""
    return f"Received: from mx.vector.test by mx.cleverbox.test; {day}\r\n".encode() + message(
        subject, text, sender=CUSTOMER, date=day
    )


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_config(tmp_path, f"sqlite:///{tmp_path / 'm.db'}", desks=SHIPPED_DESKS)


def ingest(config: Path, raw: bytes, now: str = ARRIVED) -> dict[str, object]:
    path = config.parent.parent / f"in-{len(list(config.parent.parent.glob('in-*')))}.eml"
    path.write_bytes(raw)
    line: dict[str, object] = json.loads(stdout_of(config, "ingest", "--now", now, str(path)))
    return line


def text_of(mail: EmailMessage) -> str:
    part = mail.get_body(preferencelist=("plain",))
    assert part is not None
    return " ".join(str(part.get_content()).split())  # type: ignore[attr-defined]


def shown(config: Path, number: str = "CBX-000001") -> dict[str, object]:
    data: dict[str, object] = json.loads(stdout_of(config, "tickets", "show", number, "--json"))
    return data


def extend(config: Path, hours: str, when: str = "2026-11-24T10:00+02:00") -> tuple[int, str]:
    args = ["tickets", "extend", "CBX-000001", "--hours", hours, "--reason", "ждём разработчиков"]
    code, out, err = run(config, *args, "--by", "anna", "--now", when)
    return code, out + err


# == the 72-hour cap =============================================================================

ORDINARY = mail("Не печатается счёт", "Добрый день! Счёт на оплату не выводится на печать.")


def test_the_cli_refuses_an_extension_past_72_hours_and_says_what_is_allowed(
    config: Path,
) -> None:
    ingest(config, ORDINARY)
    code, said = extend(config, "200")
    assert code == 3, said
    assert "cap of 72 working hours from arrival" in said
    assert "at most 72 h is still allowed" in said
    assert shown(config)["resolution_due"] == "2026-11-25T16:00:00+02:00"  # unchanged

    # 48 h, then a second extension to 72 h: they add up to the cap, no further
    code, said = extend(config, "48")
    assert code == 0, said
    # Mon 10:00 + 48 working hours: 8 + 9 + 9 + 9 + 9 = 44 by Fri 18:00, Mon 30th 13:00
    assert json.loads(said)["resolution_due"] == "2026-11-30T13:00:00+02:00"
    code, said = extend(config, "72", when="2026-11-25T10:00+02:00")
    assert code == 0, said
    assert json.loads(said)["resolution_due"] == "2026-12-03T10:00:00+02:00"
    code, said = extend(config, "80", when="2026-11-26T10:00+02:00")
    assert code == 3, said
    assert "already 72 h: no further extension is allowed" in said
    assert shown(config)["resolution_due"] == "2026-12-03T10:00:00+02:00"

    notices = [text_of(m) for m in sent_to(config, CUSTOMER) if "переносится" in text_of(m)]
    assert len(notices) == 2, notices  # one per accepted extension, none for the refused
    flat = [" ".join(n.split()) for n in notices]
    assert any(
        "на 03.12.2026 10:00 по киевскому времени" in n and "ждём разработчиков" in n for n in flat
    )


def test_a_desk_without_the_cap_keeps_extending_as_before(tmp_path: Path) -> None:
    desks = copy_desks(tmp_path)
    path = desks / "cleverbox.toml"
    path.write_text(path.read_text().replace("max_resolution_hours = 72\n", ""))
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'm.db'}", desks=desks)
    ingest(config, ORDINARY)
    code, said = extend(config, "200")
    assert code == 0, said
    assert json.loads(said)["resolution_due"] > "2026-12-03"


def test_check_config_refuses_a_target_over_the_cap(tmp_path: Path) -> None:
    desks = copy_desks(tmp_path)
    path = desks / "cleverbox.toml"
    path.write_text(
        path.read_text().replace("max_resolution_hours = 72", "max_resolution_hours = 20")
    )
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'm.db'}", desks=desks)
    code, out, err = run(config, "check-config")
    assert code == 78, out + err
    assert "cleverbox.toml" in err and "max_resolution_hours" in err


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[App]:
    """The shipped desks in this process, agents' Reply-To signed, clock at Monday 10:00."""
    monkeypatch.setenv("MAILBOT_AGENT_SECRETS", SECRET)
    path = write_config(tmp_path, f"sqlite:///{tmp_path / 'm.db'}", desks=SHIPPED_DESKS)
    built = App.build(load_config(path, environ={}), clock=fixed(datetime.fromisoformat(ARRIVED)))
    yield built
    built.db.dispose()


def queued(app: App) -> list[tuple[str, EmailMessage]]:
    with Session(app.db.engine) as s:
        rows = s.exec(select(OutboxRow).order_by(col(OutboxRow.id))).all()
    found = []
    for row in rows:
        parsed = email.message_from_bytes(row.raw, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        found.append((row.kind, parsed))
    return found


def test_an_agents_extend_over_the_cap_is_refused_to_the_agent_only(app: App) -> None:
    assert deliver(app, ORDINARY).ticket == "CBX-000001"
    [notice] = [
        m for kind, m in queued(app) if kind == "agent_notice" and m["To"] == "duty@cleverbox.test"
    ]
    signed = str(notice["Reply-To"])
    answer = message(
        "Re: [CBX-000001] Не печатается счёт",
        "#extend 200h ждём исправления от разработчиков\nОлена, нам нужно больше времени.",
        sender="duty@cleverbox.test",
        name="Олена Коваленко",
        to=signed,
    )
    outcome = deliver(app, answer, rcpt=signed)
    assert (outcome.outcome, outcome.reason) == ("agent_reply", "agent_command_refused")
    kind, told = queued(app)[-1]
    assert (kind, str(told["To"])) == ("agent_command_refused", "duty@cleverbox.test")
    said = text_of(told)
    assert "НЕ отправлен клиенту" in said and "#extend 200h" in said
    assert "cap of 72 working hours" in said and "at most 72 h is still allowed" in said
    assert [k for k, m in queued(app) if m["To"] == CUSTOMER] == ["ack"]

    within = answer.replace(b"#extend 200h", b"#extend 72h")
    assert deliver(app, within, rcpt=signed).reason is None
    assert [k for k, m in queued(app) if m["To"] == CUSTOMER] == ["ack", "extension", "agent_reply"]


# == critical requests ===========================================================================


def test_restoring_the_whole_system_is_critical_in_russian(config: Path) -> None:
    line = ingest(
        config,
        mail(
            "СРОЧНО",
            "Добрый день!\nВся система не открывается, восстановите, пожалуйста. "
            "У всех сотрудников белый экран, работа стоит.\n\nОлена",
        ),
    )
    assert line["outcome"] == "ticket"
    assert (line["priority"], line["sla_level"]) == ("critical", "standard")
    # the critical target: 4 working hours (Mon 14:00), resolution still 24 (Wed 16:00)
    assert line["first_response_due"] == "2026-11-23T14:00:00+02:00"
    assert line["resolution_due"] == "2026-11-25T16:00:00+02:00"
    [ack] = sent_to(config, CUSTOMER)
    said = text_of(ack)
    assert said.startswith("Здравствуйте")
    assert "отнесли его к критическим" in said and "вне очереди" in said
    assert "23.11.2026 14:00" in said


def test_a_vanished_module_is_critical_in_ukrainian(config: Path) -> None:
    line = ingest(
        config,
        mail(
            "Модуль складу",
            "Добрий день! Модуль складу зник, відновіть, будь ласка, якнайшвидше. "
            "Ми не можемо відвантажувати товар клієнтам.\n\nЗ повагою, Олена",
        ),
    )
    assert (line["priority"], line["sla_level"]) == ("critical", "standard")
    [ack] = sent_to(config, CUSTOMER)
    said = text_of(ack)
    assert said.startswith("Добрий день")
    assert "віднесли його до критичних" in said and "поза чергою" in said


@pytest.mark.parametrize(
    "subject, text",
    [
        ("Пароль", "Добрый день! Помогите восстановить пароль, не могу войти в систему."),
        ("Отчёт", "Не открывается один отчёт по продажам за март, остальные работают нормально."),
    ],
)
def test_near_misses_stay_ordinary(config: Path, subject: str, text: str) -> None:
    line = ingest(config, mail(subject, text))
    assert (line["priority"], line["sla_level"]) == (None, "standard")
    assert line["first_response_due"] == "2026-11-25T16:00:00+02:00"
    [ack] = sent_to(config, CUSTOMER)
    assert "критич" not in text_of(ack)


def test_a_critical_request_jumps_the_queue(config: Path) -> None:
    ingest(config, ORDINARY)  # due Wed 16:00
    later = "Wed, 25 Nov 2026 15:00:00 +0200"
    ingest(
        config,
        mail(
            "Не работает CRM", "CRM полностью недоступна, ошибка 503 на всех страницах.", day=later
        ),
        now="2026-11-25T15:00+02:00",
    )  # critical, due Thu 10:00: later than the ordinary one, yet first
    ingest(
        config,
        mail("Вопрос по фильтру", "Как сохранить фильтр в списке сделок?", day=later),
        now="2026-11-25T15:05+02:00",
    )
    queue = json.loads(stdout_of(config, "tickets", "list", "--desk", "cleverbox", "--json"))
    assert [(t["number"], t["priority"]) for t in queue] == [
        ("CBX-000002", "critical"),
        ("CBX-000001", None),
        ("CBX-000003", None),
    ]
    assert queue[0]["first_response_due"] == "2026-11-26T10:00:00+02:00"
    table = stdout_of(config, "tickets", "list", "--desk", "cleverbox").splitlines()
    assert "CBX-000002" in table[2] and "critical" in table[2]


def test_the_english_acknowledgement_says_critical_too() -> None:
    desk = load_config(REPO / "config" / "mailbot.toml", environ={}).desks["cleverbox"]
    values = sample_values(desk) | {"customer_name": "Max", "priority": "critical"}
    said = " ".join(Renderer(REPO / "templates").render_text("en", "ack", values).split())
    assert "We are treating it as critical" in said and "ahead of the queue" in said
    ordinary = Renderer(REPO / "templates").render_text("en", "ack", sample_values(desk))
    assert "critical" not in ordinary


def test_a_far_phrase_stays_within_its_sentence() -> None:
    """`...` lets a customer put words between the advice asked and the topic, not a full stop."""
    phrases = Phrases.of(["порад* ... фінансов* облік{,у}"])
    far = "Порадьте, будь ласка, як правильно закривати місяць у фінансовому обліку."
    assert phrases.first(fold(far)) == "порад* ... фінансов* облік{,у}"
    assert phrases.first(fold("Порадьте щось. Звіт фінансового обліку не відкривається.")) is None
