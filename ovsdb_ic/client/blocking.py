"""A blocking facade for threaded programs: the trio client in a thread of its own.

::

    from ovsdb_ic.client.blocking import connect

    with connect("unix:/var/run/ovn/ovn_ic_sb_db.sock", database="OVN_IC_Southbound") as c:
        print(c.list_dbs())
        live = c.replicate(["Availability_Zone"])
        print(live.read(lambda r: sorted(row["name"] for row in r.table("Availability_Zone"))))
        txn = c.transaction()
        txn.insert(ic_sb.AvailabilityZone(name="az9"))
        c.commit(txn)

Each call is sent to the client's trio thread and blocks the calling thread
until it is answered; any number of threads may call at once. Time limits:
pass ``timeout`` (seconds) to :func:`connect`; it bounds every call (threads
have no cancel scopes), and a call that exceeds it raises ``TimeoutError``.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from typing import Any, TypeVar, final

import trio

from ovsdb_ic.client.connection import Client
from ovsdb_ic.client.connection import connect as async_connect
from ovsdb_ic.client.live import LiveReplica
from ovsdb_ic.client.monitor import Lock, UpdateBatch
from ovsdb_ic.client.txn import Txn, TxnResult
from ovsdb_ic.replica import Replica
from ovsdb_ic.wire.monitor import MonitorRequest
from ovsdb_ic.wire.ops import OpResult
from ovsdb_ic.wire.schema import DatabaseSchema

__all__ = ["BlockingClient", "BlockingReplica", "connect"]

T = TypeVar("T")


@final
class BlockingReplica:
    """A :class:`~ovsdb_ic.client.live.LiveReplica` seen from another thread.

    The replica is updated in the client's trio thread; :meth:`read` runs a function on
    it there, so what it sees is one consistent state between two server transactions.
    """

    def __init__(self, live: LiveReplica, owner: BlockingClient) -> None:
        """Wrap a live replica of *owner*'s client; use :meth:`BlockingClient.replicate`."""
        self.live = live
        self._owner = owner

    def read(self, fn: Callable[[Replica], T]) -> T:
        """``fn(replica)``, run in the client's thread (do not keep rows for writing)."""

        async def call() -> T:
            return fn(self.live.replica)

        return self._owner._call(call)

    def wait_for(self, predicate: Callable[[Replica], bool]) -> None:
        """Block until ``predicate(replica)`` holds (bounded by the client's timeout);
        :class:`~ovsdb_ic.errors.ConnectionClosedError` once the replica no longer follows
        the server (see :meth:`LiveReplica.wait_for
        <ovsdb_ic.client.live.LiveReplica.wait_for>`)."""
        self._owner._call(lambda: self.live.wait_for(predicate))

    def caught_up(self) -> None:
        """Block until the replica shows everything the server sent before now (e.g. a
        transaction this client just committed)."""
        self._owner._call(lambda: self._owner._client.caught_up(self.live))


