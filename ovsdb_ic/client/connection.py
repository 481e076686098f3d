"""``connect()``: open a session to the first remote that answers, as a trio context.

Failover across remotes, leader detection and resume are a later layer; here
the remotes of a list are tried in order and the first that accepts the
connection (and has ``database``, when one is named) is used.
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, final

import trio

from ovsdb_ic.client.remotes import Remote, parse_remotes
from ovsdb_ic.client.session import Session
from ovsdb_ic.errors import ConfigError, ConnectError, OvsdbError
from ovsdb_ic.wire import ops as wire_ops
from ovsdb_ic.wire.ops import OpResult
from ovsdb_ic.wire.schema import DatabaseSchema, parse_schema

__all__ = ["Client", "connect", "open_stream"]


async def open_stream(
    remote: Remote, *, ssl_context: ssl.SSLContext | None = None
) -> trio.abc.Stream:
    """Open the byte stream of one remote (tcp, unix or ssl)."""
    if remote.kind == "unix":
        return await trio.open_unix_socket(remote.path)
    if remote.kind == "tcp":
        return await trio.open_tcp_stream(remote.host, remote.port)
    if ssl_context is None:
        raise ConfigError("ssl_context", None, f"{remote} needs an ssl.SSLContext (key, cert, CA)")
    return await trio.open_ssl_over_tcp_stream(remote.host, remote.port, ssl_context=ssl_context)


@final
class Client:
    """A connected OVSDB client (see :func:`connect`)."""

    def __init__(self, session: Session, remote: Remote) -> None:
        """Wrap an open session; use :func:`connect` rather than this."""
        self.session = session
        self.remote = remote
        self.schema: DatabaseSchema | None = None
        """The schema of the database named at connect time, if any."""

    async def request(self, method: str, params: list[Any]) -> Any:
        """Send any JSON-RPC request and return its result."""
        return await self.session.request(method, params)

    async def echo(self, *params: Any) -> list[Any]:
        """Round-trip an echo request; returns the echoed params."""
        result = await self.session.request("echo", list(params))
        return list(result)

    async def list_dbs(self) -> list[str]:
        """The names of the databases the server has."""
        return [str(d) for d in await self.session.request("list_dbs", [])]

    async def get_schema(self, database: str) -> DatabaseSchema:
        """Fetch and parse the schema of ``database``."""
        return parse_schema(await self.session.request("get_schema", [database]))

    async def transact(
        self, operations: Sequence[dict[str, Any]], *, schema: DatabaseSchema | None = None
    ) -> list[OpResult]:
        """Run one transaction; return the results or raise TransactionError."""
        schema = schema or self.schema
        if schema is None:
            raise ConfigError("database", None, "transact needs connect(database=...) or schema=")
        result = await self.session.request(
            "transact", wire_ops.transact_params(schema, operations)
        )
        return wire_ops.decode_transact_result(schema, operations, result)


@asynccontextmanager
async def connect(
    remotes: str | Sequence[str],
    *,
    database: str | None = None,
    ssl_context: ssl.SSLContext | None = None,
    probe_interval: float | None = 5.0,
) -> AsyncIterator[Client]:
    """Connect to the first remote of ``remotes`` that answers.

    ``remotes`` is an OVSDB remote list (``"tcp:a:6645,tcp:b:6645"``, ``unix:PATH``,
    ``ssl:HOST:PORT``). With ``database``, its schema is fetched and a server
    without it is skipped. When every remote fails, :class:`ConnectError` is
    raised from an ExceptionGroup holding one error per remote. Errors of the
    session (peer closed, inactivity timeout) surface as themselves, not
    wrapped in groups.
    """
    parsed = parse_remotes(remotes if isinstance(remotes, str) else list(remotes))
    failures: list[Exception] = []
    try:
        async with trio.open_nursery() as nursery:
            client = await _first_answering(
                nursery, parsed, database, ssl_context, probe_interval, failures
            )
            if client is not None:
                try:
                    yield client
                finally:
                    await client.session.aclose()
    except BaseExceptionGroup as group:
        # The nursery is ours, not the caller's: hand back their exception as
        # it was raised, not wrapped in a group.
        if len(group.exceptions) == 1:
            raise group.exceptions[0]  # noqa: B904 - keep the original chain
        raise
    if client is None:
        names = ", ".join(str(r) for r in parsed)
        raise ConnectError(f"could not connect to any of {names}") from ExceptionGroup(
            "connection attempts", failures
        )


async def _first_answering(
    nursery: trio.Nursery,
    remotes: Sequence[Remote],
    database: str | None,
    ssl_context: ssl.SSLContext | None,
    probe_interval: float | None,
    failures: list[Exception],
) -> Client | None:
    for remote in remotes:
        try:
            stream = await open_stream(remote, ssl_context=ssl_context)
        except OSError as exc:
            failures.append(ConnectError(f"{remote}: {exc.strerror or exc}"))
            continue
        session = Session(stream, name=str(remote), probe_interval=probe_interval)
        await nursery.start(_run_quietly, session)
        client = Client(session, remote)
        if database is not None:
            try:
                client.schema = await client.get_schema(database)
            except OvsdbError as exc:
                failures.append(ConnectError(f"{remote}: {database}: {exc}"))
                await session.aclose()
                continue
        return client
    return None


async def _run_quietly(session: Session, *, task_status: trio.TaskStatus[None]) -> None:
    """Run a session; its failure is re-raised to the caller of the request, not here."""
    # Every waiting request already got the error; a new request after the
    # failure raises ConnectionClosedError. Not propagating keeps the context
    # manager from cancelling the caller's code behind its back.
    with contextlib.suppress(OvsdbError):
        await session.run(task_status=task_status)
