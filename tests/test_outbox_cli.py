"""`mailbot outbox list|retry`: replies the relay would not take, listed with its answer and
put back in the queue once the cause is fixed — sent then by the real sender, the same mail."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from tests.conftest import free_port, run, send_all, write_config
from tests.servers import Catcher
from tests.test_status import T, at, desks, ingest_four


def relay_config(folder: Path, db_url: str, port: int) -> Path:
    """One try per reply (max_attempts = 1): a relay that is away fails the reply at once."""
    config = write_config(folder, db_url, desks=desks(folder), relay=("127.0.0.1", port))
    config.write_text(
        config.read_text().replace(
            "retry_max_seconds = 1.0", "retry_max_seconds = 1.0\nmax_attempts = 1"
        )
    )
    return config


def outbox_json(config: Path, *args: str) -> list[dict[str, object]]:
    code, out, err = run(config, "outbox", "list", "--json", *args)
    assert code == 0, out + err
    rows: list[dict[str, object]] = json.loads(out)
    return rows


def test_failed_replies_are_listed_retried_and_then_delivered(tmp_path: Path, db_url: str) -> None:
    away = free_port()  # the relay is down: nothing listens there
    config = relay_config(tmp_path, db_url, away)
    ingest_four(config, tmp_path)

    pending = outbox_json(config)
    assert [(r["kind"], r["state"], r["attempts"]) for r in pending] == [
        ("ack", "pending", 0),
        ("unknown_customer", "pending", 0),  # the stranger's refusal
        ("ack", "pending", 0),
    ]
    assert pending[0]["next_attempt_at"] == T.isoformat()  # due when queued, desk's offset
    assert pending[0]["ticket"] == "ACM-000002" and pending[1]["ticket"] is None

    send_all(config)
    failed = outbox_json(config, "--state", "failed")
    assert len(failed) == 3
    first = failed[-1]
    assert (first["ticket"], first["to"], first["attempts"], first["next_attempt_at"]) == (
        "ACM-000001", "boss@acme.test", 1, None)  # fmt: skip
    assert str(first["last_error"]).startswith(f"gave up after 1 tries: relay 127.0.0.1:{away}")
    assert outbox_json(config, "--state", "sent") == []
    code, text, _ = run(config, "outbox", "list")
    assert code == 0 and "gave up after 1 tries" in text and "None" not in text

    # the operator fixes the relay's address and puts the replies back
    with Catcher(tmp_path / "caught") as relay:
        config.write_text(config.read_text().replace(f"port = {away}", f"port = {relay.port}"))
        ids = [str(r["id"]) for r in failed]
        hour = at(timedelta(hours=1))
        code, out, err = run(config, "outbox", "retry", ids[-1], "--by", "anna", "--now", hour)
        assert code == 0, err
        assert out.startswith(f"outbox row {ids[-1]}: back in the queue, due now")
        [row] = [r for r in outbox_json(config) if str(r["id"]) == ids[-1]]
        assert (row["state"], row["attempts"]) == ("pending", 0)
        assert row["next_attempt_at"] == hour

        code, out, _ = run(config, "outbox", "retry", "--all-failed", "--json")
        assert code == 0
        assert sorted(json.loads(line)["id"] for line in out.splitlines()) == sorted(
            int(i) for i in ids[:-1]
        )
        send_all(config)
        caught = relay.wait_for(2)
    # the refused stranger's mail and the refuse.boss ack went out; the relay refuses the
    # latter for good (550), so it is failed again, with the relay's own words
    sent = outbox_json(config, "--state", "sent")
    assert len(sent) == 2 and len(caught) == 2
    [again] = outbox_json(config, "--state", "failed")
    assert again["to"] == "refuse.boss@acme.test"
    assert "550 5.1.1 mailbox unavailable" in str(again["last_error"])

    # the very mail queued went out (its Message-ID was fixed when it was written), and the
    # retry is in the ticket's history, with who did it
    code, out, _ = run(config, "tickets", "show", "ACM-000001", "--json")
    shown = json.loads(out)
    [ack] = [r for r in shown["replies"] if r["kind"] == "ack"]
    assert (ack["state"], ack["attempts"]) == ("sent", 1)
    assert ack["message_id"].strip("<>") in {m["Message-ID"].strip("<>") for m in caught}
    events = [e for e in shown["events"] if e["kind"] == "reply_retry"]
    assert [(e["by"], e["attempts"]) for e in events] == [("anna", 1)]


def test_retry_refuses_unknown_and_unfailed_rows_and_changes_nothing(tmp_path: Path) -> None:
    config = relay_config(tmp_path, f"sqlite:///{tmp_path / 'm.db'}", free_port())
    ingest_four(config, tmp_path)
    before = outbox_json(config)
    ids = [str(r["id"]) for r in before]

    code, _, err = run(config, "outbox", "retry", ids[0], "999")
    assert code == 66 and "outbox row 999: not found" in err
    code, _, err = run(config, "outbox", "retry", ids[0])
    assert code == 3 and f"outbox row {ids[0]} is pending" in err
    assert outbox_json(config) == before

    assert run(config, "outbox", "retry").code == 2
    assert run(config, "outbox", "retry", ids[0], "--all-failed").code == 2
    assert run(config, "outbox", "list", "--state", "lost").code == 2
    assert run(config, "outbox", "list", "--limit", "0").code == 2
    code, out, _ = run(config, "outbox", "retry", "--all-failed")
    assert (code, out) == (0, "no failed rows in the outbox\n")


def test_help_texts_are_whole_sentences(tmp_path: Path) -> None:
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'm.db'}", desks=desks(tmp_path))
    for command in (["status"], ["outbox"], ["outbox", "list"], ["outbox", "retry"]):
        code, out, _ = run(config, *command, "--help")
        assert code == 0
        description = out.split("\n\n")[1].strip()
        assert description[0].isupper() and description.endswith("."), (command, description)
