"""People with resident ID numbers over gRPC on PostgreSQL: validation, duplicates,
masking by role, look-up, and no full number or phone in storage, events or logs, also
when the record is kept up (UpdatePerson)."""

from __future__ import annotations

import logging
import uuid
from datetime import date
from typing import Any

import grpc
import pytest
from shanzhi.common.v1 import event_pb2
from shanzhi.talent.v1 import talent_pb2, talent_pb2_grpc
from shanzhi_kit.pytest_plugin import auth_metadata, rpc_error_details
from shanzhi_kit.server import ServiceHost
from shanzhi_talent import idnumbers
from shanzhi_talent.tables import messaging, people
from sqlalchemy import select

pytestmark = pytest.mark.postgres

COUNTY = "130125"
VILLAGE = f"{COUNTY}101201"
ADMIN = auth_metadata(COUNTY)
ORG_DEPT = auth_metadata(COUNTY, roles=("organization_dept",), subject="zuzhibu")
CLERK = auth_metadata(VILLAGE, roles=("village_clerk",), subject="clerk")


def number(birth: str, sequence: int) -> str:
    """A valid number for a birth date "YYYYMMDD" (address 130125)."""
    first17 = f"{COUNTY}{birth}{sequence:03d}"
    return first17 + idnumbers.check_character(first17)


def request(id_number: str, **kw: Any) -> talent_pb2.RegisterPersonRequest:
    return talent_pb2.RegisterPersonRequest(
        request_id=str(uuid.uuid4()), region_code=VILLAGE, name="刘洋", id_number=id_number,
        education=talent_pb2.EDUCATION_JUNIOR_COLLEGE, **kw)


async def test_registration_derives_gender_and_birth_and_masks_by_role(
    talent: talent_pb2_grpc.TalentServiceStub,
) -> None:
    full = number("19880412", 135)
    made = (await talent.RegisterPerson(request(full, phone="13912345678"), metadata=CLERK)).person
    assert made.gender == talent_pb2.GENDER_MALE and made.birth_date == "1988-04-12"
    assert made.id_number == full[:4] + "*" * 10 + full[-4:]
    assert made.id_number_masked and made.phone == "139****5678"
    for md in (ORG_DEPT, ADMIN):
        seen = (await talent.GetPerson(talent_pb2.GetPersonRequest(id=made.id), metadata=md)).person
        assert seen.id_number == full and not seen.id_number_masked and seen.phone == "13912345678"
    seen = (await talent.BatchGetPeople(talent_pb2.BatchGetPeopleRequest(ids=[made.id]),
                                        metadata=CLERK)).people[0]
    assert seen.id_number == made.id_number and seen.id_number_masked
    # The organisation department's own registration answers in full, and so does its retry.
    req = request(number("19920101", 246))
    first = (await talent.RegisterPerson(req, metadata=ORG_DEPT)).person
    again = (await talent.RegisterPerson(req, metadata=ORG_DEPT)).person
    assert first.id_number == req.id_number and again == first


