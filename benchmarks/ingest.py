"""End-to-end ingest benchmark: SMTP in -> spool -> tickets -> acknowledgements out.

What it measures, per run (each run on a fresh temporary folder and database):

* end-to-end throughput: N / (first DATA sent -> last acknowledgement delivered),
* accept rate: N / (first DATA sent -> last `250` received), i.e. the SMTP receiver alone,
* the time from the DATA command to the final `250` (p50/p95/p99/max, in ms),
* serve and its worker processes (summed): peak RSS (VmHWM), RSS at 25/50/75/100 % of messages sent,
  CPU seconds used, and the largest backlogs (spool items still `received`, pending outbox).

How: it writes a small config (the repository's desks and templates, logging at WARNING),
starts `mailbot serve` as a subprocess on a free port, generates all N messages in memory up
front, and sends them with C client threads, each holding one persistent `smtplib`
connection. The mix, by index: ~70 % plain text (UTF-8; KOI8-R and windows-1251 Russian to
the Russian desks), ~10 % multipart with a 200 KB attachment, ~20 % replies to tickets
opened earlier in the same run by the same sender (`Re: [<number>] ...`, In-Reply-To the
customer's own Message-ID). New tickets are round-robin over the five desks. A reply is the
last thing its client sends, after its parent got `250`; the ticket number for its subject
is looked up when it is sent (time spent waiting for the parent's ticket is reported).

It then polls the database (read-only) until every spool item left `received`, every outbox
row is `sent`, and the maildir (or, with --relay, the catcher process's folder) holds exactly
one acknowledgement per new ticket; it checks that every reply threaded into its parent's
ticket and nothing was dropped or quarantined. Any mismatch, SMTP error, or an unclean stop
of `mailbot serve` (SIGTERM, exit 0 within 30 s) exits non-zero and keeps the folder.

Run:
    .venv/bin/python benchmarks/ingest.py --n 5000 --clients 1,8
    .venv/bin/python benchmarks/ingest.py --n 2000 --clients 8 --relay
    .venv/bin/python benchmarks/ingest.py --n 2000 --clients 8 \\
        --db postgresql+psycopg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import quopri
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.header import Header
from email.utils import formataddr, formatdate
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

REPO = Path(__file__).resolve().parent.parent
MAILBOT = REPO / ".venv" / "bin" / "mailbot"
CATCHER = REPO / "tests" / "catcher.py"
ATTACHMENT_BYTES = 200 * 1024
TICKET_PLACEHOLDER = b"@@TICKET-NUMBER@@"
SAMPLE_EVERY = 0.5

# (address, language) of the five shipped desks, in round-robin order, and their names.
DESKS = [
    ("pomoc@serwisant.test", "pl"),
    ("podpora@cloudempiere.test", "sk"),
    ("info@grsoft.test", "ru"),
    ("support@crmonline.test", "fa"),
    ("support@cleverbox.test", "ru"),
]
DESK_NAMES = {address: address.partition("@")[2].removesuffix(".test") for address, _ in DESKS}
RUSSIAN_CHARSETS = ["utf-8", "koi8-r", "windows-1251"]

TEXTS = {
    "pl": (
        "Nie mogę zamknąć zlecenia serwisowego nr {n}",
        "Dzień dobry,\n\nod rana aplikacja mobilna nie synchronizuje zleceń. Technik widzi "
        "komunikat „Błąd połączenia” przy zleceniu nr {n}, a w panelu zlecenie wisi jako "
        "otwarte.\nProszę o pilną pomoc, mamy dziś jeszcze dwanaście wizyt.\n\n"
        "Pozdrawiam serdecznie\n{name}\nZakład Chłodnictwa Żółw sp. z o.o.\n",
    ),
    "sk": (
        "Chyba pri účtovaní faktúry č. {n}",
        "Dobrý deň,\n\npri zaúčtovaní faktúry č. {n} systém hlási chybu „Neplatné obdobie“. "
        "Účtovné obdobie je pritom otvorené a včera to fungovalo.\nĎakujem za rýchlu "
        "odpoveď.\n\nS pozdravom\n{name}\nŠtúdio Ľubovňa s.r.o.\n",
    ),
    "ru": (
        "Не открывается модуль склада, заказ N {n}",
        "Добрый день!\n\nПосле вчерашнего обновления модуль склада не открывается, заказ "
        'N {n} висит в статусе "Новый". Торговые представители не могут отгрузить товар, '
        "а в журнале ошибка синхронизации.\nПросим помочь как можно скорее.\n\n"
        'С уважением,\n{name}\nООО "Ёлка и партнёры"\n',
    ),
    "fa": (
        "گزارش فروش شماره {n} باز نمی‌شود",
        "سلام،\n\nاز دیروز گزارش فروش شماره {n} در پنل باز نمی‌شود و پیام خطا نمایش داده "
        "می‌شود. لطفاً در اسرع وقت بررسی کنید.\n\nبا تشکر\n{name}\n",
    ),
}
NAMES = {
    "pl": ["Łukasz Wójcik", "Agnieszka Żak", "Paweł Kościelny"],
    "sk": ["Ľubomír Šťastný", "Zuzana Kováčová", "Peter Ďurica"],
    "ru": ["Олена Петренко", "Сергей Иванов", "Татьяна Ёлкина"],
    "fa": ["مریم احمدی", "علی رضایی", "سارا کریمی"],
}
REPLY_TEXT = {
    "pl": "Dziękuję, dołączam jeszcze zrzut ekranu. Problem nadal występuje (wiadomość {n}).\n",
    "sk": "Ďakujem, posielam ešte snímku obrazovky. Problém pretrváva (správa {n}).\n",
    "ru": "Спасибо, проблема всё ещё есть, прикладываю скриншот (письмо {n}).\n",
    "fa": "ممنون، مشکل هنوز وجود دارد (پیام {n}).\n",
}


# -- the messages ----------------------------------------------------------------------------


@dataclass
class Mail:
    index: int
    kind: str  # plain | multipart | reply
    sender: str
    rcpt: str
    message_id: str
    charset: str
    raw: bytes
    parent: Mail | None = None


def _header(value: str, charset: str) -> str:
    if value.isascii():
        return value
    return Header(value, charset, maxlinelen=76).encode().replace("\n", "\r\n")


def _body(text_: str, charset: str, cte: str) -> bytes:
    data = text_.encode(charset)
    if cte == "base64":
        data = base64.encodebytes(data.replace(b"\n", b"\r\n"))
    elif cte == "quoted-printable":
        data = quopri.encodestring(data)
    return data.replace(b"\n", b"\r\n")


def _raw(headers: list[tuple[str, str]], body: bytes) -> bytes:
    head = "".join(f"{name}: {value}\r\n" for name, value in headers)
    return head.encode("ascii") + b"\r\n" + body


def _new_mail(run: str, j: int, legacy_cte: str = "8bit") -> Mail:
    """The j-th mail opening a ticket: plain, or every eighth one with a 200 KB attachment.

    `legacy_cte` is the transfer encoding of KOI8-R and windows-1251 texts (benchmarks/peer.py
    asks for quoted-printable: django-helpdesk cannot read 8-bit non-UTF-8 files at all)."""
    rcpt, lang = DESKS[j % len(DESKS)]
    charset = RUSSIAN_CHARSETS[(j // len(DESKS)) % 3] if lang == "ru" else "utf-8"
    cte = legacy_cte if charset != "utf-8" else ("quoted-printable", "base64", "8bit")[j % 3]
    name = NAMES[lang][j % 3]
    sender = f"customer{j:06d}@client{j % 17}.test"
    message_id = f"<bench.{run}.{j}@client{j % 17}.test>"
    subject_t, body_t = TEXTS[lang]
    subject = subject_t.format(n=j)
    body = body_t.format(n=j, name=name) + f"\n-- \n{name}, tel. +48 600 {j:06d}\n"
    headers = [
        ("From", formataddr((name, sender), charset)),
        ("To", rcpt),
        ("Subject", _header(subject, charset)),
        ("Date", formatdate(localtime=False)),
        ("Message-ID", message_id),
        ("MIME-Version", "1.0"),
    ]
    text_part = [
        ("Content-Type", f'text/plain; charset="{charset}"'),
        ("Content-Transfer-Encoding", cte),
    ]
    kind = "multipart" if j % 8 == 7 else "plain"
    if kind == "plain":
        return Mail(
            j,
            kind,
            sender,
            rcpt,
            message_id,
            charset,
            _raw(headers + text_part, _body(body, charset, cte)),
        )
    boundary = f"=_bench_{run}_{j}"
    if j % 16 == 15:
        filename, ctype = f"faktura-{j}.pdf", "application/pdf"
        payload = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n" + os.urandom(ATTACHMENT_BYTES - 15)
    else:
        filename, ctype = f"dump-{j}.bin", "application/octet-stream"
        payload = os.urandom(ATTACHMENT_BYTES)
    parts = [
        f"--{boundary}\r\n".encode(),
        _raw(text_part, _body(body, charset, cte)),
        f"\r\n--{boundary}\r\n".encode(),
        _raw(
            [
                ("Content-Type", f'{ctype}; name="{filename}"'),
                ("Content-Disposition", f'attachment; filename="{filename}"'),
                ("Content-Transfer-Encoding", "base64"),
            ],
            base64.encodebytes(payload).replace(b"\n", b"\r\n"),
        ),
        f"\r\n--{boundary}--\r\n".encode(),
    ]
    headers.append(("Content-Type", f'multipart/mixed; boundary="{boundary}"'))
    return Mail(j, kind, sender, rcpt, message_id, charset, _raw(headers, b"".join(parts)))


def _reply(run: str, index: int, parent: Mail, legacy_cte: str = "8bit") -> Mail:
    """A customer's follow-up; its subject gets the parent's ticket number when it is sent.

    Its text is in the parent's charset: `legacy_cte` as in `_new_mail`."""
    cte = "8bit" if parent.charset == "utf-8" else legacy_cte
    lang = dict(DESKS)[parent.rcpt]
    subject = TEXTS[lang][0].format(n=parent.index)
    body = (
        REPLY_TEXT[lang].format(n=index)
        + "\n"
        + "".join(
            f"> {line}\n" for line in TEXTS[lang][1].format(n=parent.index, name="").splitlines()
        )
    )
    message_id = f"<bench.{run}.r{index}@{parent.sender.partition('@')[2]}>"
    headers = [
        ("From", parent.sender),
        ("To", parent.rcpt),
        ("Subject", f"Re: [{TICKET_PLACEHOLDER.decode()}] {_header(subject, parent.charset)}"),
        ("Date", formatdate(localtime=False)),
        ("Message-ID", message_id),
        ("In-Reply-To", parent.message_id),
        ("References", parent.message_id),
        ("MIME-Version", "1.0"),
        ("Content-Type", f'text/plain; charset="{parent.charset}"'),
        ("Content-Transfer-Encoding", cte),
    ]
    return Mail(
        index,
        "reply",
        parent.sender,
        parent.rcpt,
        message_id,
        parent.charset,
        _raw(headers, _body(body, parent.charset, cte)),
        parent,
    )


