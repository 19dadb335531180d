from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
import pytest_asyncio
from shanzhi.points.v1 import points_pb2, points_pb2_grpc
from shanzhi_kit.migrations import upgrade_async
from shanzhi_kit.pytest_plugin import DatabaseFactory, auth_metadata
from shanzhi_kit.server import ServiceHost
from shanzhi_kit.testing import Broker
from shanzhi_points.app import MIGRATIONS, PointsSettings, build
from shanzhi_points.clock import CHINA, ManualClock
from sqlalchemy import func, select

#: Tests run on a fixed day, a Wednesday in the middle of 2025 (10:00 Beijing time), so
#: dates, weeks, months and years are the same whenever they run.
TODAY = date(2025, 6, 18)
BASE_INSTANT = datetime.combine(TODAY, time(10), CHINA).astimezone(UTC)
COUNTY = "130123"
ADMIN = auth_metadata(COUNTY)


@pytest.fixture(scope="session")
def clock() -> ManualClock:
    c = ManualClock()
    c.set(BASE_INSTANT)
    return c


@pytest.fixture(autouse=True)
def _clock_back_to_base(clock: ManualClock) -> Iterator[None]:
    yield
    clock.set(BASE_INSTANT)


@pytest_asyncio.fixture(scope="session")
async def points_url(make_database: DatabaseFactory) -> str:
    return await make_database("points", MIGRATIONS)


@pytest_asyncio.fixture(scope="session")
async def points_host(points_url: str, broker: Broker, clock: ManualClock
                      ) -> AsyncIterator[ServiceHost]:
    settings = PointsSettings(
        database_url=points_url, grpc_port=0, kafka_bootstrap_servers=broker.bootstrap,
        relay_poll_seconds=0.1, shutdown_grace_seconds=1, publicity_poll_seconds=0.2,
    )
    host = build(settings, clock)
    await host.start()
    await host.ready.wait()
    # Other services' tests may have left talent events on the shared broker: let the
    # consumer apply that backlog first, so no test sees it arrive part-way.
    for consumer in host.consumers:
        assert await asyncio.to_thread(consumer.caught_up.wait, 60), "consumer never caught up"
    yield host
    await host.stop()


@pytest_asyncio.fixture(scope="session")
async def points(points_host: ServiceHost) -> AsyncIterator[points_pb2_grpc.PointsServiceStub]:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{points_host.port}") as channel:
        yield points_pb2_grpc.PointsServiceStub(channel)


def rid() -> str:
    return str(uuid.uuid4())


def item(code: str, points: int, *, sign: int = points_pb2.ITEM_SIGN_POSITIVE,
         category: int = points_pb2.ITEM_CATEGORY_BEAUTIFUL_VILLAGE, name: str = "",
         evidence: str = "", effective_from: str = "", effective_to: str = "",
         **limits: int) -> points_pb2.CatalogItem:
    return points_pb2.CatalogItem(
        code=code, name=name or f"事项{code}", category=category, sign=sign,  # type: ignore[arg-type]
        points=points, evidence_required=evidence, limits=points_pb2.ItemLimits(**limits),
        effective_from=effective_from, effective_to=effective_to)


#: A household scheme's usual items: a clean courtyard (+5), volunteering (+3, at most twice a
#: month), an extravagant wedding (−10).
DEFAULT_ITEMS = (
    item("HJ-01", 5, name="庭院整洁"),
    item("ZY-01", 3, category=points_pb2.ITEM_CATEGORY_VOLUNTEERING, name="参加志愿服务", per_month=2),
    item("YF-01", 10, sign=points_pb2.ITEM_SIGN_NEGATIVE, category=points_pb2.ITEM_CATEGORY_CIVILITY,
         name="大操大办婚丧事宜"),
)


def household_ref(household: points_pb2.Household) -> points_pb2.SubjectRef:
    return points_pb2.SubjectRef(kind=points_pb2.SUBJECT_KIND_HOUSEHOLD, id=household.id)


