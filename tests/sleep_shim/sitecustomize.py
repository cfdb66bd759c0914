"""Make `time.sleep` work under Debian's libfaketime 0.9.10 with FAKETIME_DONT_FAKE_MONOTONIC.

CPython 3.11 sleeps with `clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, ...)`; that
libfaketime rewrites the absolute deadline as if the monotonic clock were faked and the call
fails with EINVAL, so every `time.sleep` (and `Popen.wait(timeout)`, which sleeps) raises
`OSError: [Errno 22]`. `select` with a relative timeout is not touched, so sleeping through it
keeps the suite runnable on a moved date (`faketime '2031-03-01' pytest`). conftest.py loads
this only when a real sleep fails, and puts this folder on PYTHONPATH so the mailbot processes
the tests start get it too. Nothing of mailbot's own depends on it.
"""

from __future__ import annotations

import select
import time


def _sleep_works() -> bool:
    try:
        time.sleep(0.0001)
    except OSError:
        return False
    return True


def _sleep(seconds: float) -> None:
    if seconds < 0:
        raise ValueError("sleep length must be non-negative")
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        select.select([], [], [], left)


if not _sleep_works():
    time.sleep = _sleep
