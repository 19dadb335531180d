"""Talent and cadres (人才/干部): people, posts and terms, qualification reviews, the
structure report, the reserve pool, training, assessments and major-matter reports
(TalentService)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from shanzhi.points.v1 import points_pb2
from shanzhi.talent.v1 import talent_pb2

from shanzhi_gateway.errors import GatewayError, invalid_argument
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
    from shanzhi_gateway.schema.points import Account

#: The points subjects a person can be (积分对象): villager, representative, party member.
PERSON_SUBJECT_KINDS = (
    points_pb2.SUBJECT_KIND_PERSON,
    points_pb2.SUBJECT_KIND_REPRESENTATIVE,
    points_pb2.SUBJECT_KIND_PARTY_MEMBER,
)


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
        "TWO_COMMITTEE_MEMBER",
        description="Member of the two committees (村两委委员), committee not specified.",
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
    PARTY_COMMITTEE_MEMBER = strawberry.enum_value(
        "PARTY_COMMITTEE_MEMBER", description="Member of the village party committee (村党组织委员)."
    )
    VILLAGE_COMMITTEE_MEMBER = strawberry.enum_value(
        "VILLAGE_COMMITTEE_MEMBER", description="Member of the villagers' committee (村委会委员)."
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
    id_number: str | None = strawberry.field(
        description=(
            "Resident ID number (公民身份号码): in full for the organisation department (组织部) "
            "and administrators, masked (脱敏, e.g. 1101**********1234) for everyone else; "
            "null when none was registered."
        )
    )
    id_number_masked: bool = strawberry.field(description="Whether idNumber is masked (已脱敏).")
    party_join_date: dt.date | None = strawberry.field(
        description="Date the person joined the Party (入党时间)."
    )
    phone: str | None = strawberry.field(
        description="Contact phone (联系电话), masked like idNumber for those who may not see it."
    )
    update_time: dt.datetime | None = strawberry.field(
        description="When the record was last changed (最后修改时间); null if never since registration."
    )
    updated_by: str | None = strawberry.field(
        description="Who last changed the record (最后修改人, 留痕): the user id; null if nobody has."
    )

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
            id_number=person.id_number or None,
            id_number_masked=person.id_number_masked,
            party_join_date=to_date(person.party_join_date),
            phone=person.phone or None,
            update_time=to_datetime(person.update_time) if person.HasField("update_time") else None,
            updated_by=person.updated_by or None,
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

    @strawberry.field(
        description=(
            "The person's points accounts (积分账户): as an individual villager (村民个人积分), "
            "villagers' representative (村民代表积分) or party member (党员积分), those that exist "
            "and are in your scope, in that order. Null, with an error, when the points service "
            "cannot answer: the rest of the person still resolves."
        )
    )
    async def points_accounts(
        self, info: Info
    ) -> list[Annotated[Account, strawberry.lazy("shanzhi_gateway.schema.points")]] | None:
        from shanzhi_gateway.schema.points import Account

        person_id = str(self.id).lower()
        found = await info.context.loaders.points_accounts_by_subject.load_many(
            [(kind, person_id) for kind in PERSON_SUBJECT_KINDS]
        )
        return [Account.from_pb(a) for a in found if a is not None]


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
    end_reason: PostEndReason | None = strawberry.field(
        description="Why the term ended (离任原因); null while in office."
    )
    end_note: str | None = strawberry.field(description="Note on the end of the term (离任说明).")
    ended_by: str | None = strawberry.field(description="Who recorded the end of the term (留痕).")
    end_time: dt.datetime | None = strawberry.field(description="When the end was recorded (离任登记时间).")
    review_id: strawberry.ID | None = strawberry.field(
        description="The qualification review (任职资格审查) the appointment rests on."
    )
    review_override_reason: str | None = strawberry.field(
        description="Why the appointment went ahead without a passed review (未通过审查任职理由)."
    )
    filing_date: dt.date | None = strawberry.field(
        description="County-level filing date of a villagers' representative (县级备案日期)."
    )
    filing_reference: str | None = strawberry.field(description="Filing reference (备案文号).")

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
            end_reason=enum_from_pb(PostEndReason, talent_pb2.PostEndReason, post.end_reason),
            end_note=post.end_note or None,
            ended_by=post.ended_by or None,
            end_time=to_datetime(post.end_time) if post.HasField("end_time") else None,
            review_id=strawberry.ID(post.review_id) if post.review_id else None,
            review_override_reason=post.review_override_reason or None,
            filing_date=to_date(post.filing_date),
            filing_reference=post.filing_reference or None,
        )

    @strawberry.field(description="The person holding the post (任职人员); null when outside your scope.")
    async def person(self, info: Info) -> Person | None:
        found = await info.context.loaders.people.load(self.person_id)
        return Person.from_pb(found) if found is not None else None

    @strawberry.field(description="The qualification review (任职资格审查) behind the appointment, if any.")
    async def review(self, info: Info) -> QualificationReview | None:
        if self.review_id is None:
            return None
        found = await info.context.loaders.qualification_reviews.load(str(self.review_id))
        return QualificationReview.from_pb(found) if found is not None else None


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
    gender: Gender | None = strawberry.field(
        default=None,
        description="Gender (性别); may be omitted with an idNumber (derived from it), else required.",
    )
    birth_date: dt.date | None = strawberry.field(
        default=None,
        description="Birth date (出生日期); may be omitted with an idNumber (derived), else required.",
    )
    party_member: bool = strawberry.field(
        default=False, description="Member of the Communist Party (中共党员)."
    )
    education: Education | None = strawberry.field(default=None, description="Education level (学历).")
    id_number: str | None = strawberry.field(
        default=None,
        description=(
            "Resident ID number (公民身份号码), 18 characters; 15-digit legacy numbers are "
            "converted. Gender and birth date given must agree with it."
        ),
    )
    party_join_date: dt.date | None = strawberry.field(
        default=None, description="Date the person joined the Party (入党时间)."
    )
    phone: str | None = strawberry.field(default=None, description="Contact phone (联系电话).")


@strawberry.input(
    description=(
        "Changes to a person's record (人员信息维护): give only the fields to change; those left out "
        "stay as they are. Null clears partyJoinDate, education and phone. The resident ID number "
        "(公民身份号码) is the person's identity and is not changed here."
    )
)
class UpdatePersonInput:
    name: str | None = strawberry.field(default=strawberry.UNSET, description="Name (姓名).")
    gender: Gender | None = strawberry.field(
        default=strawberry.UNSET,
        description="Gender (性别); with an ID number it must agree with it (null: derived from it).",
    )
    birth_date: dt.date | None = strawberry.field(
        default=strawberry.UNSET,
        description="Birth date (出生日期); with an ID number it must agree with it (null: derived).",
    )
    party_member: bool | None = strawberry.field(
        default=strawberry.UNSET,
        description=(
            "Member of the Communist Party (中共党员); set false, a recorded partyJoinDate must be "
            "cleared (null) in the same change."
        ),
    )
    education: Education | None = strawberry.field(
        default=strawberry.UNSET, description="Education level (学历)."
    )
    party_join_date: dt.date | None = strawberry.field(
        default=strawberry.UNSET,
        description="Date the person joined the Party (入党时间): party members only, not before 18.",
    )
    phone: str | None = strawberry.field(default=strawberry.UNSET, description="Contact phone (联系电话).")


#: UpdatePersonInput's fields, each the same-named path of the update mask (snake_case, as
#: talent's Person spells it), with how a given value (None when the client sent null)
#: becomes the field of the proto Person.
_PERSON_CHANGES: dict[str, Callable[[Any], Any]] = {
    "name": lambda v: v or "",
    "gender": lambda v: enum_to_pb(v, talent_pb2.Gender),
    "birth_date": date_text,
    "party_member": bool,
    "education": lambda v: enum_to_pb(v, talent_pb2.Education),
    "party_join_date": date_text,
    "phone": lambda v: v or "",
}


def update_person_request(request_id: str, person_id: str,
                          changes: UpdatePersonInput) -> talent_pb2.UpdatePersonRequest:
    """The UpdatePerson call for ``changes``: the fields given, and a mask naming just those."""
    request = talent_pb2.UpdatePersonRequest(request_id=request_id, person=talent_pb2.Person(id=person_id))
    for field, convert in _PERSON_CHANGES.items():
        value = getattr(changes, field)
        if value is not strawberry.UNSET:
            setattr(request.person, field, convert(value))
            request.update_mask.paths.append(field)
    if not request.update_mask.paths:
        raise invalid_argument("input", "give at least one field to change (要修改的字段)")
    return request


@strawberry.input(description="An appointment of a person to a village post (任职).")
class AppointPersonInput:
    person_id: strawberry.ID = strawberry.field(description="The person to appoint (人员编号).")
    region_code: str = strawberry.field(
        description="12-digit code of the post's village (行政区划代码); must lie in your scope."
    )
    role: PostRole = strawberry.field(description="The post's role (岗位).")
    method: AppointmentMethod = strawberry.field(description="How the person came to the post (产生方式).")
    start_date: dt.date = strawberry.field(description="First day of the term (任期开始).")
    review_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="The passed qualification review (任职资格审查); required for 村两委 posts.",
    )
    review_override_reason: str | None = strawberry.field(
        default=None,
        description=(
            "Why the appointment goes ahead without a passed review (未通过审查任职理由); "
            "accepted only where the county's rules allow it."
        ),
    )


@strawberry.type
class PeopleQuery:
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
class PeopleMutation:
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
                id_number=input.id_number or "",
                party_join_date=date_text(input.party_join_date),
                phone=input.phone or "",
            ),
        )
        return Person.from_pb(answer.person)

    @strawberry.mutation(
        description=(
            "Correct or keep up a person's record (人员信息维护): only the fields given change. "
            "Needs the person in your scope."
        )
    )
    async def update_person(
        self,
        info: Info,
        request_id: RequestIdArg,
        id: Annotated[strawberry.ID, id_arg("person")],
        input: Annotated[
            UpdatePersonInput,
            strawberry.argument(description="The changes (修改内容): only the fields to change."),
        ],
    ) -> Person:
        ctx = info.context
        answer = await ctx.call(
            ctx.clients.talent.UpdatePerson, update_person_request(request_id, require_id(id), input)
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
                review_id=require_id(input.review_id, "reviewId") if input.review_id else "",
                review_override_reason=input.review_override_reason or "",
            ),
        )
        return Post.from_pb(answer.post)


# -- enums of the cadre record ---------------------------------------------------------


@strawberry.enum(description="Why a term ended (离任原因).")
class PostEndReason(Enum):
    TERM_EXPIRED = strawberry.enum_value("TERM_EXPIRED", description="Term expired (任期届满/换届).")
    RESIGNED = strawberry.enum_value("RESIGNED", description="Resigned (辞职).")
    REMOVED = strawberry.enum_value("REMOVED", description="Removed or dismissed (罢免/免职/撤职).")
    TRANSFERRED = strawberry.enum_value("TRANSFERRED", description="Transferred (工作调整/调离).")
    DECEASED = strawberry.enum_value("DECEASED", description="Deceased (去世).")
    OTHER = strawberry.enum_value("OTHER", description="Other (其他); a note is required.")


@strawberry.enum(description="A check of a qualification review (审查项目).")
class ReviewCheckKind(Enum):
    AGE = strawberry.enum_value("AGE", description="Age (年龄), evaluated by the service.")
    EDUCATION = strawberry.enum_value("EDUCATION", description="Education (学历), evaluated by the service.")
    CRIMINAL_RECORD = strawberry.enum_value(
        "CRIMINAL_RECORD", description="Criminal record (违法犯罪记录), by the public security bureau (公安)."
    )
    DISCIPLINE = strawberry.enum_value(
        "DISCIPLINE", description="Party or administrative sanctions (党纪政务处分), by 纪委监委."
    )
    DISHONEST_DEBTOR = strawberry.enum_value(
        "DISHONEST_DEBTOR", description="Dishonest judgment debtor (失信被执行人), by the court (法院)."
    )
    ORGANIZED_CRIME = strawberry.enum_value(
        "ORGANIZED_CRIME",
        description="Organised crime (涉黑涉恶), by the political-legal committee (政法委).",
    )
    PETITION = strawberry.enum_value("PETITION", description="Petitions (信访), by the petition bureau.")
    OTHER = strawberry.enum_value("OTHER", description="Other check (其他).")


@strawberry.enum(description="Result of a check or of a whole review (审查结果).")
class ReviewResult(Enum):
    PENDING = strawberry.enum_value("PENDING", description="Pending (待审查).")
    PASSED = strawberry.enum_value("PASSED", description="Passed (通过).")
    FAILED = strawberry.enum_value("FAILED", description="Failed (不通过).")


@strawberry.enum(description="A missed structure target (结构缺口).")
class StructureGapKind(Enum):
    NO_WOMAN = strawberry.enum_value("NO_WOMAN", description="Too few women (缺少女性委员).")
    NO_YOUNG_MEMBER = strawberry.enum_value(
        "NO_YOUNG_MEMBER", description="Too few young members (缺少35岁以下委员)."
    )
    COLLEGE_SHARE_LOW = strawberry.enum_value(
        "COLLEGE_SHARE_LOW", description="College share too low (大专及以上学历比例不足)."
    )
    OVER_AGE = strawberry.enum_value("OVER_AGE", description="Members over the age limit (委员超龄).")
    SECRETARY_VACANT = strawberry.enum_value(
        "SECRETARY_VACANT", description="No party-organisation secretary (村党组织书记空缺)."
    )
    DIRECTOR_VACANT = strawberry.enum_value(
        "DIRECTOR_VACANT", description="No committee director (村委会主任空缺)."
    )
    ONE_SHOULDER_SHARE_LOW = strawberry.enum_value(
        "ONE_SHOULDER_SHARE_LOW", description="One-shoulder share too low (一肩挑比例不足), regions only."
    )


@strawberry.enum(description="Where a reserve candidate comes from (后备人才来源).")
class ReserveSource(Enum):
    RETURNING_MIGRANT = strawberry.enum_value(
        "RETURNING_MIGRANT", description="Returning migrant worker (返乡农民工/雁归人员)."
    )
    YOUNG_PARTY_MEMBER = strawberry.enum_value(
        "YOUNG_PARTY_MEMBER", description="Young party member (青年党员)."
    )
    OUTSTANDING_REPRESENTATIVE = strawberry.enum_value(
        "OUTSTANDING_REPRESENTATIVE", description="Outstanding villagers' representative (优秀村民代表)."
    )
    GRADUATE = strawberry.enum_value("GRADUATE", description="College graduate (高校毕业生).")
    BUSINESS_LEADER = strawberry.enum_value(
        "BUSINESS_LEADER", description="Local business leader (致富带头人)."
    )
    VETERAN = strawberry.enum_value("VETERAN", description="Veteran (退役军人).")
    OTHER = strawberry.enum_value("OTHER", description="Other (其他).")


@strawberry.enum(description="State of a reserve candidate (培养状态).")
class ReserveStatus(Enum):
    IDENTIFIED = strawberry.enum_value("IDENTIFIED", description="Identified (已纳入).")
    IN_TRAINING = strawberry.enum_value("IN_TRAINING", description="In training (培养中).")
    QUALIFIED = strawberry.enum_value("QUALIFIED", description="Qualified (培养合格).")
    APPOINTED = strawberry.enum_value("APPOINTED", description="Appointed (已任用).")
    EXITED = strawberry.enum_value("EXITED", description="Exited (已退出), with a reason.")


@strawberry.enum(description="Assessment period (考核周期).")
class AssessmentPeriod(Enum):
    FIRST_HALF = strawberry.enum_value("FIRST_HALF", description="First half-year (上半年履职评估).")
    SECOND_HALF = strawberry.enum_value("SECOND_HALF", description="Second half-year (下半年履职评估).")
    ANNUAL = strawberry.enum_value("ANNUAL", description="The year (年度考核).")


@strawberry.enum(description="Assessment grade (考核等次).")
class AssessmentGrade(Enum):
    EXCELLENT = strawberry.enum_value("EXCELLENT", description="Excellent (优秀).")
    COMPETENT = strawberry.enum_value("COMPETENT", description="Competent (称职).")
    BASICALLY_COMPETENT = strawberry.enum_value(
        "BASICALLY_COMPETENT", description="Basically competent (基本称职)."
    )
    INCOMPETENT = strawberry.enum_value("INCOMPETENT", description="Incompetent (不称职).")


@strawberry.enum(description="Assessment state (考核状态).")
class AssessmentState(Enum):
    DRAFT = strawberry.enum_value("DRAFT", description="Draft (草稿).")
    FINALIZED = strawberry.enum_value("FINALIZED", description="Final (已定档).")


@strawberry.enum(description="Category of a major-matter report (重大事项类别).")
class MajorMatterCategory(Enum):
    FAMILY_EVENT = strawberry.enum_value("FAMILY_EVENT", description="Weddings and funerals (婚丧嫁娶).")
    LEAVING = strawberry.enum_value("LEAVING", description="Leaving the village for a while (外出).")
    LEGAL = strawberry.enum_value("LEGAL", description="Legal matters (涉法涉诉).")
    BUSINESS = strawberry.enum_value("BUSINESS", description="Business or investment (经商办企业/投资入股).")
    RELATIVES = strawberry.enum_value(
        "RELATIVES", description="Spouse and children's work or moves (配偶子女从业、移居)."
    )
    OTHER = strawberry.enum_value("OTHER", description="Other (其他).")


def _opt_enum(enum: Any, proto_enum: Any, number: int) -> Any:
    return enum_from_pb(enum, proto_enum, number)


async def _person_of(info: Info, person_id: str) -> Person | None:
    found = await info.context.loaders.people.load(person_id)
    return Person.from_pb(found) if found is not None else None


# -- types -----------------------------------------------------------------------------


@strawberry.type(
    description="Posts one person holds in one village on a day (同时任职), derived from the terms."
)
class ConcurrentPosts:
    region_code: str = strawberry.field(description="12-digit village code (行政区划代码).")
    roles: list[PostRole] = strawberry.field(description="The roles held that day (岗位).")
    one_shoulder: bool = strawberry.field(
        description="One shoulder (一肩挑): party-organisation secretary and committee director at once."
    )
    cross_posts: bool = strawberry.field(
        description="Cross posts (交叉任职): a party-organisation and a villagers' committee post at once."
    )

    @classmethod
    def from_pb(cls, c: talent_pb2.ConcurrentPosts) -> ConcurrentPosts:
        return cls(
            region_code=c.region_code,
            roles=[require_enum(PostRole, talent_pb2.PostRole, r) for r in c.roles],
            one_shoulder=c.one_shoulder,
            cross_posts=c.cross_posts,
        )


@strawberry.type(description="One line of a qualification review's checklist (审查清单).")
class ReviewCheck:
    kind: ReviewCheckKind = strawberry.field(description="What is checked (审查项目).")
    department: str | None = strawberry.field(description="Department that checked (审查部门).")
    result: ReviewResult = strawberry.field(description="Result (审查结果).")
    note: str | None = strawberry.field(description="Note (说明).")
    checked_date: dt.date | None = strawberry.field(description="Date of the check (审查日期).")
    recorded_by: str | None = strawberry.field(description="Who recorded it (留痕).")

    @classmethod
    def from_pb(cls, c: talent_pb2.ReviewCheck) -> ReviewCheck:
        return cls(
            kind=require_enum(ReviewCheckKind, talent_pb2.ReviewCheckKind, c.kind),
            department=c.department or None,
            result=require_enum(ReviewResult, talent_pb2.ReviewResult, c.result),
            note=c.note or None,
            checked_date=to_date(c.checked_date),
            recorded_by=c.recorded_by or None,
        )


@strawberry.type(description="Qualification review (任职资格审查) before an appointment.")
class QualificationReview:
    id: strawberry.ID = strawberry.field(description="Review id (审查编号).")
    person_id: strawberry.ID = strawberry.field(description="The person reviewed (人员编号).")
    region_code: str = strawberry.field(description="12-digit village code of the post (行政区划代码).")
    role: PostRole = strawberry.field(description="The post the review is for (岗位).")
    checks: list[ReviewCheck] = strawberry.field(
        description="The checklist, latest result per check (审查清单)."
    )
    result: ReviewResult = strawberry.field(
        description="Overall (审查结论): FAILED if any check failed, PASSED when every required check passed."
    )
    create_time: dt.datetime = strawberry.field(description=CREATE_TIME)
    created_by: str = strawberry.field(description=CREATED_BY)

    @classmethod
    def from_pb(cls, r: talent_pb2.QualificationReview) -> QualificationReview:
        return cls(
            id=strawberry.ID(r.id),
            person_id=strawberry.ID(r.person_id),
            region_code=r.region_code,
            role=require_enum(PostRole, talent_pb2.PostRole, r.role),
            checks=[ReviewCheck.from_pb(c) for c in r.checks],
            result=require_enum(ReviewResult, talent_pb2.ReviewResult, r.result),
            create_time=to_datetime(r.create_time),
            created_by=r.created_by,
        )

    @strawberry.field(description="The person reviewed (受审查人员).")
    async def person(self, info: Info) -> Person | None:
        return await _person_of(info, self.person_id)


@strawberry.type(description="A step of a reserve candidate's history (培养记录).")
class ReserveStatusChange:
    from_status: ReserveStatus | None = strawberry.field(description="State before (变更前); null at entry.")
    to_status: ReserveStatus = strawberry.field(description="State after (变更后).")
    reason: str | None = strawberry.field(description="Why (原因).")
    change_time: dt.datetime = strawberry.field(description="When (变更时间).")
    changed_by: str = strawberry.field(description="Who (留痕).")


@strawberry.type(description="Reserve candidate (后备人才): a person prepared for a village post.")
class ReserveCandidate:
    id: strawberry.ID = strawberry.field(description="Candidate id (后备人才编号).")
    person_id: strawberry.ID = strawberry.field(description="The person (人员编号).")
    region_code: str = strawberry.field(description="12-digit village code (行政区划代码).")
    source: ReserveSource = strawberry.field(description="Where the candidate comes from (来源).")
    mentor_person_id: strawberry.ID | None = strawberry.field(description="The mentor, a cadre (培养联系人).")
    status: ReserveStatus = strawberry.field(description="Current state (培养状态).")
    note: str | None = strawberry.field(description="Note (培养方向).")
    history: list[ReserveStatusChange] = strawberry.field(description="Every step, oldest first (培养记录).")
    create_time: dt.datetime = strawberry.field(description=CREATE_TIME)
    created_by: str = strawberry.field(description=CREATED_BY)

    @classmethod
    def from_pb(cls, c: talent_pb2.ReserveCandidate) -> ReserveCandidate:
        return cls(
            id=strawberry.ID(c.id),
            person_id=strawberry.ID(c.person_id),
            region_code=c.region_code,
            source=require_enum(ReserveSource, talent_pb2.ReserveSource, c.source),
            mentor_person_id=strawberry.ID(c.mentor_person_id) if c.mentor_person_id else None,
            status=require_enum(ReserveStatus, talent_pb2.ReserveStatus, c.status),
            note=c.note or None,
            history=[
                ReserveStatusChange(
                    from_status=_opt_enum(ReserveStatus, talent_pb2.ReserveStatus, h.from_status),
                    to_status=require_enum(ReserveStatus, talent_pb2.ReserveStatus, h.to_status),
                    reason=h.reason or None,
                    change_time=to_datetime(h.change_time),
                    changed_by=h.changed_by,
                )
                for h in c.history
            ],
            create_time=to_datetime(c.create_time),
            created_by=c.created_by,
        )

    @strawberry.field(description="The candidate (后备人才本人).")
    async def person(self, info: Info) -> Person | None:
        return await _person_of(info, self.person_id)

    @strawberry.field(description="The mentor (培养联系人); null when none or outside your scope.")
    async def mentor(self, info: Info) -> Person | None:
        return await _person_of(info, self.mentor_person_id) if self.mentor_person_id else None


@strawberry.type(description="Training course (培训班次), run by a county, township or village.")
class TrainingCourse:
    id: strawberry.ID = strawberry.field(description="Course id (班次编号).")
    region_code: str = strawberry.field(description="12-digit code of the organising region (主办地区).")
    title: str = strawberry.field(description="Title (培训主题).")
    organizer: str = strawberry.field(description="Organiser (主办单位).")
    start_date: dt.date = strawberry.field(description="First day (开班日期).")
    end_date: dt.date = strawberry.field(description="Last day (结业日期).")
    hours: int = strawberry.field(description="Class hours (学时).")
    create_time: dt.datetime = strawberry.field(description=CREATE_TIME)
    created_by: str = strawberry.field(description=CREATED_BY)

    @classmethod
    def from_pb(cls, c: talent_pb2.TrainingCourse) -> TrainingCourse:
        return cls(
            id=strawberry.ID(c.id),
            region_code=c.region_code,
            title=c.title,
            organizer=c.organizer,
            start_date=require_date(c.start_date),
            end_date=require_date(c.end_date),
            hours=c.hours,
            create_time=to_datetime(c.create_time),
            created_by=c.created_by,
        )


@strawberry.type(description="Training record (参训记录): one person's attendance of one course.")
class TrainingRecord:
    id: strawberry.ID = strawberry.field(description="Record id (参训记录编号).")
    course_id: strawberry.ID = strawberry.field(description="The course (班次编号).")
    person_id: strawberry.ID = strawberry.field(description="The person (人员编号).")
    region_code: str = strawberry.field(description="12-digit village code of the person (行政区划代码).")
    hours: int = strawberry.field(description="Class hours earned (学时).")
    course_start_date: dt.date = strawberry.field(description="The course's first day (开班日期).")
    course_title: str = strawberry.field(description="The course's title (培训主题).")
    create_time: dt.datetime = strawberry.field(description=CREATE_TIME)
    created_by: str = strawberry.field(description=CREATED_BY)

    @classmethod
    def from_pb(cls, r: talent_pb2.TrainingRecord) -> TrainingRecord:
        return cls(
            id=strawberry.ID(r.id),
            course_id=strawberry.ID(r.course_id),
            person_id=strawberry.ID(r.person_id),
            region_code=r.region_code,
            hours=r.hours,
            course_start_date=require_date(r.course_start_date),
            course_title=r.course_title,
            create_time=to_datetime(r.create_time),
            created_by=r.created_by,
        )

    @strawberry.field(description="The course (培训班次); null when outside your scope.")
    async def course(self, info: Info) -> TrainingCourse | None:
        found = await info.context.loaders.training_courses.load(str(self.course_id))
        return TrainingCourse.from_pb(found) if found is not None else None

    @strawberry.field(description="The person (参训人员).")
    async def person(self, info: Info) -> Person | None:
        return await _person_of(info, self.person_id)


@strawberry.type(description="One indicator of one work line (条线指标得分), 精准履职考核.")
class IndicatorScore:
    work_line: str = strawberry.field(description="Work line (工作条线).")
    indicator: str = strawberry.field(description="Indicator (考核指标).")
    score: int = strawberry.field(description="Score earned (得分).")
    max_score: int = strawberry.field(description="Full score (满分).")


@strawberry.input(description="One indicator score (条线指标得分) as recorded.")
class IndicatorScoreInput:
    work_line: str = strawberry.field(description="Work line (工作条线), e.g. 党建.")
    indicator: str = strawberry.field(description="Indicator (考核指标).")
    score: int = strawberry.field(description="Score earned (得分), 0 to maxScore.")
    max_score: int = strawberry.field(description="Full score (满分).")


@strawberry.type(description="Assessment (考核): one cadre's assessment for one period.")
class Assessment:
    id: strawberry.ID = strawberry.field(description="Assessment id (考核编号).")
    person_id: strawberry.ID = strawberry.field(description="The cadre (人员编号).")
    region_code: str = strawberry.field(description="12-digit village code (行政区划代码).")
    year: int = strawberry.field(description="Year (年度).")
    period: AssessmentPeriod = strawberry.field(description="Period (考核周期).")
    scores: list[IndicatorScore] = strawberry.field(description="Scores by work line (条线得分).")
    total_score: int = strawberry.field(description="Total (总分).")
    total_max_score: int = strawberry.field(description="Total of full scores (满分合计).")
    democratic_appraisal_percent: int = strawberry.field(
        description="Villagers' democratic appraisal (民主测评), percent satisfied."
    )
    grade: AssessmentGrade = strawberry.field(description="Grade (等次).")
    state: AssessmentState = strawberry.field(description="State (状态).")
    comment: str | None = strawberry.field(description="Comment (评语).")
    create_time: dt.datetime = strawberry.field(description=CREATE_TIME)
    created_by: str = strawberry.field(description=CREATED_BY)
    finalize_time: dt.datetime | None = strawberry.field(description="When it was finalised (定档时间).")
    finalized_by: str | None = strawberry.field(description="Who finalised it (定档人, 留痕).")

    @classmethod
    def from_pb(cls, a: talent_pb2.Assessment) -> Assessment:
        return cls(
            id=strawberry.ID(a.id),
            person_id=strawberry.ID(a.person_id),
            region_code=a.region_code,
            year=a.year,
            period=require_enum(AssessmentPeriod, talent_pb2.AssessmentPeriod, a.period),
            scores=[
                IndicatorScore(
                    work_line=s.work_line, indicator=s.indicator, score=s.score, max_score=s.max_score
                )
                for s in a.scores
            ],
            total_score=a.total_score,
            total_max_score=a.total_max_score,
            democratic_appraisal_percent=a.democratic_appraisal_percent,
            grade=require_enum(AssessmentGrade, talent_pb2.AssessmentGrade, a.grade),
            state=require_enum(AssessmentState, talent_pb2.AssessmentState, a.state),
            comment=a.comment or None,
            create_time=to_datetime(a.create_time),
            created_by=a.created_by,
            finalize_time=to_datetime(a.finalize_time) if a.HasField("finalize_time") else None,
            finalized_by=a.finalized_by or None,
        )

    @strawberry.field(description="The cadre assessed (被考核人).")
    async def person(self, info: Info) -> Person | None:
        return await _person_of(info, self.person_id)


@strawberry.type(description="Removal flag (调整/罢免预警): graded 不称职 twice in a row.")
class RemovalFlag:
    id: strawberry.ID = strawberry.field(description="Flag id (预警编号).")
    person_id: strawberry.ID = strawberry.field(description="The cadre (人员编号).")
    region_code: str = strawberry.field(description="12-digit village code (行政区划代码).")
    assessment_ids: list[strawberry.ID] = strawberry.field(
        description="The two assessments (考核编号), earlier first."
    )
    reason: str = strawberry.field(description="The reason in words (预警原因).")
    create_time: dt.datetime = strawberry.field(description="When it was raised (预警时间).")

    @classmethod
    def from_pb(cls, f: talent_pb2.RemovalFlag) -> RemovalFlag:
        return cls(
            id=strawberry.ID(f.id),
            person_id=strawberry.ID(f.person_id),
            region_code=f.region_code,
            assessment_ids=[strawberry.ID(i) for i in f.assessment_ids],
            reason=f.reason,
            create_time=to_datetime(f.create_time),
        )

    @strawberry.field(description="The cadre (预警对象).")
    async def person(self, info: Info) -> Person | None:
        return await _person_of(info, self.person_id)

    @strawberry.field(description="The two assessments (连续两次不称职的考核).")
    async def assessments(self, info: Info) -> list[Assessment]:
        found = await info.context.loaders.assessments.load_many([str(i) for i in self.assessment_ids])
        return [Assessment.from_pb(a) for a in found if a is not None]


@strawberry.type(description="Major-matter report (重大事项报告) filed by a cadre.")
class MajorMatterReport:
    id: strawberry.ID = strawberry.field(description="Report id (报告编号).")
    person_id: strawberry.ID = strawberry.field(description="The cadre who reports (报告人).")
    region_code: str = strawberry.field(description="12-digit village code (行政区划代码).")
    category: MajorMatterCategory = strawberry.field(description="Category (事项类别).")
    title: str = strawberry.field(description="Title (事项).")
    description: str | None = strawberry.field(description="Details (具体情况).")
    occurred_date: dt.date = strawberry.field(description="When the matter happens (发生日期).")
    create_time: dt.datetime = strawberry.field(description="When it was filed (报告时间).")
    created_by: str = strawberry.field(description=CREATED_BY)

    @classmethod
    def from_pb(cls, m: talent_pb2.MajorMatterReport) -> MajorMatterReport:
        return cls(
            id=strawberry.ID(m.id),
            person_id=strawberry.ID(m.person_id),
            region_code=m.region_code,
            category=require_enum(MajorMatterCategory, talent_pb2.MajorMatterCategory, m.category),
            title=m.title,
            description=m.description or None,
            occurred_date=require_date(m.occurred_date),
            create_time=to_datetime(m.create_time),
            created_by=m.created_by,
        )

    @strawberry.field(description="The cadre who reports (报告人).")
    async def person(self, info: Info) -> Person | None:
        return await _person_of(info, self.person_id)


@strawberry.type(description="The complete cadre record (干部档案) of one person.")
class CadreRecord:
    person: Person = strawberry.field(description="The person (人员).")
    posts: list[Post] = strawberry.field(
        description="Every term, ended ones included, oldest first (任职经历)."
    )
    concurrent: list[ConcurrentPosts] = strawberry.field(
        description="Posts held on asOfDate per village, with one shoulder and cross posts (同时任职)."
    )
    as_of_date: dt.date = strawberry.field(description="The day concurrent posts are derived for (统计日期).")
    reviews: list[QualificationReview] = strawberry.field(description="Qualification reviews (任职资格审查).")
    reserve: list[ReserveCandidate] = strawberry.field(description="Reserve-pool entries (后备人才).")
    trainings: list[TrainingRecord] = strawberry.field(description="Training attendance (参训记录).")
    assessments: list[Assessment] = strawberry.field(description="Assessments (考核), newest first.")
    removal_flags: list[RemovalFlag] = strawberry.field(description="Removal flags (调整预警).")
    major_matters: list[MajorMatterReport] = strawberry.field(
        description="Major-matter reports (重大事项报告)."
    )

    @classmethod
    def from_pb(cls, r: talent_pb2.CadreRecord) -> CadreRecord:
        return cls(
            person=Person.from_pb(r.person),
            posts=[Post.from_pb(p) for p in r.posts],
            concurrent=[ConcurrentPosts.from_pb(c) for c in r.concurrent],
            as_of_date=require_date(r.as_of_date),
            reviews=[QualificationReview.from_pb(x) for x in r.reviews],
            reserve=[ReserveCandidate.from_pb(x) for x in r.reserve],
            trainings=[TrainingRecord.from_pb(x) for x in r.trainings],
            assessments=[Assessment.from_pb(x) for x in r.assessments],
            removal_flags=[RemovalFlag.from_pb(x) for x in r.removal_flags],
            major_matters=[MajorMatterReport.from_pb(x) for x in r.major_matters],
        )


_CONFIG_INTS = (
    "min_women_per_village",
    "min_young_per_village",
    "young_age_limit",
    "one_shoulder_share_percent",
    "college_share_percent",
    "max_member_age",
    "min_age_at_appointment",
    "max_age_at_appointment",
    "min_training_hours_per_year",
)


@strawberry.type(description="A county's rules for village cadres (县级配置: 结构目标与任职规则).")
class CountyConfig:
    county_code: str = strawberry.field(description="6-digit county code (县级行政区划代码).")
    version: int = strawberry.field(description="Version (版本); 0 means the built-in defaults (默认).")
    min_women_per_village: int = strawberry.field(
        description="Women per village's two committees, at least (女性委员)."
    )
    min_young_per_village: int = strawberry.field(
        description="Young members per village, at least (年轻干部)."
    )
    young_age_limit: int = strawberry.field(
        description="Young means younger than this (年轻干部年龄线), e.g. 35."
    )
    one_shoulder_share_percent: int = strawberry.field(
        description="Target share of one-shoulder villages (一肩挑比例), %."
    )
    college_share_percent: int = strawberry.field(
        description="Target share with college education (大专及以上比例), %."
    )
    max_member_age: int = strawberry.field(
        description="Members at or above this age are a gap (超龄); 0 no limit."
    )
    min_age_at_appointment: int = strawberry.field(description="Lowest age at appointment (任职最低年龄).")
    max_age_at_appointment: int = strawberry.field(
        description="Highest age at appointment (任职最高年龄); 0 no limit."
    )
    min_education_at_appointment: Education | None = strawberry.field(
        description="Lowest education at appointment (学历要求); null for none."
    )
    required_checks: list[ReviewCheckKind] = strawberry.field(
        description="Department checks every review needs (联审部门)."
    )
    allow_appointment_without_review: bool = strawberry.field(
        description="May appointments go ahead without a passed review, given a reason (允许说明理由后任职)."
    )
    min_training_hours_per_year: int = strawberry.field(
        description="Training hours a member needs in a year (年度学时要求); 0 means any attendance."
    )
    create_time: dt.datetime | None = strawberry.field(description="When this version was stored (设置时间).")
    created_by: str | None = strawberry.field(description="Who stored it (留痕).")

    @classmethod
    def from_pb(cls, c: talent_pb2.CountyConfig) -> CountyConfig:
        return cls(
            county_code=c.county_code,
            version=c.version,
            **{name: getattr(c, name) for name in _CONFIG_INTS},
            min_education_at_appointment=enum_from_pb(
                Education, talent_pb2.Education, c.min_education_at_appointment
            ),
            required_checks=[
                require_enum(ReviewCheckKind, talent_pb2.ReviewCheckKind, k) for k in c.required_checks
            ],
            allow_appointment_without_review=c.allow_appointment_without_review,
            create_time=to_datetime(c.create_time) if c.HasField("create_time") else None,
            created_by=c.created_by or None,
        )


@strawberry.input(description="A county's rules to store as a new version (县级配置).")
class CountyConfigInput:
    county_code: str = strawberry.field(description="6-digit county code (县级行政区划代码).")
    min_women_per_village: int = strawberry.field(
        default=1, description="Women per village, at least (女性委员)."
    )
    min_young_per_village: int = strawberry.field(
        default=1, description="Young members per village (年轻干部)."
    )
    young_age_limit: int = strawberry.field(default=35, description="Young age limit (年轻干部年龄线).")
    one_shoulder_share_percent: int = strawberry.field(
        default=30, description="One-shoulder share target (一肩挑比例), %."
    )
    college_share_percent: int = strawberry.field(
        default=30, description="College share target (大专及以上比例), %."
    )
    max_member_age: int = strawberry.field(
        default=65, description="Age limit for members (超龄线); 0 no limit."
    )
    min_age_at_appointment: int = strawberry.field(
        default=18, description="Lowest age at appointment (任职最低年龄)."
    )
    max_age_at_appointment: int = strawberry.field(
        default=60, description="Highest age at appointment (任职最高年龄)."
    )
    min_education_at_appointment: Education | None = strawberry.field(
        default=Education.SENIOR_SECONDARY, description="Lowest education at appointment (学历要求)."
    )
    required_checks: list[ReviewCheckKind] = strawberry.field(
        default_factory=lambda: [
            ReviewCheckKind.CRIMINAL_RECORD,
            ReviewCheckKind.DISCIPLINE,
            ReviewCheckKind.DISHONEST_DEBTOR,
            ReviewCheckKind.ORGANIZED_CRIME,
        ],
        description="Department checks every review needs (联审部门).",
    )
    allow_appointment_without_review: bool = strawberry.field(
        default=False,
        description="Allow appointments without a passed review, with a reason (允许说明理由后任职).",
    )
    min_training_hours_per_year: int = strawberry.field(
        default=0, description="Yearly training hours (年度学时要求)."
    )


@strawberry.type(description="A reserve candidate who would fill a gap (可补缺的后备人才).")
class GapCandidate:
    candidate_id: strawberry.ID = strawberry.field(description="Reserve candidate id (后备人才编号).")
    person_id: strawberry.ID = strawberry.field(description="The person (人员编号).")
    name: str = strawberry.field(description="Name (姓名).")
    status: ReserveStatus = strawberry.field(description="State (培养状态).")
    region_code: str = strawberry.field(description="12-digit village code of the candidate (行政区划代码).")


@strawberry.type(description="A missed structure target (结构缺口) with candidates who would fill it.")
class StructureGap:
    kind: StructureGapKind = strawberry.field(description="What is missing (缺口类型).")
    description: str = strawberry.field(description="The gap in words (缺口说明).")
    candidates: list[GapCandidate] = strawberry.field(
        description="Reserve candidates, best first (推荐后备人才)."
    )

    @classmethod
    def from_pb(cls, g: talent_pb2.StructureGap) -> StructureGap:
        return cls(
            kind=require_enum(StructureGapKind, talent_pb2.StructureGapKind, g.kind),
            description=g.description,
            candidates=[
                GapCandidate(
                    candidate_id=strawberry.ID(c.candidate_id),
                    person_id=strawberry.ID(c.person_id),
                    name=c.name,
                    status=require_enum(ReserveStatus, talent_pb2.ReserveStatus, c.status),
                    region_code=c.region_code,
                )
                for c in g.candidates
            ],
        )


@strawberry.type(description="One village's two committees against the targets (村班子结构).")
class VillageStructure:
    region_code: str = strawberry.field(description="12-digit village code (行政区划代码).")
    member_count: int = strawberry.field(description="Two-committee members (村两委成员).")
    women_count: int = strawberry.field(description="Women (女性).")
    young_count: int = strawberry.field(description="Young members (年轻干部).")
    college_count: int = strawberry.field(description="With college education (大专及以上).")
    over_age_count: int = strawberry.field(description="At or above the age limit (超龄).")
    secretary_person_id: strawberry.ID | None = strawberry.field(description="Secretary (村党组织书记).")
    director_person_id: strawberry.ID | None = strawberry.field(description="Director (村委会主任).")
    one_shoulder: bool = strawberry.field(description="Secretary and director are one person (一肩挑).")
    cross_post_count: int = strawberry.field(description="Members holding cross posts (交叉任职).")
    compliant: bool = strawberry.field(description="Meets every target (结构达标).")
    gaps: list[StructureGap] = strawberry.field(description="Targets missed (结构缺口).")

    @classmethod
    def from_pb(cls, v: talent_pb2.VillageStructure) -> VillageStructure:
        return cls(
            region_code=v.region_code,
            member_count=v.member_count,
            women_count=v.women_count,
            young_count=v.young_count,
            college_count=v.college_count,
            over_age_count=v.over_age_count,
            secretary_person_id=strawberry.ID(v.secretary_person_id) if v.secretary_person_id else None,
            director_person_id=strawberry.ID(v.director_person_id) if v.director_person_id else None,
            one_shoulder=v.one_shoulder,
            cross_post_count=v.cross_post_count,
            compliant=v.compliant,
            gaps=[StructureGap.from_pb(g) for g in v.gaps],
        )


@strawberry.type(description="A township or county summed over its villages (乡镇/县班子结构汇总).")
class RegionStructure:
    region_code: str = strawberry.field(
        description="Code prefix: 6 digits county, 9 township (行政区划代码)."
    )
    village_count: int = strawberry.field(description="Villages (村数).")
    compliant_village_count: int = strawberry.field(description="Villages meeting every target (达标村数).")
    villages_with_women: int = strawberry.field(description="Villages with enough women (有女性委员的村).")
    villages_with_young: int = strawberry.field(
        description="Villages with enough young members (有年轻干部的村)."
    )
    one_shoulder_village_count: int = strawberry.field(description="One-shoulder villages (一肩挑村数).")
    one_shoulder_share_percent: float = strawberry.field(description="One-shoulder share (一肩挑比例), %.")
    member_count: int = strawberry.field(description="Two-committee members (村两委成员).")
    college_count: int = strawberry.field(description="With college education (大专及以上).")
    college_share_percent: float = strawberry.field(description="College share (大专及以上比例), %.")
    gaps: list[StructureGap] = strawberry.field(description="Region-level targets missed (结构缺口).")

    @classmethod
    def from_pb(cls, r: talent_pb2.RegionStructure) -> RegionStructure:
        return cls(
            region_code=r.region_code,
            village_count=r.village_count,
            compliant_village_count=r.compliant_village_count,
            villages_with_women=r.villages_with_women,
            villages_with_young=r.villages_with_young,
            one_shoulder_village_count=r.one_shoulder_village_count,
            one_shoulder_share_percent=r.one_shoulder_share_percent,
            member_count=r.member_count,
            college_count=r.college_count,
            college_share_percent=r.college_share_percent,
            gaps=[StructureGap.from_pb(g) for g in r.gaps],
        )


@strawberry.type(description="Structure-target report (班子结构分析) per village, township and county.")
class StructureReport:
    as_of_date: dt.date = strawberry.field(description="The day described (统计日期).")
    counties: list[RegionStructure] = strawberry.field(description="Per county (县).")
    townships: list[RegionStructure] = strawberry.field(description="Per township (乡镇).")
    villages: list[VillageStructure] = strawberry.field(description="Per village (村), by code.")


@strawberry.type(description="A two-committee member not (fully) trained in the year (未参训人员).")
class Untrained:
    person_id: strawberry.ID = strawberry.field(description="The person (人员编号).")
    name: str = strawberry.field(description="Name (姓名).")
    hours: int = strawberry.field(description="Hours so far (已修学时).")


@strawberry.type(description="One village's training coverage in a year (轮训覆盖).")
class VillageTrainingCoverage:
    region_code: str = strawberry.field(description="12-digit village code (行政区划代码).")
    member_count: int = strawberry.field(description="Two-committee members (村两委成员).")
    trained_count: int = strawberry.field(description="Trained enough (已参训).")
    fully_covered: bool = strawberry.field(description="Every member trained (全覆盖).")
    missing: list[Untrained] = strawberry.field(description="Who is missing (未参训人员).")


@strawberry.type(description="Yearly training coverage (年度轮训覆盖率).")
class TrainingCoverage:
    year: int = strawberry.field(description="Year (年度).")
    as_of_date: dt.date = strawberry.field(description="Members are those serving on this day (统计日期).")
    villages: list[VillageTrainingCoverage] = strawberry.field(description="Per village (村).")
    member_count: int = strawberry.field(description="Members in all villages (村两委成员合计).")
    trained_count: int = strawberry.field(description="Of them trained (已参训合计).")
    fully_covered_village_count: int = strawberry.field(description="Villages fully covered (全覆盖村数).")


@strawberry.type(description="A page of qualification reviews (任职资格审查列表).")
class QualificationReviewPage:
    items: list[QualificationReview] = strawberry.field(description=ITEMS)
    next_page_token: str | None = strawberry.field(description=NEXT_PAGE_TOKEN)


@strawberry.type(description="A page of reserve candidates (后备人才列表).")
class ReserveCandidatePage:
    items: list[ReserveCandidate] = strawberry.field(description=ITEMS)
    next_page_token: str | None = strawberry.field(description=NEXT_PAGE_TOKEN)


@strawberry.type(description="A page of training courses (培训班次列表).")
class TrainingCoursePage:
    items: list[TrainingCourse] = strawberry.field(description=ITEMS)
    next_page_token: str | None = strawberry.field(description=NEXT_PAGE_TOKEN)


@strawberry.type(description="A page of training records (参训记录列表).")
class TrainingRecordPage:
    items: list[TrainingRecord] = strawberry.field(description=ITEMS)
    next_page_token: str | None = strawberry.field(description=NEXT_PAGE_TOKEN)


@strawberry.type(description="A page of assessments (考核列表).")
class AssessmentPage:
    items: list[Assessment] = strawberry.field(description=ITEMS)
    next_page_token: str | None = strawberry.field(description=NEXT_PAGE_TOKEN)


@strawberry.type(description="A page of removal flags (调整预警列表).")
class RemovalFlagPage:
    items: list[RemovalFlag] = strawberry.field(description=ITEMS)
    next_page_token: str | None = strawberry.field(description=NEXT_PAGE_TOKEN)


@strawberry.type(description="A page of major-matter reports (重大事项报告列表).")
class MajorMatterReportPage:
    items: list[MajorMatterReport] = strawberry.field(description=ITEMS)
    next_page_token: str | None = strawberry.field(description=NEXT_PAGE_TOKEN)


@strawberry.input(description="A department's check result (联审部门意见).")
class ReviewCheckInput:
    kind: ReviewCheckKind = strawberry.field(description="What was checked (审查项目); not AGE or EDUCATION.")
    department: str = strawberry.field(description="The department that checked (审查部门).")
    result: ReviewResult = strawberry.field(description="Result (审查结果).")
    note: str | None = strawberry.field(default=None, description="Note (说明); required when FAILED.")
    checked_date: dt.date = strawberry.field(description="Date of the check (审查日期).")


def _check_pb(c: ReviewCheckInput) -> talent_pb2.ReviewCheckInput:
    return talent_pb2.ReviewCheckInput(
        kind=enum_to_pb(c.kind, talent_pb2.ReviewCheckKind),
        department=c.department,
        result=enum_to_pb(c.result, talent_pb2.ReviewResult),
        note=c.note or "",
        checked_date=date_text(c.checked_date),
    )


PersonIdArg = Annotated[strawberry.ID, strawberry.argument(description="The person's id (人员编号).")]
OptionalPersonArg = Annotated[
    strawberry.ID | None, strawberry.argument(description="Only the records of this person (人员编号).")
]


def _person_filter(person_id: strawberry.ID | None) -> str:
    return require_id(person_id, "personId") if person_id else ""


# -- queries ---------------------------------------------------------------------------


@strawberry.type
class CadreQuery:
    @strawberry.field(
        description="The person with a resident ID number (身份证号码查询); null when none in your scope."
    )
    async def person_by_id_number(
        self,
        info: Info,
        id_number: Annotated[str, strawberry.argument(description="Resident ID number (公民身份号码).")],
    ) -> Person | None:
        ctx = info.context
        try:
            answer = await ctx.call(
                ctx.clients.talent.FindPersonByIdNumber,
                talent_pb2.FindPersonByIdNumberRequest(id_number=id_number),
            )
        except GatewayError as exc:
            if exc.code == "NOT_FOUND":
                return None
            raise
        return Person.from_pb(answer.person)

    @strawberry.field(description="The complete cadre record (干部档案) of one person.")
    async def cadre_record(
        self,
        info: Info,
        person_id: PersonIdArg,
        as_of_date: Annotated[
            dt.date | None,
            strawberry.argument(
                description="The day concurrent posts are derived for (统计日期); omitted means today."
            ),
        ] = None,
    ) -> CadreRecord:
        ctx = info.context
        answer = await ctx.call(
            ctx.clients.talent.GetCadreRecord,
            talent_pb2.GetCadreRecordRequest(
                person_id=require_id(person_id, "personId"), as_of_date=date_text(as_of_date)
            ),
        )
        return CadreRecord.from_pb(answer.record)

    @strawberry.field(description="A county's rules in force (县级配置); the defaults if never set.")
    async def county_config(
        self,
        info: Info,
        county_code: Annotated[
            str, strawberry.argument(description="6-digit county code (县级行政区划代码).")
        ],
    ) -> CountyConfig:
        ctx = info.context
        answer = await ctx.call(
            ctx.clients.talent.GetCountyConfig, talent_pb2.GetCountyConfigRequest(county_code=county_code)
        )
        return CountyConfig.from_pb(answer.config)

    @strawberry.field(
        description="One qualification review (任职资格审查); null when unknown or outside your scope."
    )
    async def qualification_review(
        self, info: Info, id: Annotated[strawberry.ID, id_arg("review")]
    ) -> QualificationReview | None:
        found = await info.context.loaders.qualification_reviews.load(require_id(id))
        return QualificationReview.from_pb(found) if found is not None else None

    @strawberry.field(description="Qualification reviews (任职资格审查) in a region, a page at a time.")
    async def qualification_reviews(
        self,
        info: Info,
        region_code_prefix: RegionCodePrefixArg = "",
        person_id: OptionalPersonArg = None,
        first: FirstArg = None,
        after: AfterArg = None,
    ) -> QualificationReviewPage:
        ctx = info.context
        answer = await ctx.call(
            ctx.clients.talent.ListQualificationReviews,
            talent_pb2.ListQualificationReviewsRequest(
                region_code_prefix=region_code_prefix,
                person_id=_person_filter(person_id),
                page=page_request(first, after),
            ),
        )
        return QualificationReviewPage(
            items=[QualificationReview.from_pb(r) for r in answer.reviews],
            next_page_token=next_token(answer.page_info),
        )

    @strawberry.field(
        description="Structure-target report (班子结构分析) with each village's gaps and candidates."
    )
    async def structure_report(
        self,
        info: Info,
        region_code_prefix: RegionCodePrefixArg = "",
        as_of_date: Annotated[
            dt.date | None,
            strawberry.argument(description="The day described (统计日期); omitted means today."),
        ] = None,
        candidates_per_gap: Annotated[
            int,
            strawberry.argument(
                description="Candidates named per gap (每个缺口推荐人数), 0 to 20; 0 means 3."
            ),
        ] = 3,
    ) -> StructureReport:
        ctx = info.context
        answer = await ctx.call(
            ctx.clients.talent.GetStructureReport,
            talent_pb2.GetStructureReportRequest(
                region_code_prefix=region_code_prefix,
                as_of_date=date_text(as_of_date),
                candidates_per_gap=candidates_per_gap,
            ),
        )
        return StructureReport(
            as_of_date=require_date(answer.as_of_date),
            counties=[RegionStructure.from_pb(r) for r in answer.counties],
            townships=[RegionStructure.from_pb(r) for r in answer.townships],
            villages=[VillageStructure.from_pb(v) for v in answer.villages],
        )

    @strawberry.field(
        description="One reserve candidate (后备人才); null when unknown or outside your scope."
    )
    async def reserve_candidate(
        self, info: Info, id: Annotated[strawberry.ID, id_arg("reserve candidate")]
    ) -> ReserveCandidate | None:
        found = await info.context.loaders.reserve_candidates.load(require_id(id))
        return ReserveCandidate.from_pb(found) if found is not None else None

    @strawberry.field(description="The reserve talent pool (后备人才库) of a region, a page at a time.")
    async def reserve_candidates(
        self,
        info: Info,
        region_code_prefix: RegionCodePrefixArg = "",
        status: Annotated[
            ReserveStatus | None, strawberry.argument(description="Only candidates in this state (培养状态).")
        ] = None,
        first: FirstArg = None,
        after: AfterArg = None,
    ) -> ReserveCandidatePage:
        ctx = info.context
        answer = await ctx.call(
            ctx.clients.talent.ListReserveCandidates,
            talent_pb2.ListReserveCandidatesRequest(
                region_code_prefix=region_code_prefix,
                status=enum_to_pb(status, talent_pb2.ReserveStatus),
                page=page_request(first, after),
            ),
        )
        return ReserveCandidatePage(
            items=[ReserveCandidate.from_pb(c) for c in answer.candidates],
            next_page_token=next_token(answer.page_info),
        )

    @strawberry.field(description="Training courses (培训班次) in a region, a page at a time.")
    async def training_courses(
        self,
        info: Info,
        region_code_prefix: RegionCodePrefixArg = "",
        first: FirstArg = None,
        after: AfterArg = None,
    ) -> TrainingCoursePage:
        ctx = info.context
        answer = await ctx.call(
            ctx.clients.talent.ListTrainingCourses,
            talent_pb2.ListTrainingCoursesRequest(
                region_code_prefix=region_code_prefix, page=page_request(first, after)
            ),
        )
        return TrainingCoursePage(
            items=[TrainingCourse.from_pb(c) for c in answer.courses],
            next_page_token=next_token(answer.page_info),
        )

    @strawberry.field(description="Training records (参训记录) in a region, a page at a time.")
    async def training_records(
        self,
        info: Info,
        region_code_prefix: RegionCodePrefixArg = "",
        person_id: OptionalPersonArg = None,
        first: FirstArg = None,
        after: AfterArg = None,
    ) -> TrainingRecordPage:
        ctx = info.context
        answer = await ctx.call(
            ctx.clients.talent.ListTrainingRecords,
            talent_pb2.ListTrainingRecordsRequest(
                region_code_prefix=region_code_prefix,
                person_id=_person_filter(person_id),
                page=page_request(first, after),
            ),
        )
        return TrainingRecordPage(
            items=[TrainingRecord.from_pb(r) for r in answer.records],
            next_page_token=next_token(answer.page_info),
        )

    @strawberry.field(
        description="Yearly training coverage (年度轮训覆盖率) per village, with who is missing."
    )
    async def training_coverage(
        self,
        info: Info,
        region_code_prefix: RegionCodePrefixArg = "",
        year: Annotated[
            int | None, strawberry.argument(description="Year (年度); omitted means this year.")
        ] = None,
    ) -> TrainingCoverage:
        ctx = info.context
        answer = await ctx.call(
            ctx.clients.talent.GetTrainingCoverage,
            talent_pb2.GetTrainingCoverageRequest(region_code_prefix=region_code_prefix, year=year or 0),
        )
        return TrainingCoverage(
            year=answer.year,
            as_of_date=require_date(answer.as_of_date),
            villages=[
                VillageTrainingCoverage(
                    region_code=v.region_code,
                    member_count=v.member_count,
                    trained_count=v.trained_count,
                    fully_covered=v.fully_covered,
                    missing=[
                        Untrained(person_id=strawberry.ID(m.person_id), name=m.name, hours=m.hours)
                        for m in v.missing
                    ],
                )
                for v in answer.villages
            ],
            member_count=answer.member_count,
            trained_count=answer.trained_count,
            fully_covered_village_count=answer.fully_covered_village_count,
        )

    @strawberry.field(description="One assessment (考核); null when unknown or outside your scope.")
    async def assessment(
        self, info: Info, id: Annotated[strawberry.ID, id_arg("assessment")]
    ) -> Assessment | None:
        found = await info.context.loaders.assessments.load(require_id(id))
        return Assessment.from_pb(found) if found is not None else None

    @strawberry.field(description="Assessments (考核) in a region, a page at a time.")
    async def assessments(
        self,
        info: Info,
        region_code_prefix: RegionCodePrefixArg = "",
        person_id: OptionalPersonArg = None,
        year: Annotated[int | None, strawberry.argument(description="Only this year (年度).")] = None,
        first: FirstArg = None,
        after: AfterArg = None,
    ) -> AssessmentPage:
        ctx = info.context
        answer = await ctx.call(
            ctx.clients.talent.ListAssessments,
            talent_pb2.ListAssessmentsRequest(
                region_code_prefix=region_code_prefix,
                person_id=_person_filter(person_id),
                year=year or 0,
                page=page_request(first, after),
            ),
        )
        return AssessmentPage(
            items=[Assessment.from_pb(a) for a in answer.assessments],
            next_page_token=next_token(answer.page_info),
        )

    @strawberry.field(description="Removal flags (调整/罢免预警) in a region, a page at a time.")
    async def removal_flags(
        self,
        info: Info,
        region_code_prefix: RegionCodePrefixArg = "",
        first: FirstArg = None,
        after: AfterArg = None,
    ) -> RemovalFlagPage:
        ctx = info.context
        answer = await ctx.call(
            ctx.clients.talent.ListRemovalFlags,
            talent_pb2.ListRemovalFlagsRequest(
                region_code_prefix=region_code_prefix, page=page_request(first, after)
            ),
        )
        return RemovalFlagPage(
            items=[RemovalFlag.from_pb(f) for f in answer.flags], next_page_token=next_token(answer.page_info)
        )

    @strawberry.field(description="Major-matter reports (重大事项报告) in a region, a page at a time.")
    async def major_matter_reports(
        self,
        info: Info,
        region_code_prefix: RegionCodePrefixArg = "",
        person_id: OptionalPersonArg = None,
        first: FirstArg = None,
        after: AfterArg = None,
    ) -> MajorMatterReportPage:
        ctx = info.context
        answer = await ctx.call(
            ctx.clients.talent.ListMajorMatterReports,
            talent_pb2.ListMajorMatterReportsRequest(
                region_code_prefix=region_code_prefix,
                person_id=_person_filter(person_id),
                page=page_request(first, after),
            ),
        )
        return MajorMatterReportPage(
            items=[MajorMatterReport.from_pb(m) for m in answer.reports],
            next_page_token=next_token(answer.page_info),
        )


# -- mutations -------------------------------------------------------------------------


@strawberry.type
class CadreMutation:
    @strawberry.mutation(description="End a term (离任/免职) with its reason; the term stays in the history.")
    async def end_post(
        self,
        info: Info,
        request_id: RequestIdArg,
        post_id: Annotated[strawberry.ID, strawberry.argument(description="The post (任职编号).")],
        end_date: Annotated[dt.date, strawberry.argument(description="Last day of the term (任期结束).")],
        reason: Annotated[PostEndReason, strawberry.argument(description="Why it ends (离任原因).")],
        note: Annotated[
            str | None, strawberry.argument(description="Note (说明); required for OTHER.")
        ] = None,
    ) -> Post:
        ctx = info.context
        answer = await ctx.call(
            ctx.clients.talent.EndPost,
            talent_pb2.EndPostRequest(
                request_id=request_id,
                post_id=require_id(post_id, "postId"),
                end_date=date_text(end_date),
                reason=enum_to_pb(reason, talent_pb2.PostEndReason),
                note=note or "",
            ),
        )
        return Post.from_pb(answer.post)

    @strawberry.mutation(
        description="Record the county-level filing (县级备案) of a villagers' representative."
    )
    async def file_post(
        self,
        info: Info,
        request_id: RequestIdArg,
        post_id: Annotated[
            strawberry.ID, strawberry.argument(description="The representative's post (任职编号).")
        ],
        filing_date: Annotated[dt.date, strawberry.argument(description="Filing date (备案日期).")],
        filing_reference: Annotated[str, strawberry.argument(description="Filing reference (备案文号).")],
    ) -> Post:
        ctx = info.context
        answer = await ctx.call(
            ctx.clients.talent.FilePost,
            talent_pb2.FilePostRequest(
                request_id=request_id,
                post_id=require_id(post_id, "postId"),
                filing_date=date_text(filing_date),
                filing_reference=filing_reference,
            ),
        )
        return Post.from_pb(answer.post)

    @strawberry.mutation(
        description="Store a new version of a county's rules (县级配置); organisation department only."
    )
    async def set_county_config(
        self,
        info: Info,
        request_id: RequestIdArg,
        input: Annotated[CountyConfigInput, strawberry.argument(description="The rules (配置).")],
    ) -> CountyConfig:
        ctx = info.context
        config = talent_pb2.CountyConfig(
            county_code=input.county_code,
            **{name: getattr(input, name) for name in _CONFIG_INTS},
            min_education_at_appointment=enum_to_pb(input.min_education_at_appointment, talent_pb2.Education),
            required_checks=[enum_to_pb(k, talent_pb2.ReviewCheckKind) for k in input.required_checks],
            allow_appointment_without_review=input.allow_appointment_without_review,
        )
        answer = await ctx.call(
            ctx.clients.talent.SetCountyConfig,
            talent_pb2.SetCountyConfigRequest(request_id=request_id, config=config),
        )
        return CountyConfig.from_pb(answer.config)

    @strawberry.mutation(description="Open a qualification review (任职资格审查) before an appointment.")
    async def start_qualification_review(
        self,
        info: Info,
        request_id: RequestIdArg,
        person_id: PersonIdArg,
        region_code: Annotated[
            str, strawberry.argument(description="12-digit village code of the post (行政区划代码).")
        ],
        role: Annotated[
            PostRole, strawberry.argument(description="The post (岗位), a two-committee post (村两委).")
        ],
        checks: Annotated[
            list[ReviewCheckInput] | None,
            strawberry.argument(description="Department results already known (联审部门意见)."),
        ] = None,
    ) -> QualificationReview:
        ctx = info.context
        answer = await ctx.call(
            ctx.clients.talent.StartQualificationReview,
            talent_pb2.StartQualificationReviewRequest(
                request_id=request_id,
                person_id=require_id(person_id, "personId"),
                region_code=region_code,
                role=enum_to_pb(role, talent_pb2.PostRole),
                checks=[_check_pb(c) for c in checks or []],
            ),
        )
        return QualificationReview.from_pb(answer.review)

    @strawberry.mutation(description="Record one department's result in a review (联审部门意见).")
    async def record_review_check(
        self,
        info: Info,
        request_id: RequestIdArg,
        review_id: Annotated[strawberry.ID, strawberry.argument(description="The review (审查编号).")],
        check: Annotated[ReviewCheckInput, strawberry.argument(description="The result (审查结果).")],
    ) -> QualificationReview:
        ctx = info.context
        answer = await ctx.call(
            ctx.clients.talent.RecordReviewCheck,
            talent_pb2.RecordReviewCheckRequest(
                request_id=request_id, review_id=require_id(review_id, "reviewId"), check=_check_pb(check)
            ),
        )
        return QualificationReview.from_pb(answer.review)

    @strawberry.mutation(description="Put a person in the reserve talent pool (纳入后备人才库).")
    async def add_reserve_candidate(
        self,
        info: Info,
        request_id: RequestIdArg,
        person_id: PersonIdArg,
        source: Annotated[
            ReserveSource, strawberry.argument(description="Where the candidate comes from (来源).")
        ],
        mentor_person_id: Annotated[
            strawberry.ID | None, strawberry.argument(description="Mentor, a serving cadre (培养联系人).")
        ] = None,
        note: Annotated[str | None, strawberry.argument(description="Note (培养方向).")] = None,
    ) -> ReserveCandidate:
        ctx = info.context
        answer = await ctx.call(
            ctx.clients.talent.AddReserveCandidate,
            talent_pb2.AddReserveCandidateRequest(
                request_id=request_id,
                person_id=require_id(person_id, "personId"),
                source=enum_to_pb(source, talent_pb2.ReserveSource),
                mentor_person_id=require_id(mentor_person_id, "mentorPersonId") if mentor_person_id else "",
                note=note or "",
            ),
        )
        return ReserveCandidate.from_pb(answer.candidate)

    @strawberry.mutation(description="Move a reserve candidate to the next state or out (培养状态变更).")
    async def change_reserve_status(
        self,
        info: Info,
        request_id: RequestIdArg,
        candidate_id: Annotated[
            strawberry.ID, strawberry.argument(description="The candidate (后备人才编号).")
        ],
        status: Annotated[ReserveStatus, strawberry.argument(description="The next state (培养状态).")],
        reason: Annotated[
            str | None, strawberry.argument(description="Why (原因); required for EXITED.")
        ] = None,
    ) -> ReserveCandidate:
        ctx = info.context
        answer = await ctx.call(
            ctx.clients.talent.ChangeReserveStatus,
            talent_pb2.ChangeReserveStatusRequest(
                request_id=request_id,
                candidate_id=require_id(candidate_id, "candidateId"),
                status=enum_to_pb(status, talent_pb2.ReserveStatus),
                reason=reason or "",
            ),
        )
        return ReserveCandidate.from_pb(answer.candidate)

    @strawberry.mutation(description="Give a reserve candidate a mentor who is a cadre (指定培养联系人).")
    async def assign_reserve_mentor(
        self,
        info: Info,
        request_id: RequestIdArg,
        candidate_id: Annotated[
            strawberry.ID, strawberry.argument(description="The candidate (后备人才编号).")
        ],
        mentor_person_id: Annotated[
            strawberry.ID, strawberry.argument(description="The mentor (培养联系人).")
        ],
    ) -> ReserveCandidate:
        ctx = info.context
        answer = await ctx.call(
            ctx.clients.talent.AssignReserveMentor,
            talent_pb2.AssignReserveMentorRequest(
                request_id=request_id,
                candidate_id=require_id(candidate_id, "candidateId"),
                mentor_person_id=require_id(mentor_person_id, "mentorPersonId"),
            ),
        )
        return ReserveCandidate.from_pb(answer.candidate)

    @strawberry.mutation(description="Record a training course (培训班次).")
    async def create_training_course(
        self,
        info: Info,
        request_id: RequestIdArg,
        region_code: Annotated[
            str, strawberry.argument(description="12-digit code of the organising region (主办地区).")
        ],
        title: Annotated[str, strawberry.argument(description="Title (培训主题).")],
        organizer: Annotated[str, strawberry.argument(description="Organiser (主办单位).")],
        start_date: Annotated[dt.date, strawberry.argument(description="First day (开班日期).")],
        end_date: Annotated[dt.date, strawberry.argument(description="Last day (结业日期).")],
        hours: Annotated[int, strawberry.argument(description="Class hours (学时).")],
    ) -> TrainingCourse:
        ctx = info.context
        answer = await ctx.call(
            ctx.clients.talent.CreateTrainingCourse,
            talent_pb2.CreateTrainingCourseRequest(
                request_id=request_id,
                region_code=region_code,
                title=title,
                organizer=organizer,
                start_date=date_text(start_date),
                end_date=date_text(end_date),
                hours=hours,
            ),
        )
        return TrainingCourse.from_pb(answer.course)

    @strawberry.mutation(
        description="Record who attended a course (参训登记); already recorded people are kept."
    )
    async def record_training(
        self,
        info: Info,
        request_id: RequestIdArg,
        course_id: Annotated[strawberry.ID, strawberry.argument(description="The course (班次编号).")],
        person_ids: Annotated[
            list[strawberry.ID], strawberry.argument(description="Who attended (参训人员).")
        ],
        hours: Annotated[
            int | None,
            strawberry.argument(description="Hours earned (学时); omitted means the course's hours."),
        ] = None,
    ) -> list[TrainingRecord]:
        ctx = info.context
        answer = await ctx.call(
            ctx.clients.talent.RecordTraining,
            talent_pb2.RecordTrainingRequest(
                request_id=request_id,
                course_id=require_id(course_id, "courseId"),
                person_ids=[require_id(p, "personIds") for p in person_ids],
                hours=hours or 0,
            ),
        )
        return [TrainingRecord.from_pb(r) for r in answer.records]

    @strawberry.mutation(description="Record a draft assessment (考核登记) of a cadre for a period.")
    async def record_assessment(
        self,
        info: Info,
        request_id: RequestIdArg,
        person_id: PersonIdArg,
        year: Annotated[int, strawberry.argument(description="Year (年度).")],
        period: Annotated[AssessmentPeriod, strawberry.argument(description="Period (考核周期).")],
        scores: Annotated[list[IndicatorScoreInput], strawberry.argument(description="Scores (条线得分).")],
        democratic_appraisal_percent: Annotated[
            int,
            strawberry.argument(description="Villagers' democratic appraisal (民主测评), percent satisfied."),
        ],
        grade: Annotated[AssessmentGrade, strawberry.argument(description="Grade (等次).")],
        comment: Annotated[str | None, strawberry.argument(description="Comment (评语).")] = None,
    ) -> Assessment:
        ctx = info.context
        answer = await ctx.call(
            ctx.clients.talent.RecordAssessment,
            talent_pb2.RecordAssessmentRequest(
                request_id=request_id,
                person_id=require_id(person_id, "personId"),
                year=year,
                period=enum_to_pb(period, talent_pb2.AssessmentPeriod),
                scores=[
                    talent_pb2.IndicatorScore(
                        work_line=s.work_line, indicator=s.indicator, score=s.score, max_score=s.max_score
                    )
                    for s in scores
                ],
                democratic_appraisal_percent=democratic_appraisal_percent,
                grade=enum_to_pb(grade, talent_pb2.AssessmentGrade),
                comment=comment or "",
            ),
        )
        return Assessment.from_pb(answer.assessment)

    @strawberry.mutation(
        description="Finalise an assessment (考核定档); a second 不称职 in a row raises a removal flag."
    )
    async def finalize_assessment(
        self,
        info: Info,
        request_id: RequestIdArg,
        assessment_id: Annotated[
            strawberry.ID, strawberry.argument(description="The assessment (考核编号).")
        ],
    ) -> Assessment:
        ctx = info.context
        answer = await ctx.call(
            ctx.clients.talent.FinalizeAssessment,
            talent_pb2.FinalizeAssessmentRequest(
                request_id=request_id, assessment_id=require_id(assessment_id, "assessmentId")
            ),
        )
        return Assessment.from_pb(answer.assessment)

    @strawberry.mutation(description="File a cadre's major-matter report (重大事项报告).")
    async def file_major_matter_report(
        self,
        info: Info,
        request_id: RequestIdArg,
        person_id: PersonIdArg,
        category: Annotated[MajorMatterCategory, strawberry.argument(description="Category (事项类别).")],
        title: Annotated[str, strawberry.argument(description="Title (事项).")],
        occurred_date: Annotated[dt.date, strawberry.argument(description="When it happens (发生日期).")],
        description: Annotated[str | None, strawberry.argument(description="Details (具体情况).")] = None,
    ) -> MajorMatterReport:
        ctx = info.context
        answer = await ctx.call(
            ctx.clients.talent.FileMajorMatterReport,
            talent_pb2.FileMajorMatterReportRequest(
                request_id=request_id,
                person_id=require_id(person_id, "personId"),
                category=enum_to_pb(category, talent_pb2.MajorMatterCategory),
                title=title,
                description=description or "",
                occurred_date=date_text(occurred_date),
            ),
        )
        return MajorMatterReport.from_pb(answer.report)


@strawberry.type
class TalentQuery(PeopleQuery, CadreQuery):
    pass


@strawberry.type
class TalentMutation(PeopleMutation, CadreMutation):
    pass
