"""ingest.sources: what a maildir, an mbox or a folder of mail files holds, message by message.

An mbox must come apart into exactly the messages that were written into it, bodies as they
were (mboxrd `>From ` quoting undone); a maildir yields cur/ and new/; what cannot be read or
is too big is reported in its place, and the rest goes on.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailbot.ingest import imap_folder  # noqa: F401  (registers imap://)
from mailbot.ingest.sources import (
    Found,
    Maildir,
    MailFiles,
    Mbox,
    SourceError,
    from_line_date,
    open_source,
    quote_from,
)
from tests.conftest import CORPORA

LIMIT = 1 << 20


def write_mbox(path: Path, mails: list[bytes], sender: bytes = b"olena@vector.test") -> Path:
    """An mboxrd file as mail clients write it: a From_ line, quoted lines, a blank line."""
    with path.open("wb") as f:
        for i, raw in enumerate(mails):
            f.write(b"From %s Fri Nov 20 09:%02d:00 2026\n" % (sender, i % 60))
            f.write(quote_from(raw))
            f.write(b"" if raw.endswith(b"\n") else b"\n")
            f.write(b"\n")
    return path


def mail(n: int, body: str) -> bytes:
    return (
        f"From: olena@vector.test\nTo: support@cleverbox.test\nSubject: case {n}\n"
        f"Message-ID: <case{n}@vector.test>\n\n{body}"
    ).encode()


def raws(found: list[Found]) -> list[bytes | None]:
    return [f.raw for f in found]


def test_mbox_with_from_lines_in_bodies_gives_each_mail_back_as_written(tmp_path: Path) -> None:
    bodies = [
        "From the start of the month the export fails.\n>From a quoted line\n",
        "Hello,\n\nFrom Monday on nothing works.\n>>From deeper quoting\n\n",
        "From olena@vector.test Fri Nov 20 09:00:00 2026\nSubject: looks like a header\n",
    ]
    mails = [mail(i, body) for i, body in enumerate(bodies)]
    box = write_mbox(tmp_path / "support.mbox", mails)
    assert box.read_bytes().count(b"\n>From ") >= 3  # quoted on disk, as an mbox does
    found = list(Mbox(box, LIMIT).messages())
    assert raws(found) == mails
    assert [f.key for f in found] == ["#1@0", f"#2@{found[1].key.split('@')[1]}", found[2].key]
    assert found[0].arrived_at == datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    assert found[1].arrived_at == datetime(2026, 11, 20, 9, 1, tzinfo=UTC)


# lines a body may hold, the awkward ones often: From_ lines, quoted ones, blank lines
_TEXT = st.text(
    st.characters(blacklist_characters="\r\n", blacklist_categories=["Cs"]), max_size=30
)
_LINES = st.one_of(
    st.sampled_from(
        ["", "From ", "From me", ">From x", ">>From y", "From a@b Mon Jan 1 10:00:00 2024"]
    ),
    _TEXT,
    _TEXT.map(lambda s: f"From {s}"),
    _TEXT.map(lambda s: f">From {s}"),
    _TEXT.map(lambda s: f"X-Head: {s}"),
)
_MESSAGES = st.lists(
    st.lists(_LINES, max_size=12).map(
        lambda lines: ("Subject: s\n" + "".join(f"{line}\n" for line in lines)).encode()
    ),
    min_size=2,
    max_size=6,
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(messages=_MESSAGES)
def test_mboxrd_round_trip(tmp_path: Path, messages: list[bytes]) -> None:  # fmt: skip
    box = write_mbox(tmp_path / "round.mbox", messages)
    assert raws(list(Mbox(box, LIMIT).messages())) == messages


def test_an_mbox_of_one_message_is_taken_byte_for_byte(tmp_path: Path) -> None:
    """A saved .eml with its envelope line: the same bytes (and spool id) as `ingest` took."""
    box = write_mbox(tmp_path / "one.eml", [mail(1, "From me, with love\n")])
    (found,) = Mbox(box, LIMIT).messages()
    assert found.raw == box.read_bytes()
    assert (found.key, found.arrived_at) == ("#1@0", datetime(2026, 11, 20, 9, 0, tzinfo=UTC))


def test_unmunged_prose_from_lines_stay_in_the_body() -> None:
    """MimeKit's unmunged.mbox: a BOM, `From -` separators, "From Russia with love" unquoted."""
    found = list(Mbox(CORPORA / "mimekit-mbox" / "unmunged.mbox.txt", LIMIT).messages())
    assert len(found) == 2
    assert all(f.raw and b"From Russia with love\n" in f.raw for f in found)
    assert all(f.raw and f.raw.startswith(b"From: Jeffrey Stedfast") for f in found)
    assert all(f.arrived_at is None for f in found)  # `From -` carries no date


