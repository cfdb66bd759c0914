"""Issue 11 on the desks besides Serwisant (tests/test_weak_matches.py): a request whose topic
is found only by a weak match (`KeywordSet.strong`: the words of a `...` phrase three to
eight words apart, in the body) opens its ticket with the plain acknowledgement in the
customer's language, its history (`tickets show`) holds the doubt, and the notice mailed to
the desk's agent says it in the agent's language, with the customer's words that matched;
the same topic said plainly is still refused.

Through `mailbot ingest --json` on the shipped desk files; the notice is read as the sender
delivered it (`sent_to`: the outbound maildir).

- CleverBox (agents read Russian): a Russian and a Ukrainian customer, out_of_scope.
- cloudempiere (agents read Slovak): a plain request is refused in Slovak and in Czech;
  one with the words spread apart matches a shipped `...` phrase only weakly and opens the
  ticket in the customer's language, with the doubt in the Slovak notice; so does a `...`
  phrase added to a copy of the desk file.
- crmonline (Persian) sets `wide_matches_refuse`: a wide match refuses as a close one does;
  on a copy without the setting the same mail opens the ticket with the Persian doubt line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SHIPPED_DESKS, copy_desks, sent_to, write_config
from tests.test_desks import (
    CLEVERBOX,
    CLOUDEMPIERE,
    CRMONLINE,
    GAMMA,
    OLENA,
    Desks,
    modern,
    text_of,
)

CLEVERBOX_AGENT = "duty@cleverbox.test"
CLOUDEMPIERE_AGENT = "dispecing@cloudempiere.test"
CRMONLINE_AGENT = "shift@crmonline.test"

PETER = ("Peter Horváth", "peter.horvath@tatralog.test")  # Tatra Logistics, by its domain
JANA = ("Jana Procházková", "jana.prochazkova@tatralog.test")
ALI = ("علی رضایی", "ali@nemooneh.test")  # شرکت نمونه


def _desks(folder: Path, desks_dir: Path = SHIPPED_DESKS) -> Desks:
    db = folder / "mailbot.db"
    return Desks(folder, write_config(folder, f"sqlite:///{db}", desks=desks_dir), db)


@pytest.fixture
def desks(tmp_path: Path) -> Desks:
    return _desks(tmp_path)


def _edited(tmp_path: Path, desk: str, old: str, new: str) -> Desks:
    """The shipped desks, `desk`'s file with `old` (found exactly once) replaced by `new`."""
    folder = copy_desks(tmp_path)
    path = folder / f"{desk}.toml"
    text = path.read_text()
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new))
    return _desks(tmp_path, folder)


def _ingest(desks: Desks, sender: tuple[str, str], to: str, subject: str, text: str) -> Any:
    return desks.ingest(f"{len(desks.received)}.eml", modern(sender, to, subject, text))


def _opened(desks: Desks, line: dict[str, Any], ticket: str, says: str) -> str:
    """The ticket opened, and its one reply is the acknowledgement saying `says`."""
    assert (line["outcome"], line["reason"], line["ticket"]) == ("ticket", None, ticket), line
    text = text_of(desks.reply(line["spool_id"]))
    assert says in text, text
    return text


def _doubts(desks: Desks, ticket: str) -> list[dict[str, Any]]:
    shown = desks.json("tickets", "show", ticket)
    return [e for e in shown["events"] if e["kind"].startswith("possible_")]


def _notice(desks: Desks, agent: str) -> str:
    """The one notice the desk's agent was sent, its lines joined."""
    [notice] = sent_to(desks.config, agent)
    return text_of(notice)


def _refused(desks: Desks, line: dict[str, Any], reason: str = "out_of_scope") -> str:
    assert (line["outcome"], line["reason"]) == ("quarantined", reason), line
    return text_of(desks.reply(line["spool_id"]))


# -- CleverBox: Russian and Ukrainian customers, notices in Russian ------------------------------

REPORT_FOR_MANAGEMENT = (
    "Отчёт для руководства",
    "Добрый день!\n\n"
    "Посоветуйте, какой отчёт в CRM лучше всего подходит для управленческого учёта? "
    "Директор просит каждый понедельник сводку по сделкам и оплатам за прошлую неделю.\n\n"
    "С уважением,\nДмитрий Гаврилов\nООО «Гамма»\n",
)
ACCOUNTING_PLAINLY = (
    "Управленческий учёт",
    "Добрый день!\n\n"
    "Проконсультируйте, пожалуйста, по управленческому учёту: как правильно разносить "
    "расходы по подразделениям?\n\n"
    "С уважением,\nДмитрий Гаврилов\nООО «Гамма»\n",
)
NEW_DOMAIN = (
    "Листи з CRM не доходять",
    "Добрий день!\n\n"
    "Після переходу на новий домен листи з CRM перестали доходити нашим клієнтам. Наш "
    "домен тепер обслуговує інший реєстратор, а в налаштуваннях пошти CRM ми нічого не "
    "змінювали. Підкажіть, будь ласка, що перевірити з вашого боку?\n\n"
    "З повагою,\nОлена Коваль\nТОВ «Вектор»\n",
)
DOMAIN_TRANSFER = (
    "Перенесення домену",
    "Добрий день!\n\n"
    "Хочемо перенести домен vector.ua до іншого реєстратора. Допоможіть, будь ласка, з "
    "налаштуваннями.\n\n"
    "З повагою,\nОлена Коваль\nТОВ «Вектор»\n",
)


