"""Side by side with the peer: the same mails through django-helpdesk and through mailbot.

What it does (issue 12):

1. Installs django-helpdesk (default 2.6.1, else PyPI's newest) into a throw-away virtualenv
   under var/peer/ (git ignores var/; reused by later runs, --fresh-venv makes it again).
   Django and the helpdesk never enter mailbot's own virtualenv.
2. Writes a minimal Django project for it in a temporary folder (its own settings module, an
   SQLite file, the helpdesk's URLs, outgoing mail to files), runs its migrations once into a
   template database and creates one Queue `cb` for support@cleverbox.test whose
   email_box_type is 'local': `manage.py get_email` reads every file of a folder, makes a
   ticket or a follow-up of each and deletes the files it processed.
3. Writes the corpus once, one .eml file per mail, named in arrival order: mails to the
   shipped CleverBox desk (support@cleverbox.test: its twelve rules, every one of them runs),
   made by benchmarks/ingest.py's generator: plain text in UTF-8, KOI8-R and windows-1251
   (all declared; the two legacy charsets quoted-printable, see below), every eighth with a
   200 KB attachment, and one mail in five a customer's reply (In-Reply-To its parent).
4. Runs `manage.py get_email` and `mailbot ingest FOLDER` on copies of that folder,
   interleaved (peer, mailbot; then mailbot, peer; ...), --runs times each, each run on a
   fresh database (the peer's a copy of the migrated template; mailbot's made by
   `mailbot db upgrade`, neither timed) and a fresh folder.
5. A second corpus (--raw-mails): the same kind of mails, but the KOI8-R and windows-1251
   texts are raw 8-bit bytes whose charset is not declared (`text/plain` alone) or declared
   wrong (`us-ascii`, `utf-8`). Each system takes it once; the counts are printed.

What it prints, per system: msg/s (mails processed / wall seconds of the command, start-up
included; the median of the runs and their range), CPU milliseconds per mail (user +
system from wait4, start-up included: steadier than msg/s on a busy machine), the peak RSS
of the process tree (VmHWM of the command and its children, read from /proc every 50 ms:
wait4's ru_maxrss would count this benchmark's own memory), the mails left unprocessed, how
many tickets the mails made (replies that did not thread make extra tickets), how many
stored texts are readable Russian (a word of the body found in the stored text), and the
ratio mailbot/peer.
The start-up of each command (an empty folder) is printed once.

Unprocessed means, for mailbot: spool items not `done` (still `received`, or quarantined),
and mails that never reached the spool; for django-helpdesk: files left in its folder
(processed ones are deleted), checked against its follow-up rows (one per mail taken in).

django-helpdesk's local reader opens each file in text mode with the locale's encoding
(LC_ALL=C.UTF-8 is set here), outside its per-message error handling: one byte that is not
UTF-8 (a KOI8-R or windows-1251 text sent 8-bit, declared or not) raises UnicodeDecodeError,
the whole queue stops ("Queue processing failed") and every file not yet read stays. That
is why the legacy charsets of the first corpus are quoted-printable, and what the second
corpus shows. It reads the folder in os.listdir order (not arrival order), so some replies
come before their parents and open tickets of their own.

Exit status: 0 when mailbot processed every mail of every run, 1 when it left any mail
unprocessed, 2 when the peer could not be installed or set up.

Run (on an otherwise idle machine: the default takes tens of minutes on 2 cores; 2000 mails
took about 5 minutes per pair of runs on a busy one):
    .venv/bin/python benchmarks/peer.py --mails 200 --runs 1       # a quick look
    .venv/bin/python benchmarks/peer.py                            # 5000 mails, 3 runs
    .venv/bin/python benchmarks/peer.py --mails 2000 --json > peer.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest import (
    DESKS,
    REPO,
    TICKET_PLACEHOLDER,
    Mail,
    _new_mail,
    _reply,
    shipped_desks,
    write_config,
)

MAILBOT = REPO / ".venv" / "bin" / "mailbot"
PEER_PACKAGE = "django-helpdesk"
PEER_VERSION = "2.6.1"
PEER_VENV = REPO / "var" / "peer" / "venv"
DESK_INDEX = 4  # support@cleverbox.test in ingest.DESKS: the desk with the most rules
ADDRESS = DESKS[DESK_INDEX][0]
QUEUE_SLUG = "cb"
MARKER = "склада"  # a word of every new mail's Russian body (ingest.TEXTS["ru"])
WRONG_DECLARATIONS = [b"", b'; charset="us-ascii"', b'; charset="utf-8"']
NEW_MAIL_NOT = "%.r%"  # replies' Message-IDs are <bench.RUN.rI@...>, RUN is hex
SAMPLE_EVERY = 0.05


def log(*args: Any) -> None:
    print(*args, file=sys.stderr, flush=True)


# -- the corpora -----------------------------------------------------------------------------


def make_mails(n: int, run: str, legacy_cte: str) -> list[Mail]:
    """N mails to the CleverBox desk: ~80 % opening a ticket, ~20 % replies after them.

    Mail j of ingest's generator goes to DESKS[j % 5]: j = 5k + 4 is always CleverBox, and
    the charset then cycles UTF-8, KOI8-R, windows-1251 with k."""
    replies = n // 5
    fresh = [_new_mail(run, 5 * k + DESK_INDEX, legacy_cte) for k in range(n - replies)]
    mails = list(fresh)
    for r in range(replies):
        parent = fresh[(r * 7) % len(fresh)]
        if parent.kind == "multipart":  # as benchmarks/reprocess.py: reply to a plain one
            parent = fresh[((r * 7) % len(fresh)) - 1]
        reply = _reply(run, len(mails), parent, legacy_cte)
        # no ticket number in the subject: both systems thread by In-Reply-To
        reply.raw = reply.raw.replace(b"[" + TICKET_PLACEHOLDER + b"] ", b"")
        mails.append(reply)
    return mails


def undeclare(mail: Mail, k: int) -> bytes:
    """The mail with its legacy charset's declaration removed or made wrong (UTF-8 as is)."""
    if mail.charset == "utf-8":
        return mail.raw
    declared = f'; charset="{mail.charset}"'.encode()
    assert declared in mail.raw
    return mail.raw.replace(declared, WRONG_DECLARATIONS[k % len(WRONG_DECLARATIONS)])


