"""Typed errors. One place at the edge (cli.py, the GUI) turns them into messages.

Every error a user can act on derives from :class:`PracticeClientError`; its ``str()``
is a single line, in German and English where the GUI shows it, naming the file
and the problem where there is one. Anything else that escapes is a bug.
"""

from __future__ import annotations

from pathlib import Path


class PracticeClientError(Exception):
    """An error the user can act on. ``str(err)`` is one line."""

    exit_code = 1


class InputError(PracticeClientError):
    """Bad input from a file: the message names the file and the problem."""

    def __init__(self, source: str | Path, problem: str) -> None:
        self.source = str(source)
        self.problem = " ".join(problem.split())  # one line, always
        super().__init__(f"{self.source}: {self.problem}")


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
