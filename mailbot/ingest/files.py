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


def accept_file(spool: Spool, path: Path, max_size: int) -> FileAccepted:
    """Spool one file; a file that cannot be read or is too big is reported, not accepted."""
    try:
        size = path.stat().st_size
        if size > max_size:
            return FileAccepted(path, None, f"oversized: {size} bytes, the limit is {max_size}")
        raw = path.read_bytes()
    except OSError as exc:
        return FileAccepted(path, None, f"cannot read: {exc.strerror or exc}")
    return FileAccepted(path, spool.accept(raw, "file"))
