"""A quick pass of the fuzzer (tests/fuzz/harness.py): corpus mails, damaged, through parse and
a shipped desk's rules. The long runs are benchmarks/fuzz.py (docs/fuzzing.md); this keeps the
harness working and catches a regression on the mutations it draws first."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, Phase, given, settings

from tests.fuzz.harness import CORPORA, check, desks, hostile_mails

pytestmark = pytest.mark.skipif(not CORPORA.is_dir(), reason=f"no corpora at {CORPORA}")


@settings(
    max_examples=200,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
    suppress_health_check=list(HealthCheck),
)
@given(hostile_mails())
def test_damaged_corpus_mail_is_a_mail_or_unparseable(case: tuple[int, bytes]) -> None:
    index, raw = case
    finding = check(desks()[index], raw)
    assert finding is None, f"{finding.kind}: {finding.signature}\n{finding.detail}"


def test_the_harness_reports_what_goes_wrong(monkeypatch: pytest.MonkeyPatch) -> None:
    """A check that could not fail would make every fuzzing run look clean."""
    from tests.fuzz import harness

    desk = desks()[0]
    good = b"From: a@example.test\r\nTo: support@cleverbox.test\r\nSubject: hi\r\n\r\nhello\r\n"
    assert check(desk, good) is None

    def broken(*_args: object, **_kwargs: object) -> None:
        raise KeyError("a rule tripped")

    monkeypatch.setattr(harness, "run", broken)
    finding = check(desk, good)
    assert finding is not None and finding.kind == "exception"
    assert finding.signature.startswith("KeyError at test_fuzz.py")
    monkeypatch.undo()

    def crashing_parse(*_args: object, **_kwargs: object) -> None:
        raise ValueError("a parser bug")

    monkeypatch.setattr("mailbot.parse._Reader.read", crashing_parse)
    finding = check(desk, good)  # parse turns it into UnparseableMail("parser failure: ...")
    assert finding is not None and "ValueError" in finding.signature
