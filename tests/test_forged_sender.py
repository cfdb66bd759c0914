"""Forged From (issue 10): mail forged as a customer's contact must not act as the customer.

209 mails forged as a CleverBox contact made 50 tickets and 159 quota refusals, and the real
contact's acknowledgements were silenced by the 10-an-hour limit. With the desk's
`customer_authentication` rule (shipped commented in config/desks/cleverbox.toml, enabled
here in a copy), a mail claiming a contact needs a DKIM/DMARC pass for the From's domain
from the desk's trusted receiving host. Every mail goes through `mailbot ingest --json`;
what reached the contact is read from the outbound maildir.
"""

from __future__ import annotations

import json
import shutil
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest

from mailbot.clock import system_clock
from tests.conftest import SHIPPED_DESKS, run, sent_to, stdout_of, write_config
from tests.helpers import message

OLENA = "olena@vector.test"
TRUSTED = "mx.cleverbox.test"
REAL = f"{TRUSTED}; dkim=pass header.d=vector.test header.s=s1; dmarc=pass header.from=vector.test"
FORGED = [
    None,  # no Authentication-Results at all
    "mx.evil.test; dkim=pass header.d=vector.test",  # a pass, but not from our host
    f"{TRUSTED}; dkim=fail header.d=vector.test; dmarc=fail header.from=vector.test",
    f"{TRUSTED}; dkim=pass header.d=evil.test",  # signed, by another domain
    f"{TRUSTED}; spf=pass smtp.mailfrom=olena@vector.test",  # SPF is not asked for here
    "garbage ;;; = = =",
]


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """The shipped desks, CleverBox with its commented customer_authentication switched on."""
    desks = tmp_path / "desks"
    shutil.copytree(SHIPPED_DESKS, desks)
    cleverbox = desks / "cleverbox.toml"
    text = cleverbox.read_text()
    for commented in (
        '  # "customer_authentication",',
        "# [rule.customer_authentication]\n",
        "# trusted_hosts = ",
        "# methods = ",
        "# required = ",
    ):
        assert commented in text, commented
        text = text.replace(commented, commented.replace("# ", "", 1))
    cleverbox.write_text(text)
    return write_config(tmp_path, f"sqlite:///{tmp_path / 'm.db'}", desks=desks)


def _mail(n: int, authentication: str | None) -> bytes:
    headers = {"Authentication_Results": authentication} if authentication else {}
    return message(
        f"Не открывается склад ({n})",
        f"Добрый день! Склад не открывается, попытка {n}.",
        date=format_datetime(system_clock()),
        **headers,
    )


def _ingest_all(config: Path, mails: list[bytes]) -> list[dict[str, Any]]:
    paths = []
    for n, raw in enumerate(mails):
        path = config.parent.parent / "in" / f"{n:03d}.eml"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(raw)
        paths.append(str(path))
    return [json.loads(line) for line in stdout_of(config, "ingest", *paths).splitlines()]


def test_a_burst_of_forged_mail_leaves_the_real_contact_its_ticket_and_ack(
    config: Path,
) -> None:
    forged = [_mail(n, FORGED[n % len(FORGED)]) for n in range(30)]
    lines = _ingest_all(config, [*forged, _mail(30, REAL)])
    *burst, real = lines
    assert {(x["outcome"], x["reason"], x["ticket"]) for x in burst} == {
        ("quarantined", "unauthenticated_sender", None)
    }
    assert all(TRUSTED in x["detail"] and OLENA in x["detail"] for x in burst)
    assert (real["outcome"], real["reason"], real["ticket"]) == ("ticket", None, "CBX-000001")
    # the contact got exactly one mail: the acknowledgement of the real request
    [ack] = sent_to(config, OLENA)
    assert str(ack["Subject"]).startswith("[CBX-000001] ") and "(30)" in str(ack["Subject"])
    # the ticket's history says what proved the sender
    shown = json.loads(stdout_of(config, "tickets", "show", "CBX-000001", "--json"))
    [proof] = [e for e in shown["events"] if e["kind"] == "sender_authentication"]
    assert proof["result"] == "authenticated_sender" and TRUSTED in proof["detail"]
    listed = json.loads(stdout_of(config, "tickets", "list", "--json"))
    assert [t["number"] for t in listed] == ["CBX-000001"]


def test_forged_mail_counts_toward_no_monthly_quota(config: Path, tmp_path: Path) -> None:
    """A customer whose contract allows 2 requests a month: 5 forged ones use none of them."""
    cleverbox = tmp_path / "desks" / "cleverbox.toml"
    text = cleverbox.read_text()
    cleverbox.write_text(
        text.replace(
            'contacts = ["olena@vector.test"]\n',
            'contacts = ["olena@vector.test"]\nmonthly_limit = 2\n',
        )
    )
    lines = _ingest_all(
        config, [*(_mail(n, None) for n in range(5)), _mail(5, REAL), _mail(6, REAL)]
    )
    assert [x["reason"] for x in lines] == [*["unauthenticated_sender"] * 5, None, None]
    assert [x["ticket"] for x in lines[5:]] == ["CBX-000001", "CBX-000002"]
    assert len(sent_to(config, OLENA)) == 2


def test_a_bad_setting_names_the_file_and_key(config: Path, tmp_path: Path) -> None:
    cleverbox = tmp_path / "desks" / "cleverbox.toml"
    cleverbox.write_text(
        cleverbox.read_text().replace(f'trusted_hosts = ["{TRUSTED}"]', "trusted_hosts = []")
    )
    code, out, err = run(config, "check-config")
    assert code == 78, out + err
    assert (
        "cleverbox.toml" in out + err and "rule.customer_authentication.trusted_hosts" in out + err
    )