@final
class BlockingClient:
    """Blocking twin of :class:`~ovsdb_ic.client.connection.Client` (see the module doc)."""

    def __init__(self, client: Client, token: trio.lowlevel.TrioToken, timeout: float | None):
        """Wrap a client living in another thread; use :func:`connect`."""
        self._client = client
        self._token = token
        self._timeout = timeout

    @property
    def schema(self) -> DatabaseSchema | None:
        """The schema of the database named at connect time."""
        return self._client.schema

    def _call(self, fn: Callable[[], Awaitable[T]]) -> T:
        timeout = self._timeout

        async def bounded() -> T:
            with trio.fail_after(math.inf if timeout is None else timeout):
                return await fn()

        try:
            return trio.from_thread.run(bounded, trio_token=self._token)
        except trio.TooSlowError:
            raise TimeoutError(f"no answer within {timeout:g} s") from None

    def request(self, method: str, params: list[Any]) -> Any:
        """Send any JSON-RPC request and return its result."""
        return self._call(lambda: self._client.request(method, params))

    def echo(self, *params: Any) -> list[Any]:
        """Round-trip an echo."""
        return self._call(lambda: self._client.echo(*params))

    def list_dbs(self) -> list[str]:
        """The server's databases."""
        return self._call(self._client.list_dbs)

    def get_schema(self, database: str) -> DatabaseSchema:
        """Fetch a database's schema."""
        return self._call(lambda: self._client.get_schema(database))

    def transact(self, operations: Sequence[dict[str, Any]]) -> list[OpResult]:
        """Run a transaction (see :meth:`Client.transact`)."""
        return self._call(lambda: self._client.transact(operations))

    def replicate(self, tables: Sequence[str] | Mapping[str, Sequence[str] | None]
                  ) -> BlockingReplica:
        """Keep a replica of ``tables`` current (see :meth:`Client.replicate`)."""
        return BlockingReplica(self._call(lambda: self._client.replicate(tables)), self)

    def transaction(self) -> Txn:
        """A new, empty typed transaction (build it in any thread, then :meth:`commit`)."""
        return self._client.transaction()

    def commit(self, txn: Txn, *, idempotent: bool = False) -> TxnResult:
        """Run a built transaction (see :meth:`Client.commit`); a missing row it updates
        or deletes raises :class:`~ovsdb_ic.errors.RowNotFoundError`."""
        return self._call(lambda: self._client.commit(txn, idempotent=idempotent))

    def retry(
        self,
        build: Callable[[Txn], None],
        *,
        attempts: int = 5,
        live: BlockingReplica | None = None,
    ) -> TxnResult:
        """Read-modify-write with optimistic checks (see :meth:`Client.retry`).

        ``build(txn)`` runs in the client's thread, between two server transactions:
        it reads ``live.live.replica`` directly (a consistent state) and adds operations
        and ``txn.expect`` checks; it must not call this blocking client (that would
        wait for itself).
        """
        return self._call(lambda: self._client.retry(
            build, attempts=attempts, live=None if live is None else live.live))

    def lock(self, name: str) -> Lock:
        """Request a lock (see :meth:`Client.lock`)."""
        return self._call(lambda: self._client.lock(name))

    def unlock(self, name: str) -> None:
        """Release a lock."""
        self._call(lambda: self._client.unlock(name))

    def monitor(self, requests: Sequence[MonitorRequest]) -> Iterator[UpdateBatch]:
        """Start a monitor; iterate the batches (blocking; ends when the client closes)."""
        mon = self._call(lambda: self._client.monitor(requests))
        while True:
            try:
                yield trio.from_thread.run(mon.next_batch, trio_token=self._token)
            except (trio.EndOfChannel, trio.RunFinishedError):
                return


@contextmanager
def connect(
    remotes: str | Sequence[str],
    *,
    database: str | None = None,
    timeout: float | None = 30.0,
    **kwargs: Any,
) -> Iterator[BlockingClient]:
    """Connect in a background trio thread; close it when the block ends.

    Arguments are those of :func:`ovsdb_ic.client.connect`, plus ``timeout``
    bounding the connection and each call.
    """
    ready = threading.Event()
    box: dict[str, Any] = {}

    async def main() -> None:
        stop = trio.Event()
        box["stop"] = stop
        deadline = math.inf if timeout is None else trio.current_time() + timeout
        try:
            with trio.CancelScope(deadline=deadline) as scope:
                async with async_connect(remotes, database=database, **kwargs) as client:
                    scope.deadline = math.inf  # connected: only calls are bounded now
                    box["client"] = client
                    box["token"] = trio.lowlevel.current_trio_token()
                    ready.set()
                    await stop.wait()
            if scope.cancelled_caught:
                box["error"] = TimeoutError(f"could not connect within {timeout} s")
        except BaseException as exc:
            if ready.is_set():
                raise
            box["error"] = exc
        finally:
            ready.set()

    thread = threading.Thread(target=trio.run, args=(main,), name="ovsdb-ic-client",
                              daemon=True)
    thread.start()
    ready.wait()
    if "error" in box:
        thread.join()
        raise box["error"]
    token: trio.lowlevel.TrioToken = box["token"]
    try:
        yield BlockingClient(box["client"], token, timeout)
    finally:
        with suppress(trio.RunFinishedError):
            trio.from_thread.run_sync(box["stop"].set, trio_token=token)
        thread.join()
