"""Rules benchmark: messages per second through every rule of one desk, attachments included.

What it measures: N realistic mails in the desk's language (a quarter each: plain text, with a
200 KB PDF, with a ZIP of documents, with a DOCX) are built and parsed once before the clock
starts; then `rules.run(load_rules(desk), mail, context)` is timed over all of them. A second
pass times `parse` + `run` together, the work a worker does per mail before it touches the
database. The Context is built from the desk alone: its first customer (if any) as the
sender's organisation, identified by contact, and an empty History (no thread, no earlier
mails), so no rule reads anything the store would have given it.

It prints the desk and its rules, rules-only msg/s (overall and per kind of mail),
parse+rules msg/s, and what the rules decided (passed, asked, refused with which reason), so
a figure can be read against what was actually run: a desk that refuses everything early is
fast for the wrong reason.

Run:
    .venv/bin/python benchmarks/rules.py                              # the desk with most rules
    .venv/bin/python benchmarks/rules.py --desk config/desks/grsoft.toml --n 2000
    .venv/bin/python benchmarks/rules.py --desk config/desks/grsoft.toml \\
        --rules loops,oversized,distributive_attachment                 # another rule list
"""

from __future__ import annotations

import argparse
import io
import json
import random
import statistics
import sys
import time
import tomllib
import zipfile
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from pathlib import Path

from pydantic import ValidationError

from mailbot.config import DeskSettings
from mailbot.errors import ConfigError
from mailbot.parse import Mail, parse
from mailbot.rules import Context, History, Rule, load_rules, run

REPO = Path(__file__).resolve().parent.parent
DESKS = REPO / "config" / "desks"
NOW = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
PDF_BYTES = 200 * 1024
KINDS = ("plain", "pdf", "zip", "docx")

TEXTS = {
    "ru": (
        "Не выгружаются заказы, проект {project}, обращение {n}",
        "Добрый день!\n\nПосле вчерашнего обновления торговые представители не могут выгрузить "
        "заказы: при синхронизации ошибка «Нет связи с сервером». Проект: {project}. "
        "Проблема касается 12 сотрудников, отгрузки стоят.\nПорядок действий: открыть "
        "приложение, нажать «Обмен», через минуту появляется ошибка.\nБазу с устройства "
        "прикладываю.\n\nС уважением,\n{name}\n+7 861 200-{n:05d}\n\n"
        "> 18.11.2026, 10:02, поддержка пишет:\n> Пришлите, пожалуйста, базу с устройства.\n",
    ),
    "uk": (
        "Не працює модуль складу, звернення {n}",
        "Добрий день!\n\nПісля оновлення модуль складу не відкривається, замовлення {n} "
        "висить у статусі «Новий». Менеджери не можуть відвантажити товар.\n\n"
        "З повагою,\n{name}\n",
    ),
    "pl": (
        "Nie mogę zamknąć zlecenia serwisowego nr {n}",
        "Dzień dobry,\n\nod rana aplikacja mobilna nie synchronizuje zleceń. Technik widzi "
        "komunikat „Błąd połączenia” przy zleceniu nr {n}.\nW załączniku zrzuty i opis.\n\n"
        "Pozdrawiam serdecznie\n{name}\nZakład Chłodnictwa Żółw sp. z o.o.\n",
    ),
    "sk": (
        "Chyba pri účtovaní faktúry č. {n}",
        "Dobrý deň,\n\npri zaúčtovaní faktúry č. {n} systém hlási chybu „Neplatné obdobie“. "
        "Prikladám export a popis krokov.\n\nS pozdravom\n{name}\nŠtúdio Ľubovňa s.r.o.\n",
    ),
    "fa": (
        "گزارش فروش شماره {n} باز نمی‌شود",
        "سلام،\n\nاز دیروز گزارش فروش شماره {n} در پنل باز نمی‌شود و پیام خطا نمایش داده "
        "می‌شود. فایل‌ها پیوست شده است.\n\nبا تشکر\n{name}\n",
    ),
    "en": (
        "Orders do not sync, request {n}",
        "Hello,\n\nsince yesterday's update our sales reps cannot upload orders; the app "
        "shows 'no connection to server'. Twelve people are affected. Files attached.\n\n"
        "Best regards,\n{name}\n",
    ),
}
NAMES = {
    "ru": "Ирина Соколова",
    "uk": "Олена Коваль",
    "pl": "Agnieszka Żak",
    "sk": "Zuzana Kováčová",
    "fa": "مریم احمدی",
    "en": "Jane Miller",
}


