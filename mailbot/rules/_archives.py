"""_archives: what a file is by its bytes, and what archives hold, opened with hard limits. Pure.

Customers rename `setup.exe` to `setup.pdf` and zip it twice to get it past mail filters, so
a name or a declared type proves nothing: only the bytes do. Archives are opened in memory,
never on disk, and an archive is only a promise about its contents: its directory can
declare a petabyte in a few kilobytes (42.zip), or declare a few bytes and hold a gigabyte.
So every container is judged first by what it declares (entry count, unpacked sizes,
compression ratio, nesting depth), and refused without being unpacked when that is already
too much; then its members are read in chunks with a hard cap, so a lying header cannot
take more memory or time than the limits allow. Whatever cannot be opened and checked
(encrypted, RAR, damaged) is reported as such: the caller decides what that means.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import struct
import tarfile
import uuid
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import IO, NamedTuple

import magic
import py7zr
import py7zr.exceptions
import py7zr.io

KIND_PE = "Windows executable"
KIND_MSI = "MSI installer"
KIND_APPX = "Windows installer"
KIND_ELF = "Linux executable"
KIND_LINUX_PACKAGE = "Linux package"
KIND_MACHO = "macOS executable"
KIND_DMG = "macOS disk image"
KIND_APK = "Android package"
KIND_IPA = "iOS app"
KIND_JAR = "Java archive"
KIND_ISO = "ISO disk image"
KIND_BOMB = "archive too large to inspect (possible zip bomb)"
KIND_ENCRYPTED = "encrypted archive"
KIND_UNINSPECTABLE = "archive that cannot be inspected"

CHUNK = 64 * 1024
RATIO_FLOOR = 1024 * 1024
"""Below this many unpacked bytes the ratio is not checked: 10 KB of spaces compress 500x
and harm nobody; a ratio only matters where the output is large."""

_MSI_CLSIDS = {
    uuid.UUID("000C1084-0000-0000-C000-000000000046"): "installer package",  # .msi, .msm
    uuid.UUID("000C1086-0000-0000-C000-000000000046"): "patch package",  # .msp
}
_OLE_MAGIC = bytes.fromhex("D0CF11E0A1B11AE1")
_OLE_FREE_LIMIT = 0xFFFFFFFA  # sector numbers from here on are markers, not sectors
_MACHO_THIN = {
    b"\xfe\xed\xfa\xce",
    b"\xfe\xed\xfa\xcf",
    b"\xce\xfa\xed\xfe",
    b"\xcf\xfa\xed\xfe",
}
_MACHO_FAT = {b"\xca\xfe\xba\xbe", b"\xca\xfe\xba\xbf"}
# CAFEBABE is also a Java class file; there the next word is the class version (>= 45),
# in a universal binary the number of architectures (file(1) draws the line at 30).
_MACHO_FAT_MAX_ARCHS = 30
_ZIP_HEADS = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
_ZIP_EOCD = b"PK\x05\x06"
_ZIP_DIRECTORY = b"PK\x01\x02"
_ZIP64_LOCATOR = b"PK\x06\x07"
_ZIP64_EOCD = b"PK\x06\x06"
_EOCD_SEARCH = 22 + 65535  # the end record plus the longest possible comment
_SEVENZIP = b"7z\xbc\xaf\x27\x1c"
_RAR = b"Rar!\x1a\x07"
_CAB = b"MSCF\x00\x00\x00\x00"
_GZIP = b"\x1f\x8b"
_BZIP2 = b"BZh"
_XZ = b"\xfd7zXZ\x00"
_ISO_OFFSETS = (0x8001, 0x8801, 0x9001)
_COMPRESSED_SUFFIXES = {".tgz": ".tar", ".tbz2": ".tar", ".tbz": ".tar", ".txz": ".tar"}


@dataclass(frozen=True)
class Limits:
    max_depth: int
    """Containers nested deeper than this are not opened (the file itself is depth 0)."""
    max_entries: int
    """Entries over all archives of one attachment."""
    max_unpacked_bytes: int
    """Bytes unpacked (declared, then actually read) over all archives of one attachment."""
    max_ratio: float
    """Unpacked / packed size of one entry (or one compressed stream)."""


@dataclass(frozen=True)
class Finding:
    kind: str
    """Short English kind, as the reply template shows it."""
    evidence: str
    """What in the bytes proves it, for the admin reading the quarantine."""
    path: tuple[str, ...] = ()
    """Member names from the outer file inward; empty when it is the file itself."""

    def within(self, member: str) -> Finding:
        return replace(self, path=(member or "(unnamed)", *self.path))


class Member(NamedTuple):
    """A file found inside a container: its name, its bytes, and whether it is an e-mail."""

    name: str
    data: bytes
    is_message: bool = False


MessageOpener = Callable[[bytes], Sequence[Member]]
"""Raw bytes of an enclosed e-mail -> its attachments (the caller owns mail parsing)."""


class _Damaged(Exception):
    """A container that says it is one but cannot be read to the end."""


class _Capped(py7zr.io.Py7zIO):
    """py7zr writes each member here; a member writing more than it declared is cut off."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.buffer = bytearray()

    def write(self, s: bytes | bytearray) -> int:
        if len(self.buffer) + len(s) > self.limit:
            raise _Damaged(f"a member unpacks to more than the {self.limit:,} bytes it declared")
        self.buffer += s
        return len(s)

    def read(self, size: int | None = None) -> bytes:
        return b""

    def seek(self, offset: int, whence: int = 0) -> int:
        return 0

    def flush(self) -> None:
        return None

    def size(self) -> int:
        return len(self.buffer)