def test_cleverbox_russian_weak_accounting_question_opens_the_ticket(desks: Desks) -> None:
    line = _ingest(desks, GAMMA, CLEVERBOX, *REPORT_FOR_MANAGEMENT)
    text = _opened(desks, line, "CBX-000001", "Ваше обращение зарегистрировано под номером")
    assert "не входит" not in text and "консультаци" not in text, text  # no refusal said
    [doubt] = _doubts(desks, "CBX-000001")
    assert (doubt["kind"], doubt["rule"]) == ("possible_out_of_scope", "out_of_scope")
    assert doubt["detail"].startswith("possible_out_of_scope: accounting_consulting (found '")
    words = "посоветуйте, какой отчет в crm лучше всего подходит для управленческого учета"
    assert doubt["passage"] == words
    notice = _notice(desks, CLEVERBOX_AGENT)
    assert (
        "Внимание: заявка, возможно, выходит за рамки поддержки "
        f"(accounting_consulting: найдено «{words}»); проверьте перед ответом."
    ) in notice, notice


def test_cleverbox_russian_accounting_consulting_said_plainly_is_refused(desks: Desks) -> None:
    line = _ingest(desks, GAMMA, CLEVERBOX, *ACCOUNTING_PLAINLY)
    assert "управленческому" in _refused(desks, line)
    assert sent_to(desks.config, CLEVERBOX_AGENT) == []  # no ticket, nothing for the agents


def test_cleverbox_ukrainian_weak_domain_question_opens_the_ticket(desks: Desks) -> None:
    line = _ingest(desks, OLENA, CLEVERBOX, *NEW_DOMAIN)
    _opened(desks, line, "CBX-000001", "Ваше звернення зареєстровано під номером CBX-000001")
    [doubt] = _doubts(desks, "CBX-000001")
    assert doubt["detail"].startswith("possible_out_of_scope: hosting (found '")
    assert doubt["passage"] == "домен тепер обслуговує інший реєстратор"
    shown = desks.run("tickets", "show", "CBX-000001")
    assert shown.exit_code == 0, shown.output
    assert "possible_out_of_scope: hosting (found '" in shown.stdout, shown.stdout
    assert 'in the mail: "домен тепер обслуговує інший реєстратор"' in shown.stdout
    notice = _notice(desks, CLEVERBOX_AGENT)  # the agents read Russian, whatever the customer
    assert (
        "Внимание: заявка, возможно, выходит за рамки поддержки "
        "(hosting: найдено «домен тепер обслуговує інший реєстратор»); проверьте перед ответом."
    ) in notice, notice


def test_cleverbox_ukrainian_domain_transfer_is_refused(desks: Desks) -> None:
    line = _ingest(desks, OLENA, CLEVERBOX, *DOMAIN_TRANSFER)
    assert "хостинг" in _refused(desks, line)


def test_an_ordinary_notice_says_no_doubt(desks: Desks) -> None:
    line = _ingest(
        desks, OLENA, CLEVERBOX, "Не друкується рахунок", "Добрий день!\n\nРахунок не друкується."
    )
    assert line["outcome"] == "ticket", line
    assert _doubts(desks, "CBX-000001") == []
    assert "Внимание: заявка" not in _notice(desks, CLEVERBOX_AGENT)


# -- cloudempiere: Slovak and Czech customers, notices in Slovak ---------------------------------

DUPLICATE_INVOICES = {
    "sk": (
        PETER,
        "Duplicitné faktúry",
        "Dobrý deň,\n\nvymažte nám, ak sa dá ešte dnes, tie duplicitné faktúry zo "
        "včerajšieho importu. Ide o doklady 2026/0412 a 2026/0413, zákazníkom sme ich ešte "
        "neposlali.\n\nĎakujem\nPeter Horváth\n",
        "vymažte nám, ak sa dá ešte dnes, tie duplicitné faktúry",
        "Vaša požiadavka bola zaevidovaná pod číslom CEM-000001",
    ),
    "cs": (
        JANA,
        "Zdvojené faktury",
        "Dobrý den,\n\nsmažte nám, pokud to jde ještě dnes, ty zdvojené faktury ze "
        "včerejšího importu. Jde o doklady 2026/0412 a 2026/0413, zákazníkům jsme je ještě "
        "neposílali.\n\nDěkuji a přeji hezký den\nJana Procházková\n",
        "smažte nám, pokud to jde ještě dnes, ty zdvojené faktury",
        "Váš požadavek jsme zaevidovali pod číslem CEM-000001",
    ),
}
DELETE_PLAINLY = {
    "sk": (
        PETER,
        "Duplicitné faktúry",
        "Dobrý deň,\n\nvymažte nám prosím faktúry 2026/0412 a 2026/0413, sú tam dvakrát.\n\n"
        "Ďakujem\nPeter Horváth\n",
        "manipulácia s užívateľskými dátami",
    ),
    "cs": (
        JANA,
        "Zdvojené faktury",
        "Dobrý den,\n\nsmažte nám prosím faktury 2026/0412 a 2026/0413, jsou tam dvakrát.\n\n"
        "Děkuji\nJana Procházková\n",
        "manipulace s uživatelskými daty",
    ),
}
WIDE_PHRASES = {  # what a copy of the desk file adds to user_data_changes, first in each list
    "sk": ('sk = [\n  "{vymažte,', '"{vymažte,zmažte} ... {faktúr*,doklad*}",'),
    "cs": ('cs = [\n  "{smažte,', '"{smažte,vymažte} ... {faktur*,doklad*}",'),
}


