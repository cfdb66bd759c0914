"""ingest.files: .eml files into the spool (used by `mailbot ingest`); touches the spool only."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mailbot.spool import Spool


@dataclass(frozen=True)
class FileAccepted:
    path: Path
    spool_id: str | None
    error: str | None = None


def read_file(path: Path, max_size: int) -> tuple[bytes | None, str | None]:
    """The file's bytes, or why they cannot be taken: size is checked before reading."""
    try:
        size = path.stat().st_size
        if size > max_size:
            return None, f"oversized: {size} bytes, the limit is {max_size}"
        return path.read_bytes(), None
    except OSError as exc:
        return None, f"cannot read: {exc.strerror or exc}"


def accept_file(spool: Spool, path: Path, max_size: int) -> FileAccepted:
    """Spool one file; a file that cannot be read or is too big is reported, not accepted."""
    raw, error = read_file(path, max_size)
    if raw is None:
        return FileAccepted(path, None, error)
    return FileAccepted(path, spool.accept(raw, "file"))