class _CappedFactory(py7zr.io.WriterFactory):
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.products: dict[str, _Capped] = {}

    def create(self, filename: str) -> py7zr.io.Py7zIO:
        product = _Capped(self.limit)
        self.products[filename] = product
        return product


class Inspector:
    """One attachment's inspection: the limits are a budget shared by everything inside it."""

    def __init__(self, limits: Limits, open_message: MessageOpener | None = None) -> None:
        self.limits = limits
        self.open_message = open_message
        self.entries = 0
        self.unpacked = 0

    def inspect(self, data: bytes, name: str = "", *, is_message: bool = False) -> Finding | None:
        """The first thing in `data` that is, or hides, a program distributive; else None."""
        try:
            return self._item(Member(name, data, is_message), 0)
        except MemoryError:
            return Finding(KIND_BOMB, "ran out of memory while unpacking")
        except RecursionError:
            return Finding(KIND_BOMB, "nested too deeply to follow")

    # -- one item ------------------------------------------------------------------------

    def _item(self, item: Member, depth: int) -> Finding | None:
        if item.is_message:
            return self._message(item.data, depth)
        data = item.data
        found = leaf_kind(data)
        if found is not None:
            return found
        opener = self._container(data)
        if opener is None:
            return None
        kind, reader = opener
        try:
            return reader(data, item.name, depth)
        except (MemoryError, RecursionError):
            raise
        except _Damaged as exc:
            return Finding(KIND_UNINSPECTABLE, f"damaged {kind}: {exc}")
        except Exception as exc:  # hostile input finds crashes in any archive library
            return Finding(KIND_UNINSPECTABLE, f"damaged {kind}: {type(exc).__name__}: {exc}"[:300])

    def _container(
        self, data: bytes
    ) -> tuple[str, Callable[[bytes, str, int], Finding | None]] | None:
        head = data[:8]
        if head.startswith(_ZIP_HEADS):
            return "ZIP archive", self._zip
        if head.startswith(_SEVENZIP):
            return "7z archive", self._sevenzip
        if head.startswith(_RAR):
            return "RAR archive", self._unopenable
        if head.startswith(_CAB):
            return "cabinet archive", self._unopenable
        if head.startswith(_GZIP):
            return "gzip stream", self._gzip
        if head.startswith(_BZIP2) and data[4:10] in (b"1AY&SY", b"\x17rE8P\x90"):
            return "bzip2 stream", self._bzip2
        if head.startswith(_XZ):
            return "xz stream", self._xz
        if data[257:262] == b"ustar":
            return "tar archive", self._tar
        if _zip_end(data) is not None:
            # a ZIP appended to an image or PDF: zipfile reads it from its end record
            return "appended ZIP archive", self._zip
        return None

    # -- limits --------------------------------------------------------------------------

    def _count(self, entries: int, what: str) -> Finding | None:
        self.entries += entries
        if self.entries > self.limits.max_entries:
            return Finding(
                KIND_BOMB,
                f"{what} declares {entries:,} entries; with the others that is"
                f" {self.entries:,}, over the limit of {self.limits.max_entries:,}",
            )
        return None

    def _spend(self, size: int, what: str) -> Finding | None:
        self.unpacked += size
        if self.unpacked > self.limits.max_unpacked_bytes:
            return Finding(
                KIND_BOMB,
                f"{what} declares {size:,} bytes unpacked; with the rest that is"
                f" {self.unpacked:,}, over the limit of {self.limits.max_unpacked_bytes:,}",
            )
        return None

    def _ratio(self, unpacked: int, packed: int, what: str) -> Finding | None:
        if unpacked > RATIO_FLOOR and unpacked > self.limits.max_ratio * max(packed, 1):
            return Finding(
                KIND_BOMB,
                f"{what} expands {unpacked / max(packed, 1):,.0f} times ({packed:,} bytes to"
                f" {unpacked:,}), over the limit of {self.limits.max_ratio:g} times",
            )
        return None

    def _deep(self, depth: int, what: str) -> Finding | None:
        if depth >= self.limits.max_depth:
            return Finding(
                KIND_BOMB,
                f"{what} is nested more than {self.limits.max_depth} levels deep;"
                " it was not opened",
            )
        return None

    def _members(self, members: Sequence[Member], depth: int) -> Finding | None:
        for member in members:
            found = self._item(member, depth + 1)
            if found is not None:
                return found.within(member.name)
        return None

    # -- containers ----------------------------------------------------------------------

    def _unopenable(self, data: bytes, name: str, depth: int) -> Finding | None:
        what = "RAR archive" if data.startswith(_RAR) else "cabinet archive"
        return Finding(KIND_UNINSPECTABLE, f"{what}: its contents cannot be opened here")

    def _zip(self, data: bytes, name: str, depth: int) -> Finding | None:
        end = _zip_end(data)
        if end is not None:
            # the end record is read before zipfile builds its directory: a million entries
            # are refused for the count alone, not parsed first
            found = self._count(end[0], "ZIP archive")
            if found is not None:
                return found
        try:
            archive = zipfile.ZipFile(io.BytesIO(data))
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError) as exc:
            raise _Damaged(str(exc)) from exc
        with archive:
            infos = [i for i in archive.infolist() if not i.is_dir()]
            # zipfile reads the directory by its size, not its count: a count that lies low
            # is corrected here
            unseen = len(archive.infolist()) - (end[0] if end is not None else 0)
            if unseen > 0:
                found = self._count(unseen, "ZIP archive")
                if found is not None:
                    return found
            package = zip_package_kind([i.filename for i in archive.infolist()])
            if package is not None:
                return package
            locked = next((i for i in infos if i.flag_bits & 0x1), None)
            if locked is not None:
                return Finding(KIND_ENCRYPTED, f"ZIP entry {locked.filename} is password-protected")
            for info in infos:
                found = self._ratio(info.file_size, info.compress_size, "ZIP entry")
                if found is not None:
                    return found.within(info.filename)
            found = self._spend(sum(i.file_size for i in infos), "ZIP archive")
            if found is None and infos:
                found = self._deep(depth, "ZIP archive")
            if found is not None:
                return found
            for info in infos:
                with archive.open(info) as stream:
                    content = _read_capped(stream, info.file_size)
                if content is None:
                    raise _Damaged(f"entry {info.filename} holds more than it declares")
                found = self._members([Member(info.filename, content)], depth)
                if found is not None:
                    return found
        return None

    def _sevenzip(self, data: bytes, name: str, depth: int) -> Finding | None:
        remaining = self.limits.max_unpacked_bytes - self.unpacked
        try:
            archive = py7zr.SevenZipFile(io.BytesIO(data), max_extract_size=max(remaining, 0))
        except py7zr.exceptions.PasswordRequired:
            return Finding(KIND_ENCRYPTED, "7z archive with encrypted headers")
        with archive:
            files = [f for f in archive.list() if not f.is_directory]
            found = self._count(len(files), "7z archive")
            if found is not None:
                return found
            if archive.needs_password():
                return Finding(KIND_ENCRYPTED, "7z archive with password-protected contents")
            declared = sum(f.uncompressed for f in files)
            # solid archives compress members together: the ratio is the archive's
            found = self._ratio(declared, len(data), "7z archive") or self._spend(
                declared, "7z archive"
            )
            if found is None and files:
                found = self._deep(depth, "7z archive")
            if found is not None or not files:
                return found
            # py7zr stops each member at its declared size; the cap is a second guard
            factory = _CappedFactory(max(f.uncompressed for f in files))
            try:
                archive.extractall(factory=factory)
            except py7zr.exceptions.DecompressionBombError as exc:
                return Finding(KIND_BOMB, f"7z archive unpacks past what it declares: {exc}")
        members = [Member(n, bytes(p.buffer)) for n, p in factory.products.items()]
        factory.products.clear()
        return self._members(members, depth)

    def _tar(self, data: bytes, name: str, depth: int) -> Finding | None:
        try:
            archive = tarfile.open(fileobj=io.BytesIO(data), mode="r:")  # noqa: SIM115
        except tarfile.TarError as exc:
            raise _Damaged(str(exc)) from exc
        with archive:
            infos: list[tarfile.TarInfo] = []
            headers = 0
            while True:
                # headers one by one, so a tar of a million empty files stops at the limit
                info = archive.next()
                if info is None:
                    break
                headers += 1
                if self.entries + headers > self.limits.max_entries:
                    return self._count(headers, "tar archive")
                if info.isfile():
                    infos.append(info)
            self.entries += headers
            # members of a plain tar are slices of bytes already counted; only sparse
            # members grow when read
            found = self._spend(sum(i.size for i in infos if i.issparse()), "tar archive")
            if found is None and infos:
                found = self._deep(depth, "tar archive")
            if found is not None:
                return found
            for info in infos:
                stream = archive.extractfile(info)
                if stream is None:
                    continue
                with stream:
                    content = _read_capped(stream, info.size)
                if content is None:
                    raise _Damaged(f"entry {info.name} holds more than it declares")
                found = self._members([Member(info.name, content)], depth)
                if found is not None:
                    return found
        return None

    def _gzip(self, data: bytes, name: str, depth: int) -> Finding | None:
        # ISIZE, the last four bytes, declares the unpacked size (modulo 4 GiB): a first
        # check for free; the capped read below is what really holds
        declared = int.from_bytes(data[-4:], "little") if len(data) >= 18 else 0
        remaining = self.limits.max_unpacked_bytes - self.unpacked
        if declared > remaining:
            return self._spend(declared, "gzip stream")
        return self._stream(gzip.GzipFile(fileobj=io.BytesIO(data)), data, name, depth, "gzip")

    def _bzip2(self, data: bytes, name: str, depth: int) -> Finding | None:
        return self._stream(bz2.BZ2File(io.BytesIO(data)), data, name, depth, "bzip2")

    def _xz(self, data: bytes, name: str, depth: int) -> Finding | None:
        return self._stream(lzma.LZMAFile(io.BytesIO(data)), data, name, depth, "xz")

    def _stream(
        self, stream: io.BufferedIOBase, data: bytes, name: str, depth: int, what: str
    ) -> Finding | None:
        """One compressed stream: nothing declares its size, so the cap is the declaration."""
        found = self._deep(depth, f"{what} stream")
        if found is not None:
            return found
        remaining = self.limits.max_unpacked_bytes - self.unpacked
        by_ratio = max(RATIO_FLOOR, int(len(data) * self.limits.max_ratio))
        with stream:
            content = _read_capped(stream, min(remaining, by_ratio))
        if content is None:
            if by_ratio < remaining:
                return Finding(
                    KIND_BOMB,
                    f"{what} stream of {len(data):,} bytes expands more than"
                    f" {self.limits.max_ratio:g} times; stopped at {by_ratio:,} bytes",
                )
            return Finding(
                KIND_BOMB,
                f"{what} stream unpacks past the limit of"
                f" {self.limits.max_unpacked_bytes:,} bytes; stopped there",
            )
        self.unpacked += len(content)
        inner = _unsuffixed(name) or f"({what} contents)"
        return self._members([Member(inner, content)], depth)

    def _message(self, data: bytes, depth: int) -> Finding | None:
        if self.open_message is None:
            return None
        members = self.open_message(data)
        if not members:
            return None
        found = self._count(len(members), "enclosed e-mail") or self._deep(depth, "enclosed e-mail")
        if found is not None:
            return found
        return self._members(members, depth)


