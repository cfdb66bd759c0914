"""The spool on SQLite and PostgreSQL: durable, deduplicated, claimed once, recovered."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from mailbot.config import Config
from mailbot.durable import write_durably
from mailbot.spool import Spool, SpoolState, WorkMarker
from mailbot.store import Database, SpoolItems

RAW = b"From: a@x.test\r\nTo: support@cleverbox.test\r\nSubject: hi\r\n\r\nbody\r\n"


_opened: list[Database] = []
"""The databases `_spool` opened for the running test, disposed when it ends."""


@pytest.fixture(autouse=True)
def _dispose_what_the_test_opened() -> Iterator[None]:
    yield
    while _opened:
        _opened.pop().dispose()


def _spool(config: Config) -> Spool:
    engine = Database(config.database_url)
    _opened.append(engine)
    engine.upgrade()
    return Spool(config.spool_dir, engine)


def test_accept_writes_bytes_and_row_before_returning(config: Config) -> None:
    spool = _spool(config)
    spool_id = spool.accept(RAW, "smtp", mail_from="a@x.test", rcpt_to=["support@cleverbox.test"])
    assert spool_id == hashlib.sha256(RAW).hexdigest()
    assert spool.path_of(spool_id).read_bytes() == RAW
    item = spool.get(spool_id)
    assert item.state == SpoolState.received and item.size == len(RAW)
    assert item.accepted_at.tzinfo is not None
    assert not list((config.spool_dir / "tmp").iterdir())


def test_same_bytes_twice_are_one_item(config: Config) -> None:
    spool = _spool(config)
    first = spool.accept(RAW, "smtp")
    second = spool.accept(RAW, "file")
    assert first == second
    assert _pending(spool) == 1
    assert spool.get(first).source == "smtp"


def test_claim_gives_each_item_to_one_worker(config: Config) -> None:
    spool = _spool(config)
    ids = {spool.accept(RAW + str(i).encode(), "smtp") for i in range(5)}
    a = spool.claim("host:1:1", limit=3)
    b = spool.claim("host:2:1", limit=10)
    assert len(a) == 3 and len(b) == 2
    assert {c.id for c in a} | {c.id for c in b} == ids
    assert not spool.claim("host:3:1", limit=10)


def test_finish_happens_once(config: Config) -> None:
    spool = _spool(config)
    spool_id = spool.accept(RAW, "smtp")
    with spool.db.transaction() as session:
        assert SpoolItems(session).finish(
            spool_id,
            state=SpoolState.done,
            outcome="ticket",
            reason=None,
            detail=None,
            desk="cleverbox",
            ticket_id=None,
            at=spool.clock(),
        )
    with spool.db.transaction() as session:
        assert not SpoolItems(session).finish(
            spool_id,
            state=SpoolState.quarantined,
            outcome="quarantined",
            reason="x",
            detail=None,
            desk=None,
            ticket_id=None,
            at=spool.clock(),
        )
    assert spool.get(spool_id).outcome == "ticket"
    assert not spool.claim("w", 10)


def test_expired_lease_is_taken_again(config: Config) -> None:
    spool = _spool(config)
    spool.accept(RAW, "smtp")
    assert spool.claim("host:1:1", lease=timedelta(seconds=-1))
    assert spool.claim("host:2:1")


def test_dead_worker_claims_are_released_and_its_item_charged(config: Config) -> None:
    spool = _spool(config)
    first = spool.accept(RAW, "smtp")
    second = spool.accept(RAW + b"2", "smtp")
    # another host's marker is left alone: only that host can tell whether its worker lives
    (config.spool_dir / "work" / "otherhost:999999:1").write_text(first)
    import socket

    dead = f"{socket.gethostname()}:999999:1"
    (config.spool_dir / "work" / dead).write_text(first)
    claimed = spool.claim(dead, limit=10)
    assert {c.id for c in claimed} == {first, second}
    assert not spool.claim("other", 10)  # leased
    assert spool.release_dead_claims() == 2
    again = {c.id: c.attempts for c in spool.claim("other", 10)}
    assert again == {first: 1, second: 0}
    assert (config.spool_dir / "work" / "otherhost:999999:1").exists()


def test_orphan_file_is_adopted(config: Config) -> None:
    """A crash between the fsync and the commit: the file alone is enough to recover."""
    spool = _spool(config)
    raw = b"From: o@x.test\r\n\r\norphan\r\n"
    spool_id = hashlib.sha256(raw).hexdigest()
    spool._write_file(spool_id, raw)
    assert _pending(spool) == 0
    assert spool.adopt_orphans() == 1
    assert spool.get(spool_id).source == "recovered"
    assert spool.adopt_orphans() == 0


def test_work_marker_names_the_current_item(config: Config, tmp_path: Path) -> None:
    spool = _spool(config)
    marker = WorkMarker(spool, "h:1:1")
    marker.set("ab" * 32)
    assert (config.spool_dir / "work" / "h:1:1").read_text().strip() == "ab" * 32
    marker.clear()
    assert (config.spool_dir / "work" / "h:1:1").read_text().strip() == ""
    marker.close()
    assert not os.path.exists(config.spool_dir / "work" / "h:1:1")


def test_a_durable_write_leaves_the_whole_file_or_nothing(tmp_path: Path) -> None:
    (tmp_path / "tmp").mkdir()
    (tmp_path / "new").mkdir()
    data = os.urandom(3 * 1024 * 1024)  # more than one write(2) may take at once
    write_durably(tmp_path / "new" / "a.eml", data, tmp_path / "tmp" / "a.eml")
    assert (tmp_path / "new" / "a.eml").read_bytes() == data
    assert list((tmp_path / "tmp").iterdir()) == []
    with pytest.raises(OSError):
        write_durably(tmp_path / "gone" / "b.eml", data, tmp_path / "tmp" / "b.eml")
    assert not (tmp_path / "gone").exists()
    assert list((tmp_path / "tmp").iterdir()) == []


def _pending(spool: Spool) -> int:
    with spool.db.reading() as session:
        return SpoolItems(session).count_received()
