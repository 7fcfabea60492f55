"""Texts for people, with German and English kept apart.

Staff read the desktop app in one language; the command line, logs of decisions and
the platform's records show both, German first. A text is therefore never written as
one pre-joined "Deutsch / English" string: it is a :class:`Text`, and each edge picks
what it needs - :meth:`Text.pick` for the GUI, ``str()`` for the command line.

Texts that outlive the process (a document's reason for staff, stored sealed in the
database) are kept as :meth:`Text.encode` and read back with :meth:`Text.decode`,
which also reads the plain strings earlier versions stored.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

LANGUAGES = ("de", "en")


@dataclass(frozen=True)
class Text:
    """One message in German and English."""

    de: str
    en: str

    @classmethod
    def same(cls, text: str) -> Text:
        """A text that reads the same in both languages (a file name, a number, a code)."""
        return cls(text, text)

    def __str__(self) -> str:
        """Both languages on one line, German first (the command line's convention)."""
        return self.de if self.de == self.en else f"{self.de} / {self.en}"

    def pick(self, language: str) -> str:
        """The text in ``language`` (``de`` or ``en``; anything else gets German)."""
        return self.en if language == "en" else self.de

    def prefixed(self, prefix: str) -> Text:
        """The same text after a prefix both languages share (a file name, an id)."""
        return Text(f"{prefix}{self.de}", f"{prefix}{self.en}")

    def __add__(self, other: Text) -> Text:
        return Text(self.de + other.de, self.en + other.en)

    def encode(self) -> str:
        """For storage: a JSON object with both languages."""
        return json.dumps({"de": self.de, "en": self.en}, ensure_ascii=False)

    @classmethod
    def decode(cls, stored: str) -> Text:
        """What :meth:`encode` wrote; a plain string (stored by an earlier version, or
        written in one language only) reads the same in both languages."""
        if stored.startswith("{"):
            try:
                data = json.loads(stored)
            except ValueError:
                return cls.same(stored)
            if isinstance(data, dict) and isinstance(data.get("de"), str) and isinstance(data.get("en"), str):
                return cls(data["de"], data["en"])
        return cls.same(stored)


def as_text(value: Text | str) -> Text:
    """A plain string (a message from a library, in English) as a text."""
    return value if isinstance(value, Text) else Text.same(value)