# -- leaf signatures -------------------------------------------------------------------------


def leaf_kind(data: bytes) -> Finding | None:
    """A program or installer recognised from its own bytes (not from what it contains)."""
    head = data[:8]
    if head.startswith(b"MZ"):
        return _mz(data)
    if head.startswith(b"\x7fELF") and data[4:5] in (b"\x01", b"\x02"):
        return Finding(KIND_ELF, "ELF header")
    if head[:4] in _MACHO_THIN:
        return Finding(KIND_MACHO, "Mach-O header")
    if head[:4] in _MACHO_FAT and len(data) >= 8:
        archs = struct.unpack(">I", data[4:8])[0]
        if 0 < archs <= _MACHO_FAT_MAX_ARCHS:
            return Finding(KIND_MACHO, f"Mach-O universal binary header ({archs} architectures)")
    if head.startswith(b"\xed\xab\xee\xdb"):
        return Finding(KIND_LINUX_PACKAGE, "RPM package lead")
    if head.startswith(b"!<arch>\n") and data[8:21] == b"debian-binary":
        return Finding(KIND_LINUX_PACKAGE, "Debian package: ar archive with debian-binary")
    if head.startswith(_OLE_MAGIC):
        return _ole(data)
    if len(data) >= 512 and data[-512:-508] == b"koly":
        return Finding(KIND_DMG, "UDIF 'koly' trailer")
    if head.startswith((b"encrcdsa", b"cdsaencr")):
        return Finding(KIND_DMG, "encrypted disk image header")
    for offset in _ISO_OFFSETS:
        if data[offset : offset + 5] == b"CD001":
            return Finding(KIND_ISO, f"ISO 9660 volume descriptor at {offset:#x}")
    return None