def load_desk(path: Path, rules: Sequence[str] | None) -> DeskSettings:
    with path.open("rb") as fh:
        raw = tomllib.load(fh)
    raw.setdefault("name", path.stem)
    if rules is not None:
        raw["rules"] = list(rules)
        raw["rule"] = {k: v for k, v in raw.get("rule", {}).items() if k in rules}
    return DeskSettings.model_validate(raw)


def heaviest_desk() -> Path:
    """The shipped desk with the longest rule list (the first by name on a tie)."""
    files = sorted(DESKS.glob("*.toml"))
    if not files:
        sys.exit(f"no desk files in {DESKS}")
    return max(files, key=lambda p: len(load_desk(p, None).rules))


# -- the mails -------------------------------------------------------------------------------


def pdf_bytes(rng: random.Random, size: int) -> bytes:
    """A PDF whose one image stream is incompressible, like a scanned page."""
    stream = rng.randbytes(size)
    head = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
    head += b"2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n"
    body = b"3 0 obj\n<< /Length %d /Filter /DCTDecode >>\nstream\n" % len(stream)
    tail = b"\nendstream\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
    return head + body + stream + tail


def docx_bytes(text: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
            'content-types"><Override PartName="/word/document.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>',
        )
        archive.writestr("_rels/.rels", '<?xml version="1.0"?><Relationships/>')
        paragraphs = "".join(
            f"<w:p><w:r><w:t>{line}</w:t></w:r></w:p>" for line in text.split("\n")
        )
        archive.writestr(
            "word/document.xml",
            '<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/'
            f'wordprocessingml/2006/main"><w:body>{paragraphs * 20}</w:body></w:document>',
        )
        archive.writestr("docProps/core.xml", '<?xml version="1.0"?><cp:coreProperties/>')
    return out.getvalue()


def documents_zip(pdf: bytes, docx: bytes, n: int) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"Документы/счёт-{n}.pdf", pdf[: 60 * 1024])
        archive.writestr("Документы/описание.docx", docx)
        rows = "".join(f"{i};Клиент {i};{i * 10.5:.2f}\n" for i in range(400))
        archive.writestr("Документы/заказы.csv", "id;клиент;сумма\n" + rows)
    return out.getvalue()


def build_mails(desk: DeskSettings, n: int) -> list[tuple[str, bytes]]:
    rng = random.Random(42)
    language = desk.language if desk.language in TEXTS else "en"
    subject_t, body_t = TEXTS[language]
    customer = desk.customers[0] if desk.customers else None
    sender = "customer@example.test"
    project = "Вектор-Юг"
    if customer is not None:
        sender = customer.designated_contact or next(
            iter(customer.contacts), f"support@{next(iter(customer.domains), 'example.test')}"
        )
        project = next((names[0] for names in customer.projects.values() if names), project)
    pdf = pdf_bytes(rng, PDF_BYTES)
    docx = docx_bytes(body_t.format(n=0, name=NAMES[language], project=project))
    mails = []
    for i in range(n):
        kind = KINDS[i % len(KINDS)]
        msg = EmailMessage()
        msg["From"] = formataddr((NAMES[language], sender))
        msg["To"] = desk.addresses[0]
        msg["Subject"] = subject_t.format(n=i, project=project)
        msg["Date"] = "Fri, 20 Nov 2026 12:30:00 +0300"
        msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2])
        msg.set_content(body_t.format(n=i, name=NAMES[language], project=project))
        if kind == "pdf":
            msg.add_attachment(pdf, maintype="application", subtype="pdf", filename=f"скан-{i}.pdf")
        elif kind == "zip":
            msg.add_attachment(
                documents_zip(pdf, docx, i),
                maintype="application",
                subtype="zip",
                filename=f"документы-{i}.zip",
            )
        elif kind == "docx":
            msg.add_attachment(
                docx,
                maintype="application",
                subtype="vnd.openxmlformats-officedocument.wordprocessingml.document",
                filename=f"описание-{i}.docx",
            )
        mails.append((kind, msg.as_bytes(policy=policy.SMTP)))
    return mails


