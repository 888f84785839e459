"""Evidence documents of deviation requests: read whole from the user's files (regular files of at
most 25 MiB, under a safe base name, with their SHA-256), stored in the database, and written back
only after every file's SHA-256 checks out."""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select

from poam.errors import InputError, OutputError, PoamError, UsageError, ValueRefused
from poam.store.tables import deviation_evidence

MAX_EVIDENCE = 25 * 1024 * 1024
MAX_FILES = 20


@dataclass(frozen=True)
class Evidence:
    name: str
    sha256: str
    size: int
    content: bytes = field(repr=False)

    def public(self) -> dict[str, object]:
        return {"name": self.name, "sha256": self.sha256, "size": self.size}


def safe_name(name: str) -> str | None:
    """A file's base name as stored and written back: printable, no path separator, not `.`/`..`,
    at most 255 characters; None when nothing usable is left."""
    cleaned = "".join(
        "_" if (not ch.isprintable() or ch in "/\\:" or 0xD800 <= ord(ch) <= 0xDFFF) else ch for ch in name
    ).strip()
    cleaned = cleaned.lstrip(".") or ""
    if not cleaned:
        return None
    if len(cleaned) > 255:
        stem, dot, ext = cleaned.rpartition(".")
        cleaned = (stem[: 255 - len(ext) - 1] + "." + ext) if dot and len(ext) < 20 else cleaned[:255]
    return cleaned


def read_files(paths: Sequence[Path | str]) -> list[Evidence]:
    """Read each evidence file whole (a regular file of at most 25 MiB): its safe base name, size and
    SHA-256. A missing file, a directory, a device, FIFO or socket, or a larger file is refused with
    one line naming it (exit 2); the path itself is never kept."""
    if len(paths) > MAX_FILES:
        raise ValueRefused(f"at most {MAX_FILES} --evidence files per request")
    out: list[Evidence] = []
    for given in paths:
        path = Path(given)
        source = str(path)
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            raise InputError(source, "no such file") from None
        except OSError as exc:
            raise InputError(source, f"cannot read: {exc.strerror}") from None
        if stat.S_ISLNK(st.st_mode):
            raise InputError(source, "is a symbolic link: give the file itself")
        if stat.S_ISDIR(st.st_mode):
            raise InputError(source, "is a directory, not a file")
        if not stat.S_ISREG(st.st_mode):
            raise InputError(source, "not a regular file (a device, FIFO or socket)")
        if st.st_size > MAX_EVIDENCE:
            raise InputError(source, f"larger than {MAX_EVIDENCE // (1024 * 1024)} MiB")
        try:
            # O_NONBLOCK: a file swapped for a FIFO after the check cannot hang the command
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
        except OSError as exc:
            raise InputError(source, f"cannot read: {exc.strerror}") from None
        with os.fdopen(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                raise InputError(source, "not a regular file (a device, FIFO or socket)")
            content = f.read(MAX_EVIDENCE + 1)
        if len(content) > MAX_EVIDENCE:
            raise InputError(source, f"larger than {MAX_EVIDENCE // (1024 * 1024)} MiB")
        name = safe_name(path.name)
        if name is None:
            raise InputError(source, "the file's name cannot be stored (nothing printable left)")
        if any(e.name == name for e in out):
            raise InputError(source, f"two evidence files are named {name!r}: rename one")
        out.append(Evidence(name, hashlib.sha256(content).hexdigest(), len(content), content))
    return out


def of_deviations(conn: Connection, ids: list[int]) -> dict[int, list[dict[str, object]]]:
    out: dict[int, list[dict[str, object]]] = {i: [] for i in ids}
    for start in range(0, len(ids), 500):
        for e in conn.execute(
            select(
                deviation_evidence.c.deviation_id,
                deviation_evidence.c.name,
                deviation_evidence.c.sha256,
                deviation_evidence.c.size,
            )
            .where(deviation_evidence.c.deviation_id.in_(ids[start : start + 500]))
            .order_by(deviation_evidence.c.id)
        ):
            out[e.deviation_id].append({"name": e.name, "sha256": e.sha256, "size": e.size})
    return out


def write_checked(files: Sequence[Any], out: Path, poam_id: str) -> list[Path]:
    """Write stored evidence rows into folder `out` under their safe names, each via a temporary file
    and a rename; nothing is written when one file's SHA-256 or size no longer matches."""
    checked: list[tuple[str, bytes]] = []
    for f in files:
        content = bytes(f.content)
        if hashlib.sha256(content).hexdigest() != f.sha256 or len(content) != f.size:
            raise PoamError(f"evidence {f.name!r} of {poam_id} does not match its recorded SHA-256: nothing written")
        name = safe_name(f.name) or f"evidence-{f.id}"
        if name in (n for n, _c in checked):
            name = f"{f.id}-{name}"
        checked.append((name, content))
    taken = [name for name, _c in checked if os.path.lexists(out / name)]
    if taken:  # never overwrite: the names come from whoever asked for the deviation
        raise UsageError(f"{out / taken[0]} already exists: write the evidence into an empty folder; nothing written")
    written: list[Path] = []
    for name, content in checked:
        target = out / name
        fd, tmp = tempfile.mkstemp(prefix=".poam-evidence-", dir=out)
        try:
            with os.fdopen(fd, "wb") as w:
                w.write(content)
            os.replace(tmp, target)  # replaces a link itself, never writes through it
        except OSError as exc:
            Path(tmp).unlink(missing_ok=True)
            problem = "disk full" if exc.errno == errno.ENOSPC else exc.strerror
            raise OutputError(f"{target}: cannot write: {problem}") from None
        written.append(target)
    return written