def _mz(data: bytes) -> Finding | None:
    if len(data) >= 0x40:
        offset = struct.unpack("<I", data[0x3C:0x40])[0]
        signature = data[offset : offset + 4]
        if signature == b"PE\x00\x00":
            return Finding(KIND_PE, f"PE header at {offset:#x}")
        if signature[:2] == b"NE":
            return Finding(KIND_PE, f"NE (16-bit Windows) header at {offset:#x}")
    described = _describe(data)
    if "executable" in described.lower() and "DOS" in described:
        return Finding(KIND_PE, f"libmagic: {described[:120]}")
    return None


def _ole(data: bytes) -> Finding | None:
    """Word, Excel and MSI are all OLE compound files; the root entry's class says which."""
    clsid = ole_root_clsid(data)
    if clsid in _MSI_CLSIDS:
        return Finding(KIND_MSI, f"OLE {_MSI_CLSIDS[clsid]}, root class {{{clsid}}}")
    described = _describe(data)
    if "MSI Installer" in described:
        return Finding(KIND_MSI, f"libmagic: {described[:120]}")
    return None


def ole_root_clsid(data: bytes) -> uuid.UUID | None:
    """The class id of an OLE compound file's root storage, when the header leads to it."""
    if len(data) < 512 or not data.startswith(_OLE_MAGIC):
        return None
    shift = struct.unpack("<H", data[0x1E:0x20])[0]
    first_dir = struct.unpack("<I", data[0x30:0x34])[0]
    if shift not in (9, 12) or first_dir >= _OLE_FREE_LIMIT:
        return None
    entry = (first_dir + 1) << shift
    if entry + 128 > len(data) or data[entry + 0x42] != 5:  # 5: the root storage
        return None
    return uuid.UUID(bytes_le=bytes(data[entry + 0x50 : entry + 0x60]))


