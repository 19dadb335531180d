"""Talent and cadres (人才/干部): people and their village posts (TalentService)."""

from __future__ import annotations

import datetime as dt
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry
from shanzhi.talent.v1 import talent_pb2

from shanzhi_gateway.schema.common import (
    CREATE_TIME,
    CREATED_BY,
    ITEMS,
    NEXT_PAGE_TOKEN,
    AfterArg,
    FirstArg,
    Info,
    RegionCodePrefixArg,
    RequestIdArg,
    date_text,
    enum_from_pb,
    enum_to_pb,
    id_arg,
    next_token,
    page_request,
    require_date,
    require_enum,
    require_id,
    to_date,
    to_datetime,
)

if TYPE_CHECKING:
    from shanzhi_gateway.schema.audit import AuditScheduleEntry


@strawberry.enum(description="Gender (性别).")
class Gender(Enum):
    MALE = strawberry.enum_value("MALE", description="Male (男).")
    FEMALE = strawberry.enum_value("FEMALE", description="Female (女).")


@strawberry.enum(description="Education level (学历).")
class Education(Enum):
    JUNIOR_SECONDARY_OR_BELOW = strawberry.enum_value(
        "JUNIOR_SECONDARY_OR_BELOW", description="Junior secondary or below (初中及以下)."
    )
    SENIOR_SECONDARY = strawberry.enum_value(
        "SENIOR_SECONDARY", description="Senior secondary or vocational school (高中/中专)."
    )
    JUNIOR_COLLEGE = strawberry.enum_value("JUNIOR_COLLEGE", description="Junior college (大专).")
    BACHELOR = strawberry.enum_value("BACHELOR", description="Bachelor's degree (本科).")
    POSTGRADUATE = strawberry.enum_value("POSTGRADUATE", description="Postgraduate (研究生).")


@strawberry.enum(description="Village post role (村级岗位).")
class PostRole(Enum):
    PARTY_SECRETARY = strawberry.enum_value(
        "PARTY_SECRETARY", description="Village party-branch secretary (村党组织书记)."
    )
    COMMITTEE_DIRECTOR = strawberry.enum_value(
        "COMMITTEE_DIRECTOR", description="Villagers' committee director (村委会主任)."
    )
    TWO_COMMITTEE_MEMBER = strawberry.enum_value(
        "TWO_COMMITTEE_MEMBER", description="Member of the two committees (村两委委员)."
    )
    VILLAGER_REPRESENTATIVE = strawberry.enum_value(
        "VILLAGER_REPRESENTATIVE", description="Villagers' representative (村民代表)."
    )
    GRID_LEADER = strawberry.enum_value("GRID_LEADER", description="Grid leader (网格长).")
    GRID_INSTRUCTOR = strawberry.enum_value("GRID_INSTRUCTOR", description="Grid instructor (网格指导员).")
    GRID_WORKER = strawberry.enum_value("GRID_WORKER", description="Grid worker (网格员).")
    FIRST_SECRETARY = strawberry.enum_value(
        "FIRST_SECRETARY", description="First secretary sent to the village (第一书记)."
    )
    WORK_TEAM_MEMBER = strawberry.enum_value(
        "WORK_TEAM_MEMBER", description="Member of the village work team (驻村工作队队员)."
    )


@strawberry.enum(description="How a person came to a post (产生方式).")
class AppointmentMethod(Enum):
    ELECTION = strawberry.enum_value("ELECTION", description="Election (选举).")
    APPOINTMENT = strawberry.enum_value("APPOINTMENT", description="Appointment or secondment (任命/选派).")
    BY_ELECTION = strawberry.enum_value("BY_ELECTION", description="By-election (补选).")


