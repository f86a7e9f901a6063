"""Characters that look like the ones the sentences use, but are not.

Word processors and mail clients turn ``"`` into curly quotes (“ ”), put in non-breaking
spaces, long dashes and invisible characters, and a step typed twice over can have two spaces
in a row. The step looks right and matches no sentence. `normalise` gives the text as the
sentences write it; the plugin runs a step as normalised when only the normalised text is a
known sentence. `differences` names each such character of a line, with its column, for the
message of a step that still matches no sentence.
"""

from __future__ import annotations

import re
import unicodedata
from types import MappingProxyType

__all__ = ["differences", "normalise"]

# character -> what the sentences use instead ("" for nothing at all)
# curly double quotes, guillemets and the double prime; curly single quotes and the prime
_DOUBLE_QUOTES = MappingProxyType(dict.fromkeys("\u201c\u201d\u201e\u201f\u00ab\u00bb\u2033", '"'))
_SINGLE_QUOTES = MappingProxyType(dict.fromkeys("\u2018\u2019\u201a\u201b\u2032", '"'))
_SPACES = MappingProxyType(dict.fromkeys(
    "\t\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f"
    "\u205f\u3000", " "))
_INVISIBLE = MappingProxyType(dict.fromkeys("\u200b\u200c\u200d\u2060\ufeff\u00ad", ""))
_DASHES = MappingProxyType(dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2212", "-"))
_EXPECTED = MappingProxyType({**_DOUBLE_QUOTES, **_SINGLE_QUOTES, **_SPACES, **_INVISIBLE,
                              **_DASHES})

_WORDS = MappingProxyType({'"': 'the straight quote "', " ": "a plain space",
                           "-": "the hyphen -", "": "nothing (it is invisible; delete it)"})
_DOUBLED_RE = re.compile(r"(?<=\S)( {2,})(?=\S)")


def normalise(text: str) -> str:
    """`text` with curly quotes, odd spaces, long dashes and invisible characters replaced
    by what the sentences use, and runs of spaces made one.

    A single curly quote between two letters is an apostrophe (``mission\u2019s``) and stays.
    """
    out = []
    for index, char in enumerate(text):
        if char in _SINGLE_QUOTES and _between_letters(text, index):
            out.append(char)
        else:
            out.append(_EXPECTED.get(char, char))
    return re.sub(r" {2,}", " ", "".join(out)).strip()


def differences(line: str) -> list[str]:
    """Each character of `line` (a raw line of a feature file) that the sentences would not
    use, and each run of spaces, with its column (from 1) and what is used instead."""
    found: list[tuple[int, str]] = []
    body = len(line) - len(line.lstrip())  # the indentation is not part of the step
    for index, char in enumerate(line):
        if index < body or char not in _EXPECTED:
            continue
        if char in _SINGLE_QUOTES and _between_letters(line, index):
            continue
        found.append((index + 1, f"column {index + 1}: {_describe(char)}, where the sentences "
                                 f"use {_WORDS[_EXPECTED[char]]}"))
    first_word = re.match(r"\s*\S+\s+", line)
    start = first_word.end() if first_word else 0  # spaces after the keyword do not count
    for doubled in _DOUBLED_RE.finditer(line, start):
        found.append((doubled.start(1) + 1,
                      f"column {doubled.start(1) + 1}: {len(doubled.group(1))} spaces in a "
                      "row, where the sentences use one"))
    return [text for _, text in sorted(found)]


def _between_letters(text: str, index: int) -> bool:
    return 0 < index < len(text) - 1 and text[index - 1].isalpha() and text[index + 1].isalpha()


def _describe(char: str) -> str:
    name = unicodedata.name(char, f"U+{ord(char):04X}").lower()
    shown = f"'{char}' " if char.isprintable() and not char.isspace() else ""
    return f"{shown}({name}, U+{ord(char):04X})"
