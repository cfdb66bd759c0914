"""Backscatter (issue 10): mailbot must never mail a third party chosen by whoever writes in.

A stranger's mail over SMTP to `mailbot serve` with the shipped desks: its Reply-To (or a
forged From) names a victim; the automatic reply goes to the envelope sender only, repeats
no display name and at most a short subject; a refusal never goes to the Reply-To. A known
customer's contact keeps its Reply-To when that is the same customer's address, never
otherwise. A desk can stop acknowledging unknown senders altogether. The outbound mail is
read where the world gets it: the SMTP catcher (serve) or the outbound maildir (ingest).
"""

from __future__ import annotations

import email
import json
import shutil
import smtplib
import time
import tomllib
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import pytest

from mailbot import config as config_mod
from tests.conftest import SHIPPED_DESKS, send_all, stdout_of, write_config
from tests.servers import Catcher, Serve

SERWISANT = "pomoc@serwisant.test"
CLEVERBOX = "support@cleverbox.test"
CLOUDEMPIERE = "podpora@cloudempiere.test"
AGENTS = {
    agent if isinstance(agent, str) else agent["address"]
    for path in SHIPPED_DESKS.glob("*.toml")
    for agent in tomllib.loads(path.read_text()).get("agents", [])
}
"""The shipped desks' agents: their notices of each mail are not replies to its sender."""
VICTIM = "victim@third.test"
SHORT_SUBJECT = 100
"""What a reply repeats of an unknown sender's subject at most (replies.SHORT_SUBJECT)."""
SPAM_NAME = "CHEAP PILLS at pills.example"
SPAM_SUBJECT = "Nie działa " + "BUY NOW at pills.example, best prices, free shipping " * 6


@pytest.fixture(scope="module")
def catcher(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Catcher]:
    with Catcher(tmp_path_factory.mktemp("caught")) as running:
        yield running


@pytest.fixture(scope="module")
def serve(tmp_path_factory: pytest.TempPathFactory, catcher: Catcher) -> Iterator[Serve]:
    """One `mailbot serve` with the shipped desks for the whole module, replies to the catcher."""
    folder = tmp_path_factory.mktemp("serve")
    path = write_config(
        folder,
        f"sqlite:///{folder / 'm.db'}",
        desks=SHIPPED_DESKS,
        relay=("127.0.0.1", catcher.port),
    )
    port = config_mod.load(path, environ={}).settings.smtp.port
    running = Serve(path, port, folder / "serve.log").start()
    yield running
    if running.alive():
        assert running.terminate() == 0, (folder / "serve.log").read_text()[-3000:]


def _mail(
    to: str, sender: str, subject: str, *, name: str = "", reply_to: str | None = None
) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = f"{name} <{sender}>" if name else sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2])
    if reply_to:
        msg["Reply-To"] = reply_to
    msg.set_content("Dzień dobry, od rana nie działa wysyłka SMS do klientów.")
    return msg


def _send(serve: Serve, mail_from: str, msg: EmailMessage) -> None:
    with smtplib.SMTP("127.0.0.1", serve.port) as smtp:
        smtp.send_message(msg, from_addr=mail_from, to_addrs=[str(msg["To"])])