@strawberry.type(description="Person (人员): a villager, cadre or candidate.")
class Person:
    id: strawberry.ID = strawberry.field(description="Person id (人员编号).")
    region_code: str = strawberry.field(
        description="12-digit division code (行政区划代码) of the person's village."
    )
    name: str = strawberry.field(description="Name (姓名).")
    gender: Gender = strawberry.field(description="Gender (性别).")
    birth_date: dt.date = strawberry.field(description="Birth date (出生日期).")
    party_member: bool = strawberry.field(description="Member of the Communist Party (中共党员).")
    education: Education | None = strawberry.field(
        description="Education level (学历); null when not recorded."
    )
    create_time: dt.datetime = strawberry.field(description=CREATE_TIME)
    created_by: str = strawberry.field(description=CREATED_BY)

    @classmethod
    def from_pb(cls, person: talent_pb2.Person) -> Person:
        return cls(
            id=strawberry.ID(person.id),
            region_code=person.region_code,
            name=person.name,
            gender=require_enum(Gender, talent_pb2.Gender, person.gender),
            birth_date=require_date(person.birth_date),
            party_member=person.party_member,
            education=enum_from_pb(Education, talent_pb2.Education, person.education),
            create_time=to_datetime(person.create_time),
            created_by=person.created_by,
        )

    @strawberry.field(description="The person's posts (任职), past and present, in your scope.")
    async def posts(self, info: Info) -> list[Post]:
        found = await info.context.loaders.posts_of_person.load(self.id)
        return [Post.from_pb(p) for p in found]

    @strawberry.field(
        description=(
            "The economic-responsibility audits (经济责任审计计划) this cadre is due, "
            "by due date, in your scope. Null, with an error, when the audit service "
            "cannot answer: the rest of the person still resolves."
        )
    )
    async def audit_schedule(
        self, info: Info
    ) -> list[Annotated[AuditScheduleEntry, strawberry.lazy("shanzhi_gateway.schema.audit")]] | None:
        from shanzhi_gateway.schema.audit import AuditScheduleEntry

        found = await info.context.loaders.cadre_audit_schedules.load(self.id)
        return [AuditScheduleEntry.from_pb(e) for e in found]


@strawberry.type(description="Post (任职): one term of a person in a village post.")
class Post:
    id: strawberry.ID = strawberry.field(description="Post id (任职编号).")
    person_id: strawberry.ID = strawberry.field(description="Id of the person holding the post (人员编号).")
    region_code: str = strawberry.field(description="12-digit division code (行政区划代码) of the village.")
    role: PostRole = strawberry.field(description="The post's role (岗位).")
    method: AppointmentMethod = strawberry.field(description="How the person came to the post (产生方式).")
    start_date: dt.date = strawberry.field(description="First day of the term (任期开始).")
    end_date: dt.date | None = strawberry.field(
        description="Last day of the term (任期结束); null while in office (在任)."
    )
    create_time: dt.datetime = strawberry.field(description=CREATE_TIME)
    created_by: str = strawberry.field(description="Who made the appointment (任命人, 留痕).")

    @classmethod
    def from_pb(cls, post: talent_pb2.Post) -> Post:
        return cls(
            id=strawberry.ID(post.id),
            person_id=strawberry.ID(post.person_id),
            region_code=post.region_code,
            role=require_enum(PostRole, talent_pb2.PostRole, post.role),
            method=require_enum(AppointmentMethod, talent_pb2.AppointmentMethod, post.method),
            start_date=require_date(post.start_date),
            end_date=to_date(post.end_date),
            create_time=to_datetime(post.create_time),
            created_by=post.created_by,
        )

    @strawberry.field(description="The person holding the post (任职人员); null when outside your scope.")
    async def person(self, info: Info) -> Person | None:
        found = await info.context.loaders.people.load(self.person_id)
        return Person.from_pb(found) if found is not None else None


@strawberry.type(description="A page of people (人员列表).")
class PersonPage:
    items: list[Person] = strawberry.field(description=ITEMS)
    next_page_token: str | None = strawberry.field(description=NEXT_PAGE_TOKEN)


@strawberry.type(description="A page of posts (任职列表).")
class PostPage:
    items: list[Post] = strawberry.field(description=ITEMS)
    next_page_token: str | None = strawberry.field(description=NEXT_PAGE_TOKEN)


@strawberry.input(description="A person to register (人员登记).")
class RegisterPersonInput:
    region_code: str = strawberry.field(
        description="12-digit code of the person's village (行政区划代码); must lie in your scope."
    )
    name: str = strawberry.field(description="Name (姓名).")
    gender: Gender = strawberry.field(description="Gender (性别).")
    birth_date: dt.date = strawberry.field(description="Birth date (出生日期).")
    party_member: bool = strawberry.field(
        default=False, description="Member of the Communist Party (中共党员)."
    )
    education: Education | None = strawberry.field(default=None, description="Education level (学历).")


