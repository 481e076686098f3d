"""The exception hierarchy of :mod:`ovsdb_ic`.

Every error raised by the library derives from :class:`OvsdbError`. Errors that
callers typically catch by kind also derive from the matching builtin
(``ValueError``, ``ConnectionError``, ``TimeoutError``), so generic handlers keep
working.

Protocol errors are split the way h11 splits them: :class:`LocalProtocolError`
means *we* (the caller of this library) tried to do something the protocol does not
allow; :class:`RemoteProtocolError` means the *peer* sent something that violates
the protocol.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = [
    "OvsdbError",
    "ProtocolError",
    "LocalProtocolError",
    "RemoteProtocolError",
    "FramingError",
    "MessageTooLargeError",
    "SchemaError",
    "DataError",
    "RpcError",
    "TransactionError",
    "ConstraintViolationError",
    "ReferentialIntegrityError",
    "WaitTimedOutError",
    "TransactionAbortedError",
    "NotOwnerError",
    "ResourcesExhaustedError",
    "transaction_error",
    "CONFLICTS",
    "is_conflict",
    "SandboxError",
    "ConfigError",
    "ConnectError",
    "ConnectionClosedError",
    "RequestNotSentError",
    "OutcomeUnknownError",
    "InactivityTimeoutError",
    "RowNotFoundError",
    "error_text",
]


def error_text(error: Any) -> str:
    """A server's error value as words: ``"unknown database"``, or ``"constraint
    violation: <details>"`` for an ``{"error", "details"}`` object; never a dict repr."""
    if isinstance(error, str):
        return error
    if isinstance(error, dict):
        name = error.get("error")
        details = error.get("details")
        parts = [str(p) for p in (name, details) if p]
        if parts:
            return ": ".join(parts)
    if error is None:
        return "no reason given"
    import json

    try:
        return json.dumps(error, sort_keys=True, default=str)
    except (TypeError, ValueError):
        return str(error)


class OvsdbError(Exception):
    """Root of every exception raised by ovsdb_ic."""


class ProtocolError(OvsdbError):
    """A violation of the OVSDB / JSON-RPC protocol."""


class LocalProtocolError(ProtocolError, ValueError):
    """The local side tried to do something the protocol forbids.

    For example: sending a response to a request id that is not pending, or
    building an operation that names a column the schema does not have.
    """


class RemoteProtocolError(ProtocolError):
    """The peer sent something that violates the protocol."""


class FramingError(RemoteProtocolError, ValueError):
    """The byte stream is not a sequence of JSON values.

    ``offset`` is the position in the stream (counted from the first byte ever
    fed) at or after which the problem was detected, when known.
    """

    def __init__(self, message: str, *, offset: int | None = None) -> None:
        super().__init__(message if offset is None else f"{message} (at stream byte {offset})")
        self.offset = offset


class MessageTooLargeError(FramingError):
    """A single JSON value grew beyond the configured maximum message size."""

    def __init__(self, size: int, limit: int, *, offset: int | None = None) -> None:
        super().__init__(
            f"message of at least {size} bytes exceeds the limit of {limit} bytes",
            offset=offset,
        )
        self.size = size
        self.limit = limit


class SchemaError(OvsdbError, ValueError):
    """A database schema is malformed.

    ``path`` names the offending element, e.g. ``tables.Route.columns.nexthop.type``.
    """

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}" if path else reason)
        self.path = path
        self.reason = reason


class DataError(OvsdbError, ValueError):
    """A value does not fit an OVSDB type.

    ``where`` names the column as ``Table.column`` when known; ``value`` is the
    offending value (JSON or Python form) and ``reason`` says why it was rejected.
    """

    def __init__(self, reason: str, *, value: Any = None, where: str | None = None) -> None:
        text = f"{where}: {reason}" if where else reason
        if value is not None:
            text += f" (got {value!r:.200})"
        super().__init__(text)
        self.reason = reason
        self.value = value
        self.where = where


class RpcError(OvsdbError):
    """The server answered a JSON-RPC request with an error.

    ``error`` is the server's error value (usually a string such as
    ``"unknown database"``, or an ``{"error", "details"}`` object), ``method`` the
    request's method, ``reason`` the error in words (:func:`error_text`), e.g.
    ``get_schema: unknown database: get_schema request specifies unknown database X``.
    """

    def __init__(self, method: str, error: Any) -> None:
        self.method = method
        self.error = error
        self.reason = error_text(error)
        super().__init__(f"{method}: {self.reason}")

    @property
    def error_name(self) -> str:
        """The server's short error name (``"unknown database"``), without details."""
        if isinstance(self.error, dict) and isinstance(self.error.get("error"), str):
            return str(self.error["error"])
        return self.reason


class TransactionError(OvsdbError):
    """An OVSDB transaction failed.

    ``index`` is the position of the failing operation in the transaction (equal
    to the number of operations for errors reported after the last operation,
    such as referential integrity violations found at commit); ``op`` is that
    operation's JSON (``None`` for commit-time errors); ``error`` and ``details``
    are the server's strings.
    """

    def __init__(
        self, index: int, op: dict[str, Any] | None, error: str, details: str | None
    ) -> None:
        what = f"operation {index} ({op.get('op')} on {op.get('table', '-')})" if op else (
            f"commit after operation {index - 1}"
        )
        text = f"{what} failed: {error}"
        if details:
            text += f": {details}"
        super().__init__(text)
        self.index = index
        self.op = op
        self.error = error
        self.details = details