def _answer_to(catcher: Catcher, message_id: str, timeout: float = 60.0) -> EmailMessage:
    """The one automatic reply (not an agent's notice) to the mail `message_id`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [
            m
            for m in catcher.messages()
            if m["In-Reply-To"] == message_id and str(m["To"]) not in AGENTS
        ]
        if found:
            assert len(found) == 1, [str(m["To"]) for m in found]
            return found[0]
        time.sleep(0.05)
    raise TimeoutError(f"no reply to {message_id} after {timeout} s")


def _nothing_to(catcher: Catcher, address: str) -> None:
    assert not [m for m in catcher.messages() if address in str(m["To"]).lower()]


def test_a_strangers_reply_to_gets_nothing_the_envelope_sender_a_plain_ack(
    serve: Serve, catcher: Catcher
) -> None:
    msg = _mail(SERWISANT, "stranger@stranger.test", SPAM_SUBJECT, name=SPAM_NAME, reply_to=VICTIM)
    _send(serve, "stranger@stranger.test", msg)
    ack = _answer_to(catcher, str(msg["Message-ID"]))
    assert str(ack["To"]) == "stranger@stranger.test"
    _nothing_to(catcher, VICTIM)
    body = ack.get_content()
    assert "SRW-" in str(ack["Subject"]) and "Nie działa" in str(ack["Subject"])
    # no attacker-chosen name, and no more than a short piece of the attacker's subject
    assert "PILLS" not in body and "PILLS" not in str(ack["Subject"])
    assert len(str(ack["Subject"])) <= len("[SRW-000000] ") + SHORT_SUBJECT
    assert body.count("pills.example") <= 2


def test_a_forged_from_is_not_answered_the_envelope_sender_is(
    serve: Serve, catcher: Catcher
) -> None:
    msg = _mail(SERWISANT, "victim2@third.test", "Wysyłka SMS")
    _send(serve, "spammer@spam.test", msg)
    ack = _answer_to(catcher, str(msg["Message-ID"]))
    assert str(ack["To"]) == "spammer@spam.test"
    _nothing_to(catcher, "victim2@third.test")


def test_a_refusal_to_a_stranger_never_goes_to_its_reply_to(serve: Serve, catcher: Catcher) -> None:
    msg = _mail(
        CLEVERBOX, "stranger3@stranger.test", "Не работает склад", reply_to="victim3@third.test"
    )
    _send(serve, "stranger3@stranger.test", msg)
    refusal = _answer_to(catcher, str(msg["Message-ID"]))
    assert str(refusal["To"]) == "stranger3@stranger.test"
    assert "[" not in str(refusal["Subject"])  # quarantined: unknown_customer, no ticket
    _nothing_to(catcher, "victim3@third.test")


def test_a_customers_reply_to_counts_only_when_it_is_the_same_customers(
    serve: Serve, catcher: Catcher
) -> None:
    # Olena is a contact of ТОВ Вектор: a third party in her Reply-To gets nothing
    olena = _mail(CLEVERBOX, "olena@vector.test", "Не открывается склад", reply_to=VICTIM)
    _send(serve, "olena@vector.test", olena)
    assert str(_answer_to(catcher, str(olena["Message-ID"]))["To"]) == "olena@vector.test"
    # Tatra Logistics is known by its domain: its helpdesk in Reply-To is the same customer
    jana = _mail(
        CLOUDEMPIERE,
        "jana.kovacova@tatralog.test",
        "Faktúra sa nedá uložiť",
        name="Jana Kováčová",
        reply_to="helpdesk@tatralog.test",
    )
    _send(serve, "jana.kovacova@tatralog.test", jana)
    ack = _answer_to(catcher, str(jana["Message-ID"]))
    assert str(ack["To"]) == "helpdesk@tatralog.test"
    assert "Jana Kováčová" in ack.get_content()  # a customer is greeted by name, as before
    _nothing_to(catcher, VICTIM)


def test_a_desk_can_stop_acknowledging_unknown_senders(tmp_path: Path) -> None:
    desks = tmp_path / "desks"
    shutil.copytree(SHIPPED_DESKS, desks)
    serwisant = desks / "serwisant.toml"
    text = serwisant.read_text()
    assert "\nacknowledge_unknown_senders = true\n" in text  # the shipped desk says it
    serwisant.write_text(
        text.replace(
            "\nacknowledge_unknown_senders = true\n", "\nacknowledge_unknown_senders = false\n"
        )
    )
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'm.db'}", desks=desks)
    lines = []
    for name, sender in (("stranger", "nobody@stranger.test"), ("jan", "jan@kowalski-serwis.test")):
        path = tmp_path / f"{name}.eml"
        path.write_bytes(bytes(_mail(SERWISANT, sender, "Wysyłka SMS", reply_to=VICTIM)))
        lines.append(json.loads(stdout_of(config, "ingest", str(path))))
    assert [(line["outcome"], line["ticket"]) for line in lines] == [
        ("ticket", "SRW-000001"),
        ("ticket", "SRW-000002"),
    ]
    send_all(config)
    sent = [
        email.message_from_bytes(p.read_bytes(), policy=policy.default)
        for p in (tmp_path / "sent" / "new").iterdir()
    ]
    # the customer is acknowledged, the stranger is not (the agent still hears of both)
    assert sorted(str(m["To"]) for m in sent) == [
        "dyzurny@serwisant.test",
        "dyzurny@serwisant.test",
        "jan@kowalski-serwis.test",
    ]
    shown = json.loads(stdout_of(config, "tickets", "show", "SRW-000001", "--json"))
    [held] = [e for e in shown["events"] if e["kind"] == "reply_suppressed"]
    assert "acknowledge_unknown_senders" in json.dumps(held)
