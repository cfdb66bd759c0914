"""Knowledge-base benchmark: relevance on the labelled mails, time per search, import and RSS.

What it measures: the shipped knowledge bases (config/kb/<desk>/, the desks' [kb] settings)
are loaded the way the pipeline loads them; each mail of tests/kb/labelled.toml (subject and
body, in its language) is searched in its desk's base. For mails an article answers:
top-1 (the expected article comes first) and top-3 (it is among those offered, which are at
most the desk's max_articles and only those above the threshold). For mails no article
answers: the share that get no article at all ("none" precision). Then the CPU time of one
search (process time, so other load on the machine counts less), over every labelled mail
repeated; the same with every desk's articles copied --scale times (a few hundred articles);
and what importing mailbot.kb after what a worker has imported anyway (the configuration,
py3langid and numpy) and building every base cost, in time and RSS.

Run:
    .venv/bin/python benchmarks/kb.py
    .venv/bin/python benchmarks/kb.py --repeat 200 --verbose     # every mail and what it got
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import time
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
LABELLED = REPO / "tests" / "kb" / "labelled.toml"
NONE = "none"


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


@dataclass(frozen=True)
class Labelled:
    desk: str
    language: str
    subject: str
    body: str
    expected: str

    @property
    def text(self) -> str:
        return f"{self.subject}\n{self.body}"


@dataclass(frozen=True)
class Figures:
    answerable: int
    top1: int
    top3: int
    unanswerable: int
    none_right: int
    misses: tuple[tuple[Labelled, tuple[str, ...]], ...]

    @property
    def top1_rate(self) -> float:
        return self.top1 / self.answerable if self.answerable else 1.0

    @property
    def top3_rate(self) -> float:
        return self.top3 / self.answerable if self.answerable else 1.0

    @property
    def none_rate(self) -> float:
        return self.none_right / self.unanswerable if self.unanswerable else 1.0


def read_labelled(path: Path = LABELLED) -> list[Labelled]:
    with path.open("rb") as fh:
        data: dict[str, Any] = tomllib.load(fh)
    return [Labelled(**entry) for entry in data["mail"]]


def slug(path: Path) -> str:
    """`napoleon-invoice-printing.ru.md` -> `napoleon-invoice-printing`."""
    return path.name.split(".", 1)[0]


def evaluate(mails: Sequence[Labelled], bases: Mapping[str, Any]) -> Figures:
    top1 = top3 = none_right = answerable = 0
    misses = []
    for mail in mails:
        found = tuple(
            slug(h.article.path) for h in bases[mail.desk].search(mail.text, mail.language)
        )
        if mail.expected == NONE:
            none_right += not found
            if found:
                misses.append((mail, found))
            continue
        answerable += 1
        top1 += bool(found) and found[0] == mail.expected
        top3 += mail.expected in found
        if not found or found[0] != mail.expected:
            misses.append((mail, found))
    return Figures(answerable, top1, top3, len(mails) - answerable, none_right, tuple(misses))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=100, help="searches per labelled mail")
    parser.add_argument("--verbose", action="store_true", help="print every miss")
    parser.add_argument(
        "--scale",
        type=int,
        default=20,
        help="also time searches in bases of every desk's articles copied this many times",
    )
    args = parser.parse_args(argv)

    # a worker has imported the configuration (pydantic) and language detection (py3langid,
    # which brings numpy) before the pipeline builds the bases: what kb adds is measured
    import mailbot.language  # noqa: F401
    from mailbot.config import load

    config = load(REPO / "config" / "mailbot.toml", environ={})
    rss_before = rss_mb()
    started = time.perf_counter()
    import mailbot.kb as kb

    import_ms = (time.perf_counter() - started) * 1000
    rss_imported = rss_mb()
    started = time.perf_counter()
    bases = kb.load(config)
    build_ms = (time.perf_counter() - started) * 1000
    rss_after = rss_mb()

    mails = read_labelled()
    figures = evaluate(mails, bases)
    timings = []
    for mail in mails:
        base = bases[mail.desk]
        started = time.process_time()
        for _ in range(args.repeat):
            base.search(mail.text, mail.language)
        timings.append((time.process_time() - started) / args.repeat * 1e6)

    articles = sum(len(b) for b in bases.values())
    print(f"articles: {articles} in {len(bases)} desks; labelled mails: {len(mails)}")
    print(
        f"top-1: {figures.top1}/{figures.answerable} = {figures.top1_rate:.1%}   "
        f"top-3: {figures.top3}/{figures.answerable} = {figures.top3_rate:.1%}   "
        f"none (no article offered): {figures.none_right}/{figures.unanswerable}"
        f" = {figures.none_rate:.1%}"
    )
    by_language: dict[str, list[Labelled]] = {}
    for mail in mails:
        by_language.setdefault(mail.language, []).append(mail)
    for language, group in sorted(by_language.items()):
        f = evaluate(group, bases)
        print(
            f"  {language}: {len(group)} mails, top-1 {f.top1}/{f.answerable},"
            f" top-3 {f.top3}/{f.answerable}, none {f.none_right}/{f.unanswerable}"
        )
    print(f"load average while measuring: {os.getloadavg()[0]:.1f} (CPU time per search below)")
    print(
        f"search: mean {statistics.mean(timings):.0f} us, p50 {statistics.median(timings):.0f} us,"
        f" max {max(timings):.0f} us (per mail, {args.repeat} repeats)"
    )
    print(
        f"import mailbot.kb (after config, py3langid, numpy): {import_ms:.1f} ms,"
        f" +{rss_imported - rss_before:.1f} MB RSS; building every base: {build_ms:.1f} ms,"
        f" +{rss_after - rss_imported:.1f} MB RSS"
    )
    if args.scale > 1:
        scaled_timings = []
        biggest = 0
        for name, base in bases.items():
            articles = [
                dataclasses.replace(a, url=f"{a.url}?copy={n}", body=f"{a.body} {n}")
                for n in range(args.scale)
                for index in base.indexes.values()
                for a in index.articles
            ]
            big = kb.KnowledgeBase(articles, threshold=base.threshold, limit=base.limit)
            biggest = max(biggest, *(len(i.articles) for i in big.indexes.values()))
            for mail in (m for m in mails if m.desk == name):
                started = time.process_time()
                for _ in range(max(1, args.repeat // 10)):
                    big.search(mail.text, mail.language)
                elapsed = time.process_time() - started
                scaled_timings.append(elapsed / max(1, args.repeat // 10) * 1e6)
        print(
            f"search with every article x{args.scale} (up to {biggest} articles in one"
            f" language of a desk): mean {statistics.mean(scaled_timings):.0f} us,"
            f" p50 {statistics.median(scaled_timings):.0f} us, max {max(scaled_timings):.0f} us"
        )
    if args.verbose:
        for mail, found in figures.misses:
            print(f"  MISS {mail.desk}/{mail.language} expected {mail.expected}, got {found}:")
            print(f"       {mail.text!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
