"""What every part of the points API shares: sessions, idempotent writes, events, clock."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from google.protobuf.message import Message
from shanzhi.points.v1 import points_pb2
from shanzhi_kit.auth import Caller, current_caller
from shanzhi_kit.events import Outbox
from shanzhi_kit.idempotency import IdempotentWriter, KeyRow
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from shanzhi_points.clock import Clock
from shanzhi_points.errors import require_scope, unknown
from shanzhi_points.outbox import EventBuffer
from shanzhi_points.posting import AccountState, LedgerWriter
from shanzhi_points.publicity import Finaliser

R = TypeVar("R", bound=Message)

KIND_NAMES: dict[int, str] = {
    points_pb2.SUBJECT_KIND_HOUSEHOLD: "household",
    points_pb2.SUBJECT_KIND_PERSON: "person",
    points_pb2.SUBJECT_KIND_REPRESENTATIVE: "villagers' representative",
    points_pb2.SUBJECT_KIND_PARTY_MEMBER: "party member",
}


class ApiBase:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        writer: IdempotentWriter,
        outbox: Outbox,
        clock: Clock,
        finaliser: Finaliser,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._engine: AsyncEngine = sessionmaker.kw["bind"]
        #: Whether hot paths may talk to PostgreSQL's driver directly.
        self._direct = self._engine.dialect.name == "postgresql"
        self._writer = writer
        self._outbox = outbox
        self._clock = clock
        self._finaliser = finaliser

    async def _write(self, method: str, request: Message, response_type: type[R],
                     work: Callable[[AsyncSession], Awaitable[R]]) -> R:
        return await self._writer.run(method, request, response_type, work)

    async def _write_key_last(self, method: str, request: Message, response_type: type[R],
                              work: Callable[[AsyncSession, KeyRow], Awaitable[R]]) -> R:
        """A write that locks its accounts first and writes the request's key with its rows."""
        return await self._writer.run_key_last(method, request, response_type, work)

    def _events(self) -> EventBuffer:
        return EventBuffer(self._outbox)

    def _ledger(self, session: AsyncSession, caller: Caller) -> LedgerWriter:
        return LedgerWriter(session, self._events(), caller.subject, self._clock.now(),
                            self._clock.today())

    @staticmethod
    def _caller() -> Caller:
        return current_caller()


def subject_account(state: AccountState | None, kind: int, caller: Caller,
                    field: str = "subject") -> AccountState:
    """The subject's locked account; an unknown subject or one out of scope is refused."""
    if state is None:
        raise unknown(f"{field}.id", f"no {KIND_NAMES.get(kind, 'subject')} account has this id")
    require_scope(caller.scope, state.region_code, f"{field}.id")
    return state