def _describe(data: bytes) -> str:
    try:
        return str(magic.from_buffer(data, mime=False))
    except Exception:  # libmagic failing on odd bytes means "nothing more known"
        return ""


def zip_package_kind(names: Sequence[str]) -> Finding | None:
    """ZIP-based application packages, known by the entries their formats require.

    DOCX, XLSX and ODF files are ZIPs too; none of them has these entries.
    """
    present = set(names)
    if "AndroidManifest.xml" in present and any(
        n.startswith("classes") and n.endswith(".dex") and "/" not in n for n in present
    ):
        return Finding(KIND_APK, "ZIP with AndroidManifest.xml and classes.dex")
    if "base/manifest/AndroidManifest.xml" in present:
        return Finding(KIND_APK, "Android app bundle: base/manifest/AndroidManifest.xml")
    if "META-INF/MANIFEST.MF" in present and any(n.endswith(".class") for n in present):
        return Finding(KIND_JAR, "ZIP with META-INF/MANIFEST.MF and .class files")
    if any(n.startswith("Payload/") and ".app/" in n for n in present):
        return Finding(KIND_IPA, "ZIP with Payload/<name>.app/")
    if "AppxManifest.xml" in present or "AppxMetadata/AppxBundleManifest.xml" in present:
        return Finding(KIND_APPX, "MSIX/APPX package: ZIP with an AppxManifest")
    return None