@pytest.mark.parametrize(
    ("id_number", "extra"),
    [
        (number("19880412", 135)[:-1] + "0", {}),  # wrong check character
        (f"{COUNTY}19880230135" + "X", {}),  # 30 February
        (number("19880412", 135), {"gender": talent_pb2.GENDER_FEMALE}),  # 135 is odd: a man
        (number("19880412", 135), {"birth_date": "1988-04-13"}),
    ],
)
async def test_invalid_numbers_and_disagreements_are_refused(
    talent: talent_pb2_grpc.TalentServiceStub, id_number: str, extra: dict[str, Any],
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await talent.RegisterPerson(request(id_number, **extra), metadata=ADMIN)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    fields = {f for f, _ in rpc_error_details(err.value)}
    assert fields & {"id_number", "gender", "birth_date"}
    assert id_number not in (err.value.details() or "")


async def test_duplicates_are_refused_also_across_the_15_and_18_digit_forms(
    talent: talent_pb2_grpc.TalentServiceStub,
) -> None:
    legacy = f"{COUNTY}650315271"  # born 1965-03-15, sequence 271
    converted = idnumbers.parse(legacy, date.today()).value
    made = (await talent.RegisterPerson(request(legacy), metadata=ORG_DEPT)).person
    assert made.id_number == converted and made.birth_date == "1965-03-15"
    for again in (converted, legacy, converted.lower()):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await talent.RegisterPerson(request(again), metadata=ADMIN)
        assert err.value.code() == grpc.StatusCode.ALREADY_EXISTS
        assert made.id in (err.value.details() or "") and converted not in (err.value.details() or "")
    found = await talent.FindPersonByIdNumber(
        talent_pb2.FindPersonByIdNumberRequest(id_number=legacy), metadata=CLERK)
    assert found.person.id == made.id and found.person.id_number_masked
    outsider = auth_metadata(f"{COUNTY}101202", roles=("village_clerk",), subject="other")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await talent.FindPersonByIdNumber(
            talent_pb2.FindPersonByIdNumberRequest(id_number=legacy), metadata=outsider)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    assert [f for f, _ in rpc_error_details(err.value)] == ["id_number"]


async def test_a_legacy_caller_without_id_number_still_registers(
    talent: talent_pb2_grpc.TalentServiceStub,
) -> None:
    person = (await talent.RegisterPerson(talent_pb2.RegisterPersonRequest(
        request_id=str(uuid.uuid4()), region_code=VILLAGE, name="老户", gender=talent_pb2.GENDER_MALE,
        birth_date="1950-01-01"), metadata=ADMIN)).person
    assert person.id_number == "" and not person.id_number_masked


async def test_no_full_number_in_storage_events_or_logs(
    talent: talent_pb2_grpc.TalentServiceStub, talent_host: ServiceHost,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    full = number("19790909", 318)
    made = (await talent.RegisterPerson(request(full, phone="13700001111"), metadata=ORG_DEPT)).person
    with pytest.raises(grpc.aio.AioRpcError):
        await talent.RegisterPerson(request(full), metadata=ORG_DEPT)  # duplicate, logged as a failure
    with pytest.raises(grpc.aio.AioRpcError):
        await talent.RegisterPerson(request(full[:-1] + ("0" if full[-1] != "0" else "1")), metadata=CLERK)
    await talent.FindPersonByIdNumber(talent_pb2.FindPersonByIdNumberRequest(id_number=full),
                                      metadata=ORG_DEPT)
    # Keeping the record up (人员信息维护): a new phone, a refused one, and a refused try at the number.
    changed = talent_pb2.UpdatePersonRequest(
        request_id=str(uuid.uuid4()), person=talent_pb2.Person(id=made.id, name="刘阳", phone="13722223333"))
    changed.update_mask.paths.extend(["name", "phone"])
    assert (await talent.UpdatePerson(changed, metadata=ORG_DEPT)).person.phone == "13722223333"
    assert (await talent.UpdatePerson(changed, metadata=ORG_DEPT)).person.phone == "13722223333"
    refused = talent_pb2.UpdatePersonRequest(
        request_id=str(uuid.uuid4()), person=talent_pb2.Person(id=made.id, phone="1372222333x"))
    refused.update_mask.paths.append("phone")
    with pytest.raises(grpc.aio.AioRpcError):
        await talent.UpdatePerson(refused, metadata=CLERK)
    refused.person.id_number = full
    refused.update_mask.paths[:] = ["id_number"]
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await talent.UpdatePerson(refused, metadata=ORG_DEPT)
    assert full not in (err.value.details() or "")
    phones = ("13700001111", "13722223333")
    legacy_form = full[:6] + full[8:17]
    async with talent_host.engine.connect() as conn:
        row = (await conn.execute(select(people).where(people.c.id == made.id))).one()
        payloads = (await conn.execute(select(messaging.outbox.c.payload))).scalars().all()
        answers = (await conn.execute(select(messaging.idempotency_keys.c.response))).scalars().all()
    stored = b" ".join(str(v).encode() if not isinstance(v, bytes) else v for v in row)
    assert full.encode() not in stored and not any(p.encode() in stored for p in phones)
    assert row.id_number_masked == full[:4] + "*" * 10 + full[-4:] and row.phone_masked == "137****3333"
    updates = 0
    for payload in payloads:
        envelope = event_pb2.EventEnvelope.FromString(payload)
        assert full.encode() not in payload and legacy_form.encode() not in payload
        assert not any(p.encode() in payload for p in phones)
        assert full not in str(envelope)
        updates += envelope.subject == made.id and envelope.type == "shanzhi.talent.v1.PersonUpdatedEvent"
    assert updates == 1
    assert all(full.encode() not in (a or b"") for a in answers)
    assert all(p.encode() not in (a or b"") for a in answers for p in phones)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "RegisterPerson" in logged and "UpdatePerson" in logged  # the calls were logged …
    # … but never the number or the phones.
    assert full not in logged and legacy_form not in logged and not any(p in logged for p in phones)
