"""Keeping up a person's record (人员信息维护) over gRPC on PostgreSQL: UpdatePerson changes the
fields its update_mask names and nothing else, is held to the registration's rules, stays in
the caller's scope, answers a retry with its first answer, and announces each change once."""

from __future__ import annotations

import uuid
from typing import Any

import grpc
import pytest
from shanzhi.common.v1 import event_pb2
from shanzhi.talent.v1 import events_pb2, talent_pb2, talent_pb2_grpc
from shanzhi_kit.events import unpack
from shanzhi_kit.pytest_plugin import auth_metadata, rpc_error_details
from shanzhi_kit.server import ServiceHost
from shanzhi_talent import idnumbers
from shanzhi_talent.tables import messaging, people
from sqlalchemy import func, select

pytestmark = pytest.mark.postgres

COUNTY = "130129"
VILLAGE = f"{COUNTY}101201"
ADMIN = auth_metadata(COUNTY)
ORG_DEPT = auth_metadata(COUNTY, roles=("organization_dept",), subject="zuzhibu")
CLERK = auth_metadata(VILLAGE, roles=("village_clerk",), subject="clerk")
NEIGHBOUR = auth_metadata(f"{COUNTY}101202", roles=("village_clerk",), subject="neighbour")
UPDATED = "shanzhi.talent.v1.PersonUpdatedEvent"


def rid() -> str:
    return str(uuid.uuid4())


def number(birth: str, sequence: int) -> str:
    first17 = f"{COUNTY}{birth}{sequence:03d}"
    return first17 + idnumbers.check_character(first17)


async def register(talent: talent_pb2_grpc.TalentServiceStub, **kw: Any) -> talent_pb2.Person:
    fields: dict[str, Any] = dict(
        name="赵丽", gender=talent_pb2.GENDER_FEMALE, birth_date="1985-06-15", party_member=False,
        education=talent_pb2.EDUCATION_SENIOR_SECONDARY, phone="13600001234")
    fields.update(kw)
    return (await talent.RegisterPerson(talent_pb2.RegisterPersonRequest(
        request_id=rid(), region_code=VILLAGE, **fields), metadata=ADMIN)).person


def update(person_id: str, *paths: str, request_id: str = "",
           **values: Any) -> talent_pb2.UpdatePersonRequest:
    req = talent_pb2.UpdatePersonRequest(request_id=request_id or rid(),
                                         person=talent_pb2.Person(id=person_id, **values))
    req.update_mask.paths.extend(paths)
    return req


async def get(talent: talent_pb2_grpc.TalentServiceStub, person_id: str,
              md: Any = ORG_DEPT) -> talent_pb2.Person:
    return (await talent.GetPerson(talent_pb2.GetPersonRequest(id=person_id), metadata=md)).person


async def events_of(host: ServiceHost, person_id: str) -> list[events_pb2.PersonUpdatedEvent]:
    outbox = messaging.outbox
    async with host.engine.connect() as conn:
        payloads = (await conn.execute(select(outbox.c.payload).where(
            outbox.c.key == person_id, outbox.c.event_type == UPDATED
        ).order_by(outbox.c.seq))).scalars().all()
    found = []
    for payload in payloads:
        event = unpack(event_pb2.EventEnvelope.FromString(payload), events_pb2.PersonUpdatedEvent)
        assert isinstance(event, events_pb2.PersonUpdatedEvent)
        found.append(event)
    return found


async def snapshot(host: ServiceHost, person_id: str) -> tuple[Any, ...]:
    """The person's row, their events and the update keys: what a refused call must not touch."""
    keys = messaging.idempotency_keys
    async with host.engine.connect() as conn:
        row = (await conn.execute(select(people).where(people.c.id == person_id))).one()
        stored = await conn.execute(
            select(func.count()).select_from(keys).where(keys.c.method == "UpdatePerson"))
        key_count = stored.scalar_one()
    return tuple(row), len(await events_of(host, person_id)), key_count


