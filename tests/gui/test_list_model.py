"""The list model's rules, on synthetic pages: the next page continues the list; a changed
row is updated in place, or moved where the order puts it (the selection follows it), or
inserted - unless it now lies beyond the loaded part, where a later page brings it; a
removed key leaves; a bulk change reads the list again; an answer to an older query is
dropped."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QPersistentModelIndex
from PySide6.QtWidgets import QApplication

from practice_client.gui.list_model import Column, ListModel
from practice_client.gui.viewmodels import Changes, ListKind, Page, PatientRow, Query, SortKey

QUERY = Query(ListKind.PATIENTS)


def row(number: int, name: str = "") -> PatientRow:
    key = f"{number:04d}"
    return PatientRow(key, name or f"Patient {number}", "1970-01-01", "", None, True, (len(key), key))


class Server:
    """Pages of a sorted list, as the data source answers them (synchronously here)."""

    def __init__(self, numbers: list[int]) -> None:
        self.rows = {n: row(n) for n in numbers}
        self.calls = 0
        self.held: list[Callable[[], None]] = []
        self.hold = False

    def load(self, query: Query, after: SortKey | None, done: Callable[[Page], None]) -> None:
        del query
        self.calls += 1
        ordered = [self.rows[n] for n in sorted(self.rows)]
        start = 0 if after is None else next((i for i, r in enumerate(ordered) if r.sort > after), len(ordered))
        page = Page(tuple(ordered[start:start + 3]), start + 3 < len(ordered), cursor=self.calls)
        if self.hold:
            self.held.append(lambda: done(page))
        else:
            done(page)


def model(server: Server) -> ListModel:
    loaded = ListModel(QUERY, [Column("Name", lambda r: r.name)], server.load)
    loaded.reload()
    return loaded


def keys(listed: ListModel) -> list[str]:
    return [r.key for r in listed.rows()]


def test_pages_continue_the_list(gui_app: QApplication) -> None:
    server = Server(list(range(1, 9)))
    listed = model(server)
    assert keys(listed) == ["0001", "0002", "0003"] and listed.canFetchMore()
    listed.fetchMore()
    listed.fetchMore()
    assert keys(listed) == [f"{n:04d}" for n in range(1, 9)] and not listed.canFetchMore()


def test_changes_update_move_insert_and_remove_in_place(gui_app: QApplication) -> None:
    server = Server([10, 20, 30, 40, 50, 60, 70])
    listed = model(server)
    listed.fetchMore()  # 10..60 loaded, 70 not yet
    selected = QPersistentModelIndex(listed.index(1, 0))  # 0020
    moved: list[int] = []
    listed.rowsMoved.connect(lambda *_args: moved.append(1))
    changes = Changes(cursor=99, rows=(row(30, "Renamed"), row(25), row(65), row(95)), removed=("0010",))
    listed.apply(listed.generation, changes)
    assert keys(listed) == ["0020", "0025", "0030", "0040", "0050", "0060"], "95 and 65 lie beyond: a page brings them"
    assert listed.get("0030").name == "Renamed"
    assert selected.isValid() and selected.row() == 0, "the selection follows its row"
    assert listed.cursor == 99
    # a row that moves within the loaded part keeps its identity (a move, not remove + insert)
    listed.apply(listed.generation, Changes(cursor=100, rows=(PatientRow("0020", "x", "", "", None, True,
                                                                          (4, "0055")),)))
    assert keys(listed)[:4] == ["0025", "0030", "0040", "0050"] and listed.row_of("0020") == 4 and moved
    assert selected.row() == 4


def test_a_bulk_change_reads_the_list_again_and_old_answers_are_dropped(gui_app: QApplication) -> None:
    server = Server(list(range(1, 10)))
    listed = model(server)
    calls = server.calls
    listed.apply(listed.generation, Changes(cursor=5, reset=True))
    assert server.calls == calls + 1 and keys(listed) == ["0001", "0002", "0003"]
    server.hold = True
    listed.fetchMore()  # its answer is late ...
    listed.set_query(Query(ListKind.PATIENTS, search="000"))  # ... the filter changed meanwhile
    stale, fresh = server.held
    fresh()
    stale()
    assert keys(listed) == ["0001", "0002", "0003"], "the answer to the older query is not applied"
    listed.apply(listed.generation - 1, Changes(cursor=7, rows=(row(2, "Old"),)))
    assert listed.get("0002").name != "Old"


def test_nothing_is_applied_before_the_first_page(gui_app: QApplication) -> None:
    server = Server([1])
    server.hold = True
    listed = model(server)
    listed.apply(listed.generation, Changes(cursor=3, rows=(row(1),)))
    assert listed.rowCount() == 0
