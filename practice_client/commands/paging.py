"""``--limit``, ``--since`` and ``--state`` for the commands that list what grows for years
(``outbox``, ``request list``, ``shares list``: newest first) or with the practice
(``patients list``: ``--limit`` only, in number order): a bounded page by default, so a
daily command costs the same in the first week and after five years."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from practice_client.core.errors import InputError
from practice_client.core.text import Text

DEFAULT_LIMIT = 100
T = TypeVar("T")


@dataclass(frozen=True)
class Paging:
    limit: int  # 0: all
    since: str | None  # UTC, "YYYY-MM-DDTHH:MM:SS", compared with the stored ISO times
    states: list[str] | None

    @property
    def fetch(self) -> int:
        """How many rows to read: one more than shown tells whether more exist (-1: all)."""
        return self.limit + 1 if self.limit else -1


def add_limit_option(parser: argparse.ArgumentParser, what: str, order: str = "newest first") -> None:
    parser.add_argument("--limit", type=int, default=DEFAULT_LIMIT, metavar="N",
                        help=f"at most N {what}, {order} (default {DEFAULT_LIMIT}; 0: all)")


def add_paging_options(parser: argparse.ArgumentParser, states: Iterable[str], what: str) -> None:
    add_limit_option(parser, what)
    parser.add_argument("--since", metavar="TIME",
                        help="only those since TIME: an ISO 8601 date or time (2026-11-01, 2026-11-01T08:00+01:00; "
                             "without a zone: this computer's)")
    parser.add_argument("--state", action="append", choices=sorted(states), metavar="STATE",
                        help=f"only those in this state (repeatable): {', '.join(sorted(states))}")


def paging(args: argparse.Namespace) -> Paging:
    """The options, checked before anything is opened: a one-line error otherwise."""
    limit = limit_of(args)
    return Paging(limit, _since(args.since) if args.since else None, args.state)


def limit_of(args: argparse.Namespace) -> int:
    if args.limit < 0:
        raise InputError("--limit", Text("muss 0 oder größer sein", "must be 0 or more"))
    return int(args.limit)


def _since(text: str) -> str:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        problem = Text(f"keine ISO-8601-Zeit: {text!r}", f"not an ISO 8601 date or time: {text!r}")
        raise InputError("--since", problem) from None
    if moment.tzinfo is None:
        moment = moment.astimezone()  # the practice's own clock
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def shown(rows: list[tuple[Any, T]], page: Paging, count: Callable[[], int]) -> tuple[list[T], int, bool]:
    """From the rows read (sort key, item): the items to show, how many match in all
    (counted only when the page does not hold them all) and whether more exist."""
    more = bool(page.limit) and len(rows) > page.limit
    items = [item for _key, item in rows[:page.limit or None]]
    return items, count() if more else len(items), more


def more_line(shown: int, total: int, options: str = "--limit, --since, --state", older: bool = True) -> str | None:
    """The text output's last line when the page does not hold everything (``older``: the
    list is newest first, so what is hidden is older)."""
    hidden = total - shown
    if hidden <= 0:
        return None
    de, en = ("ältere", "older") if older else ("weitere", "more")
    return f"… {hidden} {de} nicht gezeigt / {hidden} {en} not shown ({options})"
