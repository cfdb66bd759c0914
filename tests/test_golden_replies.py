"""Every reply, byte for byte, as recorded in tests/golden/ (issue 12's invariant).

Throughput work changes how replies are built and stored; a customer must not see one byte of
it. A change that means to alter replies rewrites the record
(`PYTHONPATH=$PWD .venv/bin/python -m tests.golden_replies --write`) in its own commit, and
the diff of the record is what a reviewer reads.
"""

from __future__ import annotations

import pytest

from tests import golden_replies

SETS = golden_replies.sets()


@pytest.mark.parametrize("name", sorted(SETS))
def test_every_reply_is_byte_identical_to_the_record(name: str) -> None:
    diff = golden_replies.compare(name, SETS[name])
    assert not diff, "replies changed:\n" + "\n".join(diff)