def write_corpus(folder: Path, n: int, raw_8bit: bool) -> dict[str, Any]:
    """One file per mail, named in arrival order (mailbot reads a folder sorted by name)."""
    folder.mkdir(parents=True)
    run = uuid.uuid4().hex[:10]
    mails = make_mails(n, run, "8bit" if raw_8bit else "quoted-printable")
    for i, mail in enumerate(mails):
        raw = undeclare(mail, i) if raw_8bit else mail.raw
        (folder / f"{i:06d}.eml").write_bytes(raw)
    undeclared = sum(1 for m in mails if m.charset != "utf-8") if raw_8bit else 0
    return {
        "mails": len(mails),
        "new": sum(1 for m in mails if m.kind != "reply"),
        "replies": sum(1 for m in mails if m.kind == "reply"),
        "multipart": sum(1 for m in mails if m.kind == "multipart"),
        "charsets": dict(Counter(m.charset for m in mails)),
        "undeclared_8bit": undeclared,
        "megabytes": round(sum(p.stat().st_size for p in folder.iterdir()) / 1e6, 1),
    }


# -- measuring a command ---------------------------------------------------------------------


def _hwm_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def timed(
    cmd: list[str], cwd: Path, env: dict[str, str], out: Path
) -> tuple[float, float, float, int]:
    """(wall seconds, CPU seconds, peak RSS MB of the process tree, exit code) of a command.

    The peak is the largest sum of VmHWM over the command and its descendants, sampled
    every 50 ms (a high-water mark: only growth in a process's last 50 ms can be missed).
    CPU is user + system time from wait4 (the command and the children it waited for): on
    a busy machine the steadier figure."""
    peaks: dict[int, int] = {}
    best = 0
    with out.open("wb") as fh:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=fh, stderr=subprocess.STDOUT)
        root = psutil.Process(proc.pid)
        while True:
            with contextlib.suppress(psutil.Error):
                for p in [root, *root.children(recursive=True)]:
                    peaks[p.pid] = max(peaks.get(p.pid, 0), _hwm_kb(p.pid))
            best = max(best, sum(peaks.values()))
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            time.sleep(SAMPLE_EVERY)
        wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_utime + usage.ru_stime, best / 1024, proc.returncode


