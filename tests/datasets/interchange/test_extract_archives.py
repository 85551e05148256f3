"""extract_archives: the set checks, the member checks, and nothing half-done."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
import zipfile

import pytest

from datasets.interchange.archives import ArchiveError, extract_archives, unsafe_members
from tests.support.cli import run_module


def _tar(path, members: dict[str, bytes], links: dict[str, str] | None = None) -> None:
    with tarfile.open(path, "w:gz") as handle:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            handle.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            handle.addfile(info)


@pytest.fixture
def archives(tmp_path):
    folder = tmp_path / "archives"
    folder.mkdir()
    _tar(folder / "embryo_images.tar.gz", {"embryo/images/a.png": b"A", "embryo/b.png": b"B"})
    with zipfile.ZipFile(folder / "annotations.zip", "w") as handle:
        handle.writestr("embryo/annotations/a.txt", "label")
    return folder


def test_extracts_every_archive_into_one_tree(archives, tmp_path):
    out = tmp_path / "out"
    names = extract_archives(str(archives), str(out), workers=2, progress=False)
    assert sorted(names) == ["annotations.zip", "embryo_images.tar.gz"]
    assert (out / "embryo/images/a.png").read_bytes() == b"A"
    assert (out / "embryo/annotations/a.txt").read_text() == "label"
    assert sorted(os.listdir(out)) == ["embryo"]


def test_manifest_with_checksums(archives, tmp_path):
    digest = hashlib.sha256((archives / "annotations.zip").read_bytes()).hexdigest()
    manifest = tmp_path / "manifest.txt"
    manifest.write_text(f"# expected\n{digest}  annotations.zip\nembryo_images.tar.gz\n")
    extract_archives(str(archives), str(tmp_path / "out"), str(manifest), progress=False)
    manifest.write_text(f"{'0' * 64}  annotations.zip\nembryo_images.tar.gz\n")
    with pytest.raises(ArchiveError, match=r"sha256 .* differs"):
        extract_archives(str(archives), str(tmp_path / "out2"), str(manifest), progress=False)


def test_missing_archive_is_refused_before_extracting(archives, tmp_path):
    manifest = tmp_path / "manifest.txt"
    manifest.write_text("embryo_images.tar.gz\nannotations.zip\nembryo_part2.tar.gz\n")
    with pytest.raises(ArchiveError, match=r"missing archive embryo_part2.tar.gz"):
        extract_archives(str(archives), str(tmp_path / "out"), str(manifest), progress=False)
    assert not (tmp_path / "out").exists()


def test_unexpected_file_is_refused(archives, tmp_path):
    (archives / "notes.docx").write_bytes(b"x")
    with pytest.raises(ArchiveError, match=r"unexpected file notes.docx"):
        extract_archives(str(archives), str(tmp_path / "out"), progress=False)


def test_non_empty_target_is_refused_and_kept(archives, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not empty"):
        extract_archives(str(archives), str(out), progress=False)
    assert os.listdir(out) == ["keep.txt"]
    empty = tmp_path / "empty"
    empty.mkdir()
    extract_archives(str(archives), str(empty), progress=False)
    assert (empty / "embryo/b.png").exists()


@pytest.mark.parametrize(
    ("members", "links", "reason"),
    [
        ({"../escape.txt": b"x"}, None, "'..'"),
        ({"/etc/evil.txt": b"x"}, None, "absolute path"),
        ({"ok.txt": b"x"}, {"data/link": "../../outside"}, "points outside"),
        ({"ok.txt": b"x"}, {"data/abs": "/etc/passwd"}, "absolute path '/etc/passwd'"),
    ],
)
def test_escaping_members_are_refused_and_nothing_is_extracted(
    archives, tmp_path, members, links, reason
):
    _tar(archives / "crafted.tar.gz", members, links)
    out = tmp_path / "out"
    with pytest.raises(ArchiveError) as raised:
        extract_archives(str(archives), str(out), progress=False)
    assert "crafted.tar.gz" in str(raised.value) and reason in str(raised.value)
    assert not out.exists()
    assert not (tmp_path / "escape.txt").exists()
    assert not [n for n in os.listdir(tmp_path) if n.endswith(".partial")]


def test_zip_with_dotdot_member_is_refused(tmp_path):
    path = tmp_path / "bad.zip"
    with zipfile.ZipFile(path, "w") as handle:
        handle.writestr("a/../../evil.txt", "x")
    assert unsafe_members(str(path)) == [
        "'a/../../evil.txt': path leaves the output directory through '..'"
    ]


def test_two_archives_writing_one_file_is_an_error(archives, tmp_path):
    _tar(archives / "again.tar.gz", {"embryo/b.png": b"other"})
    out = tmp_path / "out"
    with pytest.raises(ArchiveError, match=r"both contain embryo/b.png"):
        extract_archives(str(archives), str(out), progress=False)
    assert not out.exists()


def test_cli_reports_one_line(archives, tmp_path):
    (archives / "stray.txt").write_text("x")
    result = run_module("datasets.extract_archives", str(archives), str(tmp_path / "out"))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: {archives}: unexpected file stray.txt"
    )
    os.remove(archives / "stray.txt")
    result = run_module("datasets.extract_archives", str(archives), str(tmp_path / "out"),
                        "--progress=false")
    assert result.returncode == 0, result.stderr
    assert "extracted 2 archive(s)" in result.stdout


def test_a_name_twice_in_one_archive_is_refused_by_name(tmp_path):
    folder = tmp_path / "archives"
    folder.mkdir()
    with tarfile.open(folder / "twice.tar.gz", "w:gz") as handle:
        for data in (b"first", b"second"):
            info = tarfile.TarInfo("scans/a.dcm")
            info.size = len(data)
            handle.addfile(info, io.BytesIO(data))
    with pytest.raises(ArchiveError, match=r"'scans/a.dcm': appears 2 times in the archive"):
        extract_archives(str(folder), str(tmp_path / "out"), progress=False)
    assert not (tmp_path / "out").exists()


def test_caps_on_expansion_and_total_size_come_before_any_write(archives, tmp_path):
    bomb_folder = tmp_path / "bombs"
    bomb_folder.mkdir()
    with zipfile.ZipFile(bomb_folder / "zeros.zip", "w", zipfile.ZIP_DEFLATED) as handle:
        handle.writestr("zeros.raw", b"\0" * 20_000_000)
    assert (bomb_folder / "zeros.zip").stat().st_size < 50_000
    with pytest.raises(ArchiveError, match=r"zeros.zip: declares 20,000,000 bytes, .*x its "
                                           r"size \(limit 100x\)"):
        extract_archives(str(bomb_folder), str(tmp_path / "out"), progress=False)
    assert not (tmp_path / "out").exists()
    extract_archives(str(bomb_folder), str(tmp_path / "allowed"), progress=False,
                     max_expansion_ratio=10_000)  # the cap is a flag, and only a cap
    assert (tmp_path / "allowed" / "zeros.raw").stat().st_size == 20_000_000
    with pytest.raises(ArchiveError, match=r"declare 7 bytes in all \(limit 3\)"):
        extract_archives(str(archives), str(tmp_path / "small"), progress=False,
                         max_extracted_bytes=3)
