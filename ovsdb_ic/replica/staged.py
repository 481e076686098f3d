"""Applying a large batch in steps: :meth:`Replica.stage` returns a :class:`StagedApply`.

A monitor's initial copy of a big table is one batch of hundreds of thousands of
rows. Applying it in one call takes seconds, and a trio program that does so
cannot answer its server's inactivity probe meanwhile. A :class:`StagedApply`
does the same work in as many small steps as the caller wants, with the caller's
own code (an ``await trio.lowlevel.checkpoint()``) in between::

    staged = replica.stage(batch.updates, initial=batch.initial)
    while not staged.step(2000):
        await trio.lowlevel.checkpoint()
    changes = staged.commit()

The replica does not change while a batch is staged: every step only builds new
rows, change events and index entries off to the side, and :meth:`StagedApply.commit`
publishes all of them at once (a few dictionary merges and the index updates of
the changed rows), so readers see the batch either not at all or completely. A
step raises the same :class:`~ovsdb_ic.errors.RemoteProtocolError` as
:meth:`Replica.apply` for a batch that does not fit, and the replica stays as it
was; :meth:`StagedApply.abort` drops a staged batch. If the replica changes
while a batch is staged (another apply, reset or clear), the staged batch is stale
and its next step or commit raises :class:`StaleStageError`. Indexes added while a
batch is staged are filled at commit; removed ones are skipped.

The work of a step is counted in units: an update while the batch is read, then a
row for the later passes (comparing with the current rows, building change events,
computing index keys). A batch of N updates takes a few N units in all; ``step(n)``
stops after about n units.
"""

from __future__ import annotations

import operator
from collections import deque as _consume
from collections.abc import Generator, Iterable, Iterator, Sequence
from itertools import groupby, islice, repeat
from typing import TYPE_CHECKING, Any, Final, Literal, TypeAlias, TypeVar, cast, final

from ovsdb_ic.errors import LocalProtocolError, RemoteProtocolError
from ovsdb_ic.replica import _gc
from ovsdb_ic.replica.replica import (
    Change,
    TableView,
    _new_tuple,
    _Plan,
    _rows_of,
    _Stage,
    _stage_updates,
)
from ovsdb_ic.replica.rows import Row
from ovsdb_ic.wire.monitor import RowUpdate

if TYPE_CHECKING:
    from ovsdb_ic.replica.replica import Replica

__all__ = ["StagedApply", "StagedState", "StaleStageError"]

StagedState: TypeAlias = Literal["staging", "ready", "committed", "aborted", "failed"]
"""Where a :class:`StagedApply` is: ``staging`` (steps to go), ``ready`` (only the
commit is left), ``committed``, ``aborted`` (or stale), ``failed`` (a step raised)."""

_FULL_COPY_KINDS: Final = frozenset({"initial", "insert"})
_table_of = operator.itemgetter(0)
_uuid_of = operator.itemgetter(1)
_kind_of = operator.itemgetter(2)
_new_of = operator.itemgetter(3)
_int_of = operator.attrgetter("int")
_row_uuid = operator.attrgetter("uuid")

_Work: TypeAlias = Generator[None, None, None]
_T = TypeVar("_T")


class StaleStageError(LocalProtocolError):
    """The replica changed while a batch was staged: the staged work no longer applies.

    Stage the batch again (or apply it) against the replica as it is now.
    """