@dataclass
class Run:
    system: str
    corpus: str
    mails: int
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    peak_rss_mb: float = 0.0
    exit_code: int = 0
    processed: int = 0
    unprocessed: int = 0
    tickets: int = 0
    readable: int = 0
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.processed / self.seconds if self.seconds else 0.0

    @property
    def cpu_ms(self) -> float:
        """CPU milliseconds per mail processed, start-up included."""
        return self.cpu_seconds * 1000 / self.processed if self.processed else 0.0


# -- the peer: django-helpdesk ---------------------------------------------------------------

SETTINGS = """\
# Written by benchmarks/peer.py: the least a django-helpdesk needs to take mail in.
import os

SECRET_KEY = "peer-benchmark"
DEBUG = False
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.sites",
    "django.contrib.humanize",
    "rest_framework",
    "helpdesk",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
ROOT_URLCONF = "peer_urls"
SITE_ID = 1
USE_TZ = True
TIME_ZONE = "UTC"
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
STATIC_URL = "/static/"
DATABASES = {
    "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ["PEER_DB"]}
}
MEDIA_ROOT = os.environ["PEER_MEDIA"]
# replies to the customers go to files, as mailbot's go to outbox rows
EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
EMAIL_FILE_PATH = os.environ["PEER_SENT"]
DEFAULT_FROM_EMAIL = "support@cleverbox.test"
HELPDESK_TEAMS_MODE_ENABLED = False  # else it needs pinax-teams
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "ERROR"}}
"""

URLS = """\
from django.urls import include, path

urlpatterns = [path("helpdesk/", include("helpdesk.urls", namespace="helpdesk"))]
"""

MANAGE = """\
import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "peer_settings")
from django.core.management import execute_from_command_line

execute_from_command_line(sys.argv)
"""

MAKE_QUEUE = f"""\
from datetime import timedelta
from django.utils import timezone
from helpdesk.models import Queue
Queue.objects.create(
    title="CleverBox", slug="{QUEUE_SLUG}", email_address="{ADDRESS}",
    allow_email_submission=True, email_box_type="local", email_box_local_dir="/nonexistent",
    email_box_interval=0, logging_type="error", logging_dir="/nonexistent",
    # with a logging_dir, get_email does not default the last check: None + timedelta
    email_box_last_check=timezone.now() - timedelta(days=1),
)
"""