def member_names(data: bytes, max_entries: int) -> list[str]:
    """The member names a ZIP or 7z archive lists in its directory, nothing unpacked.

    [] when it is neither, is damaged or locked, or lists more than `max_entries`: a caller
    asking what an archive holds (missing_fields looks for a database in one) learns nothing
    from an archive it cannot list cheaply, and the entry count is read from the end record
    before any directory is parsed, so a million declared entries cost nothing.
    """
    try:
        if data.startswith(_SEVENZIP):
            with py7zr.SevenZipFile(io.BytesIO(data)) as archive:
                names = [str(n) for n in archive.getnames()]
        else:
            end = _zip_end(data)
            if end is not None and end[0] > max_entries:
                return []
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                names = archive.namelist()
    except Exception:  # a damaged or locked archive lists nothing we can trust
        return []
    return names if len(names) <= max_entries else []


# -- helpers -----------------------------------------------------------------------------------


def _zip_end(data: bytes) -> tuple[int, int] | None:
    """(entries, directory size) as a ZIP's end record declares them; None if there is none.

    The record must point at a central directory header, so that four bytes which happen to
    read like an end record inside a PDF or a JPEG do not make it an archive.
    """
    at = data.rfind(_ZIP_EOCD, max(0, len(data) - _EOCD_SEARCH))
    if at < 0 or at + 22 > len(data):
        return None
    entries, size = struct.unpack("<HI", data[at + 10 : at + 16])
    directory = at - size
    if entries == 0xFFFF or size == 0xFFFFFFFF:
        record = at - 20 - 56
        if record < 0 or data[at - 20 : at - 16] != _ZIP64_LOCATOR:
            return None
        if data[record : record + 4] != _ZIP64_EOCD:
            return None
        entries, size = struct.unpack("<QQ", data[record + 32 : record + 48])
        directory = record - size
    if entries and (directory < 0 or data[directory : directory + 4] != _ZIP_DIRECTORY):
        return None
    return int(entries), int(size)


def _read_capped(stream: IO[bytes] | io.BufferedIOBase, limit: int) -> bytes | None:
    """At most `limit` bytes, read in chunks; None when the stream holds more."""
    limit = max(limit, 0)  # read(-n) would read everything
    buffer = bytearray()
    while True:
        chunk = stream.read(min(CHUNK, limit + 1 - len(buffer)))
        if not chunk:
            return bytes(buffer)
        buffer += chunk
        if len(buffer) > limit:
            return None


def _unsuffixed(name: str) -> str:
    lower = name.lower()
    for suffix, replacement in _COMPRESSED_SUFFIXES.items():
        if lower.endswith(suffix):
            return name[: -len(suffix)] + replacement
    for suffix in (".gz", ".bz2", ".xz"):
        if lower.endswith(suffix):
            return name[: -len(suffix)]
    return ""