def without_trail(person: talent_pb2.Person) -> talent_pb2.Person:
    copy = talent_pb2.Person()
    copy.CopyFrom(person)
    copy.ClearField("update_time")
    copy.updated_by = ""
    return copy


@pytest.mark.parametrize(
    ("path", "value", "shown"),
    [
        ("name", "赵莉", "赵莉"),
        ("gender", talent_pb2.GENDER_MALE, talent_pb2.GENDER_MALE),
        ("birth_date", "1986-01-02", "1986-01-02"),
        ("party_member", True, True),
        ("education", talent_pb2.EDUCATION_JUNIOR_COLLEGE, talent_pb2.EDUCATION_JUNIOR_COLLEGE),
        ("phone", "0311-86001234", "0311-86001234"),
    ],
)
async def test_each_editable_field_changes_alone(
    talent: talent_pb2_grpc.TalentServiceStub, talent_host: ServiceHost, path: str, value: Any, shown: Any,
) -> None:
    before = await get(talent, (await register(talent)).id)
    answer = (await talent.UpdatePerson(update(before.id, path, **{path: value}), metadata=CLERK)).person
    after = await get(talent, before.id)
    assert getattr(after, path) == shown
    expected = talent_pb2.Person()
    expected.CopyFrom(before)
    setattr(expected, path, shown)
    assert without_trail(after) == expected
    assert after.updated_by == "clerk" and after.HasField("update_time")
    assert answer.updated_by == "clerk" and answer.name == after.name
    (event,) = await events_of(talent_host, before.id)
    assert list(event.changed_fields) == [path]
    assert (event.region_code, event.person_name, event.party_member) == (
        VILLAGE, after.name, after.party_member)


async def test_joining_the_party_sets_membership_and_date_together(
    talent: talent_pb2_grpc.TalentServiceStub, talent_host: ServiceHost,
) -> None:
    person = await register(talent)
    with pytest.raises(grpc.aio.AioRpcError) as err:  # a date for a non-member
        await talent.UpdatePerson(update(person.id, "party_join_date", party_join_date="2010-07-01"),
                                  metadata=CLERK)
    assert rpc_error_details(err.value)[0][0] == "person.party_join_date"
    await talent.UpdatePerson(update(person.id, "party_member", "party_join_date", party_member=True,
                                     party_join_date="2010-07-01"), metadata=CLERK)
    after = await get(talent, person.id)
    assert after.party_member and after.party_join_date == "2010-07-01"
    (event,) = await events_of(talent_host, person.id)
    assert list(event.changed_fields) == ["party_member", "party_join_date"] and event.party_member
    # Leaving again needs the date cleared with it; named in the mask with no value, it clears.
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await talent.UpdatePerson(update(person.id, "party_member", party_member=False), metadata=CLERK)
    (field, description), = rpc_error_details(err.value)
    assert field == "person.party_join_date" and "update_mask" in description
    await talent.UpdatePerson(update(person.id, "party_member", "party_join_date"), metadata=CLERK)
    after = await get(talent, person.id)
    assert not after.party_member and after.party_join_date == ""


async def test_a_partial_mask_leaves_every_other_field_as_it_was(
    talent: talent_pb2_grpc.TalentServiceStub,
) -> None:
    before = await get(talent, (await register(talent, party_member=True, party_join_date="2008-05-04")).id)
    # Every field carries another value, but only the phone is named.
    await talent.UpdatePerson(update(
        before.id, "phone", name="别人", gender=talent_pb2.GENDER_MALE, birth_date="1970-01-01",
        party_member=False, education=talent_pb2.EDUCATION_POSTGRADUATE, party_join_date="",
        phone="13600005678", region_code=f"{COUNTY}101202", id_number=number("19700101", 111)),
        metadata=CLERK)
    after = await get(talent, before.id)
    expected = talent_pb2.Person()
    expected.CopyFrom(before)
    expected.phone = "13600005678"
    assert without_trail(after) == expected


