"""Talent resolvers (人才/干部): ID numbers as the service returns them, the update mask of
updatePerson, the structure report, the cadre record, and reviews and assessments through
their batch loaders."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from shanzhi.talent.v1 import talent_pb2
from shanzhi_gateway.context import GatewayContext
from shanzhi_gateway.schema import schema

if TYPE_CHECKING:
    from conftest import Fakes

VILLAGE = "130123101201"
STAMP = Timestamp(seconds=1_767_225_600)


def new_id() -> str:
    return str(uuid.uuid4())


async def test_id_numbers_pass_through_masked_or_full_as_the_service_answers(
    fakes: Fakes, context_for: Callable[[str | None], GatewayContext], token: str
) -> None:
    masked = fakes.world.add_person("王芳")
    masked.id_number, masked.id_number_masked, masked.phone = "1301**********1234", True, "138****5678"
    result = await schema.execute(
        "query($id: ID!) { person(id: $id) { idNumber idNumberMasked phone } }",
        variable_values={"id": masked.id},
        context_value=context_for(f"Bearer {token}"),
    )
    assert result.errors is None
    assert result.data == {
        "person": {"idNumber": "1301**********1234", "idNumberMasked": True, "phone": "138****5678"}
    }


async def test_register_sends_the_id_number_and_leaves_derived_fields_empty(
    fakes: Fakes, context_for: Callable[[str | None], GatewayContext], token: str
) -> None:
    sent: list[talent_pb2.RegisterPersonRequest] = []

    def register(r: talent_pb2.RegisterPersonRequest) -> talent_pb2.RegisterPersonResponse:
        sent.append(r)
        return talent_pb2.RegisterPersonResponse(
            person=talent_pb2.Person(
                id=new_id(),
                region_code=r.region_code,
                name=r.name,
                gender=talent_pb2.GENDER_FEMALE,
                birth_date="1949-12-31",
                id_number="1101**********002X",
                id_number_masked=True,
                create_time=STAMP,
            )
        )

    fakes.talent.answer("RegisterPerson", register)
    result = await schema.execute(
        """mutation { registerPerson(requestId: "r1", input: {regionCode: "130123101201", name: "李娟",
             idNumber: "11010519491231002X"}) { gender birthDate idNumber idNumberMasked } }""",
        context_value=context_for(f"Bearer {token}"),
    )
    assert result.errors is None
    assert result.data == {
        "registerPerson": {
            "gender": "FEMALE",
            "birthDate": "1949-12-31",
            "idNumber": "1101**********002X",
            "idNumberMasked": True,
        }
    }
    assert sent[0].id_number == "11010519491231002X" and sent[0].gender == 0 and sent[0].birth_date == ""


UPDATE = """mutation($id: ID!, $input: UpdatePersonInput!) {
  updatePerson(requestId: "u1", id: $id, input: $input) { name phone partyMember updateTime updatedBy }
}"""


@pytest.mark.parametrize(
    ("given", "paths", "values"),
    [
        ({"name": "李娟"}, ["name"], {"name": "李娟"}),
        ({"phone": None}, ["phone"], {"phone": ""}),
        ({"partyMember": False, "partyJoinDate": None}, ["party_member", "party_join_date"],
         {"party_member": False, "party_join_date": ""}),
        ({"partyMember": True, "partyJoinDate": "2001-07-01"}, ["party_member", "party_join_date"],
         {"party_member": True, "party_join_date": "2001-07-01"}),
        ({"education": "JUNIOR_COLLEGE", "gender": None, "birthDate": "1990-05-02"},
         ["gender", "birth_date", "education"],
         {"gender": 0, "birth_date": "1990-05-02", "education": talent_pb2.EDUCATION_JUNIOR_COLLEGE}),
    ],
)
async def test_update_person_masks_exactly_the_fields_given(
    fakes: Fakes, context_for: Callable[[str | None], GatewayContext], token: str,
    given: dict[str, Any], paths: list[str], values: dict[str, Any],
) -> None:
    person = fakes.world.add_person("王芳")

    def update(r: talent_pb2.UpdatePersonRequest) -> talent_pb2.UpdatePersonResponse:
        changed = talent_pb2.Person()
        changed.CopyFrom(person)
        changed.name, changed.updated_by = "李娟", "clerk-2"
        changed.update_time.CopyFrom(STAMP)
        return talent_pb2.UpdatePersonResponse(person=changed)

    fakes.talent.answer("UpdatePerson", update)
    result = await schema.execute(UPDATE, variable_values={"id": person.id.upper(), "input": given},
                                  context_value=context_for(f"Bearer {token}"))
    assert result.errors is None
    assert result.data == {"updatePerson": {"name": "李娟", "phone": None, "partyMember": True,
                                            "updateTime": "2026-01-01T00:00:00+00:00",
                                            "updatedBy": "clerk-2"}}
    (call,) = fakes.talent.UpdatePerson.calls
    expected = talent_pb2.UpdatePersonRequest(request_id="u1",
                                              person=talent_pb2.Person(id=person.id, **values))
    expected.update_mask.paths.extend(paths)
    assert call.request == expected


async def test_update_person_with_nothing_to_change_is_refused_without_a_call(
    fakes: Fakes, context_for: Callable[[str | None], GatewayContext], token: str
) -> None:
    person = fakes.world.add_person("王芳")
    result = await schema.execute(UPDATE, variable_values={"id": person.id, "input": {}},
                                  context_value=context_for(f"Bearer {token}"))
    assert result.errors is not None
    assert result.errors[0].extensions == {"code": "INVALID_ARGUMENT", "fieldViolations": [
        {"field": "input", "description": "give at least one field to change (要修改的字段)"}]}
    assert fakes.talent.UpdatePerson.calls == []


async def test_structure_report_maps_villages_gaps_and_candidates(
    fakes: Fakes, context_for: Callable[[str | None], GatewayContext], token: str
) -> None:
    candidate = talent_pb2.GapCandidate(
        candidate_id=new_id(),
        person_id=new_id(),
        name="后备",
        status=talent_pb2.RESERVE_STATUS_QUALIFIED,
        region_code=VILLAGE,
    )
    fakes.talent.answer(
        "GetStructureReport",
        lambda r: talent_pb2.GetStructureReportResponse(
            as_of_date="2026-06-30",
            counties=[
                talent_pb2.RegionStructure(
                    region_code="130123", village_count=1, one_shoulder_share_percent=0.0
                )
            ],
            villages=[
                talent_pb2.VillageStructure(
                    region_code=VILLAGE,
                    member_count=2,
                    gaps=[
                        talent_pb2.StructureGap(
                            kind=talent_pb2.STRUCTURE_GAP_KIND_NO_WOMAN,
                            description="0 of 1",
                            candidates=[candidate],
                        )
                    ],
                )
            ],
        ),
    )
    result = await schema.execute(
        """{ structureReport(regionCodePrefix: "130123", asOfDate: "2026-06-30") {
              asOfDate counties { regionCode villageCount }
              villages { regionCode compliant gaps { kind candidates { name status } } } } }""",
        context_value=context_for(f"Bearer {token}"),
    )
    assert result.errors is None
    village = result.data["structureReport"]["villages"][0]  # type: ignore[index]
    assert village["gaps"] == [{"kind": "NO_WOMAN", "candidates": [{"name": "后备", "status": "QUALIFIED"}]}]
    [call] = fakes.talent.GetStructureReport.calls
    assert (call.request.region_code_prefix, call.request.as_of_date) == ("130123", "2026-06-30")


async def test_posts_resolve_their_reviews_in_one_batch(
    fakes: Fakes, context_for: Callable[[str | None], GatewayContext], token: str
) -> None:
    world = fakes.world
    reviews = {}
    for i in range(3):
        person = world.add_person(f"干部{i}")
        post = world.add_post(person)
        review = talent_pb2.QualificationReview(
            id=new_id(),
            person_id=person.id,
            region_code=VILLAGE,
            role=post.role,
            result=talent_pb2.REVIEW_RESULT_PASSED,
            create_time=STAMP,
            checks=[
                talent_pb2.ReviewCheck(
                    kind=talent_pb2.REVIEW_CHECK_KIND_AGE,
                    department="system",
                    result=talent_pb2.REVIEW_RESULT_PASSED,
                    checked_date="2026-01-01",
                )
            ],
        )
        post.review_id = review.id
        reviews[review.id] = review
    fakes.talent.answer(
        "BatchGetQualificationReviews",
        lambda r: talent_pb2.BatchGetQualificationReviewsResponse(
            reviews=[reviews[i] for i in r.ids if i in reviews]
        ),
    )
    result = await schema.execute(
        "{ posts { items { review { result checks { kind result } } } } }",
        context_value=context_for(f"Bearer {token}"),
    )
    assert result.errors is None
    items = result.data["posts"]["items"]  # type: ignore[index]
    assert [i["review"]["result"] for i in items] == ["PASSED"] * 3
    assert len(fakes.talent.BatchGetQualificationReviews.calls) == 1


async def test_cadre_record_shows_one_shoulder_from_the_service(
    fakes: Fakes, context_for: Callable[[str | None], GatewayContext], token: str
) -> None:
    person = fakes.world.add_person("一肩挑")
    fakes.talent.answer(
        "GetCadreRecord",
        lambda r: talent_pb2.GetCadreRecordResponse(
            record=talent_pb2.CadreRecord(
                person=person,
                as_of_date="2026-06-30",
                concurrent=[
                    talent_pb2.ConcurrentPosts(
                        region_code=VILLAGE,
                        one_shoulder=True,
                        cross_posts=True,
                        roles=[talent_pb2.POST_ROLE_PARTY_SECRETARY, talent_pb2.POST_ROLE_COMMITTEE_DIRECTOR],
                    )
                ],
            )
        ),
    )
    result = await schema.execute(
        "query($id: ID!) { cadreRecord(personId: $id) { person { name } concurrent { roles oneShoulder } } }",
        variable_values={"id": person.id},
        context_value=context_for(f"Bearer {token}"),
    )
    assert result.errors is None
    assert result.data == {
        "cadreRecord": {
            "person": {"name": "一肩挑"},
            "concurrent": [{"roles": ["PARTY_SECRETARY", "COMMITTEE_DIRECTOR"], "oneShoulder": True}],
        }
    }
