"""File names from data stay in their folder and never collide."""

from __future__ import annotations

import os

from files.safe_names import NameAllocator, safe_stem


def test_plain_names_are_kept():
    for name in ("1.2.840.113619.2.55.3.604688119", "SCD0000001", "img_00002", "a-b.c"):
        assert safe_stem(name) == name


def test_hostile_names_become_plain_and_distinct():
    hostile = ["../../x", "/etc/passwd", "a/b", "a_b", "a\\b", "..", ".", "", "x\x1b[2J",
               "line\nforged", "M\udcfcller", "." * 300, "a" * 500]
    stems = [safe_stem(name) for name in hostile]
    for name, stem in zip(hostile, stems, strict=True):
        assert os.path.basename(stem) == stem and stem not in (".", "..")
        assert not stem.startswith(".") and len(stem) <= 120, (name, stem)
        assert all(c.isalnum() or c in "._-" for c in stem), stem
    assert len(set(stems)) == len(stems)  # a_b stays a_b; a/b gets a digest
    assert safe_stem("a_b") == "a_b" and safe_stem("a/b") != "a_b"


def test_the_allocator_numbers_names_taken_in_the_same_output():
    names = NameAllocator()
    assert [names.allocate(n) for n in ("scan", "SCAN", "scan", "x/y")] == [
        "scan", "SCAN_2", "scan_3", safe_stem("x/y")]
