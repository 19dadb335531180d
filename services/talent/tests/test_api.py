"""TalentService over real gRPC, on real PostgreSQL, with the outbox relay to a real broker."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from shanzhi.talent.v1 import talent_pb2, talent_pb2_grpc
from shanzhi_kit.pytest_plugin import auth_metadata, rpc_error_details
from shanzhi_kit.server import ServiceHost
from shanzhi_talent.tables import messaging, people, posts
from sqlalchemy import func, select

pytestmark = pytest.mark.postgres

COUNTY = "130123"


def village(n: int) -> str:
    return f"{COUNTY}101{n:03d}"


ADMIN = auth_metadata(COUNTY)


def rid() -> str:
    return str(uuid.uuid4())


async def register(stub: talent_pb2_grpc.TalentServiceStub, region: str = village(1),
                   name: str = "王芳", **kw: object) -> talent_pb2.Person:
    req = talent_pb2.RegisterPersonRequest(
        request_id=rid(), region_code=region, name=name, gender=talent_pb2.GENDER_FEMALE,
        birth_date="1990-03-04", party_member=True,
        education=talent_pb2.EDUCATION_BACHELOR, **kw,  # type: ignore[arg-type]
    )
    return (await stub.RegisterPerson(req, metadata=ADMIN)).person


async def count(host: ServiceHost, table: object) -> int:
    async with host.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())  # type: ignore[arg-type]


async def test_health_is_serving_once_the_database_answers(talent_host: ServiceHost) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{talent_host.port}") as channel:
        health = health_pb2_grpc.HealthStub(channel)
        reply = await health.Check(health_pb2.HealthCheckRequest(
            service="shanzhi.talent.v1.TalentService"))
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


async def test_register_then_read_one_and_in_batch(talent: talent_pb2_grpc.TalentServiceStub) -> None:
    a = await register(talent, name="王芳")
    b = await register(talent, name="李强")
    got = (await talent.GetPerson(talent_pb2.GetPersonRequest(id=a.id), metadata=ADMIN)).person
    assert got == a
    assert got.name == "王芳" and got.created_by == "tester"
    batch = await talent.BatchGetPeople(
        talent_pb2.BatchGetPeopleRequest(ids=[b.id, str(uuid.uuid4()), a.id]), metadata=ADMIN)
    assert [p.id for p in batch.people] == [b.id, a.id]


async def test_list_pages_and_filters_by_region_prefix(
    talent: talent_pb2_grpc.TalentServiceStub,
) -> None:
    region = f"{COUNTY}{uuid.uuid4().int % 1000:03d}777"
    made = {(await register(talent, region=region, name=f"村民{i}")).id for i in range(5)}
    seen: list[str] = []
    token = ""
    while True:
        reply = await talent.ListPeople(
            talent_pb2.ListPeopleRequest(region_code_prefix=region,
                                         page={"page_size": 2, "page_token": token}),
            metadata=ADMIN)
        seen += [p.id for p in reply.people]
        token = reply.page_info.next_page_token
        if not token:
            break
    assert set(seen) == made and len(seen) == 5


async def test_retry_with_the_same_request_id_registers_once(
    talent: talent_pb2_grpc.TalentServiceStub, talent_host: ServiceHost,
) -> None:
    req = talent_pb2.RegisterPersonRequest(
        request_id=rid(), region_code=village(2), name="赵六", gender=talent_pb2.GENDER_MALE,
        birth_date="1975-01-01")
    before = await count(talent_host, people)
    first, second = await asyncio.gather(talent.RegisterPerson(req, metadata=ADMIN),
                                         talent.RegisterPerson(req, metadata=ADMIN))
    assert first.person.id == second.person.id
    assert await count(talent_host, people) == before + 1
    req.name = "赵七"
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await talent.RegisterPerson(req, metadata=ADMIN)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert rpc_error_details(err.value)[0][0] == "request_id"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": ""}, "name"),
        ({"region_code": "13012X101201"}, "region_code"),
        ({"birth_date": "1990-13-01"}, "birth_date"),
        ({"request_id": ""}, "request_id"),
    ],
)
async def test_bad_input_names_the_field_and_writes_nothing(
    talent: talent_pb2_grpc.TalentServiceStub, talent_host: ServiceHost,
    change: dict[str, str], field: str,
) -> None:
    fields = dict(request_id=rid(), region_code=village(3), name="钱八",
                  gender=talent_pb2.GENDER_MALE, birth_date="1990-01-01")
    fields.update(change)
    before = (await count(talent_host, people), await count(talent_host, messaging.outbox))
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await talent.RegisterPerson(talent_pb2.RegisterPersonRequest(**fields),  # type: ignore[arg-type]
                                    metadata=ADMIN)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in [f for f, _ in rpc_error_details(err.value)]
    assert (await count(talent_host, people), await count(talent_host, messaging.outbox)) == before


async def test_unknown_and_malformed_ids(talent: talent_pb2_grpc.TalentServiceStub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await talent.GetPerson(talent_pb2.GetPersonRequest(id=str(uuid.uuid4())), metadata=ADMIN)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    assert [f for f, _ in rpc_error_details(err.value)] == ["id"]
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await talent.GetPerson(talent_pb2.GetPersonRequest(id="nope"), metadata=ADMIN)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_scope_bounds_reads_and_writes(talent: talent_pb2_grpc.TalentServiceStub) -> None:
    mine = await register(talent, region=village(4))
    other_clerk = auth_metadata(village(5), roles=("village_clerk",), subject="clerk5")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await talent.GetPerson(talent_pb2.GetPersonRequest(id=mine.id), metadata=other_clerk)
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    batch = await talent.BatchGetPeople(talent_pb2.BatchGetPeopleRequest(ids=[mine.id]),
                                        metadata=other_clerk)
    assert list(batch.people) == []
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await talent.RegisterPerson(
            talent_pb2.RegisterPersonRequest(request_id=rid(), region_code=village(4), name="x",
                                             gender=1, birth_date="1990-01-01"),
            metadata=other_clerk)
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    listed = await talent.ListPeople(talent_pb2.ListPeopleRequest(), metadata=other_clerk)
    assert all(p.region_code == village(5) for p in listed.people)
    no_scope = auth_metadata("", subject="nobody")
    listed = await talent.ListPeople(talent_pb2.ListPeopleRequest(), metadata=no_scope)
    assert list(listed.people) == []


async def test_calls_without_a_valid_token_are_refused(
    talent: talent_pb2_grpc.TalentServiceStub,
) -> None:
    for metadata in [(), (("authorization", "Bearer not-a-jwt"),)]:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await talent.ListPeople(talent_pb2.ListPeopleRequest(), metadata=metadata)
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_appointment_writes_the_post_and_its_event(
    talent: talent_pb2_grpc.TalentServiceStub, talent_host: ServiceHost, ops: Any,
) -> None:
    person = await register(talent, region=village(6))
    post = await ops.appoint(person)
    assert post.person_id == person.id and post.end_date == ""
    async with talent_host.engine.connect() as conn:
        types = (await conn.execute(
            select(messaging.outbox.c.event_type).where(messaging.outbox.c.key == person.id)
            .order_by(messaging.outbox.c.seq))).scalars().all()
    assert types == ["shanzhi.talent.v1.PersonRegisteredEvent",
                     "shanzhi.talent.v1.PersonAppointedEvent"]
    listed = await talent.ListPosts(talent_pb2.ListPostsRequest(person_id=person.id),
                                    metadata=ADMIN)
    assert [p.id for p in listed.posts] == [post.id]


async def test_concurrent_appointments_to_one_post_exactly_one_wins(
    talent: talent_pb2_grpc.TalentServiceStub, talent_host: ServiceHost, ops: Any,
) -> None:
    region = village(7)
    candidates = [await register(talent, region=region, name=f"候选{i}") for i in range(6)]
    secretary = talent_pb2.POST_ROLE_PARTY_SECRETARY
    reviews = [await ops.review(c, secretary) for c in candidates]
    results = await asyncio.gather(
        *(talent.AppointPerson(talent_pb2.AppointPersonRequest(
            request_id=rid(), person_id=c.id, region_code=region, role=secretary,
            method=talent_pb2.APPOINTMENT_METHOD_ELECTION, start_date="2026-01-05",
            review_id=r.id), metadata=ADMIN) for c, r in zip(candidates, reviews, strict=True)),
        return_exceptions=True)
    wins = [r.post for r in results if isinstance(r, talent_pb2.AppointPersonResponse)]
    losses = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
    assert len(wins) == 1 and len(losses) == 5
    assert {e.code() for e in losses} == {grpc.StatusCode.FAILED_PRECONDITION}
    async with talent_host.engine.connect() as conn:
        held = (await conn.execute(select(func.count()).select_from(posts).where(
            posts.c.region_code == region))).scalar_one()
    assert held == 1


async def test_appointing_an_unknown_person_is_not_found(
    talent: talent_pb2_grpc.TalentServiceStub,
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await talent.AppointPerson(talent_pb2.AppointPersonRequest(
            request_id=rid(), person_id=str(uuid.uuid4()), region_code=village(8),
            role=talent_pb2.POST_ROLE_GRID_WORKER, method=talent_pb2.APPOINTMENT_METHOD_APPOINTMENT,
            start_date="2026-01-01"), metadata=ADMIN)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    assert [f for f, _ in rpc_error_details(err.value)] == ["person_id"]


async def test_outbox_rows_are_published(talent_host: ServiceHost,
                                         talent: talent_pb2_grpc.TalentServiceStub) -> None:
    await register(talent, region=village(9))
    from shanzhi_kit.pytest_plugin import wait_until

    async def all_published() -> bool:
        async with talent_host.engine.connect() as conn:
            left = (await conn.execute(select(func.count()).select_from(messaging.outbox).where(
                messaging.outbox.c.published_at.is_(None)))).scalar_one()
        return left == 0

    await wait_until(all_published, within=20)


@pytest.mark.parametrize("role", ["viewer", "grid_worker", "auditor"])
async def test_read_only_roles_change_nothing(talent: talent_pb2_grpc.TalentServiceStub,
                                              talent_host: ServiceHost, role: str) -> None:
    region = village(10)
    person = await register(talent, region=region, name="赵敏")
    reader = auth_metadata(region, roles=(role,), subject=role)
    people_before, posts_before = await count(talent_host, people), await count(talent_host, posts)
    calls = [
        talent.RegisterPerson(talent_pb2.RegisterPersonRequest(
            request_id=rid(), region_code=region, name="钱六", gender=talent_pb2.GENDER_MALE,
            birth_date="1988-01-02"), metadata=reader),
        talent.AppointPerson(talent_pb2.AppointPersonRequest(
            request_id=rid(), person_id=person.id, region_code=region,
            role=talent_pb2.POST_ROLE_GRID_WORKER, method=talent_pb2.APPOINTMENT_METHOD_APPOINTMENT,
            start_date="2026-01-01"), metadata=reader),
        talent.AddReserveCandidate(talent_pb2.AddReserveCandidateRequest(
            request_id=rid(), person_id=person.id, source=talent_pb2.RESERVE_SOURCE_GRADUATE),
            metadata=reader),
    ]
    for call in calls:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await call
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert (await count(talent_host, people), await count(talent_host, posts)) == (people_before,
                                                                                    posts_before)


async def test_village_clerks_keep_the_registry_and_townships_appoint(
    talent: talent_pb2_grpc.TalentServiceStub,
) -> None:
    region = village(11)
    clerk = auth_metadata(region, roles=("village_clerk",), subject="clerk")
    township = auth_metadata(region[:9], roles=("township_officer",), subject="township")
    person = (await talent.RegisterPerson(talent_pb2.RegisterPersonRequest(
        request_id=rid(), region_code=region, name="孙丽", gender=talent_pb2.GENDER_FEMALE,
        birth_date="1992-05-06"), metadata=clerk)).person
    appoint = talent_pb2.AppointPersonRequest(
        request_id=rid(), person_id=person.id, region_code=region,
        role=talent_pb2.POST_ROLE_GRID_WORKER, method=talent_pb2.APPOINTMENT_METHOD_APPOINTMENT,
        start_date="2026-01-01")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await talent.AppointPerson(appoint, metadata=clerk)
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "township_officer" in (err.value.details() or "")
    post = (await talent.AppointPerson(appoint, metadata=township)).post
    assert post.person_id == person.id
