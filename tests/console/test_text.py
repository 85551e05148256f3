"""Printed text from data is inert: control characters become visible escapes."""

from __future__ import annotations

from console.errors import fail
from console.text import printable


def test_control_and_format_characters_are_escaped_and_the_rest_kept():
    assert printable("clear\x1b[2Jscreen") == "clear\\x1b[2Jscreen"
    assert printable("one\nforged line\r") == "one\\x0aforged line\\x0d"
    assert printable("right\u202eto-left") == "right\\u202eto-left"
    assert printable("Tête Müller 胸部 ok") == "Tête Müller 胸部 ok"


def test_a_one_line_error_stays_one_line(capsys):
    assert fail("bad name 'x\nerror: forged'\x1b]0;title\x07") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "\x1b" not in err and "\x07" not in err
