"""Issue 11, GRSoft and cloudempiere: the individual SLA for all users, Czech, template checks.

Against the shipped desk files, through `mailbot ingest --json` and the reply text (helpers
of tests/test_desks.py), and `mailbot check-config` on broken copies of the desk files.
"""

from __future__ import annotations

from tests.test_desks import (
    GRSOFT,
    IVANOV,
    PETROV,
    Desks,
    check_reply,
    desks,
    modern,
    outcome,
)

__all__ = ["desks"]  # the fixture, used by name

TORGSET_SPECIALIST = ("Смирнова Ольга", "smirnova@torgset.test")
TORGSET_OPERATOR = ("Кузнецов Дмитрий", "kuznetsov@torgset.test")
TORGSET_NEWCOMER = ("Белова Анна", "a.belova@torgset.test")

_ACETEAM_REPORT = (
    "Добрый день!\n\n"
    "Код проекта AT-{code}. С сегодняшнего утра в AceTeam модуль «Маршруты» не открывается\n"
    "на планшетах торговых представителей: приложение показывает пустой экран и закрывается.\n"
    "Порядок действий: 1. Открыть AceTeam. 2. Перейти в «Маршруты». 3. Приложение закрывается.\n"
    "Из-за этого представители не могут принимать заказы у торговых точек.\n"
    "Касается 14 сотрудников.\n\n"
    "С уважением,\n{name}\n+7 495 123-45-67\n"
)


# -- GRSoft: individual SLA for all users ---------------------------------------------------------


def test_individual_sla_customer_any_user_opens_a_ticket(desks: Desks) -> None:
    """АО «ТоргСеть» bought the individual SLA: a colleague of its specialist, known by
    contact list or only by the company's domain, gets a ticket and its acknowledgement."""
    for sender in (TORGSET_OPERATOR, TORGSET_NEWCOMER):
        raw = modern(
            sender,
            GRSOFT,
            f"AceTeam: не открываются маршруты ({sender[1]})",
            _ACETEAM_REPORT.format(code="31052", name=sender[0]),
        )
        line = desks.ingest("torgset.eml", raw)
        assert line["desk"] == "grsoft" and line["outcome"] == "ticket", line
        assert line["reason"] is None and line["ticket"] and line["missing"] == [], line
        check_reply(
            desks.reply(line["spool_id"]),
            language="ru",
            to=sender[1],
            ticket=line["ticket"],
            says=(line["ticket"],),
        )


def test_customer_without_the_individual_sla_still_gets_the_designated_contact_reply(
    desks: Desks,
) -> None:
    """ООО Ромашка has no individual SLA: the same complete request from a colleague of its
    specialist is refused with the reply naming the specialist."""
    raw = modern(
        PETROV,
        GRSOFT,
        "AceTeam: не открываются маршруты",
        _ACETEAM_REPORT.format(code="20417", name=PETROV[0]),
    )
    line = desks.ingest("romashka.eml", raw)
    outcome(line, "quarantined", desk="grsoft", reason="not_designated_contact")
    check_reply(
        desks.reply(line["spool_id"]),
        language="ru",
        to=PETROV[1],
        ticket=None,
        says=("назначенный специалист — ivanov@romashka.test",),
    )
    # the specialist's own request opens a ticket, as before
    line = desks.ingest(
        "ivanov.eml",
        modern(
            IVANOV,
            GRSOFT,
            "AceTeam: маршруты",
            _ACETEAM_REPORT.format(code="20417", name=IVANOV[0]),
        ),
    )
    assert line["outcome"] == "ticket", line