def make_plans(n: int, clients: int) -> tuple[list[list[Mail]], list[Mail]]:
    """Per-client send lists: the client's new-ticket mails, then the replies to its own
    earliest ones (so a parent always got its 250 before its reply is sent)."""
    run = uuid.uuid4().hex[:10]
    replies = n // 5
    fresh = [_new_mail(run, j) for j in range(n - replies)]
    plans: list[list[Mail]] = [[] for _ in range(clients)]
    for mail in fresh:
        plans[mail.index % clients].append(mail)
    # Parents are the first `replies` new mails: sent in the first quarter of the run.
    for k in range(replies):
        parent = fresh[k]
        plans[k % clients].append(_reply(run, n - replies + k, parent))
    return plans, [m for plan in plans for m in plan]


# -- the system under test -------------------------------------------------------------------


class Failed(Exception):
    """The run went wrong: it is reported, its folder kept, and the benchmark exits 1."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


FOUNDATION_DESKS = REPO / "tests" / "desks"
SHIPPED_DESKS = REPO / "config" / "desks"


def shipped_desks(folder: Path) -> Path:
    """The shipped desks, with the benchmark's senders made a CleverBox customer.

    CleverBox serves identified clients only; without this every CleverBox mail would be
    (rightly) refused, and the run would measure refusals instead of tickets.
    """
    target = folder / "desks"
    shutil.copytree(SHIPPED_DESKS, target)
    domains = ", ".join(f'"client{k}.test"' for k in range(17))
    with (target / "cleverbox.toml").open("a") as fh:
        fh.write(
            f'\n[[customers]]\nname = "Benchmark"\ndomains = [{domains}]\nmonthly_limit = 1000000\n'
        )
    return target


def write_config(
    folder: Path,
    db_url: str,
    port: int,
    relay_port: int | None,
    workers: int = 1,
    desks: Path = FOUNDATION_DESKS,
) -> Path:
    """A mailbot.toml using the repository's desks and templates, everything else in `folder`."""
    q = json.dumps
    relay = ""
    if relay_port is not None:
        relay = f'\n[outbound.relay]\nhost = "127.0.0.1"\nport = {relay_port}\ntimeout = 30.0\n'
    body = f"""desks_dir = {q(str(desks))}
templates_dir = {q(str(REPO / "templates"))}
[database]
url = {q(db_url)}
[spool]
path = {q(str(folder / "spool"))}
[smtp]
listen = "127.0.0.1:{port}"
[outbound]
maildir = {q(str(folder / "sent"))}
retry_base_seconds = 1.0
retry_max_seconds = 5.0
[worker]
processes = {workers}
[logging]
level = "WARNING"
format = "json"
{relay}"""
    path = folder / "config" / "mailbot.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body)
    return path