@final
class StagedApply:
    """A batch being applied to a :class:`~ovsdb_ic.replica.Replica` in steps.

    Made by :meth:`Replica.stage`. Call :meth:`step` until it returns ``True``
    (or :attr:`done` is true), then :meth:`commit`; or :meth:`abort`. Used as a
    context manager, it is aborted on leaving the block unless committed.
    See the module documentation.
    """

    __slots__ = (
        "_changes",
        "_drop_done",
        "_gen",
        "_left",
        "_marker",
        "_plans",
        "_processed",
        "_replica",
        "_state",
        "_total",
        "_updates",
        "initial",
    )

    initial: bool
    """Whether the batch is a full copy (:meth:`Replica.reset` semantics)."""

    def __init__(self, replica: Replica, updates: Sequence[RowUpdate], *, initial: bool,
                 consume: bool = False) -> None:
        """Stage ``updates`` for ``replica``; use :meth:`Replica.stage` rather than this."""
        self._replica = replica
        self._updates = updates
        self._drop_done = consume and type(updates) is list
        self._total = len(updates)
        self.initial = initial
        self._marker = _marker(replica)
        self._changes: list[Change] = []
        self._plans: list[_Plan] = []
        self._processed = 0
        self._left = 0
        self._state: StagedState = "staging"
        self._gen: _Work | None = self._work_full_copy() if initial else self._work_transaction()

    # ------------------------------------------------------------------ progress

    @property
    def state(self) -> StagedState:
        """Where the staged batch is (see :data:`StagedState`)."""
        return self._state

    @property
    def done(self) -> bool:
        """True once every step is done and only :meth:`commit` is left."""
        return self._state == "ready"

    @property
    def total(self) -> int:
        """The number of updates in the batch."""
        return self._total

    @property
    def processed(self) -> int:
        """How many of the batch's updates have been read so far."""
        return self._processed

    def __repr__(self) -> str:
        kind = "full copy" if self.initial else "transaction"
        return (f"<StagedApply {kind} of {self.total} updates: {self._state}, "
                f"{self._processed} read>")

    # ------------------------------------------------------------------ driving

    def step(self, n: int = 1000) -> bool:
        """Do about ``n`` more units of work; return :attr:`done`.

        Raises :class:`~ovsdb_ic.errors.RemoteProtocolError` (and the staged batch
        is then ``failed``) when the batch does not fit the replica,
        :class:`StaleStageError` when the replica changed since :meth:`Replica.stage`,
        and :class:`~ovsdb_ic.errors.LocalProtocolError` after :meth:`commit`
        or :meth:`abort`.
        """
        if n < 1:
            raise ValueError(f"step needs a positive amount of work, not {n}")
        if self._state == "ready":
            self._check_fresh()
            return True
        if self._state != "staging":
            raise LocalProtocolError(f"this staged apply is {self._state}; it cannot step")
        self._check_fresh()
        gen = self._gen
        assert gen is not None
        self._left = n
        with _gc.paused():
            try:
                next(gen)
            except StopIteration:
                self._state = "ready"
                self._gen = None
                self._updates = ()
            except BaseException:
                self._fail()
                raise
        return self._state == "ready"

    def commit(self) -> list[Change]:
        """Finish any remaining steps, publish the batch at once and return its changes.

        The changes, the replica's rows, indexes and counters are then exactly
        what :meth:`Replica.apply` (or :meth:`Replica.reset` for a full copy)
        would have produced. Raises like :meth:`step`.
        """
        while self._state == "staging":
            self.step(1 << 62)
        if self._state != "ready":
            raise LocalProtocolError(f"this staged apply is {self._state}; it cannot commit")
        self._check_fresh()
        replica, changes, plans = self._replica, self._changes, self._plans
        big = len(changes) >= 2000
        with _gc.paused(big, promote=big):
            replica._publish(plans, changes, late_indexes=True)
        replica._txn_count += 1
        self._state = "committed"
        self._changes, self._plans = [], []
        return changes

    def abort(self) -> None:
        """Drop the staged batch (the replica never saw it). Does nothing once finished."""
        if self._state in ("staging", "ready"):
            self._state = "aborted"
            self._release()

    def __enter__(self) -> StagedApply:
        """Use as a context manager: aborted on exit unless committed."""
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Abort unless committed."""
        self.abort()

    # ------------------------------------------------------------------ internals

    def _check_fresh(self) -> None:
        if _marker(self._replica) != self._marker:
            self._state = "aborted"
            self._release()
            raise StaleStageError(
                "the replica changed while a batch was staged (another apply, reset or "
                "clear); stage the batch again"
            )

    def _fail(self) -> None:
        self._state = "failed"
        self._release()

    def _release(self) -> None:
        gen, self._gen = self._gen, None
        if gen is not None:
            gen.close()
        self._updates = ()
        self._changes, self._plans = [], []

    def _chunks(self, items: Iterable[_T]) -> Iterator[list[_T]]:
        """Lists of the next ``items``, each as long as the step's remaining budget.

        The caller counts what it did with :meth:`_spend` and yields when that
        says the budget is spent.
        """
        it = iter(items)
        while chunk := list(islice(it, max(self._left, 1))):
            yield chunk

    def _spans(self, total: int) -> Iterator[tuple[int, int]]:
        """``(lo, hi)`` index ranges over ``total`` items, sized as :meth:`_chunks`."""
        lo = 0
        while lo < total:
            hi = min(total, lo + max(self._left, 1))
            yield lo, hi
            lo = hi

    def _spend(self, n: int) -> bool:
        """Count ``n`` units done; True when the step's budget is spent (yield then)."""
        self._left -= n
        return self._left <= 0

    # A transaction (Replica.apply semantics) ---------------------------------

    def _work_transaction(self) -> _Work:
        tables = self._replica._tables
        stages: dict[str, _Stage] = {}
        for chunk in self._chunks(self._updates):
            _stage_updates(tables, stages, chunk)
            self._processed += len(chunk)
            if self._spend(len(chunk)):
                yield
        for st in stages.values():
            yield from self._prepare(st)

    # A full copy (Replica.reset semantics) -----------------------------------

    def _work_full_copy(self) -> _Work:
        replica = self._replica
        tables = replica._tables
        fresh: dict[str, dict[int, Row]] = {name: {} for name in tables}
        updates = self._updates
        for chunk in self._chunks(updates):
            for table, run in groupby(chunk, _table_of):
                view = tables.get(table)
                if view is None:
                    raise RemoteProtocolError(
                        f"update names table {table!r}, which the replica does not hold"
                    )
                _build_run(view, fresh[table], list(run), self._drop_done)
            done, n = self._processed, len(chunk)
            self._processed += n
            if self._drop_done:
                # Let the decoded updates go now that their rows are built: the memory
                # they free is reused by the next rows (the peak stays lower).
                del chunk
                cast("list[Any]", updates)[done:done + n] = repeat(None, n)
            if self._spend(n):
                yield
        for name, view in tables.items():
            new_rows = fresh[name]
            if not view._rows:
                yield from self._prepare_inserts(view, new_rows)
                continue
            st = _Stage(view)
            rows = view._rows
            origs, news = st.origs, st.news
            for pairs in self._chunks(new_rows.items()):
                for key, new in pairs:
                    old = rows.get(key)
                    if old is None or old._values != new._values:
                        origs[key] = old
                        news[key] = new
                if self._spend(len(pairs)):
                    yield
            for pairs in self._chunks(rows.items()):
                for key, old in pairs:
                    if key not in new_rows:
                        origs[key] = old
                        news[key] = None
                if self._spend(len(pairs)):
                    yield
            fresh[name] = {}
            yield from self._prepare(st)

    # Changes and index keys ----------------------------------------------------

    def _prepare(self, st: _Stage) -> _Work:
        """As ``replica._prepare``, in steps: the changes and index keys of one table."""
        name = st.view.name
        origs, initial = st.origs, st.initial
        olds: list[Row | None] = []
        news: list[Row | None] = []
        add_old, add_new = olds.append, news.append
        add_change = self._changes.append
        for chunk in self._chunks(st.news.items()):
            for key, new in chunk:
                orig = origs[key]
                if new is None:
                    if orig is None:
                        continue
                    add_change(_new_tuple(Change, (name, "delete", orig.uuid, orig, None,
                                                   False)))
                elif orig is None:
                    add_change(_new_tuple(Change, (name, "insert", new.uuid, None, new,
                                                   key in initial)))
                elif orig._values == new._values:
                    continue
                else:
                    add_change(_new_tuple(Change, (name, "modify", new.uuid, orig, new,
                                                   False)))
                add_old(orig)
                add_new(new)
            if self._spend(len(chunk)):
                yield
        if not news:
            return
        plan = _Plan(st.view, olds, news)
        for ix in st.view._indexes.values():
            oks: list[Any] = []
            nks: list[Any] = []
            for lo, hi in self._spans(len(news)):
                oks += ix._keys(olds[lo:hi])
                part = ix._keys(news[lo:hi])
                # Hashed now, as Index._plan does: an unhashable key fails before commit.
                _consume(map(hash, part), maxlen=0)
                nks += part
                if self._spend(hi - lo):
                    yield
            plan.keyed.append((ix, oks, nks))
        self._plans.append(plan)

    def _prepare_inserts(self, view: TableView, new_rows: dict[int, Row]) -> _Work:
        """A full copy into an empty table: every row is an insert.

        The rows go in with one dictionary merge at commit, and each index's map
        is built beforehand and swapped in.
        """
        if not new_rows:
            return
        name = view.name
        news = list(new_rows.values())
        extend = self._changes.extend
        for chunk in self._chunks(news):
            extend(map(_new_tuple, repeat(Change), zip(
                repeat(name), repeat("insert"), map(_row_uuid, chunk), repeat(None), chunk,
                repeat(False))))
            if self._spend(len(chunk)):
                yield
        plan = _Plan(view, list(repeat(None, len(news))), cast("list[Row | None]", news))
        plan.bulk = new_rows
        for ix in view._indexes.values():
            built: dict[Any, Any] = {}
            conflicts: set[Any] = set()
            nks: list[Any] = []
            for chunk in self._chunks(news):
                part = ix._keys(chunk)
                ix._build_into(built, conflicts, part, chunk)
                nks += part
                if self._spend(len(chunk)):
                    yield
            plan.built.append((ix, built, conflicts, nks))
        self._plans.append(plan)


