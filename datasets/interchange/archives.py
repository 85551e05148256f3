"""Check a folder of archives against what is expected, then extract them safely.

    python -m datasets.extract_archives ARCHIVE_DIR OUT_DIR [--manifest FILE]

Before anything is extracted: every expected archive (the manifest's, or every
archive in ARCHIVE_DIR) must be present, nothing unexpected may sit beside them,
sha256 sums in the manifest must match, and OUT_DIR must be absent or empty.
Each archive is then checked member by member and extracted in its own worker
process; a member with an absolute path, a `..` that leaves the output, a link
pointing outside it, a device file, or a name that appears twice (the second copy
would silently overwrite the first) is refused with its name. Before extracting,
the uncompressed sizes the archives declare are checked against two caps: the
expansion ratio of each archive (default 100: a 2 MB archive may not write 2 GiB)
and the total over the set (default 200 GB). Declared sizes bound what is written:
a tar member's size is its data, and a zip member is read up to its declared size.
Everything is extracted into a temporary folder that is renamed to OUT_DIR only
when all archives succeeded, so a failure leaves OUT_DIR as it was.

Manifest: one archive per line, either `name` or `sha256  name` (the format
`sha256sum` prints); `#` starts a comment.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import posixpath
import shutil
import stat
import sys
import tarfile
import zipfile
from dataclasses import dataclass

from tqdm import tqdm

from datasets.interchange.staged_directory import staged_directory

ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz", ".zip")
DEFAULT_MAX_EXPANSION_RATIO = 100.0
DEFAULT_MAX_EXTRACTED_BYTES = 200 * 10**9


class ArchiveError(ValueError):
    """An archive set or member that is refused; the message lists every reason."""


@dataclass(frozen=True)
class ExpectedArchive:
    name: str
    sha256: str | None = None


def is_archive(name: str) -> bool:
    """Whether the file name ends as an archive we extract does."""
    return name.lower().endswith(ARCHIVE_SUFFIXES)


def read_manifest(path: str) -> list[ExpectedArchive]:
    """The archives a manifest lists ('name' or 'sha256 name' per line, # comments); raises
    ArchiveError naming the line that is neither, or an empty manifest."""
    expected = []
    with open(path, encoding="utf-8") as handle:
        for number, raw in enumerate(handle, start=1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            parts = line.split()
            if len(parts) == 1:
                expected.append(ExpectedArchive(parts[0]))
            elif len(parts) == 2 and len(parts[0]) == 64:
                expected.append(ExpectedArchive(parts[1].lstrip("*"), parts[0].lower()))
            else:
                raise ArchiveError(f"{path}:{number}: expected 'name' or 'sha256  name'")
    if not expected:
        raise ArchiveError(f"manifest {path} lists no archives")
    return expected


def check_archive_set(
    archive_dir: str, manifest: str | None = None
) -> list[ExpectedArchive]:
    """The archives to extract, or ArchiveError naming what is missing or unexpected."""
    if not os.path.isdir(archive_dir):
        raise ArchiveError(f"archive folder {archive_dir} does not exist")
    present = {
        n for n in os.listdir(archive_dir)
        if not n.startswith(".") and os.path.isfile(os.path.join(archive_dir, n))
    }
    if manifest is not None:
        expected = read_manifest(manifest)
        present.discard(os.path.basename(manifest))
    else:
        expected = [ExpectedArchive(n) for n in sorted(present) if is_archive(n)]
        if not expected:
            raise ArchiveError(f"{archive_dir} holds no archives ({', '.join(ARCHIVE_SUFFIXES)})")
    names = [e.name for e in expected]
    problems = [f"missing archive {n}" for n in names if n not in present]
    problems += [f"unexpected file {n}" for n in sorted(present - set(names))]
    for item in expected:
        if item.sha256 and item.name in present:
            actual = _sha256(os.path.join(archive_dir, item.name))
            if actual != item.sha256:
                problems.append(f"{item.name}: sha256 {actual} differs from the manifest's")
    if problems:
        raise ArchiveError(f"{archive_dir}: " + "; ".join(problems))
    return expected


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _escapes(path: str) -> bool:
    """True when the archive-relative `path` leaves the archive root."""
    normal = posixpath.normpath(path)
    return normal == ".." or normal.startswith("../")


def declared_bytes(archive: str) -> int:
    """The uncompressed bytes an archive's members declare (read from its index)."""
    if archive.lower().endswith(".zip"):
        with zipfile.ZipFile(archive) as handle:
            return sum(info.file_size for info in handle.infolist())
    with tarfile.open(archive, "r:*") as handle:
        return sum(member.size for member in handle.getmembers() if member.isfile())


def _duplicates(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    for name in names:
        key = posixpath.normpath(name.replace("\\", "/"))
        seen[key] = seen.get(key, 0) + 1
    return [f"{name!r}: appears {count} times in the archive (a later copy would "
            "overwrite an earlier one)" for name, count in seen.items() if count > 1]


def unsafe_members(archive: str) -> list[str]:
    """One line per member that must not be extracted, with the reason."""
    refusals = []
    if archive.lower().endswith(".zip"):
        with zipfile.ZipFile(archive) as handle:
            infos = handle.infolist()
            refusals += _duplicates([i.filename for i in infos if not i.is_dir()])
            for info in infos:
                reason = _unsafe_path(info.filename)
                mode = info.external_attr >> 16
                if reason is None and stat.S_ISLNK(mode):
                    target = handle.read(info).decode("utf-8", "replace")
                    reason = _unsafe_link(info.filename, target)
                if reason:
                    refusals.append(f"{info.filename!r}: {reason}")
        return refusals
    with tarfile.open(archive, "r:*") as handle:
        members = handle.getmembers()
        refusals += _duplicates([m.name for m in members if not m.isdir()])
        for member in members:
            reason = _unsafe_path(member.name)
            if reason is None and member.issym():
                reason = _unsafe_link(member.name, member.linkname)
            elif reason is None and member.islnk():
                if member.linkname.startswith("/") or _escapes(member.linkname):
                    reason = f"hard link to {member.linkname!r} points outside the output"
            elif reason is None and not (member.isfile() or member.isdir()
                                         or member.issym() or member.islnk()):
                reason = "device, FIFO or other special file"
            if reason:
                refusals.append(f"{member.name!r}: {reason}")
    return refusals


def _unsafe_path(name: str) -> str | None:
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return "absolute path"
    if _escapes(name.replace("\\", "/")):
        return "path leaves the output directory through '..'"
    return None


def _unsafe_link(name: str, target: str) -> str | None:
    if target.startswith("/"):
        return f"symbolic link to absolute path {target!r}"
    if _escapes(posixpath.join(posixpath.dirname(name), target)):
        return f"symbolic link to {target!r} points outside the output"
    return None


def _extract_one(job: tuple[str, str]) -> tuple[str, str | None]:
    archive, destination = job
    name = os.path.basename(archive)
    try:
        refusals = unsafe_members(archive)
        if refusals:
            return name, "refused members: " + "; ".join(refusals)
        os.makedirs(destination)
        if archive.lower().endswith(".zip"):
            with zipfile.ZipFile(archive) as handle:
                handle.extractall(destination)
        else:
            with tarfile.open(archive, "r:*") as handle:
                handle.extractall(destination, filter="data")
    except (tarfile.TarError, zipfile.BadZipFile, OSError, EOFError) as exc:
        return name, f"cannot extract: {' '.join(str(exc).split()) or type(exc).__name__}"
    return name, None


def _check_sizes(archives: list[str], max_ratio: float, max_bytes: int) -> None:
    """The caps, from the sizes the archives declare, before anything is written."""
    problems, total = [], 0
    for archive in archives:
        try:
            declared = declared_bytes(archive)
        except (tarfile.TarError, zipfile.BadZipFile, OSError, EOFError) as exc:
            problems.append(f"{os.path.basename(archive)}: cannot read its index: "
                            f"{' '.join(str(exc).split()) or type(exc).__name__}")
            continue
        total += declared
        ratio = declared / max(os.path.getsize(archive), 1)
        if ratio > max_ratio:
            problems.append(f"{os.path.basename(archive)}: declares {declared:,} bytes, "
                            f"{ratio:,.0f}x its size (limit {max_ratio:g}x)")
    if total > max_bytes:
        problems.append(f"the archives declare {total:,} bytes in all (limit {max_bytes:,})")
    if problems:
        raise ArchiveError("nothing extracted: " + "; ".join(problems))


def _merge(source: str, target: str, root: str, archive: str, owners: dict[str, str]) -> None:
    """Move `source`'s tree into `target`; two archives writing one file is an error."""
    for entry in sorted(os.listdir(source)):
        src, dst = os.path.join(source, entry), os.path.join(target, entry)
        if os.path.isdir(src) and not os.path.islink(src) and os.path.isdir(dst):
            _merge(src, dst, root, archive, owners)
            continue
        if os.path.lexists(dst):
            owner = dst
            while owner not in owners and owner != root:
                owner = os.path.dirname(owner)
            raise ArchiveError(
                f"{owners.get(owner, 'another archive')} and {archive} both contain "
                f"{os.path.relpath(dst, root)}"
            )
        os.replace(src, dst)
        owners[dst] = archive


def extract_archives(
    archive_dir: str,
    out_dir: str,
    manifest: str | None = None,
    workers: int = 1,
    progress: bool = True,
    max_expansion_ratio: float = DEFAULT_MAX_EXPANSION_RATIO,
    max_extracted_bytes: int = DEFAULT_MAX_EXTRACTED_BYTES,
) -> list[str]:
    """Extract every expected archive into `out_dir`; returns the archive names."""
    expected = check_archive_set(archive_dir, manifest)
    _check_sizes([os.path.join(archive_dir, e.name) for e in expected], max_expansion_ratio,
                 max_extracted_bytes)
    with staged_directory(out_dir) as staging:
        parts = os.path.join(staging, ".parts")
        jobs = [
            (os.path.join(archive_dir, e.name), os.path.join(parts, str(i)))
            for i, e in enumerate(expected)
        ]
        context = multiprocessing.get_context("fork")
        errors: list[str] = []
        with context.Pool(max(1, min(workers, len(jobs)))) as pool, tqdm(
            total=len(jobs), unit="archive", desc="extract", disable=not progress,
            file=sys.stderr,
        ) as bar:
            for name, error in pool.imap_unordered(_extract_one, jobs):
                if error:
                    errors.append(f"{name}: {error}")
                bar.update(1)
        if errors:
            raise ArchiveError(f"{out_dir} left as it was: " + " | ".join(sorted(errors)))
        owners: dict[str, str] = {}
        for (archive, destination) in jobs:
            _merge(destination, staging, staging, os.path.basename(archive), owners)
        shutil.rmtree(parts)
    return [e.name for e in expected]