def context_for(desk: DeskSettings, mail: Mail) -> Context:
    customer = desk.customers[0] if desk.customers else None
    return Context(
        desk=desk,
        envelope_from=mail.from_addr,
        now=NOW,
        customer=customer,
        identified_by="contact" if customer is not None else None,
        mail_language=desk.language,
        history=History(),
    )


def outcome_of(rules: Sequence[Rule], mail: Mail, ctx: Context) -> str:
    judgement = run(rules, mail, ctx)
    if judgement.stopping is not None:
        return f"{judgement.stopping.action.value}:{judgement.stopping.reason}"
    if judgement.asking is not None:
        return "ask:" + ",".join(judgement.asking.missing)
    return "passed"


# -- the run ---------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--desk", type=Path, help="desk file (default: the one with most rules)")
    parser.add_argument("--n", type=int, default=2000, help="mails (default 2000)")
    parser.add_argument("--rules", help="comma-separated rule list replacing the desk's own")
    parser.add_argument("--repeat", type=int, default=3, help="timed passes; the best counts")
    parser.add_argument("--json", action="store_true", help="also print one JSON line")
    args = parser.parse_args(argv)

    path = args.desk or heaviest_desk()
    rule_list = [r.strip() for r in args.rules.split(",") if r.strip()] if args.rules else None
    try:
        desk = load_desk(path, rule_list)
        rules = load_rules(desk, path)
    except (ConfigError, ValidationError) as exc:
        sys.exit(f"cannot load the desk: {exc}")
    print(f"desk {desk.name} ({path}), language {desk.language}")
    print(f"rules ({len(rules)}): {', '.join(r.name for r in rules)}")

    built = build_mails(desk, args.n)
    raws = [raw for _, raw in built]
    kinds = [kind for kind, _ in built]
    parsed = [parse(r, accepted_at=NOW, fallback_charsets=desk.fallback_charsets) for r in raws]
    contexts = [context_for(desk, m) for m in parsed]
    size = sum(len(r) for r in raws)
    print(
        f"mails: {args.n} ({', '.join(f'{k}: {kinds.count(k)}' for k in KINDS)}),"
        f" {size / 1e6:.1f} MB raw"
    )
    decided = Counter(outcome_of(rules, m, c) for m, c in zip(parsed, contexts, strict=True))

    per_kind: dict[str, list[float]] = {k: [] for k in KINDS}
    rules_best = float("inf")
    for _ in range(args.repeat):
        started = time.perf_counter()
        for kind, mail, ctx in zip(kinds, parsed, contexts, strict=True):
            t0 = time.perf_counter()
            run(rules, mail, ctx)
            per_kind[kind].append(time.perf_counter() - t0)
        rules_best = min(rules_best, time.perf_counter() - started)

    both_best = float("inf")
    for _ in range(args.repeat):
        started = time.perf_counter()
        for raw in raws:
            mail = parse(raw, accepted_at=NOW, fallback_charsets=desk.fallback_charsets)
            run(rules, mail, context_for(desk, mail))
        both_best = min(both_best, time.perf_counter() - started)

    rules_rate = args.n / rules_best
    both_rate = args.n / both_best
    print(f"rules only:    {rules_rate:10,.0f} msg/s  ({rules_best * 1e6 / args.n:,.0f} µs/msg)")
    for kind in KINDS:
        times = per_kind[kind]
        if times:
            median = statistics.median(times)
            print(f"  {kind:<6} median {median * 1e6:8,.0f} µs  ({1 / median:10,.0f} msg/s)")
    print(f"parse + rules: {both_rate:10,.0f} msg/s  ({both_best * 1e6 / args.n:,.0f} µs/msg)")
    print("decided: " + ", ".join(f"{k} {v}" for k, v in decided.most_common()))
    if args.json:
        print(
            json.dumps(
                {
                    "desk": desk.name,
                    "rules": [r.name for r in rules],
                    "n": args.n,
                    "rules_msg_per_s": round(rules_rate, 1),
                    "parse_rules_msg_per_s": round(both_rate, 1),
                    "per_kind_median_us": {
                        k: round(statistics.median(v) * 1e6, 1) for k, v in per_kind.items() if v
                    },
                    "decided": dict(decided),
                },
                ensure_ascii=False,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