class SandboxError(OvsdbError, RuntimeError):
    """A sandbox of real OVSDB servers could not be started or controlled."""


class ConfigError(OvsdbError, ValueError):
    """A configuration value is wrong: ``field`` names it, ``reason`` says why."""

    def __init__(self, field: str, value: Any, reason: str) -> None:
        super().__init__(f"{field}: {reason} (got {value!r:.200})")
        self.field = field
        self.value = value
        self.reason = reason


class ConnectError(OvsdbError, ConnectionError):
    """No remote could be connected to; ``__cause__`` groups each attempt's error.

    The message names each remote tried and why it failed, in words, e.g. ``could not
    connect to any of tcp:127.0.0.1:6645: OVN_IC_Nortbound: unknown database``.
    """


class ConnectionClosedError(OvsdbError, ConnectionError):
    """The connection closed (or failed) while a request was waiting for its answer."""


class RequestNotSentError(ConnectionClosedError):
    """The connection closed before any byte of the request was written.

    The server never saw it, so sending it again (on a new connection) is safe.
    """


class OutcomeUnknownError(ConnectionClosedError):
    """A transaction was sent but the connection failed before its answer arrived.

    The server may or may not have committed it. The client does not resend it
    on its own unless the transaction was declared idempotent (see
    docs/failover.md); ``__cause__`` is the connection error.
    """


class InactivityTimeoutError(OvsdbError, TimeoutError):
    """The peer sent nothing, not even an echo reply, within the inactivity probe."""


class ConstraintViolationError(TransactionError):
    """``constraint violation``: e.g. a duplicate in a unique index, a value out of range."""


class ReferentialIntegrityError(TransactionError):
    """``referential integrity violation``: a strong reference to a missing row."""


class WaitTimedOutError(TransactionError):
    """``timed out``: a ``wait`` operation's condition did not hold.

    This is how an optimistic check reports that the rows changed since they
    were read: re-read and try again.
    """


class TransactionAbortedError(TransactionError):
    """``aborted``: the transaction ran an ``abort`` operation."""


class NotOwnerError(TransactionError):
    """``not owner``: an ``assert`` named a lock this client does not hold."""


class ResourcesExhaustedError(TransactionError):
    """``resources exhausted``: the server refused the transaction for lack of resources."""


_TXN_ERRORS: dict[str, type[TransactionError]] = {
    "constraint violation": ConstraintViolationError,
    "referential integrity violation": ReferentialIntegrityError,
    "timed out": WaitTimedOutError,
    "aborted": TransactionAbortedError,
    "not owner": NotOwnerError,
    "resources exhausted": ResourcesExhaustedError,
}


def transaction_error(
    index: int, op: dict[str, Any] | None, error: str, details: str | None
) -> TransactionError:
    """The TransactionError subclass matching the server's ``error`` string."""
    return _TXN_ERRORS.get(error, TransactionError)(index, op, error, details)


class RowNotFoundError(OvsdbError, LookupError):
    """A typed ``update``/``delete`` named a row that does not exist.

    Raised before anything is sent when the row is missing from the replica the caller
    passed, or after the commit when the server's operation matched no row (the
    transaction is then aborted as a whole). ``table`` and ``key`` say which row.
    """

    def __init__(self, table: str, key: Any, *, why: str = "no such row") -> None:
        super().__init__(f"{table} {key}: {why}")
        self.table = table
        self.key = key


CONFLICTS: tuple[type[TransactionError], ...] = (
    WaitTimedOutError, ConstraintViolationError, ReferentialIntegrityError,
)
"""The transaction errors another writer's concurrent change explains: a failed ``wait``
guard (a row read is no longer as read), a unique-index violation (someone inserted the
same key first), a reference to a row someone deleted. Reading again and building the
transaction again is the cure; every retry loop of the library uses this one list."""


def is_conflict(exc: BaseException, *, outcome_unknown: bool = False) -> bool:
    """Whether ``exc`` is a conflict (:data:`CONFLICTS`): read again and try again.

    With ``outcome_unknown``, an :class:`OutcomeUnknownError` (the connection failed
    before the answer came) counts too: right for guarded transactions, which a re-read
    shows to have committed or not, so trying again never applies them twice.
    """
    return isinstance(exc, CONFLICTS) or (outcome_unknown and isinstance(exc, OutcomeUnknownError))


@contextmanager
def _one_error() -> Iterator[None]:
    """Around a nursery of the library's own: an ExceptionGroup holding a single
    exception is re-raised as that exception, as the caller's code raised it (the
    nursery is an implementation detail; several errors stay a group)."""
    try:
        yield
    except BaseExceptionGroup as group:
        if len(group.exceptions) == 1:
            raise group.exceptions[0]  # noqa: B904 - keep the original chain
        raise