@pytest.mark.parametrize(
    ("name", "count"),
    [("simple.mbox.txt", 3), ("issue1189.mbox.txt", 4), ("content-length.mbox.txt", 29)],
)
def test_corpus_mboxes_split_into_their_messages(name: str, count: int) -> None:
    """Netscape separators without a blank line before them, a quoted `>From -` inside an
    attached message, 5,000-character lines."""
    found = list(Mbox(CORPORA / "mimekit-mbox" / name, LIMIT).messages())
    assert len(found) == count
    assert all(f.raw and not f.raw.startswith(b"From ") for f in found)
    if name == "content-length.mbox.txt":
        # two attached messages were quoted `>From -` by the writer: un-quoted, kept inside
        inner = [f for f in found if f.raw and b"\nFrom - Fri Dec 13 15:01:21 1996\n" in f.raw]
        assert len(inner) == 2
        assert all(f.raw and b"\nFrom - " not in f.raw for f in found if f not in inner)


def test_from_line_dates() -> None:
    assert from_line_date(b"From - Mon Jun  3 12:50:27 1996\n") == datetime(
        1996, 6, 3, 12, 50, 27, tzinfo=UTC
    )
    assert from_line_date(b"From a@b Thu Dec  3 10:07:28 +0100 2026\n") == datetime(
        2026, 12, 3, 9, 7, 28, tzinfo=UTC
    )
    assert from_line_date(b"From - \n") is None
    assert from_line_date(b"From x@y not a date at all\n") is None


def test_truncated_mbox_yields_what_it_holds(tmp_path: Path) -> None:
    mails = [mail(i, f"text {i}\n") for i in range(3)]
    whole = write_mbox(tmp_path / "whole.mbox", mails).read_bytes()
    cut = tmp_path / "cut.mbox"
    cut.write_bytes(whole[: whole.rindex(b"Subject: case 2") + 5])  # mid-header
    found = list(Mbox(cut, LIMIT).messages())
    assert raws(found)[:2] == mails[:2]
    assert found[2].raw == b"From: olena@vector.test\nTo: support@cleverbox.test\nSubje"


def test_an_oversized_message_is_reported_and_the_rest_read(tmp_path: Path) -> None:
    small = [mail(i, "short\n") for i in range(2)]
    big = mail(9, "x" * 70 + "\n" + ("y" * 100_000) + "\n")  # one line longer than a chunk
    box = write_mbox(tmp_path / "box.mbox", [small[0], big, small[1]])
    found = list(Mbox(box, 4096).messages())
    assert raws(found) == [small[0], None, small[1]]
    assert found[1].problem == "oversized" and "the limit is 4096" in (found[1].detail or "")


def test_maildir_yields_cur_and_new_oldest_first(tmp_path: Path) -> None:
    box = tmp_path / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (box / sub).mkdir(parents=True)
    files = {
        "new/1700000300.M3P1.host": (mail(3, "third\n"), 1_700_000_300),
        "cur/1700000100.M1P1.host:2,S": (mail(1, "first\n"), 1_700_000_100),
        "cur/1700000200.M2P1.host:2,": (mail(2, "second\n"), 1_700_000_200),
    }
    for key, (raw, when) in files.items():
        (box / key).write_bytes(raw)
        os.utime(box / key, (when, when))
    (box / "tmp" / "half-written").write_bytes(b"From: x")  # not delivered yet: not a message
    (box / "cur" / "gone:2,S").symlink_to(box / "nowhere")
    source = open_source(str(box), LIMIT)
    assert isinstance(source, Maildir) and source.size_hint() == 4
    found = list(source.messages())
    assert found[0].key == "cur/gone:2,S" and found[0].problem == "unreadable"
    assert [f.key for f in found[1:]] == sorted(files, key=lambda k: files[k][1])
    assert [f.raw for f in found[1:]] == [
        mail(1, "first\n"),
        mail(2, "second\n"),
        mail(3, "third\n"),
    ]
    assert found[1].arrived_at == datetime.fromtimestamp(1_700_000_100, UTC)


def test_folder_of_mail_files_reads_an_mbox_inside_it(tmp_path: Path) -> None:
    folder = tmp_path / "mails"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.eml").write_bytes(mail(1, "one\n"))
    (folder / "sub" / "b.eml").write_bytes(mail(2, "two\n"))
    (folder / ".hidden.eml").write_bytes(mail(3, "no\n"))
    write_mbox(folder / "c.mbox", [mail(4, "four\n"), mail(5, "five\n")])
    source = open_source(str(folder), LIMIT)
    assert isinstance(source, MailFiles)
    found = list(source.messages())
    assert [f.key.removeprefix(f"{folder}/") for f in found] == [
        "a.eml", "c.mbox#1@0", f"c.mbox{found[2].key.split('c.mbox')[1]}", "sub/b.eml"
    ]  # fmt: skip
    assert raws(found) == [mail(1, "one\n"), mail(4, "four\n"), mail(5, "five\n"), mail(2, "two\n")]


def test_sources_that_cannot_be_opened_say_why(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no such file or folder"):
        open_source(str(tmp_path / "missing.mbox"), LIMIT)
    with pytest.raises(SourceError, match="holds a password") as caught:
        open_source("imap://support:s3cret@imap.example.test:993/INBOX", LIMIT)
    assert "s3cret" not in str(caught.value)
    with pytest.raises(SourceError, match="unknown kind of source"):
        open_source("pop3://host/x", LIMIT)