def _marker(replica: Replica) -> tuple[int, int]:
    """What changes whenever the replica's rows may have changed."""
    return replica._version, replica._txn_count


def _build_run(view: TableView, target: dict[int, Row], run: list[RowUpdate],
               owned: bool = False) -> None:
    """Add the rows of ``run`` (full-copy updates of one table) to ``target``.

    Works column by column: one C-level pass per column extracts its values and
    shares its strings (see ``_intern``), then the value tuples are zipped.
    ``owned``: the updates are given up (``consume``), their maps may be kept.
    Raises :class:`~ovsdb_ic.errors.RemoteProtocolError`, with the message
    :meth:`Replica.reset` gives, for anything but a full copy.
    """
    fulls = list(map(_new_of, run))
    keys = list(map(_int_of, map(_uuid_of, run)))
    if (
        not _FULL_COPY_KINDS.issuperset(map(_kind_of, run))
        or None in fulls
        or len(set(keys)) != len(keys)
        or not target.keys().isdisjoint(keys)
    ):
        _raise_first_error(target, run)
    rows = _rows_of(view, run, fulls, owned)
    target.update(zip(keys, rows, strict=True))


def _raise_first_error(target: dict[int, Row], run: list[RowUpdate]) -> None:
    """Raise the error :meth:`Replica.reset` raises for the first bad update of ``run``."""
    seen = set(target)
    for u in run:
        if u.kind not in _FULL_COPY_KINDS or u.new is None:
            raise RemoteProtocolError(
                f"a full copy holds only initial rows, not a {u.kind} of {u.table} {u.uuid}"
            )
        key = u.uuid.int
        if key in seen:
            raise RemoteProtocolError(f"a full copy holds {u.table} row {u.uuid} twice")
        seen.add(key)
    raise AssertionError("no bad update found")  # pragma: no cover