@strawberry.input(description="An appointment of a person to a village post (任职).")
class AppointPersonInput:
    person_id: strawberry.ID = strawberry.field(description="The person to appoint (人员编号).")
    region_code: str = strawberry.field(
        description="12-digit code of the post's village (行政区划代码); must lie in your scope."
    )
    role: PostRole = strawberry.field(description="The post's role (岗位).")
    method: AppointmentMethod = strawberry.field(description="How the person came to the post (产生方式).")
    start_date: dt.date = strawberry.field(description="First day of the term (任期开始).")


@strawberry.type
class TalentQuery:
    @strawberry.field(description="One person (人员); null when unknown or outside your scope.")
    async def person(self, info: Info, id: Annotated[strawberry.ID, id_arg("person")]) -> Person | None:
        found = await info.context.loaders.people.load(require_id(id))
        return Person.from_pb(found) if found is not None else None

    @strawberry.field(description="People in a region (人员名册), a page at a time.")
    async def people(
        self,
        info: Info,
        region_code_prefix: RegionCodePrefixArg = "",
        first: FirstArg = None,
        after: AfterArg = None,
    ) -> PersonPage:
        ctx = info.context
        answer = await ctx.call(
            ctx.clients.talent.ListPeople,
            talent_pb2.ListPeopleRequest(
                region_code_prefix=region_code_prefix, page=page_request(first, after)
            ),
        )
        return PersonPage(
            items=[Person.from_pb(p) for p in answer.people],
            next_page_token=next_token(answer.page_info),
        )

    @strawberry.field(description="One post (任职); null when unknown or outside your scope.")
    async def post(self, info: Info, id: Annotated[strawberry.ID, id_arg("post")]) -> Post | None:
        found = await info.context.loaders.posts.load(require_id(id))
        return Post.from_pb(found) if found is not None else None

    @strawberry.field(description="Posts (任职) in a region, optionally of one person.")
    async def posts(
        self,
        info: Info,
        region_code_prefix: RegionCodePrefixArg = "",
        person_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="Only the posts of this person (人员编号)."),
        ] = None,
        first: FirstArg = None,
        after: AfterArg = None,
    ) -> PostPage:
        ctx = info.context
        answer = await ctx.call(
            ctx.clients.talent.ListPosts,
            talent_pb2.ListPostsRequest(
                region_code_prefix=region_code_prefix,
                person_id=require_id(person_id, "personId") if person_id else "",
                page=page_request(first, after),
            ),
        )
        return PostPage(
            items=[Post.from_pb(p) for p in answer.posts],
            next_page_token=next_token(answer.page_info),
        )


@strawberry.type
class TalentMutation:
    @strawberry.mutation(description="Register a person (人员登记).")
    async def register_person(
        self,
        info: Info,
        request_id: RequestIdArg,
        input: Annotated[
            RegisterPersonInput, strawberry.argument(description="The person to register (人员登记信息).")
        ],
    ) -> Person:
        ctx = info.context
        answer = await ctx.call(
            ctx.clients.talent.RegisterPerson,
            talent_pb2.RegisterPersonRequest(
                request_id=request_id,
                region_code=input.region_code,
                name=input.name,
                gender=enum_to_pb(input.gender, talent_pb2.Gender),
                birth_date=date_text(input.birth_date),
                party_member=input.party_member,
                education=enum_to_pb(input.education, talent_pb2.Education),
            ),
        )
        return Person.from_pb(answer.person)

    @strawberry.mutation(description="Appoint a person to a village post (任职) and start the term (任期).")
    async def appoint_person(
        self,
        info: Info,
        request_id: RequestIdArg,
        input: Annotated[AppointPersonInput, strawberry.argument(description="The appointment (任职信息).")],
    ) -> Post:
        ctx = info.context
        answer = await ctx.call(
            ctx.clients.talent.AppointPerson,
            talent_pb2.AppointPersonRequest(
                request_id=request_id,
                person_id=require_id(input.person_id, "personId"),
                region_code=input.region_code,
                role=enum_to_pb(input.role, talent_pb2.PostRole),
                method=enum_to_pb(input.method, talent_pb2.AppointmentMethod),
                start_date=date_text(input.start_date),
            ),
        )
        return Post.from_pb(answer.post)
