"""Phone numbers as E.164: the one form in which a request's number, a trust
certificate's number and the PMS record are compared.

``phonenumbers`` with region DE, and ``is_valid_number`` rather than
``is_possible_number`` (which accepts truncated numbers such as "0171 123").
The distribution is ``phonenumberslite``: the same module and metadata, without the
geocoding, carrier and time-zone data (~40 MB) that nothing here uses - the client
compares numbers, it never describes where one is from.
"""

from __future__ import annotations

import phonenumbers

DEFAULT_REGION = "DE"


def normalize_phone(text: str, region: str = DEFAULT_REGION) -> str | None:
    """The number in E.164 (``+491711234567``), or None when it is not a valid number."""
    if not text or len(text) > 40:
        return None
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def is_e164(text: str) -> bool:
    """True when ``text`` is already a valid number written exactly in E.164."""
    return text.startswith("+") and normalize_phone(text) == text
