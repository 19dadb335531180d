"""Resolvers: requests sent to the services, answers mapped back, DataLoaders batching."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import grpc
from shanzhi.audit.v1 import audit_pb2
from shanzhi.lists.v1 import lists_pb2
from shanzhi.points.v1 import points_pb2
from shanzhi.talent.v1 import talent_pb2
from shanzhi_gateway.context import GatewayContext
from shanzhi_gateway.schema import schema

if TYPE_CHECKING:
    from conftest import Fakes

VILLAGE = "130123101201"


async def test_every_call_carries_the_callers_token_and_the_deadline(
    fakes: Fakes, context_for: Callable[[str | None], GatewayContext], token: str
) -> None:
    person = fakes.world.add_person("张三")
    fakes.world.add_entry(person.id, fakes.world.add_post(person), "张三")
    result = await schema.execute(
        "{ auditSchedule { items { cadre { name posts { role } auditSchedule { id } } post { id } } } }",
        context_value=context_for(f"Bearer {token}"),
    )
    assert result.errors is None
    calls = fakes.all_calls()
    assert len(calls) == 5
    for call in calls:
        assert call.metadata == (("authorization", f"Bearer {token}"),)
        assert call.timeout == 2.5


async def test_cross_service_fields_are_batched(
    fakes: Fakes, context_for: Callable[[str | None], GatewayContext], token: str
) -> None:
    world = fakes.world
    people = [world.add_person(f"干部{i}") for i in range(3)]
    posts = [world.add_post(p) for p in people]
    for person, post in zip(people, posts, strict=True):
        world.add_entry(person.id, post, person.name)
        world.add_entry(person.id, post, person.name)
    outside = "0f8fad5b-d9cb-469f-a165-70867728950e"  # a cadre the caller may not see
    world.add_entry(outside, None, "外县干部")

    result = await schema.execute(
        """{
          auditSchedule(regionCodePrefix: "130123", dueOnOrBefore: "2027-12-31", first: 20) {
            nextPageToken
            items {
              cadreName postRole kind status dueDate
              cadre { id name }
              post { id role person { name } }
            }
          }
        }""",
        context_value=context_for(f"Bearer {token}"),
    )
    assert result.errors is None
    assert result.data is not None
    page = result.data["auditSchedule"]
    assert page["nextPageToken"] == "next"
    assert len(page["items"]) == 7
    first = page["items"][0]
    assert first["postRole"] == "PARTY_SECRETARY"
    assert first["kind"] == "IN_OFFICE"
    assert first["status"] == "DUE"
    assert first["dueDate"] == "2027-01-01"
    assert first["cadre"] == {"id": people[0].id, "name": "干部0"}
    assert first["post"]["person"] == {"name": "干部0"}
    last = page["items"][-1]
    assert last["cadre"] is None
    assert last["post"] is None

    (list_call,) = fakes.audit.ListAuditScheduleEntries.calls
    assert list_call.request.region_code_prefix == "130123"
    assert list_call.request.due_on_or_before == "2027-12-31"
    assert list_call.request.page.page_size == 20

    # One batch per level, each id once.
    people_calls = fakes.talent.BatchGetPeople.calls
    assert len(people_calls) == 1
    assert sorted(people_calls[0].request.ids) == sorted([*(p.id for p in people), outside])
    posts_calls = fakes.talent.BatchGetPosts.calls
    assert len(posts_calls) == 1
    assert sorted(posts_calls[0].request.ids) == sorted(p.id for p in posts)


async def test_person_audit_schedule_uses_one_batch(
    fakes: Fakes, context_for: Callable[[str | None], GatewayContext], token: str
) -> None:
    world = fakes.world
    people = [world.add_person(f"村民{i}") for i in range(4)]
    world.add_entry(people[1].id, world.add_post(people[1]), "村民1")
    result = await schema.execute(
        "{ people { items { name auditSchedule { cadreName } posts { role endDate } } } }",
        context_value=context_for(f"Bearer {token}"),
    )
    assert result.errors is None
    assert result.data is not None
    items = result.data["people"]["items"]
    assert [len(i["auditSchedule"]) for i in items] == [0, 1, 0, 0]
    assert items[1]["posts"] == [{"role": "PARTY_SECRETARY", "endDate": None}]
    (call,) = fakes.audit.BatchGetCadreAuditSchedules.calls
    assert list(call.request.cadre_person_ids) == [p.id for p in people]
    assert {c.request.person_id for c in fakes.talent.ListPosts.calls} == {p.id for p in people}


async def test_by_id_queries_share_the_loaders(
    fakes: Fakes, context_for: Callable[[str | None], GatewayContext], token: str
) -> None:
    person = fakes.world.add_person("赵六")
    post = fakes.world.add_post(person)
    missing = "9b2e1c4e-8f3a-4d5b-a6c7-1e2f3a4b5c6d"
    result = await schema.execute(
        f"""{{
          a: person(id: "{person.id}") {{ name gender birthDate partyMember education }}
          b: person(id: "{missing}") {{ name }}
          post(id: "{post.id}") {{ person {{ name }} startDate method }}
        }}""",
        context_value=context_for(f"Bearer {token}"),
    )
    assert result.errors is None
    assert result.data == {
        "a": {
            "name": "赵六",
            "gender": "FEMALE",
            "birthDate": "1990-05-01",
            "partyMember": True,
            "education": "BACHELOR",
        },
        "b": None,
        "post": {"person": {"name": "赵六"}, "startDate": "2024-01-01", "method": "ELECTION"},
    }
    (call,) = fakes.talent.BatchGetPeople.calls
    assert sorted(call.request.ids) == sorted([person.id, missing])


async def test_ids_are_sent_as_the_services_spell_them(
    fakes: Fakes, context_for: Callable[[str | None], GatewayContext], token: str
) -> None:
    person = fakes.world.add_person("冯十四")
    result = await schema.execute(
        f'{{ person(id: "{person.id.upper()}") {{ name }} }}',
        context_value=context_for(f"Bearer {token}"),
    )
    assert result.errors is None
    assert result.data == {"person": {"name": "冯十四"}}
    (call,) = fakes.talent.BatchGetPeople.calls
    assert list(call.request.ids) == [person.id]


async def test_other_by_id_queries(
    fakes: Fakes, context_for: Callable[[str | None], GatewayContext], token: str
) -> None:
    world = fakes.world
    household = points_pb2.Household(
        id="1c6f2a8e-3b4d-4e5f-8a9b-0c1d2e3f4a5b",
        region_code=VILLAGE,
        household_number="017",
        head_name="王五",
        member_count=4,
        villager_group="第三组",
    )
    world.households[household.id] = household
    item = lists_pb2.ListItem(
        id="2d7a3b9f-4c5e-4f60-9b0c-1d2e3f4a5b6c",
        region_code="130123000000",
        kind=lists_pb2.LIST_KIND_NEGATIVE,
        code="FM-01",
        title="不得要求村级组织出具超出能力范围的证明",
        steps=["受理", "审核"],
    )
    world.items[item.id] = item
    round_ = audit_pb2.InspectionRound(
        id="3e8b4c0a-5d6f-4a71-8c1d-2e3f4a5b6c7d",
        region_code="130123000000",
        name="2026年第一轮巡察",
        kind=audit_pb2.INSPECTION_KIND_SPECIAL,
        target_region_codes=[VILLAGE],
        start_date="2026-03-01",
        end_date="2026-04-30",
        team_leader="刘组长",
    )
    world.rounds[round_.id] = round_
    entry = world.add_entry(world.add_person("钱七").id, None, "钱七")

    result = await schema.execute(
        f"""{{
          household(id: "{household.id}") {{ householdNumber headName memberCount villagerGroup }}
          listItem(id: "{item.id}") {{ kind code steps timeLimitDays }}
          inspectionRound(id: "{round_.id}") {{ kind targetRegionCodes startDate endDate }}
          auditScheduleEntry(id: "{entry.id}") {{ cadreName postId postRole post {{ id }} }}
        }}""",
        context_value=context_for(f"Bearer {token}"),
    )
    assert result.errors is None
    assert result.data == {
        "household": {
            "householdNumber": "017",
            "headName": "王五",
            "memberCount": 4,
            "villagerGroup": "第三组",
        },
        "listItem": {
            "kind": "NEGATIVE",
            "code": "FM-01",
            "steps": ["受理", "审核"],
            "timeLimitDays": None,
        },
        "inspectionRound": {
            "kind": "SPECIAL",
            "targetRegionCodes": [VILLAGE],
            "startDate": "2026-03-01",
            "endDate": "2026-04-30",
        },
        "auditScheduleEntry": {"cadreName": "钱七", "postId": None, "postRole": None, "post": None},
    }


async def test_register_person_sends_the_proto_request(
    fakes: Fakes, context_for: Callable[[str | None], GatewayContext], token: str
) -> None:
    def register(request: talent_pb2.RegisterPersonRequest) -> talent_pb2.RegisterPersonResponse:
        person = fakes.world.add_person(request.name)
        return talent_pb2.RegisterPersonResponse(person=person)

    fakes.talent.answer("RegisterPerson", register)
    result = await schema.execute(
        """mutation {
          registerPerson(requestId: "req-42", input: {
            regionCode: "130123101201", name: "孙八", gender: MALE, birthDate: "1988-08-08",
            partyMember: true, education: JUNIOR_COLLEGE
          }) { name createTime createdBy }
        }""",
        context_value=context_for(f"Bearer {token}"),
    )
    assert result.errors is None
    assert result.data == {
        "registerPerson": {
            "name": "孙八",
            "createTime": "2026-01-01T00:00:00+00:00",
            "createdBy": "clerk-1",
        }
    }
    (call,) = fakes.talent.RegisterPerson.calls
    assert call.request == talent_pb2.RegisterPersonRequest(
        request_id="req-42",
        region_code="130123101201",
        name="孙八",
        gender=talent_pb2.GENDER_MALE,
        birth_date="1988-08-08",
        party_member=True,
        education=talent_pb2.EDUCATION_JUNIOR_COLLEGE,
    )


async def test_other_mutations_send_the_proto_requests(
    fakes: Fakes, context_for: Callable[[str | None], GatewayContext], token: str
) -> None:
    person = fakes.world.add_person("周九")
    fakes.talent.answer(
        "AppointPerson",
        lambda r: talent_pb2.AppointPersonResponse(post=fakes.world.add_post(person, r.role)),
    )
    fakes.points.answer(
        "CreateHousehold",
        lambda r: points_pb2.CreateHouseholdResponse(
            household=points_pb2.Household(
                id="4f9c5d1b-6e7a-4b82-9d2e-3f4a5b6c7d8e",
                region_code=r.region_code,
                household_number=r.household_number,
                head_name=r.head_name,
                member_count=r.member_count,
            )
        ),
    )
    fakes.lists.answer(
        "CreateListItem",
        lambda r: lists_pb2.CreateListItemResponse(
            item=lists_pb2.ListItem(
                id="5a0d6e2c-7f8b-4c93-8e3f-4a5b6c7d8e9f",
                region_code=r.region_code,
                kind=r.kind,
                code=r.code,
                title=r.title,
                steps=r.steps,
                time_limit_days=r.time_limit_days,
            )
        ),
    )
    fakes.audit.answer(
        "CreateInspectionRound",
        lambda r: audit_pb2.CreateInspectionRoundResponse(
            round=audit_pb2.InspectionRound(
                id="6b1e7f3d-8a9c-4da4-9f4a-5b6c7d8e9fa0",
                region_code=r.region_code,
                name=r.name,
                kind=r.kind,
                target_region_codes=r.target_region_codes,
                start_date=r.start_date,
                end_date=r.end_date,
            )
        ),
    )
    result = await schema.execute(
        f"""mutation {{
          appointPerson(requestId: "r1", input: {{
            personId: "{person.id}", regionCode: "{VILLAGE}", role: GRID_WORKER,
            method: APPOINTMENT, startDate: "2026-01-15"
          }}) {{ role person {{ name }} }}
          createHousehold(requestId: "r2", input: {{
            regionCode: "{VILLAGE}", householdNumber: "021", headName: "吴十", memberCount: 2
          }}) {{ householdNumber villagerGroup }}
          createListItem(requestId: "r3", input: {{
            regionCode: "{VILLAGE}", kind: PUBLIC_SERVICE, code: "FW-01", title: "帮办代办",
            steps: ["登记", "办理", "归档"], timeLimitDays: 5
          }}) {{ kind steps timeLimitDays }}
          createInspectionRound(requestId: "r4", input: {{
            regionCode: "130123000000", name: "2026年专项巡察", kind: ACUPUNCTURE,
            targetRegionCodes: ["{VILLAGE}"], startDate: "2026-05-01", endDate: "2026-05-31"
          }}) {{ kind name }}
        }}""",
        context_value=context_for(f"Bearer {token}"),
    )
    assert result.errors is None
    assert result.data == {
        "appointPerson": {"role": "GRID_WORKER", "person": {"name": "周九"}},
        "createHousehold": {"householdNumber": "021", "villagerGroup": ""},
        "createListItem": {
            "kind": "PUBLIC_SERVICE",
            "steps": ["登记", "办理", "归档"],
            "timeLimitDays": 5,
        },
        "createInspectionRound": {"kind": "ACUPUNCTURE", "name": "2026年专项巡察"},
    }
    (appoint,) = fakes.talent.AppointPerson.calls
    assert appoint.request.request_id == "r1"
    assert appoint.request.role == talent_pb2.POST_ROLE_GRID_WORKER
    assert appoint.request.method == talent_pb2.APPOINTMENT_METHOD_APPOINTMENT
    assert appoint.request.start_date == "2026-01-15"
    (item,) = fakes.lists.CreateListItem.calls
    assert item.request.kind == lists_pb2.LIST_KIND_PUBLIC_SERVICE
    (round_,) = fakes.audit.CreateInspectionRound.calls
    assert round_.request.kind == audit_pb2.INSPECTION_KIND_ACUPUNCTURE
    assert list(round_.request.target_region_codes) == [VILLAGE]


async def test_list_filters_reach_the_services(
    fakes: Fakes, context_for: Callable[[str | None], GatewayContext], token: str
) -> None:
    fakes.lists.answer("ListListItems", lambda r: lists_pb2.ListListItemsResponse())
    fakes.points.answer("ListHouseholds", lambda r: points_pb2.ListHouseholdsResponse())
    fakes.audit.answer("ListInspectionRounds", lambda r: audit_pb2.ListInspectionRoundsResponse())
    person_id = "7c2f8a4e-9bad-4eb5-8a5b-6c7d8e9fa0b1"
    result = await schema.execute(
        f"""{{
          listItems(regionCodePrefix: "130123101", kind: DISCLOSURE, first: 10, after: "t1") {{
            items {{ id }} nextPageToken
          }}
          households(regionCodePrefix: "{VILLAGE}") {{ items {{ id }} }}
          inspectionRounds {{ items {{ id }} }}
          posts(personId: "{person_id}") {{ items {{ id }} }}
        }}""",
        context_value=context_for(f"Bearer {token}"),
    )
    assert result.errors is None
    assert result.data is not None
    assert result.data["listItems"] == {"items": [], "nextPageToken": None}
    (lists_call,) = fakes.lists.ListListItems.calls
    assert lists_call.request == lists_pb2.ListListItemsRequest(
        region_code_prefix="130123101",
        kind=lists_pb2.LIST_KIND_DISCLOSURE,
        page={"page_size": 10, "page_token": "t1"},
    )
    (households_call,) = fakes.points.ListHouseholds.calls
    assert households_call.request.region_code_prefix == VILLAGE
    assert households_call.request.page.page_size == 0
    (posts_call,) = fakes.talent.ListPosts.calls
    assert posts_call.request.person_id == person_id


async def test_a_failing_service_leaves_the_rest_of_the_answer(
    fakes: Fakes, context_for: Callable[[str | None], GatewayContext], token: str
) -> None:
    fakes.world.add_person("褚十五")
    fakes.audit.answer(
        "BatchGetCadreAuditSchedules",
        lambda r: grpc.aio.AioRpcError(grpc.StatusCode.UNAVAILABLE, grpc.aio.Metadata(), None),
    )
    result = await schema.execute(
        "{ people { items { name auditSchedule { id } } } }",
        context_value=context_for(f"Bearer {token}"),
    )
    assert result.data == {"people": {"items": [{"name": "褚十五", "auditSchedule": None}]}}
    assert result.errors is not None
    assert result.errors[0].extensions == {"code": "UNAVAILABLE"}
    assert result.errors[0].path == ["people", "items", 0, "auditSchedule"]
