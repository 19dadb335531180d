"""Idempotent writes: a request id makes a retried write return the first answer.

:meth:`IdempotentWriter.run` inserts the key row first, in the same transaction
as the write. A concurrent request with the same key waits on that row
(PostgreSQL) and then finds the committed answer, so two racing retries still
make one change.

:meth:`IdempotentWriter.run_key_last` is for writes that lock what they change
before they change it (a points award locks its account): the key row goes in
with the write's own rows, at the end, which saves two round trips. Retries of
one request queue on the write's lock; the later one then fails on the key's
unique index (or on its own checks, which now see the first write) and returns
the first answer instead.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from google.protobuf.message import Message
from sqlalchemy import Table, and_, bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.sql.expression import Insert

from shanzhi_kit.auth import current_caller
from shanzhi_kit.db import insert_ignoring_conflicts
from shanzhi_kit.errors import Aborted, InvalidArgument, ServiceError

R = TypeVar("R", bound=Message)

MAX_REQUEST_ID = 200


def request_hash(request: Message, key: bytes | None = None) -> str:
    """Fingerprint of a request; keyed (HMAC) when requests may hold personal data."""
    body = request.SerializeToString(deterministic=True)
    if key is not None:
        return hmac.new(key, body, hashlib.sha256).hexdigest()
    return hashlib.sha256(body).hexdigest()


@dataclass
class KeyRow:
    """The key row of a :meth:`IdempotentWriter.run_key_last` write, for it to insert."""

    table: Table
    values: dict[str, Any]
    taken: bool = False

    def row(self, response: Message) -> dict[str, Any]:
        """The row to insert with the write's other rows, holding the answer to keep."""
        self.taken = True
        return {**self.values, "response": response.SerializeToString()}


class IdempotentWriter:
    """Runs write handlers at most once per (caller, method, request_id)."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        table: Table,
        *,
        after_commit: Callable[[], None] | None = None,
        hash_key: bytes | None = None,
    ) -> None:
        """``hash_key``: key the request fingerprints with it, for services whose requests
        carry personal data (an unkeyed hash of an ID number can be reversed by trying
        every possible number)."""
        self._hash_key = hash_key
        self._sessionmaker = sessionmaker
        self._table = table
        self._after_commit = after_commit
        t = table
        key = and_(
            t.c.caller == bindparam("k_caller"),
            t.c.method == bindparam("k_method"),
            t.c.request_id == bindparam("k_request_id"),
        )
        self._select = select(t.c.request_hash, t.c.response).where(key)
        self._store = update(t).where(key).values(response=bindparam("response"))
        self._claims: dict[str, Insert] = {}

    async def run(
        self,
        method: str,
        request: Message,
        response_type: type[R],
        work: Callable[[AsyncSession], Awaitable[R]],
    ) -> R:
        request_id = self._request_id(request)
        caller = current_caller().subject
        digest = request_hash(request, self._hash_key)
        key = {"k_caller": caller, "k_method": method, "k_request_id": request_id}

        async with self._sessionmaker() as session:
            try:
                async with session.begin():
                    # Claim the key first: a concurrent request with the same key waits
                    # here until this transaction ends, then finds the answer.
                    if not await self._claim(session, caller, method, request_id, digest):
                        found = await self._lookup(session, key, digest, response_type)
                        if found is not None:
                            return found
                        # The key was there and is gone (its keeping time ran out at this
                        # moment): working now would store no key, so a retry claims afresh.
                        raise Aborted("the request id was being forgotten; retry")
                    response = await work(session)
                    await session.execute(
                        self._store, {**key, "response": response.SerializeToString()}
                    )
            except IntegrityError:
                await session.rollback()
                async with session.begin():
                    found = await self._lookup(session, key, digest, response_type)
                if found is not None:
                    return found
                raise
        self.committed()
        return response

    async def run_key_last(
        self,
        method: str,
        request: Message,
        response_type: type[R],
        work: Callable[[AsyncSession, KeyRow], Awaitable[R]],
    ) -> R:
        """Like :meth:`run`, with the key row inserted last; ``work`` may insert it itself
        (``key.row(response)``) in its own final statement.

        Only for writes that lock the rows they change before reading them: that lock is
        what makes a concurrent retry wait for the first attempt to finish.
        """
        key = self.key_for(method, request)
        caller, request_id, digest = (key.values["caller"], key.values["request_id"],
                                      key.values["request_hash"])
        async with self._sessionmaker() as session:
            try:
                async with session.begin():
                    response = await work(session, key)
                    if not key.taken:
                        await session.execute(self._table.insert(), [key.row(response)])
            except (IntegrityError, ServiceError):
                # A retry of a write that is done: its key is taken, or its own checks now
                # refuse (a limit the first attempt reached). Either way, the first answer.
                async with session.begin():
                    found = await self._lookup(
                        session, {"k_caller": caller, "k_method": method, "k_request_id": request_id},
                        digest, response_type)
                if found is not None:
                    return found
                raise
        self.committed()
        return response

    def key_for(self, method: str, request: Message) -> KeyRow:
        """The key row of a request, for a write that inserts it itself, in one statement
        with its other rows; a broken unique constraint then means a retry."""
        return KeyRow(self._table, {
            "caller": current_caller().subject, "method": method,
            "request_id": self._request_id(request),
            "request_hash": request_hash(request, self._hash_key), "created_at": datetime.now(UTC)})

    def committed(self) -> None:
        """Tell whoever waits for new writes (the outbox relay) that one committed."""
        if self._after_commit is not None:
            self._after_commit()

    @staticmethod
    def _request_id(request: Message) -> str:
        request_id: str = getattr(request, "request_id", "")
        if not request_id or not request_id.strip():
            raise InvalidArgument.field(
                "request_id", "is required: a caller-chosen id that makes retries safe"
            )
        if len(request_id) > MAX_REQUEST_ID:
            raise InvalidArgument.field("request_id", f"must be at most {MAX_REQUEST_ID} characters")
        return request_id

    async def _claim(
        self, session: AsyncSession, caller: str, method: str, request_id: str, digest: str
    ) -> bool:
        dialect = session.bind.dialect.name if session.bind is not None else "postgresql"
        statement = self._claims.get(dialect)
        if statement is None:
            statement = self._claims[dialect] = insert_ignoring_conflicts(
                dialect, self._table, None, ["caller", "method", "request_id"]
            )
        result = await session.execute(
            statement,
            {"caller": caller, "method": method, "request_id": request_id,
             "request_hash": digest, "response": None, "created_at": datetime.now(UTC)},
        )
        return bool(getattr(result, "rowcount", 0))

    async def _lookup(
        self, session: AsyncSession, key: dict[str, str], digest: str, response_type: type[R]
    ) -> R | None:
        row = (await session.execute(self._select, key)).first()
        if row is None:
            return None
        if row.request_hash != digest:
            raise InvalidArgument.field(
                "request_id", "was already used for a different request; choose a new id"
            )
        if row.response is None:
            raise Aborted("a request with this request_id is still in progress; retry")
        return response_type.FromString(row.response)