async def test_phone_and_date_joined_clear_when_named_without_a_value(
    talent: talent_pb2_grpc.TalentServiceStub, talent_host: ServiceHost,
) -> None:
    person = await register(talent, party_member=True, party_join_date="2008-05-04")
    await talent.UpdatePerson(update(person.id, "phone", "party_join_date", "education"), metadata=CLERK)
    after = await get(talent, person.id)
    assert (after.phone, after.party_join_date, after.education) == ("", "", 0)
    async with talent_host.engine.connect() as conn:
        row = (await conn.execute(select(people).where(people.c.id == person.id))).one()
    assert row.phone_cipher is None and row.phone_masked is None


@pytest.mark.parametrize(
    ("paths", "values", "field"),
    [
        ((), {"name": "钱七"}, "update_mask"),
        (("nickname",), {}, "update_mask"),
        (("id_number",), {"id_number": "130129198506150021"}, "update_mask"),
        (("name", "region_code"), {"name": "钱七", "region_code": f"{COUNTY}101202"}, "update_mask"),
        (("created_by",), {"created_by": "someone"}, "update_mask"),
        (("name",), {"name": "  "}, "person.name"),
        (("name",), {"name": "长" * 51}, "person.name"),
        (("phone",), {"phone": "13600 0O123"}, "person.phone"),
        (("birth_date",), {"birth_date": "1985-02-30"}, "person.birth_date"),
        (("birth_date",), {"birth_date": "2999-01-01"}, "person.birth_date"),
        (("gender",), {"gender": 0}, "person.gender"),
        (("party_member", "party_join_date"), {"party_member": True, "party_join_date": "2999-01-01"},
         "person.party_join_date"),
        (("party_member", "party_join_date"), {"party_member": True, "party_join_date": "1984-01-01"},
         "person.party_join_date"),  # before birth
        (("party_member", "party_join_date"), {"party_member": True, "party_join_date": "2000-01-01"},
         "person.party_join_date"),  # at 14
    ],
)
async def test_bad_masks_and_bad_values_are_refused_and_change_nothing(
    talent: talent_pb2_grpc.TalentServiceStub, talent_host: ServiceHost,
    paths: tuple[str, ...], values: dict[str, Any], field: str,
) -> None:
    person = await register(talent)
    before = await snapshot(talent_host, person.id)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await talent.UpdatePerson(update(person.id, *paths, **values), metadata=CLERK)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert {f for f, _ in rpc_error_details(err.value)} == {field}
    assert field in (err.value.details() or "")
    assert await snapshot(talent_host, person.id) == before


async def test_the_id_number_stays_and_gender_and_birth_date_keep_agreeing_with_it(
    talent: talent_pb2_grpc.TalentServiceStub, talent_host: ServiceHost,
) -> None:
    full = number("19850615", 242)  # even: a woman
    person = (await talent.RegisterPerson(talent_pb2.RegisterPersonRequest(
        request_id=rid(), region_code=VILLAGE, name="孙敏", id_number=full), metadata=ADMIN)).person
    before = await snapshot(talent_host, person.id)
    for paths, values, field in ((("gender",), {"gender": talent_pb2.GENDER_MALE}, "person.gender"),
                                 (("birth_date",), {"birth_date": "1985-06-16"}, "person.birth_date")):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await talent.UpdatePerson(update(person.id, *paths, **values), metadata=ORG_DEPT)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert {f for f, _ in rpc_error_details(err.value)} == {field}
        assert full not in (err.value.details() or "")
    assert await snapshot(talent_host, person.id) == before
    answer = (await talent.UpdatePerson(update(person.id, "name", name="孙敏敏"), metadata=ORG_DEPT)).person
    assert answer.id_number == full and not answer.id_number_masked  # shown in full to 组织部
    assert (await get(talent, person.id)).id_number == full


