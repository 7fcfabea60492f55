"""Typed errors. One place at the edge (cli.py, the GUI) turns them into messages.

Every error a user can act on derives from :class:`PracticeClientError`. It carries a
:class:`~practice_client.core.text.Text` (German and English kept apart): the GUI
shows ``err.text.pick(language)``, the command line ``str(err)`` - one line, both
languages, naming the file and the problem where there is one. Anything else that
escapes is a bug.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from practice_client.core.text import Text, as_text


def _one_line(text: Text) -> Text:
    return Text(" ".join(text.de.split()), " ".join(text.en.split()))


class PracticeClientError(Exception):
    """An error the user can act on. ``str(err)`` is one line."""

    exit_code = 1

    def __init__(self, message: Text | str = "", *args: Any) -> None:
        self.text = as_text(message)
        super().__init__(str(self.text), *args)


class InputError(PracticeClientError):
    """Bad input from a file: the message names the file and the problem."""

    def __init__(self, source: str | Path, problem: Text | str) -> None:
        self.source = str(source)
        self.problem_text = _one_line(as_text(problem))  # one line, always
        self.problem = str(self.problem_text)
        super().__init__(self.problem_text.prefixed(f"{self.source}: "))
        self.args = (f"{self.source}: {self.problem}",)  # the file named once on the command line


def cannot_read(source: str | Path, exc: OSError) -> InputError:
    """The one line for a file the OS would not let us read."""
    problem = exc.strerror or exc
    return InputError(source, Text(f"kann nicht gelesen werden ({problem})", f"cannot be read ({problem})"))


class NotConfigured(PracticeClientError):
    """The client has not been set up yet (no config or no practice key)."""


class PolicyLocked(PracticeClientError):
    """A setting is fixed by the administrator's policy and cannot be changed."""


class SecretError(PracticeClientError):
    """The OS keyring is missing, locked, or lacks a secret we need."""


class KeyringLocked(SecretError):
    """The keyring exists but is locked: the user must unlock it (not a wrong password)."""


class CryptoError(PracticeClientError):
    """GnuPG refused an operation (status lines, not only the exit code, say so)."""


class TrustError(PracticeClientError):
    """A trust certificate or pin is not acceptable."""


class StateError(PracticeClientError):
    """An operation does not fit the current state (e.g. accept a declined request)."""


class NetworkError(PracticeClientError):
    """The platform could not be reached or answered with an error."""


class PlatformRefused(NetworkError):
    """The platform understood the request and refused it for good (a 4xx other than a
    token problem or "slow down"): asking again cannot help, so whatever waits on it
    must end with the platform's reason instead of retrying forever."""


class NotAvailable(PracticeClientError):
    """A command that this version does not provide yet."""

    exit_code = 2
