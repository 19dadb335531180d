"""Fixtures for the gateway's own tests: fake service stubs, settings and tokens.

The fakes stand in for the gRPC stubs: each method records the request, the
metadata and the deadline it was called with, and answers from in-memory data.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from pydantic import SecretStr
from shanzhi.audit.v1 import audit_pb2
from shanzhi.common.v1 import paging_pb2
from shanzhi.lists.v1 import lists_pb2
from shanzhi.points.v1 import points_pb2
from shanzhi.talent.v1 import talent_pb2
from shanzhi_gateway.clients import ServiceClients
from shanzhi_gateway.context import GatewayContext
from shanzhi_gateway.schema import schema
from shanzhi_gateway.settings import GatewaySettings
from shanzhi_kit.auth import ROLE_COUNTY_OFFICER, TokenVerifier, issue_token
from shanzhi_kit.settings import AuthSettings

SECRET = "gateway-test-secret-of-at-least-32-bytes"
COUNTY = "130123"
VILLAGE = "130123101201"


def new_id() -> str:
    return str(uuid.uuid4())


def created() -> Timestamp:
    ts = Timestamp()
    ts.FromSeconds(1_767_225_600)  # 2026-01-01T00:00:00Z
    return ts


@dataclass
class Call:
    request: Any
    metadata: Any
    timeout: float | None


class FakeMethod:
    """A unary method: records each call and answers with ``handler(request)``."""

    def __init__(self, name: str, handler: Callable[[Any], Any] | None = None) -> None:
        self._method = f"/fake/{name}".encode()
        self.name = name
        self.handler = handler
        self.calls: list[Call] = []

    async def __call__(self, request: Any, *, metadata: Any = None, timeout: float | None = None) -> Any:  # noqa: ASYNC109
        self.calls.append(Call(request, metadata, timeout))
        if self.handler is None:
            raise AssertionError(f"unexpected call to {self.name}")
        answer = self.handler(request)
        if isinstance(answer, BaseException):
            raise answer
        return answer


class FakeStub:
    """Any attribute is a :class:`FakeMethod`; set ``handler`` to make it answer."""

    def __init__(self) -> None:
        self.methods: dict[str, FakeMethod] = {}

    def __getattr__(self, name: str) -> FakeMethod:
        if name.startswith("_"):
            raise AttributeError(name)
        return self.methods.setdefault(name, FakeMethod(name))

    def answer(self, name: str, handler: Callable[[Any], Any]) -> None:
        getattr(self, name).handler = handler

    def all_calls(self) -> list[Call]:
        return [c for m in self.methods.values() for c in m.calls]


@dataclass
class World:
    """In-memory records the fake stubs answer from."""

    people: dict[str, talent_pb2.Person] = field(default_factory=dict)
    posts: dict[str, talent_pb2.Post] = field(default_factory=dict)
    entries: dict[str, audit_pb2.AuditScheduleEntry] = field(default_factory=dict)
    households: dict[str, points_pb2.Household] = field(default_factory=dict)
    items: dict[str, lists_pb2.ListItem] = field(default_factory=dict)
    rounds: dict[str, audit_pb2.InspectionRound] = field(default_factory=dict)

    def add_person(self, name: str, *, region: str = VILLAGE) -> talent_pb2.Person:
        person = talent_pb2.Person(
            id=new_id(),
            region_code=region,
            name=name,
            gender=talent_pb2.GENDER_FEMALE,
            birth_date="1990-05-01",
            party_member=True,
            education=talent_pb2.EDUCATION_BACHELOR,
            create_time=created(),
            created_by="clerk-1",
        )
        self.people[person.id] = person
        return person

    def add_post(
        self, person: talent_pb2.Person, role: int = talent_pb2.POST_ROLE_PARTY_SECRETARY
    ) -> talent_pb2.Post:
        post = talent_pb2.Post(
            id=new_id(),
            person_id=person.id,
            region_code=person.region_code,
            role=role,  # type: ignore[arg-type]
            method=talent_pb2.APPOINTMENT_METHOD_ELECTION,
            start_date="2024-01-01",
            create_time=created(),
            created_by="clerk-1",
        )
        self.posts[post.id] = post
        return post

    def add_entry(
        self, person_id: str, post: talent_pb2.Post | None, name: str = ""
    ) -> audit_pb2.AuditScheduleEntry:
        entry = audit_pb2.AuditScheduleEntry(
            id=new_id(),
            cadre_person_id=person_id,
            cadre_name=name,
            region_code=VILLAGE,
            post_id=post.id if post else "",
            post_role=talent_pb2.PostRole.Name(post.role) if post else "",
            kind=audit_pb2.AUDIT_KIND_IN_OFFICE,
            due_date="2027-01-01",
            status=audit_pb2.AUDIT_SCHEDULE_STATUS_DUE,
            create_time=created(),
        )
        self.entries[entry.id] = entry
        return entry


@dataclass
class Fakes:
    world: World
    talent: FakeStub
    audit: FakeStub
    points: FakeStub
    lists: FakeStub
    clients: ServiceClients

    def all_calls(self) -> list[Call]:
        return [
            *self.talent.all_calls(),
            *self.audit.all_calls(),
            *self.points.all_calls(),
            *self.lists.all_calls(),
        ]


def _in_order(ids: Any, records: dict[str, Any]) -> list[Any]:
    return [records[i] for i in ids if i in records]


@pytest.fixture
def fakes() -> Fakes:
    world = World()
    talent, audit, points, lists = FakeStub(), FakeStub(), FakeStub(), FakeStub()
    talent.answer(
        "BatchGetPeople",
        lambda r: talent_pb2.BatchGetPeopleResponse(people=_in_order(r.ids, world.people)),
    )
    talent.answer(
        "BatchGetPosts",
        lambda r: talent_pb2.BatchGetPostsResponse(posts=_in_order(r.ids, world.posts)),
    )
    talent.answer(
        "ListPeople",
        lambda r: talent_pb2.ListPeopleResponse(
            people=list(world.people.values()), page_info=paging_pb2.PageInfo()
        ),
    )
    talent.answer(
        "ListPosts",
        lambda r: talent_pb2.ListPostsResponse(
            posts=[p for p in world.posts.values() if not r.person_id or p.person_id == r.person_id]
        ),
    )
    audit.answer(
        "ListAuditScheduleEntries",
        lambda r: audit_pb2.ListAuditScheduleEntriesResponse(
            entries=list(world.entries.values()),
            page_info=paging_pb2.PageInfo(next_page_token="next"),
        ),
    )
    audit.answer(
        "BatchGetCadreAuditSchedules",
        lambda r: audit_pb2.BatchGetCadreAuditSchedulesResponse(
            schedules=[
                audit_pb2.CadreAuditSchedule(
                    cadre_person_id=p,
                    entries=[e for e in world.entries.values() if e.cadre_person_id == p],
                )
                for p in r.cadre_person_ids
            ]
        ),
    )
    audit.answer(
        "BatchGetAuditScheduleEntries",
        lambda r: audit_pb2.BatchGetAuditScheduleEntriesResponse(entries=_in_order(r.ids, world.entries)),
    )
    audit.answer(
        "BatchGetInspectionRounds",
        lambda r: audit_pb2.BatchGetInspectionRoundsResponse(rounds=_in_order(r.ids, world.rounds)),
    )
    points.answer(
        "BatchGetHouseholds",
        lambda r: points_pb2.BatchGetHouseholdsResponse(households=_in_order(r.ids, world.households)),
    )
    lists.answer(
        "BatchGetListItems",
        lambda r: lists_pb2.BatchGetListItemsResponse(items=_in_order(r.ids, world.items)),
    )
    clients = ServiceClients(
        points=points,  # type: ignore[arg-type]
        lists=lists,  # type: ignore[arg-type]
        audit=audit,  # type: ignore[arg-type]
        talent=talent,  # type: ignore[arg-type]
        timeout=2.5,
    )
    return Fakes(world, talent, audit, points, lists, clients)


@pytest.fixture
def settings() -> GatewaySettings:
    return GatewaySettings(
        auth=AuthSettings(secret=SecretStr(SECRET)),
        rpc_timeout_seconds=2.5,
    )


@pytest.fixture
def verifier(settings: GatewaySettings) -> TokenVerifier:
    return TokenVerifier(settings.auth)


def _make_token(region: str = COUNTY, roles: tuple[str, ...] = (ROLE_COUNTY_OFFICER,)) -> str:
    return issue_token(SECRET, "officer-1", roles, region, name="县干部")


@pytest.fixture
def make_token() -> Callable[..., str]:
    """Signs a token: ``make_token(region="130123", roles=("county_officer",))``."""
    return _make_token


@pytest.fixture
def token() -> str:
    """A county officer's token over the test county."""
    return _make_token()


@pytest.fixture
def context_for(fakes: Fakes, verifier: TokenVerifier) -> Callable[[str | None], GatewayContext]:
    def build(authorization: str | None) -> GatewayContext:
        return GatewayContext(fakes.clients, verifier, authorization)

    return build


#: Runs one GraphQL operation (with variables as keywords) and returns its data.
Run = Callable[..., Awaitable[dict[str, Any]]]


@pytest.fixture
def run(context_for: Callable[[str | None], GatewayContext], token: str) -> Run:
    """Executes one operation as a county officer, with a fresh context, and returns its data."""

    async def execute(operation: str, **variables: Any) -> dict[str, Any]:
        result = await schema.execute(operation, variable_values=variables,
                                      context_value=context_for(f"Bearer {token}"))
        assert result.errors is None, result.errors
        assert result.data is not None
        return result.data

    return execute
