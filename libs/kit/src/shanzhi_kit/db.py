"""Database engine and sessions (SQLAlchemy 2, async).

PostgreSQL through asyncpg is the production target; SQLite through aiosqlite is
the zero-setup local default. The same code runs on both; the URL decides.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from sqlalchemy import MetaData, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.sql.expression import Insert

#: Constraint names Alembic can rely on, the same in every service.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_metadata() -> MetaData:
    return MetaData(naming_convention=NAMING_CONVENTION)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An engine for ``url``; SQLite files get WAL, foreign keys, a busy timeout and
    transactions that hold the write lock from their first statement.

    Statement parameters are kept out of error messages, so a failed insert never
    writes names or ID numbers to the logs.
    """
    parsed = make_url(url)
    kwargs.setdefault("hide_parameters", True)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()
            # The driver would begin a transaction only at the first write, so a
            # read-then-write (a balance, a claim still in its window) could act on
            # a row another connection changed in between. Begin explicitly instead.
            dbapi_connection.isolation_level = None

        @event.listens_for(engine.sync_engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # SQLite has one writer and ignores FOR UPDATE: taking the write lock
            # when the transaction begins makes every transaction serializable.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 10)
    # No ping before every checkout (a round trip per transaction): connections are
    # recycled after 30 minutes, and one broken by a database restart fails a single
    # call, after which SQLAlchemy drops the whole pool; callers retry safely with
    # the same request id.
    kwargs.setdefault("pool_pre_ping", False)
    kwargs.setdefault("pool_recycle", 1800)
    return create_async_engine(url, **kwargs)


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


async def ping(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


async def wait_for_database(engine: AsyncEngine, *, attempts: int | None = None) -> None:
    """Retry ``SELECT 1`` with backoff until the database answers."""
    delay, tried = 0.2, 0
    while True:
        try:
            await ping(engine)
            return
        except Exception:
            tried += 1
            if attempts is not None and tried >= attempts:
                raise
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


def insert_ignoring_conflicts(
    engine_or_dialect: str, table: Any,
    values: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None,
    index_elements: Sequence[str],
) -> Insert:
    """``INSERT … ON CONFLICT DO NOTHING`` for PostgreSQL or SQLite.

    With ``values=None`` the statement takes its values as execution parameters,
    so it can be built once and reused.
    """
    dialect = postgresql if engine_or_dialect == "postgresql" else sqlite
    stmt = dialect.insert(table)
    if values is not None:
        stmt = stmt.values(values)
    return stmt.on_conflict_do_nothing(index_elements=list(index_elements))


class DriverRow:
    """A row the driver returned, read by column name like SQLAlchemy's rows."""

    __slots__ = ("_mapping",)

    def __init__(self, record: Mapping[str, Any]) -> None:
        self._mapping = record

    def __getattr__(self, name: str) -> Any:
        try:
            return self._mapping[name]
        except KeyError:
            raise AttributeError(name) from None


async def driver_connection(bind: AsyncSession | AsyncConnection) -> Any:
    """The asyncpg connection under a session's transaction, or under a connection.

    SQLAlchemy's asyncpg adapter sends ``BEGIN`` only with the first statement it runs
    itself. So if the transaction has begun but the adapter has not started it yet, it
    is started here: a statement run on the driver first would otherwise run, and
    commit, on its own, and a lock it takes would be gone when it ends.
    """
    conn = await bind.connection() if isinstance(bind, AsyncSession) else bind
    fairy = await conn.get_raw_connection()
    adapter: Any = fairy.dbapi_connection
    if conn.in_transaction() and getattr(adapter, "_transaction", False) is None:
        await adapter._start_transaction()
    return fairy.driver_connection


async def driver_execute(session: AsyncSession, sql: str, args: Sequence[Any]) -> None:
    """Run ``sql`` (``$n`` parameters) on the session's PostgreSQL connection as it is.

    For the few statements on a hot path, where SQLAlchemy's per-call work would cost
    more than the database does. A broken constraint still raises SQLAlchemy's
    :class:`~sqlalchemy.exc.IntegrityError`, as every other statement would.
    """
    import asyncpg

    raw = await driver_connection(session)
    try:
        await raw.execute(sql, *args)
    except asyncpg.IntegrityConstraintViolationError as exc:
        raise IntegrityError(sql, None, exc) from exc


class DriverStatement:
    """A Core statement compiled once for PostgreSQL's driver, run without SQLAlchemy.

    Parameters are given by name as for ``session.execute``; those bound in the
    statement itself (an ``IN`` over constants) keep their values. On another
    database the statement runs through the session as usual.
    """

    def __init__(self, statement: Any) -> None:
        self.statement = statement
        dialect = postgresql.asyncpg.dialect()
        compiled = statement.compile(dialect=dialect)
        sql = str(compiled)
        constants = set()
        for name, bind in compiled.binds.items():
            placeholder = f"__[POSTCOMPILE_{name}]"
            if placeholder not in sql:
                continue
            # An IN over values given in the statement: written into the SQL as literals.
            if bind.callable is not None or bind.value is None:
                raise ValueError(f"{name}: a list given per call cannot be compiled once")
            render = bind.type.literal_processor(dialect) or repr
            sql = sql.replace(placeholder, ", ".join(render(v) for v in bind.value))
            constants.add(name)
        self.sql = sql
        self._names = [k for k in compiled.positiontup or () if k not in constants]
        self._defaults = {k: v for k, v in compiled.params.items() if v is not None}

    async def fetchrow(self, session: AsyncSession, params: Mapping[str, Any]) -> Any:
        """The first row, or None."""
        if session.bind is not None and session.bind.dialect.name != "postgresql":
            return (await session.execute(self.statement, dict(params))).first()
        return await self.fetchrow_on(await driver_connection(session), params)

    def args(self, params: Mapping[str, Any]) -> list[Any]:
        """The parameters in the order of the statement's ``$n``."""
        return [params[k] if k in params else self._defaults[k] for k in self._names]

    async def fetch(self, session: AsyncSession, params: Mapping[str, Any]) -> list[Any]:
        """Every row."""
        if session.bind is not None and session.bind.dialect.name != "postgresql":
            return list((await session.execute(self.statement, dict(params))).all())
        raw = await driver_connection(session)
        return [DriverRow(r) for r in await raw.fetch(self.sql, *self.args(params))]

    async def fetchrow_on(self, raw: Any, params: Mapping[str, Any]) -> Any:
        """The first row, read on an asyncpg connection; or None."""
        import asyncpg

        try:
            record = await raw.fetchrow(self.sql, *self.args(params))
        except asyncpg.IntegrityConstraintViolationError as exc:
            raise IntegrityError(self.sql, None, exc) from exc
        return None if record is None else DriverRow(record)


class DriverPool:
    """asyncpg connections for hot paths that run a statement or two outside a transaction.

    One per engine (:meth:`of`), opened on first use and closed with the service
    (:meth:`close_of`). Its users leave no session state behind (no ``SET``, ``LISTEN``,
    advisory lock or open transaction), so a connection goes back to the pool without
    the reset query asyncpg would otherwise send, a round trip per use.
    """

    _pools: ClassVar[weakref.WeakKeyDictionary[Any, DriverPool]] = weakref.WeakKeyDictionary()

    def __init__(self, engine: AsyncEngine, max_size: int) -> None:
        # Connect as the engine does: host(s), port, user, password, database and options.
        _, options = engine.dialect.create_connect_args(engine.url)
        options.pop("prepared_statement_name_func", None)
        options["statement_cache_size"] = options.pop("prepared_statement_cache_size", 100)
        self._options = options
        self._max_size = max_size
        self._pool: Any = None
        self._opening = asyncio.Lock()

    @classmethod
    def of(cls, engine: AsyncEngine, max_size: int = 4) -> DriverPool:
        """The engine's driver pool, made by the first call with at most ``max_size``
        connections (a service makes it at start-up, from ``driver_pool_size``)."""
        pool = cls._pools.get(engine.sync_engine)
        if pool is None:
            pool = cls._pools[engine.sync_engine] = cls(engine, max_size)
        return pool

    @classmethod
    async def close_of(cls, engine: AsyncEngine) -> None:
        pool = cls._pools.pop(engine.sync_engine, None)
        if pool is not None and pool._pool is not None:
            await pool._pool.close()

    async def _open(self) -> Any:
        async with self._opening:
            if self._pool is None:
                import asyncpg

                self._pool = await asyncpg.create_pool(
                    min_size=0, max_size=self._max_size, reset=_keep_session, **self._options)
        return self._pool

    def acquire(self) -> Any:
        """``async with pool.acquire() as connection``: an asyncpg connection."""
        return _Acquire(self)


class _Acquire:
    def __init__(self, owner: DriverPool) -> None:
        self._owner = owner
        self._connection: Any = None

    async def __aenter__(self) -> Any:
        pool = self._owner._pool or await self._owner._open()
        self._connection = await pool.acquire()
        return self._connection

    async def __aexit__(self, *exc: object) -> None:
        pool = self._owner._pool
        await pool.release(self._connection)


async def _keep_session(connection: Any) -> None:
    """No reset query: a driver pool's users change no session state."""
