"""Fuzz `parse` and the rules for a while: corpus mails, mutated (see tests/fuzz/harness.py).

    nice -n 10 .venv/bin/python benchmarks/fuzz.py --minutes 20 --out var/fuzz

Runs rounds of Hypothesis examples until the time is up; every finding (an exception other than
UnparseableMail, a run over 5 s, memory growing by over 300 MB) is written to --out as the mail
(.eml) and what happened (.txt), once per distinct signature. Exit 1 if anything was found.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from collections import Counter
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, settings

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fuzz.harness import Finding, check, desks, hostile_mails, seeds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=20.0, help="how long to run")
    parser.add_argument("--out", type=Path, default=Path("var/fuzz"), help="findings folder")
    parser.add_argument("--round", type=int, default=500, help="examples per Hypothesis round")
    parser.add_argument("--slow", type=float, default=2.0, help="also keep inputs over this (s)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    print(
        f"seeds: {len(seeds())} corpus mails; desks: {', '.join(d.settings.name for d in desks())}"
    )

    found: dict[str, Finding] = {}
    kinds: Counter[str] = Counter()
    count = 0
    slowest = 0.0

    @settings(
        max_examples=args.round,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(hostile_mails())
    def one(case: tuple[int, bytes]) -> None:
        nonlocal count, slowest
        index, raw = case
        count += 1
        started = time.perf_counter()
        finding = check(desks()[index], raw)
        seconds = time.perf_counter() - started
        slowest = max(slowest, seconds)
        if finding is None and seconds > args.slow:
            name = f"slow-{seconds:.1f}s-{hashlib.sha256(raw).hexdigest()[:12]}"
            (args.out / f"{name}.eml").write_bytes(raw)
            print(f"slow input ({seconds:.2f} s, desk {desks()[index].settings.name}): {name}.eml")
        if finding is None:
            return
        kinds[finding.kind] += 1
        if finding.signature in found:
            return
        found[finding.signature] = finding
        name = hashlib.sha256(raw).hexdigest()[:16]
        (args.out / f"{name}.eml").write_bytes(raw)
        (args.out / f"{name}.txt").write_text(
            f"{finding.kind}: {finding.signature}\ndesk: {desks()[index].settings.name}\n\n"
            f"{finding.detail}\n"
        )
        print(f"FOUND {finding.kind}: {finding.signature} -> {name}.eml", flush=True)

    started = time.monotonic()
    deadline = started + args.minutes * 60
    rounds = 0
    while time.monotonic() < deadline:
        one()
        rounds += 1
        elapsed = time.monotonic() - started
        print(
            f"{elapsed / 60:5.1f} min: {count} inputs, slowest {slowest:.2f} s, "
            f"findings {dict(kinds)}",
            flush=True,
        )
    minutes = (time.monotonic() - started) / 60
    print(
        f"done: {minutes:.1f} min, {count} inputs in {rounds} rounds, "
        f"slowest {slowest:.2f} s, {len(found)} distinct findings: {sorted(found)}"
    )
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