async def test_outside_the_scope_or_unknown_is_refused_and_changes_nothing(
    talent: talent_pb2_grpc.TalentServiceStub, talent_host: ServiceHost,
) -> None:
    person = await register(talent)
    before = await snapshot(talent_host, person.id)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await talent.UpdatePerson(update(person.id, "name", name="钱七"), metadata=NEIGHBOUR)
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    # Out of scope is refused before the values are looked at.
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await talent.UpdatePerson(update(person.id, "name", name=""), metadata=NEIGHBOUR)
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert await snapshot(talent_host, person.id) == before
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await talent.UpdatePerson(update(str(uuid.uuid4()), "name", name="钱七"), metadata=CLERK)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    assert [f for f, _ in rpc_error_details(err.value)] == ["person.id"]
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await talent.UpdatePerson(update("not-an-id", "name", name="钱七"), metadata=CLERK)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert rpc_error_details(err.value)[0][0] == "person.id"
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await talent.UpdatePerson(update(person.id, "name", name="钱七", request_id=" "), metadata=CLERK)
    assert rpc_error_details(err.value)[0][0] == "request_id"
    assert await snapshot(talent_host, person.id) == before


async def test_a_retry_returns_the_first_answer_and_changes_once(
    talent: talent_pb2_grpc.TalentServiceStub, talent_host: ServiceHost,
) -> None:
    person = await register(talent)
    req = update(person.id, "name", "phone", name="赵丽华", phone="13600009999")
    first = (await talent.UpdatePerson(req, metadata=CLERK)).person
    # Someone changes the name again in between; the retry still answers as the first time.
    await talent.UpdatePerson(update(person.id, "name", name="赵丽娟"), metadata=ADMIN)
    again = (await talent.UpdatePerson(req, metadata=CLERK)).person
    assert again == first and first.name == "赵丽华" and first.phone == "136****9999"
    assert (await get(talent, person.id)).name == "赵丽娟"
    assert [list(e.changed_fields) for e in await events_of(talent_host, person.id)] == [
        ["name", "phone"], ["name"]]
    # The same key for another change is refused.
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await talent.UpdatePerson(update(person.id, "name", name="别的", request_id=req.request_id),
                                  metadata=CLERK)
    assert rpc_error_details(err.value)[0][0] == "request_id"


async def test_an_update_that_changes_nothing_announces_nothing(
    talent: talent_pb2_grpc.TalentServiceStub, talent_host: ServiceHost,
) -> None:
    person = await register(talent)
    same = update(person.id, "name", "phone", name="赵丽", phone="136 0000 1234")
    answer = (await talent.UpdatePerson(same, metadata=CLERK)).person
    assert answer.updated_by == "" and not answer.HasField("update_time")
    assert await events_of(talent_host, person.id) == []


async def test_the_answer_shows_the_phone_in_full_only_to_those_who_may_see_it(
    talent: talent_pb2_grpc.TalentServiceStub,
) -> None:
    person = await register(talent, id_number=number("19850615", 264), gender=0, birth_date="")
    masked = (await talent.UpdatePerson(update(person.id, "phone", phone="13600004321"),
                                        metadata=CLERK)).person
    assert masked.phone == "136****4321" and masked.id_number_masked
    req = update(person.id, "phone", phone="13600004322")
    full = (await talent.UpdatePerson(req, metadata=ORG_DEPT)).person
    assert full.phone == "13600004322" and full.id_number == number("19850615", 264)
    assert (await talent.UpdatePerson(req, metadata=ORG_DEPT)).person == full
    # A retry after a later change of the phone still answers the first change, masked.
    await talent.UpdatePerson(update(person.id, "phone", phone="13600004323"), metadata=ORG_DEPT)
    retried = (await talent.UpdatePerson(req, metadata=ORG_DEPT)).person
    assert retried.phone == "136****4322" and retried.id_number == full.id_number