def wait_for_port(port: int, proc: subprocess.Popen[bytes], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise Failed(f"{what} exited with {proc.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise Failed(f"{what} did not listen on port {port} within {timeout:.0f} s")


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS/VmHWM (kB) and CPU ticks of serve AND its worker processes, summed.

    Summing each process's own peak gives an upper bound of the peak they had together.
    """
    out = _one_status(pid)
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        children = []
    for child in children:
        for key, value in _one_status(int(child)).items():
            out[key] = out.get(key, 0) + value
    return out


def _one_status(pid: int) -> dict[str, int]:
    out: dict[str, int] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0])
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        out["cpu_ticks"] = int(fields[11]) + int(fields[12])
    except (OSError, ValueError, IndexError):
        pass
    return out


class Database:
    """Read-only access to the benchmark's database; creates and drops a PostgreSQL schema."""

    def __init__(self, spec: str, folder: Path, pool: int) -> None:
        self.schema: str | None = None
        self.admin_url = ""
        if spec == "sqlite":
            path = folder / "mailbot.db"
            self.url = f"sqlite:///{path}"
            read_url = f"sqlite:///file:{path}?mode=ro&uri=true"
            self._read_args: dict[str, Any] = {"connect_args": {"check_same_thread": False}}
        else:
            import psycopg

            url = make_url(spec)
            self.admin_url = url.set(drivername="postgresql").render_as_string(hide_password=False)
            self.schema = f"bench_{uuid.uuid4().hex[:12]}"
            with psycopg.connect(self.admin_url, autocommit=True) as conn:
                conn.execute(f"CREATE SCHEMA {self.schema}")
            url = url.set(drivername="postgresql+psycopg").update_query_dict(
                {"options": f"-csearch_path={self.schema}"}
            )
            self.url = url.render_as_string(hide_password=False)
            read_url = self.url
            self._read_args = {}
        self._read_url = read_url
        self._pool = pool
        self._engine: Engine | None = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:  # after serve created the database
            self._engine = create_engine(
                self._read_url, pool_size=self._pool, max_overflow=4, **self._read_args
            )
        return self._engine

    def rows(self, sql: str, **params: Any) -> list[Any]:
        with self.engine.connect() as conn:
            rows = list(conn.execute(text(sql), params))
            conn.rollback()
            return rows

    def scalar(self, sql: str, **params: Any) -> Any:
        return self.rows(sql, **params)[0][0]

    def counts(self) -> dict[str, int]:
        row = self.rows(
            "SELECT (SELECT count(*) FROM spool_item),"
            " (SELECT count(*) FROM spool_item WHERE state = 'received'),"
            " (SELECT count(*) FROM outbox),"
            " (SELECT count(*) FROM outbox WHERE state = 'pending'),"
            " (SELECT count(*) FROM outbox WHERE state = 'sent'),"
            " (SELECT count(*) FROM outbox WHERE state = 'failed')"
        )[0]
        keys = ("spool", "received", "outbox", "pending", "acked", "failed")
        return dict(zip(keys, (int(v) for v in row), strict=True))

    def ticket_number(self, message_id: str, desk: str) -> str | None:
        found = self.rows(
            "SELECT t.number FROM message m JOIN ticket t ON t.id = m.ticket_id"
            " WHERE m.desk = :desk AND m.message_id = :mid AND m.direction = 'in'",
            desk=desk,
            mid=message_id,
        )
        return str(found[0][0]) if found else None

    def close(self, keep: bool) -> None:
        if self._engine is not None:
            self._engine.dispose()
        if self.schema and not keep:
            import psycopg

            with psycopg.connect(self.admin_url, autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA {self.schema} CASCADE")


# -- the clients -----------------------------------------------------------------------------


@dataclass
class Client:
    plan: list[Mail]
    port: int
    db: Database
    sent: int = 0
    first_data: float | None = None  # time.time()
    last_250: float | None = None
    latencies: list[float] = field(default_factory=list)  # seconds, DATA -> 250
    reply_waits: list[float] = field(default_factory=list)
    error: str | None = None

    def run(self, start: threading.Barrier) -> None:
        smtp: smtplib.SMTP | None = None
        try:
            smtp = smtplib.SMTP(
                "127.0.0.1", self.port, local_hostname="bench.client.test", timeout=120
            )
            smtp.ehlo()
            start.wait()
            for mail in self.plan:
                raw = mail.raw
                if mail.parent is not None:
                    raw = raw.replace(TICKET_PLACEHOLDER, self._number_of(mail.parent).encode())
                code, answer = smtp.mail(mail.sender)
                if code != 250:
                    raise RuntimeError(f"MAIL FROM {mail.sender}: {code} {answer!r}")
                code, answer = smtp.rcpt(mail.rcpt)
                if code not in (250, 251):
                    raise RuntimeError(f"RCPT TO {mail.rcpt}: {code} {answer!r}")
                wall, t0 = time.time(), time.perf_counter()
                code, answer = smtp.data(raw)
                t1 = time.perf_counter()
                if code != 250:
                    raise RuntimeError(f"DATA of mail {mail.index}: {code} {answer!r}")
                if self.first_data is None:
                    self.first_data = wall
                self.last_250 = wall + (t1 - t0)
                self.latencies.append(t1 - t0)
                self.sent += 1
            smtp.quit()
        except Exception as exc:  # reported by the run; a lost message fails the benchmark
            self.error = f"{type(exc).__name__}: {exc}"
            start.abort()
            if smtp is not None:
                smtp.close()

    def _number_of(self, parent: Mail, timeout: float = 300) -> str:
        """The parent's ticket number; waits (and notes the wait) until the worker made it."""
        t0 = time.perf_counter()
        while True:
            number = self.db.ticket_number(parent.message_id, DESK_NAMES[parent.rcpt])
            if number is not None:
                self.reply_waits.append(time.perf_counter() - t0)
                return number
            if time.perf_counter() - t0 > timeout:
                raise RuntimeError(f"no ticket for {parent.message_id} after {timeout:.0f} s")
            time.sleep(0.005)


# -- one run ---------------------------------------------------------------------------------


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, -(-len(sorted_values) * q // 100))
    return sorted_values[int(rank) - 1]


def _timestamp(value: Any) -> float:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return float(value.timestamp())


def count_files(folder: Path, pattern: str) -> int:
    return sum(1 for p in folder.glob(pattern) if not p.name.startswith("."))


def run_once(
    n: int,
    clients: int,
    db_spec: str,
    relay: bool,
    keep: bool,
    timeout: float,
    workers: int = 1,
    desks: str = "foundation",
) -> dict[str, Any]:
    plans, mails = make_plans(n, clients)
    folder = Path(tempfile.mkdtemp(prefix=f"mailbot-bench-c{clients}-"))
    expected_new = sum(1 for m in mails if m.kind != "reply")
    db = Database(db_spec, folder, pool=clients + 4)
    port = free_port()
    outbox_dir = folder / "sent"
    relay_port = None
    catcher: subprocess.Popen[bytes] | None = None
    if relay:
        relay_port = free_port()
        outbox_dir = folder / "caught"
        catcher = subprocess.Popen(
            [sys.executable, str(CATCHER), str(relay_port), str(outbox_dir)],
            stdout=subprocess.DEVNULL,
            stderr=open(folder / "catcher.log", "wb"),  # noqa: SIM115
        )
    config = write_config(
        folder,
        db.url,
        port,
        relay_port,
        workers,
        shipped_desks(folder) if desks == "shipped" else FOUNDATION_DESKS,
    )
    strict = desks == "foundation"
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("MAILBOT_DATABASE_URL", "MAILBOT_RELAY_URL", "MAILBOT_CONFIG")
    }
    log_path = folder / "serve.log"
    serve = subprocess.Popen(
        [str(MAILBOT), "--config", str(config), "serve"],
        cwd=folder,
        env=env,
        stdout=open(log_path, "ab"),  # noqa: SIM115
        stderr=subprocess.STDOUT,
    )
    result: dict[str, Any] = {
        "clients": clients,
        "n": n,
        "db": db_spec.split(":")[0],
        "relay": relay,
        "folder": str(folder),
        "serve_pid": serve.pid,
    }
    problems: list[str] = []
    try:
        if catcher is not None and relay_port is not None:
            wait_for_port(relay_port, catcher, "the catcher (tests/catcher.py)")
        wait_for_port(port, serve, "mailbot serve")
        print(
            f"# clients={clients} n={n}: mailbot serve pid {serve.pid}, folder {folder}",
            file=sys.stderr,
            flush=True,
        )
        workers = [Client(plan, port, db) for plan in plans]
        timeline: list[dict[str, float]] = []
        stop_sampling = threading.Event()
        cpu0 = proc_status(serve.pid).get("cpu_ticks", 0)
        client_cpu0 = time.process_time()
        t_start = time.time()

        def sample() -> None:
            while not stop_sampling.is_set():
                status = proc_status(serve.pid)
                point: dict[str, float] = {
                    "t": time.time() - t_start,
                    "got_250": sum(w.sent for w in workers),
                    "rss_kb": status.get("VmRSS", 0),
                }
                with contextlib.suppress(Exception):  # a busy moment: skip this sample
                    point.update(db.counts())
                timeline.append(point)
                stop_sampling.wait(SAMPLE_EVERY)

        sampler = threading.Thread(target=sample, name="sampler", daemon=True)
        sampler.start()
        barrier = threading.Barrier(clients)
        threads = [
            threading.Thread(target=w.run, args=(barrier,), name=f"client{i}")
            for i, w in enumerate(workers)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        client_cpu = time.process_time() - client_cpu0
        errors = [w.error for w in workers if w.error]
        if errors:
            raise Failed("SMTP clients failed: " + "; ".join(errors))
        rss_all_sent = proc_status(serve.pid).get("VmRSS", 0)

        # Wait for the pipeline to drain: every item processed, every reply delivered.
        deadline = time.monotonic() + timeout
        while True:
            counts = db.counts()
            files = count_files(outbox_dir, "*.eml" if relay else "new/*")
            if strict:
                done = (
                    counts["spool"] == n
                    and counts["received"] == 0
                    and counts["outbox"] == expected_new
                    and counts["acked"] == expected_new
                    and files >= expected_new
                )
            else:  # rules may ask again or refuse: every reply queued must be delivered
                done = (
                    counts["spool"] == n
                    and counts["received"] == 0
                    and counts["pending"] == 0
                    and files >= counts["acked"]
                )
            if done or counts["failed"] or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        observed_done = time.time()
        stop_sampling.set()
        sampler.join()
        status = proc_status(serve.pid)
        if not done:
            raise Failed(
                f"not complete {timeout:.0f} s after the last 250 (or a reply failed): "
                f"{counts}, {files} files in {outbox_dir}; expected {n} spool items, "
                f"{expected_new} acknowledgements sent"
            )

        # Check what became of every message.
        outcomes = Counter(
            {
                f"{o}:{r}" if r else str(o): int(c)
                for o, r, c in db.rows(
                    "SELECT outcome, reason, count(*) FROM spool_item GROUP BY outcome, reason"
                )
            }
        )
        tickets = int(db.scalar("SELECT count(*) FROM ticket"))
        in_msgs = {
            mid: tid
            for mid, tid in db.rows(
                "SELECT message_id, ticket_id FROM message WHERE direction = 'in'"
            )
        }
        misthreaded = sum(
            1
            for m in mails
            if m.parent is not None
            and in_msgs.get(m.message_id) != in_msgs.get(m.parent.message_id)
        )
        # The end: the last acknowledgement delivered or the last item committed (a reply).
        last_done = max(
            _timestamp(v)
            for (v,) in db.rows(
                "SELECT max(sent_at) FROM outbox UNION ALL SELECT max(finished_at) FROM spool_item"
            )
        )
        if strict and files != expected_new:
            problems.append(f"{files} acknowledgement files, expected {expected_new}")
        if not strict and files != counts["acked"]:
            problems.append(f"{files} reply files, {counts['acked']} replies sent")
        if strict and tickets != expected_new:
            problems.append(f"{tickets} tickets, expected {expected_new}")
        if strict and outcomes.get("ticket", 0) != n:
            problems.append(f"outcomes {dict(outcomes)}, expected {n} x ticket")
        if len(in_msgs) + outcomes.get("quarantined", 0) != n and strict:
            problems.append(f"{len(in_msgs)} incoming message rows, expected {n}")
        if misthreaded:
            problems.append(f"{misthreaded} replies did not thread into their parent's ticket")

        first_data = min(w.first_data for w in workers if w.first_data is not None)
        last_250 = max(w.last_250 for w in workers if w.last_250 is not None)
        latencies = sorted(x * 1000 for w in workers for x in w.latencies)
        waits = [x for w in workers for x in w.reply_waits]
        rss_at = {}
        for pct in (25, 50, 75, 100):
            target = n * pct / 100
            point = next((p for p in timeline if p["got_250"] >= target), None)
            rss_at[pct] = (point["rss_kb"] if point and point["rss_kb"] else rss_all_sent) / 1024
        send_s = last_250 - first_data
        e2e_s = last_done - first_data
        result.update(
            {
                "mix": dict(Counter(m.kind for m in mails)),
                "charsets": dict(Counter(m.charset for m in mails)),
                "tickets": tickets,
                "replies_threaded": n - tickets,
                "dropped": sum(c for k, c in outcomes.items() if k.startswith("dropped")),
                "quarantined": sum(c for k, c in outcomes.items() if k.startswith("quarantined")),
                "acks_sent": counts["acked"],
                "ack_files": files,
                "send_phase_s": round(send_s, 3),
                "accept_rate_per_s": round(n / send_s, 1),
                "end_to_end_s": round(e2e_s, 3),
                "end_to_end_per_s": round(n / e2e_s, 1),
                "drain_after_last_250_s": round(last_done - last_250, 3),
                "observed_done_after_s": round(observed_done - first_data, 3),
                "data_to_250_ms": {
                    "p50": round(percentile(latencies, 50), 2),
                    "p95": round(percentile(latencies, 95), 2),
                    "p99": round(percentile(latencies, 99), 2),
                    "max": round(latencies[-1], 2),
                },
                "peak_rss_mb": round(status.get("VmHWM", 0) / 1024, 1),
                "rss_mb_at_sent_pct": {str(k): round(v, 1) for k, v in rss_at.items()},
                "rss_mb_at_end": round(status.get("VmRSS", 0) / 1024, 1),
                "serve_cpu_s": round(
                    (status.get("cpu_ticks", 0) - cpu0) / os.sysconf("SC_CLK_TCK"), 1
                ),
                "client_cpu_s": round(client_cpu, 1),
                "max_spool_backlog": max((int(p.get("received", 0)) for p in timeline), default=0),
                "max_outbox_pending": max((int(p.get("pending", 0)) for p in timeline), default=0),
                "replies_waited_for_parent": sum(1 for x in waits if x > 0.001),
                "reply_wait_total_s": round(sum(waits), 2),
                # the send phase minus the average time a client spent waiting for parents' tickets
                "accept_rate_without_waits_per_s": round(n / (send_s - sum(waits) / clients), 1),
                "timeline": [{k: round(v, 2) for k, v in p.items()} for p in timeline],
            }
        )
    except Failed as exc:
        problems.append(str(exc))
    finally:
        died = serve.poll()
        if died is None:
            serve.send_signal(signal.SIGTERM)
        elif not any("before listening" in p for p in problems):
            problems.append(f"mailbot serve died during the run (exit code {died})")
        try:
            code = serve.wait(timeout=30)
            if died is None and code != 0:
                problems.append(f"mailbot serve exited {code} after SIGTERM")
        except subprocess.TimeoutExpired:
            problems.append("mailbot serve did not stop within 30 s of SIGTERM; killed")
            serve.kill()
            serve.wait()
        if catcher is not None:
            catcher.terminate()
            catcher.wait(timeout=10)
        db.close(keep=keep or bool(problems))
    log_lines = log_path.read_text(errors="replace").splitlines()
    result["serve_log_lines"] = len(log_lines)
    result["problems"] = problems
    if problems:
        tail = "\n".join(log_lines[-20:])
        result["serve_log_tail"] = tail
    elif not keep:
        shutil.rmtree(folder, ignore_errors=True)
    return result


# -- output ----------------------------------------------------------------------------------


def report(r: dict[str, Any], timeline: bool) -> None:
    print(
        f"\n== clients={r['clients']} n={r['n']} db={r['db']} "
        f"outbound={'relay (tests/catcher.py)' if r['relay'] else 'maildir'}"
    )
    if "send_phase_s" not in r:
        print(f"   FAILED: {'; '.join(r['problems'])}\n   folder kept: {r['folder']}")
        if r.get("serve_log_tail"):
            print("   serve log (tail):\n" + r["serve_log_tail"])
        return
    lat = r["data_to_250_ms"]
    rss = r["rss_mb_at_sent_pct"]
    print(f"   mix: {r['mix']}  charsets: {r['charsets']}")
    print(
        f"   outcome: {r['tickets']} tickets, {r['replies_threaded']} replies threaded, "
        f"{r['dropped']} dropped, {r['quarantined']} quarantined; "
        f"{r['acks_sent']} acknowledgements sent, {r['ack_files']} delivered files"
    )
    print(
        f"   end to end: {r['end_to_end_s']:.2f} s first DATA -> last reply delivered "
        f"= {r['end_to_end_per_s']:.1f} msg/s"
    )
    print(
        f"   accept:     {r['send_phase_s']:.2f} s first DATA -> last 250 "
        f"= {r['accept_rate_per_s']:.1f} msg/s; pipeline drained "
        f"{r['drain_after_last_250_s']:.2f} s after the last 250"
    )
    print(
        f"   DATA->250 ms: p50 {lat['p50']:.2f}  p95 {lat['p95']:.2f}  p99 {lat['p99']:.2f}  "
        f"max {lat['max']:.2f}"
    )
    print(
        f"   serve RSS: peak (VmHWM) {r['peak_rss_mb']:.1f} MB; at 25/50/75/100 % sent "
        f"{rss['25']:.1f} / {rss['50']:.1f} / {rss['75']:.1f} / {rss['100']:.1f} MB; "
        f"at end {r['rss_mb_at_end']:.1f} MB"
    )
    print(
        f"   CPU: serve {r['serve_cpu_s']:.1f} s, benchmark clients {r['client_cpu_s']:.1f} s; "
        f"max backlog: {r['max_spool_backlog']} spool items received, "
        f"{r['max_outbox_pending']} outbox pending"
    )
    print(
        f"   replies: {r['replies_waited_for_parent']} waited for their parent's ticket "
        f"({r['reply_wait_total_s']:.2f} s in all; accept rate without those waits "
        f"{r['accept_rate_without_waits_per_s']:.1f} msg/s); "
        f"serve log lines: {r['serve_log_lines']}"
    )
    if r["problems"]:
        print(f"   FAILED: {'; '.join(r['problems'])}\n   folder kept: {r['folder']}")
    if timeline:
        print("   t(s)  got250  spool  received  outbox  pending  acked  rss(MB)")
        for p in r["timeline"]:
            print(
                f"   {p['t']:5.1f} {int(p['got_250']):7d} {int(p.get('spool', 0)):6d} "
                f"{int(p.get('received', 0)):9d} {int(p.get('outbox', 0)):7d} "
                f"{int(p.get('pending', 0)):8d} {int(p.get('acked', 0)):6d} "
                f"{p['rss_kb'] / 1024:8.1f}"
            )


def summary(results: list[dict[str, Any]]) -> None:
    print("\nclients      N   e2e msg/s  accept msg/s  p50 ms  p99 ms  max ms  peak RSS MB  ok")
    for r in results:
        if "send_phase_s" not in r:
            print(f"{r['clients']:7d} {r['n']:6d}   FAILED")
            continue
        lat = r["data_to_250_ms"]
        print(
            f"{r['clients']:7d} {r['n']:6d} {r['end_to_end_per_s']:11.1f} "
            f"{r['accept_rate_per_s']:13.1f} {lat['p50']:7.2f} {lat['p99']:7.2f} "
            f"{lat['max']:7.2f} {r['peak_rss_mb']:12.1f}  {'no' if r['problems'] else 'yes'}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=5000, help="messages per run (default 5000)")
    parser.add_argument(
        "--clients",
        default="1,8",
        help="comma-separated numbers of concurrent SMTP clients; one run each",
    )
    parser.add_argument(
        "--db",
        default="sqlite",
        help="'sqlite' (a file in the run's folder) or a postgresql+psycopg URL "
        "(a schema of its own is created and dropped)",
    )
    parser.add_argument(
        "--relay",
        action="store_true",
        help="send replies to tests/catcher.py over SMTP instead of the maildir",
    )
    parser.add_argument("--json", action="store_true", help="also print one JSON object per run")
    parser.add_argument(
        "--desks",
        choices=("foundation", "shipped"),
        default="foundation",
        help="foundation: the five addresses with the loop rule only (tests/desks);"
        " shipped: config/desks with every regulation rule",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes serve starts ([worker] processes; 0 = in-process)",
    )
    parser.add_argument(
        "--timeline",
        action="store_true",
        help="print the 0.5 s samples (sent, backlogs, RSS) of each run",
    )
    parser.add_argument("--keep", action="store_true", help="keep each run's temporary folder")
    parser.add_argument(
        "--timeout",
        type=float,
        default=600.0,
        help="seconds after the last 250 for everything to be processed and "
        "delivered before the run fails (default 600)",
    )
    args = parser.parse_args()
    if args.n < 10:
        parser.error("--n must be at least 10")
    if not MAILBOT.exists():
        parser.error(f"{MAILBOT} not found: run `make run` or install the package first")
    results = []
    for clients in (int(c) for c in args.clients.split(",")):
        result = run_once(
            args.n, clients, args.db, args.relay, args.keep, args.timeout, args.workers, args.desks
        )
        results.append(result)
        report(result, args.timeline)
        if args.json:
            print(
                json.dumps(
                    {k: v for k, v in result.items() if k != "timeline"}
                    | ({"timeline": result.get("timeline")} if args.timeline else {}),
                    ensure_ascii=False,
                )
            )
        sys.stdout.flush()
        if result["problems"]:
            break
    summary(results)
    return 1 if any(r["problems"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