@pytest.mark.parametrize("language", sorted(DELETE_PLAINLY))
def test_cloudempiere_deletion_said_plainly_is_refused(desks: Desks, language: str) -> None:
    sender, subject, text, title = DELETE_PLAINLY[language]
    line = _ingest(desks, sender, CLOUDEMPIERE, subject, text)
    assert title in _refused(desks, line)


@pytest.mark.parametrize("language", sorted(DUPLICATE_INVOICES))
def test_cloudempiere_shipped_wide_phrase_finds_the_words_apart_only_weakly(
    desks: Desks, language: str
) -> None:
    """Round 3 gave the shipped desk `...` phrases ("{vymažte,...} ... {faktúr*,...}"): the
    request said with its words apart opens the ticket, and the agent reads the doubt."""
    _duplicate_invoices_open_with_a_doubt(desks, language)


@pytest.mark.parametrize("language", sorted(DUPLICATE_INVOICES))
def test_cloudempiere_weak_match_opens_the_ticket_and_tells_the_agent_in_slovak(
    tmp_path: Path, language: str
) -> None:
    listed, phrase = WIDE_PHRASES[language]
    first = listed.rpartition("\n")[2]  # the list's first phrase, which the new one goes before
    desks = _edited(tmp_path, "cloudempiere", listed, listed.replace(first, f"{phrase}\n{first}"))
    _duplicate_invoices_open_with_a_doubt(desks, language)


def _duplicate_invoices_open_with_a_doubt(desks: Desks, language: str) -> None:
    """The request with its words apart: a ticket in the customer's language, the doubt in
    its history with the words matched, and the Slovak doubt line in the agent's notice."""
    sender, subject, text, words, says = DUPLICATE_INVOICES[language]
    line = _ingest(desks, sender, CLOUDEMPIERE, subject, text)
    _opened(desks, line, "CEM-000001", says)
    [doubt] = _doubts(desks, "CEM-000001")
    assert doubt["detail"].startswith("possible_out_of_scope: user_data_changes (found '")
    assert doubt["passage"] == words
    notice = _notice(desks, CLOUDEMPIERE_AGENT)
    assert (
        "Pozor: požiadavka možno nepatrí do rozsahu podpory "
        f"(user_data_changes: nájdené „{words}“); pred odpoveďou to overte."
    ) in notice, notice


# -- crmonline: Persian, where a wide match refuses ----------------------------------------------

ONSITE_EXPERT = (
    "کارشناس برای شعبه اصفهان",
    "سلام،\n\nما یک کارشناس حضوری برای بررسی سیستم فروش در شعبه اصفهان لازم داریم. "
    "لطفاً بفرمایید چطور هماهنگ کنیم.\n\nبا تشکر\nعلی رضایی\nشرکت نمونه\n",
)
ONSITE_WORDS = "کارشناس حضوری برای بررسی سیستم فروش در شعبه اصفهان لازم"
WIDE_REFUSES = "wide_matches_refuse = true        # Persian puts the verb after the whole object"


def test_crmonline_wide_match_still_refuses(desks: Desks) -> None:
    line = _ingest(desks, ALI, CRMONLINE, *ONSITE_EXPERT)
    assert "پشتیبانی و آموزش حضوری" in _refused(desks, line)
    assert sent_to(desks.config, CRMONLINE_AGENT) == []


def test_crmonline_without_the_setting_the_wide_match_is_a_doubt_in_persian(
    tmp_path: Path,
) -> None:
    desks = _edited(tmp_path, "crmonline", WIDE_REFUSES, "wide_matches_refuse = false")
    line = _ingest(desks, ALI, CRMONLINE, *ONSITE_EXPERT)
    _opened(desks, line, "CRM-000001", "درخواست شما با شماره CRM-000001 ثبت شد")
    [doubt] = _doubts(desks, "CRM-000001")
    assert doubt["detail"].startswith("possible_out_of_scope: onsite_support (found '")
    assert doubt["passage"] == ONSITE_WORDS
    notice = _notice(desks, CRMONLINE_AGENT)
    assert (
        "توجه: ممکن است این درخواست خارج از محدودهٔ پشتیبانی باشد "
        f"(onsite_support: عبارت یافته\u200cشده «{ONSITE_WORDS}»)؛ پیش از پاسخ بررسی کنید."
    ) in notice, notice
