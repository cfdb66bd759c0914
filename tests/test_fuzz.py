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