class Peer:
    def __init__(self, venv: Path, work: Path) -> None:
        self.venv = venv
        self.python = venv / "bin" / "python"
        self.project = work / "peer-project"
        self.template_db = work / "peer-template.sqlite3"
        self.version = ""
        self.django = ""

    def install(self, version: str, fresh: bool) -> None:
        stamp = self.venv / ".installed"
        if fresh and self.venv.exists():
            shutil.rmtree(self.venv)
        if not stamp.exists():
            log(f"# installing {PEER_PACKAGE} into {self.venv} (a minute or two)")
            shutil.rmtree(self.venv, ignore_errors=True)
            subprocess.run([sys.executable, "-m", "venv", str(self.venv)], check=True)
            pip = [
                str(self.python),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ]
            got = subprocess.run([*pip, f"{PEER_PACKAGE}=={version}"], capture_output=True)
            if got.returncode != 0:
                log(f"# {PEER_PACKAGE}=={version} not installable here; taking the newest")
                subprocess.run([*pip, PEER_PACKAGE], check=True, capture_output=True)
            stamp.touch()
        self.version = subprocess.run(
            [
                str(self.python),
                "-c",
                f"import importlib.metadata as m; print(m.version('{PEER_PACKAGE}'))",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        self.django = subprocess.run(
            [str(self.python), "-c", "import django; print(django.get_version())"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()

    def env(self, db: Path, media: Path, sent: Path) -> dict[str, str]:
        keep = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO", "PYTHON"))}
        return keep | {
            "DJANGO_SETTINGS_MODULE": "peer_settings",
            "PEER_DB": str(db),
            "PEER_MEDIA": str(media),
            "PEER_SENT": str(sent),
            "LC_ALL": "C.UTF-8",  # what get_email's open(..., "r") decodes with
            "PYTHONDONTWRITEBYTECODE": "1",
        }

    def set_up(self) -> None:
        """The project, its migrated template database and the queue."""
        self.project.mkdir(parents=True)
        (self.project / "peer_settings.py").write_text(SETTINGS)
        (self.project / "peer_urls.py").write_text(URLS)
        (self.project / "manage.py").write_text(MANAGE)
        scratch = self.project.parent / "peer-setup"
        env = self.env(self.template_db, scratch / "media", scratch / "sent")
        manage = [str(self.python), "manage.py"]
        for cmd in (
            [*manage, "migrate", "--no-input", "-v", "0"],
            [*manage, "shell", "-c", MAKE_QUEUE],
        ):
            got = subprocess.run(cmd, cwd=self.project, env=env, capture_output=True, text=True)
            if got.returncode != 0:
                raise RuntimeError(f"{' '.join(cmd[1:3])} failed:\n{got.stdout}{got.stderr}")

    def run(self, corpus: Path, folder: Path, name: str, expected_new: int) -> Run:
        inbox, media, sent, logs = (folder / d for d in ("inbox", "media", "sent", "logs"))
        shutil.copytree(corpus, inbox)
        for d in (media, sent, logs):
            d.mkdir(parents=True)
        db = folder / "helpdesk.sqlite3"
        shutil.copyfile(self.template_db, db)
        with contextlib.closing(sqlite3.connect(db)) as conn, conn:
            conn.execute(
                "UPDATE helpdesk_queue SET email_box_local_dir = ?, logging_dir = ?",
                (str(inbox), str(logs)),
            )
        mails = sum(1 for _ in inbox.iterdir())
        result = Run("django-helpdesk", name, mails)
        result.seconds, result.cpu_seconds, result.peak_rss_mb, result.exit_code = timed(
            [str(self.python), "manage.py", "get_email", "--quiet"],
            self.project,
            self.env(db, media, sent),
            folder / "get_email.out",
        )
        left = sum(1 for _ in inbox.iterdir())
        with contextlib.closing(sqlite3.connect(db)) as conn:
            followups = conn.execute("SELECT count(*) FROM helpdesk_followup").fetchone()[0]
            result.tickets = conn.execute("SELECT count(*) FROM helpdesk_ticket").fetchone()[0]
            result.readable = conn.execute(
                "SELECT count(*) FROM helpdesk_followup"
                " WHERE comment LIKE ? AND message_id NOT LIKE ?",
                (f"%{MARKER}%", NEW_MAIL_NOT),
            ).fetchone()[0]
        result.processed = mails - left
        result.unprocessed = left
        log_text = "\n".join(p.read_text(errors="replace") for p in logs.iterdir())
        failures = [ln for ln in log_text.splitlines() if "Queue processing failed" in ln]
        errors = [
            ln for ln in log_text.splitlines() if ln[:1].isalpha() and "Error" in ln.split(":")[0]
        ]
        result.detail = {
            "files_left": left,
            "followups": followups,
            "replies_threaded": followups - result.tickets,
            "expected_new_tickets": expected_new,
            "queue_failed": len(failures),
            "first_error": errors[0][:200] if errors else None,
            "attachments_refused": log_text.count("Unsupported file extension"),
            # Django's file backend: one file per connection, not per reply
            "mail_files": sum(1 for _ in sent.iterdir()),
        }
        return result


# -- mailbot ---------------------------------------------------------------------------------


def mailbot_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("MAILBOT_")}


def run_mailbot(corpus: Path, folder: Path, name: str, expected_new: int) -> Run:
    inbox = folder / "inbox"
    shutil.copytree(corpus, inbox)
    db = folder / "mailbot.db"
    config = write_config(folder, f"sqlite:///{db}", 2525, None, 1, shipped_desks(folder))
    env = mailbot_env()
    base = [str(MAILBOT), "--config", str(config)]
    subprocess.run([*base, "db", "upgrade"], cwd=folder, env=env, check=True, capture_output=True)
    mails = sum(1 for _ in inbox.iterdir())
    result = Run("mailbot", name, mails)
    out = folder / "ingest.out"
    result.seconds, result.cpu_seconds, result.peak_rss_mb, result.exit_code = timed(
        [*base, "ingest", str(inbox)], folder, env, out
    )
    lines = [json.loads(ln) for ln in out.read_text().splitlines() if ln.startswith("{")]
    with contextlib.closing(sqlite3.connect(db)) as conn:
        states = dict(
            conn.execute("SELECT state, count(*) FROM spool_item GROUP BY state").fetchall()
        )
        result.tickets = conn.execute("SELECT count(*) FROM ticket").fetchone()[0]
        incoming = conn.execute("SELECT count(*) FROM message WHERE direction = 'in'").fetchone()[0]
        result.readable = conn.execute(
            "SELECT count(*) FROM message"
            " WHERE direction = 'in' AND body_text LIKE ? AND message_id NOT LIKE ?",
            (f"%{MARKER}%", NEW_MAIL_NOT),
        ).fetchone()[0]
        outbox = conn.execute("SELECT count(*) FROM outbox").fetchone()[0]
    result.processed = states.get("done", 0)
    result.unprocessed = mails - result.processed
    result.detail = {
        "spool_states": states,
        "never_spooled": mails - sum(states.values()),
        "outcomes": dict(Counter(str(ln.get("outcome")) for ln in lines)),
        "reasons": dict(Counter(str(ln.get("reason")) for ln in lines if ln.get("reason"))),
        "incoming_messages": incoming,
        "replies_threaded": incoming - result.tickets,
        "expected_new_tickets": expected_new,
        "outbox_rows": outbox,
    }
    if result.exit_code != 0:
        result.detail["output_tail"] = out.read_text(errors="replace")[-600:]
    return result


# -- the report ------------------------------------------------------------------------------


def summarise(runs: list[Run]) -> dict[str, Any]:
    rates = [r.rate for r in runs]
    cpu = [r.cpu_ms for r in runs]
    return {
        "runs": len(runs),
        "msg_per_s_median": round(statistics.median(rates), 1),
        "msg_per_s_min": round(min(rates), 1),
        "msg_per_s_max": round(max(rates), 1),
        "cpu_ms_per_mail_median": round(statistics.median(cpu), 2),
        "cpu_ms_per_mail_min": round(min(cpu), 2),
        "cpu_ms_per_mail_max": round(max(cpu), 2),
        "peak_rss_mb_max": round(max(r.peak_rss_mb for r in runs), 1),
        "unprocessed_max": max(r.unprocessed for r in runs),
        "tickets": sorted({r.tickets for r in runs}),
        "readable": sorted({r.readable for r in runs}),
    }


def print_run(r: Run) -> None:
    d = r.detail
    print(
        f"  {r.system:15s} {r.corpus:4s} {r.seconds:7.1f} s {r.rate:7.1f} msg/s  "
        f"CPU {r.cpu_seconds:6.1f} s = {r.cpu_ms:5.1f} ms/mail  "
        f"peak RSS {r.peak_rss_mb:6.1f} MB  processed {r.processed}/{r.mails}, "
        f"unprocessed {r.unprocessed}; {r.tickets} tickets "
        f"({d['expected_new_tickets']} new mails), {d['replies_threaded']} replies threaded, "
        f"{r.readable} texts readable; exit {r.exit_code}"
    )
    if r.system == "mailbot":
        print(
            f"      spool {d['spool_states']}, outcomes {d['outcomes']}, "
            f"outbox rows {d['outbox_rows']}"
        )
        if d["reasons"]:
            print(f"      reasons {d['reasons']}")
    else:
        print(
            f"      files left {d['files_left']}, follow-ups {d['followups']}, "
            f"'Queue processing failed' x{d['queue_failed']}, "
            f"files its mail backend wrote {d['mail_files']}, "
            f"attachments refused {d['attachments_refused']}"
        )
        if d["first_error"]:
            print(f"      first error in its log: {d['first_error']}")
    sys.stdout.flush()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--mails", type=int, default=5000, help="mails in the corpus (default 5000)"
    )
    parser.add_argument("--runs", type=int, default=3, help="runs of each system (default 3)")
    parser.add_argument(
        "--raw-mails",
        type=int,
        default=300,
        help="mails in the corpus of undeclared 8-bit charsets (default 300; 0 skips it)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    parser.add_argument(
        "--peer-version", default=PEER_VERSION, help="django-helpdesk version to try first"
    )
    parser.add_argument(
        "--peer-venv", type=Path, default=PEER_VENV, help=f"its virtualenv (default {PEER_VENV})"
    )
    parser.add_argument(
        "--fresh-venv", action="store_true", help="make the peer's virtualenv again"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    if args.mails < 10 or args.runs < 1:
        parser.error("--mails must be at least 10 and --runs at least 1")
    if not MAILBOT.exists():
        parser.error(f"{MAILBOT} not found: run `make .venv/.installed` first")

    work = Path(tempfile.mkdtemp(prefix="mailbot-peer-"))
    log(f"# working in {work}")
    peer = Peer(args.peer_venv, work)
    try:
        peer.install(args.peer_version, args.fresh_venv)
        peer.set_up()
    except (subprocess.CalledProcessError, RuntimeError) as exc:
        log(f"the peer could not be installed or set up: {exc}")
        if isinstance(exc, subprocess.CalledProcessError):
            log(
                (exc.stdout or b"").decode(errors="replace")
                + (exc.stderr or b"").decode(errors="replace")
            )
        log(f"kept {work}")
        return 2
    log(f"# {PEER_PACKAGE} {peer.version} on Django {peer.django}")

    corpus = work / "corpus"
    info = write_corpus(corpus, args.mails, raw_8bit=False)
    log(f"# corpus: {info}")
    empty = work / "empty"
    empty.mkdir()
    started = {
        "django-helpdesk": peer.run(empty, work / "startup-peer", "empty", 0),
        "mailbot": run_mailbot(empty, work / "startup-mailbot", "empty", 0),
    }
    startup = {k: r.seconds for k, r in started.items()}
    startup_cpu = {k: r.cpu_seconds for k, r in started.items()}
    runs: list[Run] = []
    for i in range(args.runs):
        order = ("peer", "mailbot") if i % 2 == 0 else ("mailbot", "peer")
        for system in order:
            log(f"# run {i + 1}/{args.runs}: {system}")
            folder = work / f"run{i + 1}-{system}"
            if system == "peer":
                r = peer.run(corpus, folder, "main", info["new"])
            else:
                r = run_mailbot(corpus, folder, "main", info["new"])
            runs.append(r)
            if not args.json:
                print_run(r)
            shutil.rmtree(folder, ignore_errors=True)

    raw_runs: list[Run] = []
    raw_info: dict[str, Any] = {}
    if args.raw_mails:
        raw = work / "corpus-raw"
        raw_info = write_corpus(raw, args.raw_mails, raw_8bit=True)
        log(f"# raw 8-bit corpus: {raw_info}")
        raw_runs.append(peer.run(raw, work / "raw-peer", "raw", raw_info["new"]))
        raw_runs.append(run_mailbot(raw, work / "raw-mailbot", "raw", raw_info["new"]))
        if not args.json:
            for r in raw_runs:
                print_run(r)

    by_system = {
        name: summarise([r for r in runs if r.system == name])
        for name in ("django-helpdesk", "mailbot")
    }
    peer_s, bot_s = by_system["django-helpdesk"], by_system["mailbot"]
    ratio = {
        "msg_per_s": round(bot_s["msg_per_s_median"] / peer_s["msg_per_s_median"], 2)
        if peer_s["msg_per_s_median"]
        else None,
        "peak_rss": round(bot_s["peak_rss_mb_max"] / peer_s["peak_rss_mb_max"], 2),
        "cpu_ms_per_mail": round(
            bot_s["cpu_ms_per_mail_median"] / peer_s["cpu_ms_per_mail_median"], 2
        )
        if peer_s["cpu_ms_per_mail_median"]
        else None,
    }
    failed = [
        r for r in runs + raw_runs if r.system == "mailbot" and (r.unprocessed or r.exit_code)
    ]
    report = {
        "machine": {
            "host": platform.node(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        },
        "peer": f"{PEER_PACKAGE} {peer.version}, Django {peer.django}",
        "corpus": info,
        "raw_corpus": raw_info,
        "startup_s": {k: round(v, 2) for k, v in startup.items()},
        "startup_cpu_s": {k: round(v, 2) for k, v in startup_cpu.items()},
        "summary": by_system,
        "ratio_mailbot_over_peer": ratio,
        "runs": [
            asdict(r) | {"msg_per_s": round(r.rate, 1), "cpu_ms_per_mail": round(r.cpu_ms, 2)}
            for r in runs
        ],
        "raw_runs": [
            asdict(r) | {"msg_per_s": round(r.rate, 1), "cpu_ms_per_mail": round(r.cpu_ms, 2)}
            for r in raw_runs
        ],
        "mailbot_left_mail_unprocessed": bool(failed),
    }
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=1))
    else:
        print(
            f"\npeer: {report['peer']}; mailbot: {MAILBOT} ingest, desk cleverbox (all its rules); "
            f"{info['mails']} mails ({info['new']} new, {info['replies']} replies, "
            f"{info['multipart']} with a 200 KB attachment, {info['megabytes']} MB), "
            f"{args.runs} runs each, interleaved"
        )
        print(
            f"start-up (empty folder): django-helpdesk {startup['django-helpdesk']:.1f} s "
            f"(CPU {startup_cpu['django-helpdesk']:.1f} s), mailbot {startup['mailbot']:.1f} s "
            f"(CPU {startup_cpu['mailbot']:.1f} s); both included in every run's figures"
        )
        print(
            "\nsystem           msg/s median (range)   CPU ms/mail median (range)"
            "   peak RSS MB  unprocessed  tickets"
        )
        for name, s in by_system.items():
            rate_range = f"({s['msg_per_s_min']:.1f}-{s['msg_per_s_max']:.1f})"
            cpu_range = f"({s['cpu_ms_per_mail_min']:.1f}-{s['cpu_ms_per_mail_max']:.1f})"
            print(
                f"{name:16s} {s['msg_per_s_median']:6.1f} {rate_range:15s} "
                f"{s['cpu_ms_per_mail_median']:8.1f} {cpu_range:19s} "
                f"{s['peak_rss_mb_max']:11.1f}  {s['unprocessed_max']:11d}  {s['tickets']}"
            )
        print(
            f"ratio mailbot/peer: msg/s {ratio['msg_per_s']}, CPU per mail "
            f"{ratio['cpu_ms_per_mail']}, peak RSS {ratio['peak_rss']}"
        )
        for r in raw_runs:
            print(
                f"raw 8-bit corpus, {r.system}: {r.processed} processed, {r.unprocessed} "
                f"unprocessed of {r.mails} ({raw_info['undeclared_8bit']} with undeclared or wrong "
                f"charsets); {r.readable} of {raw_info['new']} new mails' texts readable"
            )
        print(f"load average at the end: {report['machine']['load_average_at_end']}")
    if failed:
        log(
            "FAIL: mailbot left mail unprocessed: "
            + "; ".join(f"{r.corpus}: {r.unprocessed}" for r in failed)
        )
    if args.keep or failed:
        log(f"kept {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