class PointsKit:
    """Helpers that set up villages, households, schemes and goods over gRPC.

    Test modules reach the shared constants and builders through it too (``pk.TODAY``,
    ``pk.item(…)``), since test folders are not packages.
    """

    _villages = itertools.count(1)
    TODAY = TODAY
    COUNTY = COUNTY
    ADMIN = ADMIN
    DEFAULT_ITEMS = DEFAULT_ITEMS
    item = staticmethod(item)
    rid = staticmethod(rid)
    ref = staticmethod(household_ref)

    def __init__(self, stub: points_pb2_grpc.PointsServiceStub, host: ServiceHost,
                 clock: ManualClock) -> None:
        self.stub, self.host, self.clock = stub, host, clock

    def village(self) -> str:
        n = next(self._villages)
        return f"{COUNTY}{101 + n // 900:03d}{100 + n % 900:03d}"

    async def household(self, region: str, head: str = "王建国") -> points_pb2.Household:
        reply = await self.stub.CreateHousehold(points_pb2.CreateHouseholdRequest(
            request_id=rid(), region_code=region, household_number=f"H{uuid.uuid4().hex[:8]}",
            head_name=head, member_count=3), metadata=ADMIN)
        return reply.household

    async def scheme(self, region: str, *, items: tuple[points_pb2.CatalogItem, ...] = DEFAULT_ITEMS,
                     kind: int = points_pb2.SUBJECT_KIND_HOUSEHOLD, year: int = TODAY.year,
                     effective_from: date = date(TODAY.year, 1, 1),
                     **settings: Any) -> points_pb2.Scheme:
        """A scheme adopted by the representatives' meeting, in force from ``effective_from``."""
        saved = self.clock.offset
        settings.setdefault("comment_days", 1)
        try:
            self.clock.set(datetime.combine(effective_from - timedelta(days=5), time(10), CHINA))
            made = await self.stub.CreateScheme(points_pb2.CreateSchemeRequest(
                request_id=rid(), region_code=region, year=year, subject_kind=kind,  # type: ignore[arg-type]
                title=f"{year}年积分方案", settings=points_pb2.SchemeSettings(**settings),
                items=list(items)), metadata=ADMIN)
            await self.stub.PublicizeSchemeVersion(points_pb2.PublicizeSchemeVersionRequest(
                request_id=rid(), version_id=made.draft.id), metadata=ADMIN)
            self.clock.set(datetime.combine(effective_from, time(9), CHINA))
            await self.stub.AdoptSchemeVersion(points_pb2.AdoptSchemeVersionRequest(
                request_id=rid(), version_id=made.draft.id, resolution=self.resolution(effective_from),
                effective_from=effective_from.isoformat()), metadata=ADMIN)
        finally:
            self.clock.offset = saved
        reply = await self.stub.GetScheme(points_pb2.GetSchemeRequest(id=made.scheme.id), metadata=ADMIN)
        return reply.scheme

    @staticmethod
    def resolution(day: date) -> points_pb2.Resolution:
        return points_pb2.Resolution(meeting_date=day.isoformat(), representatives_total=30,
                                     attendees=25, votes_for=22, votes_against=2, votes_abstain=1,
                                     number="村代会决议〔2025〕1号")

    async def award(self, subject: points_pb2.SubjectRef, scheme_id: str, code: str = "HJ-01",
                    quantity: int = 1, occurred_on: date = TODAY,
                    metadata: Any = ADMIN) -> points_pb2.Entry:
        reply = await self.stub.AwardPoints(points_pb2.AwardPointsRequest(
            request_id=rid(), subject=subject, scheme_id=scheme_id, item_code=code,
            occurred_on=occurred_on.isoformat(), quantity=quantity, reason="月度评议"),
            metadata=metadata)
        return reply.entry

    async def goods(self, region: str, price: int, stock: int = 100,
                    name: str = "洗衣粉") -> points_pb2.Goods:
        reply = await self.stub.AddGoods(points_pb2.AddGoodsRequest(
            request_id=rid(), region_code=region, name=name, price=price, stock=stock), metadata=ADMIN)
        return reply.goods

    async def account(self, subject: points_pb2.SubjectRef) -> points_pb2.Account:
        return (await self.stub.GetAccount(points_pb2.GetAccountRequest(subject=subject),
                                           metadata=ADMIN)).account

    async def count(self, table: Any, *where: Any) -> int:
        async with self.host.engine.connect() as conn:
            query = select(func.count()).select_from(table)
            if where:
                query = query.where(*where)
            return int((await conn.execute(query)).scalar_one())


@pytest_asyncio.fixture(scope="session")
async def pk(points: points_pb2_grpc.PointsServiceStub, points_host: ServiceHost,
             clock: ManualClock) -> PointsKit:
    return PointsKit(points, points_host, clock)


@pytest_asyncio.fixture
async def lite(tmp_path: Path, pk: Any) -> AsyncIterator[Any]:
    """The service on a fresh SQLite file (the zero-setup ``make run``), with the kit's
    helpers, on a clock that starts where the PostgreSQL tests' clock stands."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'points.db'}"
    await upgrade_async(MIGRATIONS, url)
    clock = ManualClock(pk.clock.offset)
    host = build(PointsSettings(database_url=url, grpc_port=0, run_relay=False, run_consumers=False,
                                shutdown_grace_seconds=1, publicity_poll_seconds=0.2), clock)
    await host.start()
    await host.ready.wait()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{host.port}") as channel:
            yield type(pk)(points_pb2_grpc.PointsServiceStub(channel), host, clock)
    finally:
        await host.stop()
