"""The admin side: quarantine list/show/release, ingest --dry-run; nothing refused is lost."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import invoke, run, write_config

DESK = """
name = "acme"
title = "Acme Support"
addresses = ["help@acme.test"]
ticket_prefix = "ACM"
rules = ["loops", "unknown_customer"]
[[customers]]
name = "Acme Corp"
contacts = ["boss@acme.test"]
"""


def _mail(sender: str, subject: str, to: str = "help@acme.test") -> bytes:
    return (
        f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\n"
        f"Message-ID: <{subject.replace(' ', '-')}@x.test>\r\n\r\nPlease help, the app is down.\r\n"
    ).encode()


def _setup(tmp_path: Path) -> Path:
    desks = tmp_path / "desks"
    desks.mkdir()
    (desks / "acme.toml").write_text(DESK)
    return write_config(tmp_path, f"sqlite:///{tmp_path / 'm.db'}", desks=desks)


def test_refused_mail_is_kept_listed_shown_and_released_with_history(tmp_path: Path) -> None:
    config = _setup(tmp_path)
    stranger = tmp_path / "stranger.eml"
    stranger.write_bytes(_mail("someone@elsewhere.test", "server down"))
    code, out, _ = run(config, "ingest", str(stranger))
    line = json.loads(out)
    assert (code, line["outcome"], line["reason"]) == (0, "quarantined", "unknown_customer")
    entry = line["spool_id"]

    code, out, _ = run(config, "quarantine", "list", "--json")
    [listed] = json.loads(out)
    assert (listed["id"], listed["reason"], listed["from"]) == (
        entry, "unknown_customer", "someone@elsewhere.test")  # fmt: skip
    code, out, _ = run(config, "quarantine", "list")
    assert entry[:12] in out and "unknown_customer" in out

    shown = invoke(config, "quarantine", "show", entry[:8], "--raw")
    assert shown.stdout_bytes == stranger.read_bytes()  # nothing lost: the very bytes

    # the sender was told why (a reply is waiting in the outbox, not a ticket)
    shown_json = json.loads(run(config, "quarantine", "show", entry[:8], "--json")[1])
    assert [e["kind"] for e in shown_json["events"]] == ["quarantined", "reply_queued"]
    code, out, _ = run(config, "tickets", "list", "--json")
    assert json.loads(out) == []

    # release without --force: the same rule refuses again
    code, out, _ = run(config, "quarantine", "release", entry[:10], "--by", "anna")
    again = json.loads(out)
    assert (again["outcome"], again["reason"]) == ("quarantined", "unknown_customer")

    # with --force the admin overrides the rule: a ticket, and the history says who
    code, out, _ = run(config, "quarantine", "release", entry[:10], "--force", "--by", "anna")
    released = json.loads(out)
    assert (released["outcome"], released["ticket"], released["forced"]) == (
        "ticket", "ACM-000001", True)  # fmt: skip
    code, out, _ = run(config, "quarantine", "show", entry[:10], "--json")
    history = json.loads(out)
    assert history["state"] == "done"  # no longer in quarantine; its history stays readable
    assert [(e["kind"], e.get("by")) for e in history["events"] if e["kind"] == "released"] == [
        ("released", "anna"), ("released", "anna")]  # fmt: skip
    assert json.loads(run(config, "quarantine", "list", "--json")[1]) == []
    code, out, _ = run(config, "tickets", "show", "ACM-000001", "--json")
    assert json.loads(out)["requester"] == "someone@elsewhere.test"


def test_release_history_is_kept(tmp_path: Path) -> None:
    config = _setup(tmp_path)
    lost = tmp_path / "lost.eml"
    lost.write_bytes(_mail("boss@acme.test", "wrong address", to="nobody@acme-old.test"))
    line = json.loads(run(config, "ingest", str(lost))[1])
    assert (line["outcome"], line["reason"]) == ("quarantined", "no_desk")
    _code, out, _ = run(config, "quarantine", "release", line["spool_id"][:8], "--by", "ops")
    assert json.loads(out)["reason"] == "no_desk"
    _, out, _ = run(config, "quarantine", "show", line["spool_id"][:8], "--json")
    events = json.loads(out)["events"]
    assert [e["kind"] for e in events] == ["quarantined", "released", "quarantined"]
    assert events[1]["by"] == "ops"
    _, out, _ = run(
        config, "quarantine", "release", line["spool_id"][:8], "--desk", "acme", "--by", "ops"
    )
    assert json.loads(out)["ticket"] == "ACM-000001"


def test_unknown_entry_exits_66(tmp_path: Path) -> None:
    code, _, err = run(_setup(tmp_path), "quarantine", "show", "abcdef12")
    assert code == 66 and "no quarantine entry starts with 'abcdef12'" in err


def test_dry_run_writes_and_sends_nothing(tmp_path: Path) -> None:
    config = _setup(tmp_path)
    known = tmp_path / "known.eml"
    known.write_bytes(_mail("boss@acme.test", "invoice question"))
    stranger = tmp_path / "stranger.eml"
    stranger.write_bytes(_mail("x@elsewhere.test", "hello"))
    _, out, _ = run(config, "ingest", "--dry-run", str(known), str(stranger))
    first, second = (json.loads(x) for x in out.splitlines())
    assert (first["outcome"], first["dry_run"], first["ticket"]) == ("ticket", True, None)
    assert (second["outcome"], second["reason"]) == ("quarantined", "unknown_customer")
    assert not list((tmp_path / "spool").glob("??/*.eml"))
    assert json.loads(run(config, "tickets", "list", "--json")[1]) == []
    assert json.loads(run(config, "quarantine", "list", "--json")[1]) == []


def test_dry_run_of_bytes_already_taken_prints_their_recorded_outcome(tmp_path: Path) -> None:
    config = _setup(tmp_path)
    known = tmp_path / "known.eml"
    known.write_bytes(_mail("boss@acme.test", "invoice question"))
    real = json.loads(run(config, "ingest", str(known))[1])
    again = json.loads(run(config, "ingest", "--dry-run", str(known))[1])
    assert (again["outcome"], again["ticket"], again["dry_run"]) == ("ticket", real["ticket"], True)
