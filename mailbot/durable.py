"""durable: a file that is either whole on disk or absent, even across a power cut. Disk only.

The spool's promise ("accepted" means the bytes survive) and the maildir's (a reader never
sees half a mail) are the same sequence, and each step matters: bytes written to a
temporary name and fsynced, so the data is on disk before it has a name; renamed, so the
final name appears at once, whole; the folder fsynced, so the rename itself survives.
Skipping the last step is the classic loss: the file was written, but its name was not.
"""

from __future__ import annotations

import os
from pathlib import Path


def fsync_dir(path: Path) -> None:
    """Make the names in `path` (a file created, renamed or removed) survive a power cut."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
"""Mail bodies are personal data: only the user mailbot runs as may read what it stores."""


def make_private_dirs(path: Path) -> None:
    """Create `path` and any missing parents as 0700 (`mkdir(parents=True)` would make the
    parents 0755 whatever mode it is given). Folders that exist are left as the admin set them.
    """
    missing: list[Path] = []
    while not path.exists():
        missing.append(path)
        if path.parent == path:
            break
        path = path.parent
    for folder in reversed(missing):
        folder.mkdir(mode=PRIVATE_DIR, exist_ok=True)


def move_into_place(tmp: Path, final: Path, *, sync_folder: bool = True) -> None:
    """Rename a complete, fsynced `tmp` to `final` and fsync the folder; on failure `tmp` is
    removed (a temporary nobody will rename is only litter) and OSError raised."""
    try:
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if sync_folder:
        fsync_dir(final.parent)


def write_durably(
    final: Path, data: bytes, tmp: Path, mode: int = PRIVATE_FILE, *, sync_folder: bool = True
) -> None:
    """Write `data` to `tmp`, fsync it, rename it to `final`, fsync `final`'s folder.

    `sync_folder=False` is for a batch whose caller fsyncs each folder once after the last
    rename (`Spool.accept_many`); until then the names are not durable.

    `tmp` must be on the same file system as `final` (rename is atomic only there), and a
    name no other writer uses at the same time. OSError on any failure; then `final` is
    either absent or a complete earlier copy, never a partial one.
    """
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        try:
            view = memoryview(data)
            while view:  # os.write may write less than asked (a signal, a FUSE file system)
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
    except BaseException:
        tmp.unlink(missing_ok=True)  # a half-written temporary is no use to anyone
        raise
    move_into_place(tmp, final, sync_folder=sync_folder)
