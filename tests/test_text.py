"""core.text: German and English kept apart - the command line shows both on one line,
the GUI one language, stored texts come back as they went in (and plain strings of
earlier versions read as the same in both languages)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from practice_client.core.errors import InputError, PracticeClientError
from practice_client.core.text import Text, as_text

MISSING = Text("der Ordner existiert nicht", "the folder does not exist")


def test_the_command_line_shows_both_german_first_and_the_gui_one() -> None:
    assert str(MISSING) == "der Ordner existiert nicht / the folder does not exist"
    assert MISSING.pick("de") == "der Ordner existiert nicht"
    assert MISSING.pick("en") == "the folder does not exist"
    assert MISSING.pick("fr") == "der Ordner existiert nicht", "anything else gets German"


def test_a_text_the_same_in_both_languages_is_shown_once() -> None:
    assert str(Text.same("10234_Befund.pdf")) == "10234_Befund.pdf"
    assert as_text("gpg could not decrypt") == Text.same("gpg could not decrypt")
    assert as_text(MISSING) is MISSING


def test_prefix_and_concatenation_apply_to_each_language() -> None:
    assert MISSING.prefixed("/srv/export: ") == Text("/srv/export: der Ordner existiert nicht",
                                                      "/srv/export: the folder does not exist")
    assert Text("a", "b") + Text("c", "d") == Text("ac", "bd")


@given(st.text(), st.text())
def test_stored_texts_come_back_unchanged(de: str, en: str) -> None:
    assert Text.decode(Text(de, en).encode()) == Text(de, en)


@pytest.mark.parametrize("stored", [
    "Plattform nicht erreichbar (Zeitüberschreitung nach 3 Versuchen)",  # stored by an earlier version
    "{not json",
    '{"de": "nur Deutsch"}',
    '["de", "en"]',
    '{"de": 1, "en": 2}',
    "",
])
def test_plain_or_foreign_stored_strings_read_as_the_same_in_both(stored: str) -> None:
    assert Text.decode(stored) == Text.same(stored)


def test_errors_keep_the_text_and_say_it_on_one_line() -> None:
    err = InputError("/srv/export/x.gdt", Text("Zeile 3:\nkaputt", "line 3:\nbroken"))
    assert err.text == Text("/srv/export/x.gdt: Zeile 3: kaputt", "/srv/export/x.gdt: line 3: broken")
    assert str(err) == "/srv/export/x.gdt: Zeile 3: kaputt / line 3: broken"
    assert "\n" not in str(err)
    assert PracticeClientError("plain").text == Text.same("plain")
