"""Points governance (积分制) (PointsService): household rosters (一户一档), schemes (积分方案)
and their items (正负积分清单), accounts and the ledger (积分台账), claims with review and
publicity (申报、评议、公示), batch scoring (批量评分), the points supermarket (积分超市),
annual cycles (年度结算), rankings and honours (排名、红黑榜、星级文明户), outstanding villagers'
representatives (优秀村民代表)."""

from __future__ import annotations

import datetime as dt
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from shanzhi.points.v1 import points_pb2

from shanzhi_gateway.errors import camel_case_path
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
    from shanzhi_gateway.schema.talent import Person

P = points_pb2

# -- enums ---------------------------------------------------------------------------------


@strawberry.enum(description="Whether a household is on its village's roster (在册状态).")
class HouseholdStatus(Enum):
    ACTIVE = strawberry.enum_value("ACTIVE", description="Lives in the village (在册).")
    MOVED_OUT = strawberry.enum_value("MOVED_OUT", description="Moved out as a whole (整户迁出).")


@strawberry.enum(description="Who earns or loses points (积分对象类别).")
class SubjectKind(Enum):
    HOUSEHOLD = strawberry.enum_value("HOUSEHOLD", description="A household (农户/家庭积分).")
    PERSON = strawberry.enum_value("PERSON", description="An individual villager (村民个人积分).")
    REPRESENTATIVE = strawberry.enum_value(
        "REPRESENTATIVE", description="A villagers' representative (村民代表积分量化管理)."
    )
    PARTY_MEMBER = strawberry.enum_value("PARTY_MEMBER", description="A party member (党员积分).")


@strawberry.enum(description="Governance area of an item (积分事项类别).")
class ItemCategory(Enum):
    PARTY_BUILDING = strawberry.enum_value("PARTY_BUILDING", description="Party building (基层党建).")
    BEAUTIFUL_VILLAGE = strawberry.enum_value(
        "BEAUTIFUL_VILLAGE", description="Beautiful village and living environment (美丽乡村/人居环境)."
    )
    SAFETY = strawberry.enum_value("SAFETY", description="Safety (平安建设).")
    CIVILITY = strawberry.enum_value(
        "CIVILITY", description="Civility and changing customs (文明创建/移风易俗)."
    )
    SOCIAL_ORDER = strawberry.enum_value("SOCIAL_ORDER", description="Social order (社会综治).")
    VILLAGE_RULES = strawberry.enum_value("VILLAGE_RULES", description="Village rules (村规民约).")
    VOLUNTEERING = strawberry.enum_value("VOLUNTEERING", description="Volunteering (志愿服务).")
    FILIAL_PIETY = strawberry.enum_value("FILIAL_PIETY", description="Filial piety (孝老爱亲).")
    REPRESENTATIVE_DUTY = strawberry.enum_value(
        "REPRESENTATIVE_DUTY", description="Villagers' representatives' duties (村民代表履职)."
    )
    PARTY_DUTY = strawberry.enum_value("PARTY_DUTY", description="Party members' duties (党员义务).")


@strawberry.enum(description="Whether an item adds or deducts (正负积分).")
class ItemSign(Enum):
    POSITIVE = strawberry.enum_value("POSITIVE", description="Adds points (加分).")
    NEGATIVE = strawberry.enum_value("NEGATIVE", description="Deducts points (扣分).")


@strawberry.enum(description="What happens to unspent points at the year's close (年度结算方式).")
class CyclePolicy(Enum):
    RESET = strawberry.enum_value("RESET", description="Cleared (年度清零).")
    CARRY_OVER = strawberry.enum_value("CARRY_OVER", description="Carried over (结转).")


@strawberry.enum(description="Where a scheme version stands (方案版本状态).")
class SchemeVersionStatus(Enum):
    DRAFT = strawberry.enum_value("DRAFT", description="Being drafted (草案).")
    PUBLICIZED = strawberry.enum_value("PUBLICIZED", description="Publicised for comment (公示征求意见).")
    ADOPTED = strawberry.enum_value("ADOPTED", description="Adopted and in force (已通过施行).")
    SUPERSEDED = strawberry.enum_value("SUPERSEDED", description="Replaced by a later version (已废止).")


@strawberry.enum(description="How a village item departs from its county template (与模板差异).")
class DepartureKind(Enum):
    CHANGED = strawberry.enum_value("CHANGED", description="The village changed the item (已修改).")
    ADDED = strawberry.enum_value("ADDED", description="The village added the item (新增).")
    REMOVED = strawberry.enum_value("REMOVED", description="The village dropped the item (删除).")


@strawberry.enum(description="What made a ledger entry (积分明细类型).")
class EntryKind(Enum):
    CLAIM = strawberry.enum_value("CLAIM", description="A claim past review and publicity (申报积分).")
    AWARD = strawberry.enum_value("AWARD", description="A direct award (直接记分).")
    BATCH = strawberry.enum_value("BATCH", description="A line of a batch scoring (批量评分).")
    BASE = strawberry.enum_value("BASE", description="The year's base score (年度基础分).")
    REDEMPTION = strawberry.enum_value("REDEMPTION", description="Points taken by a redemption (积分兑换).")
    REDEMPTION_CANCEL = strawberry.enum_value(
        "REDEMPTION_CANCEL", description="Points returned by a cancelled redemption (兑换取消退回)."
    )
    REVERSAL = strawberry.enum_value("REVERSAL", description="A correction (冲正).")
    EXPIRY = strawberry.enum_value("EXPIRY", description="Points that expired (积分过期).")
    CYCLE_CLOSE = strawberry.enum_value(
        "CYCLE_CLOSE", description="Points cleared at the year's close (年度清零)."
    )


@strawberry.enum(description="Where a claim stands (申报状态).")
class ClaimStatus(Enum):
    PENDING_REVIEW = strawberry.enum_value(
        "PENDING_REVIEW", description="Waiting for the review group (待评议)."
    )
    IN_PUBLICITY = strawberry.enum_value("IN_PUBLICITY", description="On the publicity board (公示中).")
    POSTED = strawberry.enum_value("POSTED", description="In the ledger (已入账).")
    REJECTED = strawberry.enum_value("REJECTED", description="Rejected (未通过).")
    WITHDRAWN = strawberry.enum_value("WITHDRAWN", description="Withdrawn (已撤回).")
    LAPSED = strawberry.enum_value(
        "LAPSED",
        description="Lapsed (已失效): the account was closed (e.g. the household moved out, 迁出) "
        "when the publicity window closed, so nothing was posted; the reviews say why.",
    )
    REVERSED = strawberry.enum_value(
        "REVERSED",
        description="Reversed (已冲正): the points were posted and their entry was later reversed "
        "(冲正), so they no longer count; reversalEntryId names the reversing entry and the "
        "reviews say who reversed it and why.",
    )


@strawberry.enum(description="Who put a claim in (申报来源).")
class ClaimSource(Enum):
    DECLARED = strawberry.enum_value("DECLARED", description="The subject declared it (本人申报).")
    RECORDED = strawberry.enum_value(
        "RECORDED", description="A grid worker or clerk recorded it (网格员/村干部记录)."
    )


@strawberry.enum(description="The review group's decision (评议结果).")
class ReviewDecision(Enum):
    APPROVE = strawberry.enum_value("APPROVE", description="Approved (通过).")
    REJECT = strawberry.enum_value("REJECT", description="Rejected (不通过).")


@strawberry.enum(description="What became of an objection (异议处理结果).")
class ObjectionStatus(Enum):
    OPEN = strawberry.enum_value("OPEN", description="Waiting for the review group (待处理).")
    UPHELD = strawberry.enum_value("UPHELD", description="Upheld: the claim was rejected (异议成立).")
    DISMISSED = strawberry.enum_value(
        "DISMISSED", description="Dismissed: the claim was approved again (异议不成立)."
    )


@strawberry.enum(description="Where a redemption stands (兑换状态).")
class RedemptionStatus(Enum):
    RESERVED = strawberry.enum_value("RESERVED", description="Points and stock held (已预约).")
    PICKED_UP = strawberry.enum_value("PICKED_UP", description="Goods handed over (已领取).")
    CANCELLED = strawberry.enum_value(
        "CANCELLED", description="Cancelled; points and stock returned (已取消)."
    )


def _date(value: dt.date | None) -> str:
    return date_text(value)


# -- households (农户, 一户一档) ------------------------------------------------------------


@strawberry.type(description="Household member (家庭成员).")
class HouseholdMember:
    id: strawberry.ID = strawberry.field(description="Member id (成员编号).")
    name: str = strawberry.field(description="Name (姓名).")
    relation: str = strawberry.field(description="Relation to the head of household (与户主关系).")
    talent_person_id: strawberry.ID | None = strawberry.field(
        description="The person's id in the talent records (人员编号), if registered there."
    )
    joined_on: dt.date | None = strawberry.field(description="Day the member joined (迁入/出生日期).")
    left_on: dt.date | None = strawberry.field(
        description="Day the member left (迁出/去世日期); null while a member."
    )
    left_reason: str | None = strawberry.field(description="Why the member left (迁出原因).")

    @classmethod
    def from_pb(cls, m: points_pb2.HouseholdMember) -> HouseholdMember:
        return cls(
            id=strawberry.ID(m.id),
            name=m.name,
            relation=m.relation,
            talent_person_id=strawberry.ID(m.talent_person_id) if m.talent_person_id else None,
            joined_on=to_date(m.joined_on),
            left_on=to_date(m.left_on),
            left_reason=m.left_reason or None,
        )

    @strawberry.field(
        description="The person (人员) in the talent records; null when the member is not "
        "registered there (no talentPersonId) or the person is not yours to see."
    )
    async def person(
        self, info: Info
    ) -> Annotated[Person, strawberry.lazy("shanzhi_gateway.schema.talent")] | None:
        from shanzhi_gateway.schema.talent import Person

        if self.talent_person_id is None:
            return None
        found = await info.context.loaders.people.load(str(self.talent_person_id))
        return Person.from_pb(found) if found is not None else None


@strawberry.type(description="Change of head of household (户主变更记录), kept for good.")
class HouseholdHeadChange:
    id: strawberry.ID = strawberry.field(description="Change id (变更记录编号).")
    previous_head_name: str = strawberry.field(description="The head's name before (原户主姓名).")
    previous_member_id: strawberry.ID | None = strawberry.field(
        description="The member (成员编号) who was head before, when recorded as a member."
    )
    head_name: str = strawberry.field(description="The new head's name (新户主姓名).")
    member_id: strawberry.ID | None = strawberry.field(
        description="The member (成员编号) who became head, when chosen from the members."
    )
    changed_on: dt.date = strawberry.field(description="Day the change took effect (变更日期).")
    reason: str = strawberry.field(description="Why (变更原因), e.g. 原户主去世, 原户主迁出, 分户.")
    create_time: dt.datetime = strawberry.field(description=CREATE_TIME)
    created_by: str = strawberry.field(description=CREATED_BY)

    @classmethod
    def from_pb(cls, c: points_pb2.HouseholdHeadChange) -> HouseholdHeadChange:
        return cls(
            id=strawberry.ID(c.id),
            previous_head_name=c.previous_head_name,
            previous_member_id=strawberry.ID(c.previous_member_id) if c.previous_member_id else None,
            head_name=c.head_name,
            member_id=strawberry.ID(c.member_id) if c.member_id else None,
            changed_on=require_date(c.changed_on),
            reason=c.reason,
            create_time=to_datetime(c.create_time),
            created_by=c.created_by,
        )


def _household_status(root: Household) -> HouseholdStatus:
    # The points service sets it on every household; an unset one fails only this field.
    return require_enum(HouseholdStatus, P.HouseholdStatus, root.status_number)


@strawberry.type(description="Household (农户): one entry of a village's roster (一户一档).")
class Household:
    id: strawberry.ID = strawberry.field(description="Household id (农户编号).")
    region_code: str = strawberry.field(description="12-digit division code (行政区划代码) of the village.")
    household_number: str = strawberry.field(
        description="The village's own household number (户号), unique within the village."
    )
    head_name: str = strawberry.field(description="Head of household's name (户主姓名).")
    member_count: int = strawberry.field(description="Number of members (家庭人口).")
    villager_group: str = strawberry.field(
        description="Villager group (村民小组), e.g. 第三组; empty when not set."
    )
    create_time: dt.datetime = strawberry.field(description=CREATE_TIME)
    created_by: str = strawberry.field(description=CREATED_BY)
    status: HouseholdStatus = strawberry.field(
        resolver=_household_status, description="On the roster or moved out (在册状态)."
    )
    status_number: strawberry.Private[int]
    moved_out_on: dt.date | None = strawberry.field(description="Day the household moved out (迁出日期).")
    move_out_reason: str | None = strawberry.field(description="Why it moved out (迁出原因).")
    members: list[HouseholdMember] = strawberry.field(
        description="Named members (家庭成员), those who left included, in the order they were "
        "recorded: in addHouseholdMember's answer the new member is the last."
    )
    account_id: strawberry.ID | None = strawberry.field(
        description="The household's points account (积分账户编号)."
    )
    head_member_id: strawberry.ID | None = strawberry.field(
        description="The member (成员编号) who is head of household (户主), when the head was "
        "chosen from the members; null otherwise."
    )
    head_changes: list[HouseholdHeadChange] = strawberry.field(
        description="Changes of head of household (户主变更记录), oldest first."
    )

    @classmethod
    def from_pb(cls, household: points_pb2.Household) -> Household:
        return cls(
            id=strawberry.ID(household.id),
            region_code=household.region_code,
            household_number=household.household_number,
            head_name=household.head_name,
            member_count=household.member_count,
            villager_group=household.villager_group,
            create_time=to_datetime(household.create_time),
            created_by=household.created_by,
            status_number=household.status,
            moved_out_on=to_date(household.moved_out_on),
            move_out_reason=household.move_out_reason or None,
            members=[HouseholdMember.from_pb(m) for m in household.members],
            account_id=strawberry.ID(household.account_id) if household.account_id else None,
            head_member_id=strawberry.ID(household.head_member_id) if household.head_member_id else None,
            head_changes=[HouseholdHeadChange.from_pb(c) for c in household.head_changes],
        )

    @strawberry.field(description="The household's points account (积分账户) with its balance.")
    async def account(self, info: Info) -> Account | None:
        if self.account_id is None:
            return None
        return await _account(info, str(self.account_id))


@strawberry.type(description="A page of households (农户列表).")
class HouseholdPage:
    items: list[Household] = strawberry.field(description=ITEMS)
    next_page_token: str | None = strawberry.field(description=NEXT_PAGE_TOKEN)


@strawberry.input(description="A household to add to a village's roster (建档).")
class CreateHouseholdInput:
    region_code: str = strawberry.field(
        description="12-digit code of the village (行政区划代码); must lie in your scope."
    )
    household_number: str = strawberry.field(
        description="Household number (户号), unique within the village."
    )
    head_name: str = strawberry.field(description="Head of household's name (户主姓名).")
    member_count: int = strawberry.field(description="Number of members (家庭人口), at least 1.")
    villager_group: str = strawberry.field(default="", description="Villager group (村民小组).")


@strawberry.input(description="A member to record in a household (家庭成员登记).")
class AddHouseholdMemberInput:
    household_id: strawberry.ID = strawberry.field(description="The household (农户编号).")
    name: str = strawberry.field(description="Name (姓名).")
    relation: str = strawberry.field(
        description="Relation to the head of household (与户主关系), e.g. 配偶, 子女."
    )
    talent_person_id: strawberry.ID | None = strawberry.field(
        default=None, description="The person's id in the talent records (人员编号), if any."
    )
    joined_on: dt.date | None = strawberry.field(
        default=None, description="Day the member joined (迁入日期)."
    )
    moved_in: bool = strawberry.field(
        default=False,
        description="New to the household (迁入/出生): the member count (家庭人口) goes up by one.",
    )


# -- accounts and the ledger (积分账户、积分台账) ------------------------------------------


@strawberry.type(description="Subject (积分对象): who an account, entry or claim is about.")
class Subject:
    kind: SubjectKind = strawberry.field(description="Kind of subject (积分对象类别).")
    id: strawberry.ID = strawberry.field(
        description="The household's id (农户编号), or the person's id in the talent records (人员编号)."
    )

    @classmethod
    def from_pb(cls, ref: points_pb2.SubjectRef) -> Subject:
        return cls(kind=require_enum(SubjectKind, P.SubjectKind, ref.kind), id=strawberry.ID(ref.id))

    @strawberry.field(description="The household (农户), for household subjects.")
    async def household(self, info: Info) -> Household | None:
        if self.kind != SubjectKind.HOUSEHOLD:
            return None
        found = await info.context.loaders.households.load(str(self.id))
        return Household.from_pb(found) if found is not None else None

    @strawberry.field(description="The person (人员) in the talent records, for person subjects.")
    async def person(
        self, info: Info
    ) -> Annotated[Person, strawberry.lazy("shanzhi_gateway.schema.talent")] | None:
        from shanzhi_gateway.schema.talent import Person

        if self.kind == SubjectKind.HOUSEHOLD:
            return None
        found = await info.context.loaders.people.load(str(self.id))
        return Person.from_pb(found) if found is not None else None


@strawberry.input(description="A subject (积分对象): a household or a person in one of its roles.")
class SubjectInput:
    kind: SubjectKind = strawberry.field(description="Kind of subject (积分对象类别).")
    id: strawberry.ID = strawberry.field(
        description="The household's id (农户编号), or the person's id in the talent records (人员编号)."
    )


def subject_pb(subject: SubjectInput) -> points_pb2.SubjectRef:
    return P.SubjectRef(kind=enum_to_pb(subject.kind, P.SubjectKind), id=str(subject.id))


@strawberry.type(
    description="Credit lot (积分批次): what one credit put in an account and what is left; "
    "spending takes from the oldest first (先进先出)."
)
class Lot:
    id: strawberry.ID = strawberry.field(description="Lot id (批次编号).")
    entry_id: strawberry.ID = strawberry.field(description="The credit entry that made it (来源明细).")
    lot_date: dt.date = strawberry.field(description="The lot's date, which orders spending (批次日期).")
    amount: int = strawberry.field(description="Points it started with (初始积分).")
    available: int = strawberry.field(description="Points left (剩余积分).")
    expires_on: dt.date | None = strawberry.field(
        description="Last day the points can be used (有效期至); null: no expiry."
    )
    closed: bool = strawberry.field(description="Expired or reset (已失效).")

    @classmethod
    def from_pb(cls, lot: points_pb2.Lot) -> Lot:
        return cls(
            id=strawberry.ID(str(lot.id)),
            entry_id=strawberry.ID(lot.entry_id),
            lot_date=require_date(lot.lot_date),
            amount=lot.amount,
            available=lot.available,
            expires_on=to_date(lot.expires_on),
            closed=lot.closed,
        )

    @strawberry.field(description="The credit entry that made it (来源明细).")
    async def entry(self, info: Info) -> Entry | None:
        return await _entry(info, str(self.entry_id))


@strawberry.type(description="Ledger entry (积分明细): append-only; a correction is a reversal (冲正).")
class Entry:
    id: strawberry.ID = strawberry.field(description="Entry id (明细编号).")
    account_id: strawberry.ID = strawberry.field(description="The account (积分账户编号).")
    subject: Subject = strawberry.field(description="Whose account (积分对象).")
    region_code: str = strawberry.field(description="12-digit village code (行政区划代码).")
    kind: EntryKind = strawberry.field(description="What made the entry (明细类型).")
    amount: int = strawberry.field(description="Change of the spendable balance (可用积分变动).")
    score: int = strawberry.field(description="Change of the score rankings count (考评积分变动).")
    balance_after: int = strawberry.field(description="The balance after the entry (变动后余额).")
    entry_date: dt.date = strawberry.field(description="Business date (发生日期).")
    year: int = strawberry.field(description="Scheme year (年度).")
    scheme_id: strawberry.ID | None = strawberry.field(
        description="The scheme (积分方案), for scored entries."
    )
    item_code: str | None = strawberry.field(description="The item's code (事项编码), for scored entries.")
    item_name: str | None = strawberry.field(description="The item's name at the time (事项名称).")
    quantity: int = strawberry.field(description="Times the item counted (次数).")
    source_id: strawberry.ID | None = strawberry.field(
        description=(
            "What made the entry (来源), by kind: CLAIM the claim (申报); AWARD null, the award "
            "(直接记分) is the entry itself; BATCH the batch scoring (批量评分); BASE (年度基础分) "
            "the cycle close (年度结算) that opened the year, the talent post of a villagers' "
            "representative's appointment (村民代表任职), the talent person of a party member "
            "(党员), or null for an account opened by a clerk; REDEMPTION and REDEMPTION_CANCEL "
            "the redemption (积分兑换); REVERSAL the source of the entry it reverses (冲正); "
            "EXPIRY the credit entry whose lot expired (积分过期, the lot's entryId); "
            "CYCLE_CLOSE the cycle close (年度清零). Null on BASE, EXPIRY and CYCLE_CLOSE "
            "entries written before sources were recorded for them."
        )
    )
    reverses_entry_id: strawberry.ID | None = strawberry.field(
        description="The entry this one reverses (冲正对象)."
    )
    reason: str = strawberry.field(description="Reason or basis (原因/依据).")
    create_time: dt.datetime = strawberry.field(description=CREATE_TIME)
    created_by: str = strawberry.field(
        description="Who caused it (操作人, 留痕); `system` for automatic entries."
    )

    @classmethod
    def from_pb(cls, e: points_pb2.Entry) -> Entry:
        return cls(
            id=strawberry.ID(e.id),
            account_id=strawberry.ID(e.account_id),
            subject=Subject.from_pb(e.subject),
            region_code=e.region_code,
            kind=require_enum(EntryKind, P.EntryKind, e.kind),
            amount=e.amount,
            score=e.score,
            balance_after=e.balance_after,
            entry_date=require_date(e.entry_date),
            year=e.year,
            scheme_id=strawberry.ID(e.scheme_id) if e.scheme_id else None,
            item_code=e.item_code or None,
            item_name=e.item_name or None,
            quantity=e.quantity,
            source_id=strawberry.ID(e.source_id) if e.source_id else None,
            reverses_entry_id=strawberry.ID(e.reverses_entry_id) if e.reverses_entry_id else None,
            reason=e.reason,
            create_time=to_datetime(e.create_time),
            created_by=e.created_by,
        )

    @strawberry.field(description="The account (积分账户).")
    async def account(self, info: Info) -> Account | None:
        return await _account(info, str(self.account_id))

    @strawberry.field(description="The entry this one reverses (冲正对象); null unless a reversal.")
    async def reverses_entry(self, info: Info) -> Entry | None:
        return await _entry(info, str(self.reverses_entry_id)) if self.reverses_entry_id else None

    @strawberry.field(description="The scheme (积分方案) it was scored under; null unless scored.")
    async def scheme(self, info: Info) -> Scheme | None:
        return await _scheme(info, str(self.scheme_id)) if self.scheme_id else None

    @strawberry.field(
        description="The claim (积分申报) that made a CLAIM entry (sourceId); null for other kinds "
        "(a reversal's claim is its reversesEntry's) or when not yours to see."
    )
    async def claim(self, info: Info) -> Claim | None:
        if self.kind != EntryKind.CLAIM or self.source_id is None:
            return None
        found = await info.context.loaders.points_claims.load(str(self.source_id))
        return Claim.from_pb(found) if found is not None else None

    @strawberry.field(
        description="The redemption (积分兑换) that took or gave back the points of a REDEMPTION or "
        "REDEMPTION_CANCEL entry (sourceId); null for other kinds or when not yours to see."
    )
    async def redemption(self, info: Info) -> Redemption | None:
        if self.kind not in (EntryKind.REDEMPTION, EntryKind.REDEMPTION_CANCEL) or self.source_id is None:
            return None
        found = await info.context.loaders.points_redemptions.load(str(self.source_id))
        return Redemption.from_pb(found) if found is not None else None

    @strawberry.field(
        description="The batch scoring (批量评分) that wrote a BATCH entry (sourceId); null for "
        "other kinds or when unknown or not yours to see. One call to the points service per "
        "distinct batch, a few at a time."
    )
    async def batch(self, info: Info) -> Batch | None:
        if self.kind != EntryKind.BATCH or self.source_id is None:
            return None
        found = await info.context.loaders.points_batches.load(str(self.source_id))
        return Batch.from_pb(found) if found is not None else None


async def _entry(info: Info, entry_id: str) -> Entry | None:
    found = await info.context.loaders.points_entries.load(entry_id)
    return Entry.from_pb(found) if found is not None else None


async def _scheme(info: Info, scheme_id: str) -> Scheme | None:
    found = await info.context.loaders.points_schemes.load(scheme_id)
    return Scheme.from_pb(found) if found is not None else None


async def _scheme_version(info: Info, version_id: str) -> SchemeVersion | None:
    found = await info.context.loaders.points_scheme_versions_by_id.load(version_id)
    return SchemeVersion.from_pb(found) if found is not None else None


@strawberry.type(description="A page of ledger entries (积分明细), oldest first.")
class EntryPage:
    items: list[Entry] = strawberry.field(description=ITEMS)
    next_page_token: str | None = strawberry.field(description=NEXT_PAGE_TOKEN)


@strawberry.type(description="Points account (积分账户): the balance is always the sum of its entries.")
class Account:
    id: strawberry.ID = strawberry.field(description="Account id (账户编号).")
    subject: Subject = strawberry.field(description="Whose account (积分对象).")
    region_code: str = strawberry.field(description="12-digit village code (行政区划代码).")
    display_name: str = strawberry.field(description="Name shown on boards (显示名称).")
    balance: int = strawberry.field(description="Points available to spend (可用积分); never below zero.")
    create_time: dt.datetime = strawberry.field(description="When the account was opened (开户时间).")
    created_by: str = strawberry.field(description=CREATED_BY)
    closed_on: dt.date | None = strawberry.field(
        description="The last day the account earns (停止积分): a representative's term ended (出缺) "
        "or a party member left the party (出党); null while open. The balance stays.")

    @classmethod
    def from_pb(cls, a: points_pb2.Account) -> Account:
        return cls(
            id=strawberry.ID(a.id),
            subject=Subject.from_pb(a.subject),
            region_code=a.region_code,
            display_name=a.display_name,
            balance=a.balance,
            create_time=to_datetime(a.create_time),
            created_by=a.created_by,
            closed_on=to_date(a.closed_on),
        )

    @strawberry.field(
        description="The statement (积分明细): entries with their sources, oldest first. One call "
        "to the points service per account and page asked, a few at a time."
    )
    async def entries(
        self,
        info: Info,
        from_date: Annotated[dt.date | None, strawberry.argument(description="First day (起始日期).")] = None,
        to_date_: Annotated[
            dt.date | None, strawberry.argument(name="toDate", description="Last day (截止日期).")
        ] = None,
        first: FirstArg = None,
        after: AfterArg = None,
    ) -> EntryPage:
        page = page_request(first, after)
        answer = await info.context.loaders.points_statements.load(
            (str(self.id), _date(from_date), _date(to_date_), page.page_size, page.page_token)
        )
        return EntryPage(
            items=[Entry.from_pb(e) for e in answer.entries], next_page_token=next_token(answer.page_info)
        )

    @strawberry.field(description="Credit lots (积分批次) in spending order.")
    async def lots(
        self,
        info: Info,
        include_spent: Annotated[
            bool, strawberry.argument(description="Include used-up and expired lots (含已用完、已失效批次).")
        ] = False,
    ) -> list[Lot]:
        lots = await info.context.loaders.points_lots.load((str(self.id), include_spent))
        return [Lot.from_pb(lot) for lot in lots]


async def _account(info: Info, account_id: str) -> Account | None:
    found = await info.context.loaders.points_accounts.load(account_id)
    return Account.from_pb(found) if found is not None else None


@strawberry.type(description="A page of accounts (积分账户列表).")
class AccountPage:
    items: list[Account] = strawberry.field(description=ITEMS)
    next_page_token: str | None = strawberry.field(description=NEXT_PAGE_TOKEN)


# -- schemes (积分方案) ----------------------------------------------------------------------


@strawberry.type(description="How often an item may count for one subject (上限); 0 means no limit.")
class ItemLimits:
    per_day: int = strawberry.field(description="Times a day (每日上限).")
    per_week: int = strawberry.field(description="Times a week, Monday to Sunday (每周上限).")
    per_month: int = strawberry.field(description="Times a calendar month (每月上限).")
    per_year: int = strawberry.field(description="Times a calendar year (每年上限).")


@strawberry.type(
    description="Catalog item (积分事项): one line of the positive and negative list (正负积分清单)."
)
class CatalogItem:
    id: strawberry.ID | None = strawberry.field(description="Item id (事项编号).")
    code: str = strawberry.field(description="Item code (事项编码), unique within a version.")
    name: str = strawberry.field(description="Item name (事项名称).")
    category: ItemCategory = strawberry.field(description="Governance area (类别).")
    sign: ItemSign = strawberry.field(description="Adds or deducts (加分/扣分).")
    points: int = strawberry.field(description="Points per occurrence (分值), a positive whole number.")
    evidence_required: str = strawberry.field(
        description="Evidence a claim must carry (佐证材料要求); empty: none."
    )
    limits: ItemLimits = strawberry.field(description="How often it may count (上限).")
    effective_from: dt.date | None = strawberry.field(description="First day it applies (生效日期).")
    effective_to: dt.date | None = strawberry.field(description="Last day it applies (失效日期).")
    template_item_id: strawberry.ID | None = strawberry.field(
        description="The template item it was copied from (来源模板事项)."
    )

    @classmethod
    def from_pb(cls, i: points_pb2.CatalogItem) -> CatalogItem:
        return cls(
            id=strawberry.ID(i.id) if i.id else None,
            code=i.code,
            name=i.name,
            category=require_enum(ItemCategory, P.ItemCategory, i.category),
            sign=require_enum(ItemSign, P.ItemSign, i.sign),
            points=i.points,
            evidence_required=i.evidence_required,
            limits=ItemLimits(
                per_day=i.limits.per_day,
                per_week=i.limits.per_week,
                per_month=i.limits.per_month,
                per_year=i.limits.per_year,
            ),
            effective_from=to_date(i.effective_from),
            effective_to=to_date(i.effective_to),
            template_item_id=strawberry.ID(i.template_item_id) if i.template_item_id else None,
        )


def _cycle_policy(root: SchemeSettings) -> CyclePolicy:
    # The points service sets it on every version (the subject kind's default when not
    # chosen); an unset one fails only this field.
    return require_enum(CyclePolicy, P.CyclePolicy, root.cycle_policy_number)


@strawberry.type(description="A scheme's settings (方案设置), decided by the villagers with its items.")
class SchemeSettings:
    claim_publicity_days: int = strawberry.field(
        description="Days an approved claim stays on the board (积分公示期)."
    )
    comment_days: int = strawberry.field(description="Days a draft stays open for comment (方案公示期).")
    cycle_policy: CyclePolicy = strawberry.field(
        resolver=_cycle_policy, description="Reset or carry over at the year's close (年度结算方式)."
    )
    cycle_policy_number: strawberry.Private[int]
    base_score: int = strawberry.field(description="Score every subject starts the year with (基础分).")
    points_valid_months: int = strawberry.field(
        description="Months credited points stay usable (积分有效期); 0: always."
    )
    red_list_size: int = strawberry.field(description="How many the red list shows (红榜人数).")
    black_list_size: int = strawberry.field(description="How many the black list shows (黑榜人数).")
    black_list_below: int = strawberry.field(
        description="Scores below this may go on the black list (黑榜线)."
    )
    star_thresholds: list[int] = strawberry.field(description="Scores that earn 1, 2, … stars (星级门槛).")

    @classmethod
    def from_pb(cls, s: points_pb2.SchemeSettings) -> SchemeSettings:
        return cls(
            claim_publicity_days=s.claim_publicity_days,
            comment_days=s.comment_days,
            cycle_policy_number=s.cycle_policy,
            base_score=s.base_score,
            points_valid_months=s.points_valid_months,
            red_list_size=s.red_list_size,
            black_list_size=s.black_list_size,
            black_list_below=s.black_list_below,
            star_thresholds=list(s.star_thresholds),
        )



@strawberry.type(description="Resolution of the villagers' representative meeting (村民代表会议决议).")
class Resolution:
    meeting_date: dt.date = strawberry.field(description="Day of the meeting (会议日期).")
    representatives_total: int = strawberry.field(description="Representatives (应到人数).")
    attendees: int = strawberry.field(description="Present (实到人数).")
    votes_for: int = strawberry.field(description="For (赞成).")
    votes_against: int = strawberry.field(description="Against (反对).")
    votes_abstain: int = strawberry.field(description="Abstaining (弃权).")
    number: str = strawberry.field(description="Resolution number or title (决议文号).")
    note: str = strawberry.field(description="Notes (备注).")


def resolution_of(r: points_pb2.Resolution) -> Resolution:
    return Resolution(
        meeting_date=require_date(r.meeting_date),
        representatives_total=r.representatives_total,
        attendees=r.attendees,
        votes_for=r.votes_for,
        votes_against=r.votes_against,
        votes_abstain=r.votes_abstain,
        number=r.number,
        note=r.note,
    )


@strawberry.type(description="Scheme version (方案版本): never changed once publicised.")
class SchemeVersion:
    id: strawberry.ID = strawberry.field(description="Version id (版本编号).")
    scheme_id: strawberry.ID = strawberry.field(description="The scheme (积分方案).")
    version: int = strawberry.field(description="1, 2, 3 … (版本号).")
    status: SchemeVersionStatus = strawberry.field(description="Where it stands (状态).")
    settings: SchemeSettings = strawberry.field(description="Settings (方案设置).")
    items: list[CatalogItem] = strawberry.field(description="Items (正负积分清单).")
    change_note: str = strawberry.field(description="What changed and why (修订说明).")
    publicize_time: dt.datetime | None = strawberry.field(description="When it was publicised (公示时间).")
    comment_ends_on: dt.date | None = strawberry.field(
        description="Last day of the comment period (公示截止)."
    )
    resolution: Resolution | None = strawberry.field(
        description="The adopting resolution (村民代表会议决议)."
    )
    effective_from: dt.date | None = strawberry.field(description="First day in force (施行日期).")
    effective_to: dt.date | None = strawberry.field(
        description="Last day in force (废止日期); null while in force."
    )
    adopt_time: dt.datetime | None = strawberry.field(
        description="When the adoption was recorded (录入时间)."
    )
    adopted_by: str | None = strawberry.field(description="Who recorded the adoption (录入人).")
    create_time: dt.datetime = strawberry.field(description=CREATE_TIME)
    created_by: str = strawberry.field(description=CREATED_BY)

    @classmethod
    def from_pb(cls, v: points_pb2.SchemeVersion) -> SchemeVersion:
        return cls(
            id=strawberry.ID(v.id),
            scheme_id=strawberry.ID(v.scheme_id),
            version=v.version,
            status=require_enum(SchemeVersionStatus, P.SchemeVersionStatus, v.status),
            settings=SchemeSettings.from_pb(v.settings),
            items=[CatalogItem.from_pb(i) for i in v.items],
            change_note=v.change_note,
            publicize_time=to_datetime(v.publicize_time) if v.HasField("publicize_time") else None,
            comment_ends_on=to_date(v.comment_ends_on),
            resolution=resolution_of(v.resolution) if v.HasField("resolution") else None,
            effective_from=to_date(v.effective_from),
            effective_to=to_date(v.effective_to),
            adopt_time=to_datetime(v.adopt_time) if v.HasField("adopt_time") else None,
            adopted_by=v.adopted_by or None,
            create_time=to_datetime(v.create_time),
            created_by=v.created_by,
        )

    @strawberry.field(description="The scheme (积分方案) it is a version of.")
    async def scheme(self, info: Info) -> Scheme | None:
        return await _scheme(info, str(self.scheme_id))


@strawberry.type(
    description="Points scheme (积分方案) of a village, year and subject kind, or a county template."
)
class Scheme:
    id: strawberry.ID = strawberry.field(description="Scheme id (方案编号).")
    region_code: str = strawberry.field(
        description="12-digit division code (行政区划代码): a village, or a county/township for a template."
    )
    year: int = strawberry.field(description="The natural year it governs (年度).")
    subject_kind: SubjectKind = strawberry.field(description="Who it scores (积分对象类别).")
    title: str = strawberry.field(description="Title (方案名称).")
    is_template: bool = strawberry.field(description="A county or township template (模板).")
    template_scheme_id: strawberry.ID | None = strawberry.field(
        description="The county template it was copied from (来源模板)."
    )
    current_version: SchemeVersion | None = strawberry.field(
        description="The version in force today (现行版本)."
    )
    latest_version: int = strawberry.field(description="Number of the newest version (最新版本号).")
    cycle_closed: bool = strawberry.field(description="The year was closed (已年度结算).")
    create_time: dt.datetime = strawberry.field(description=CREATE_TIME)
    created_by: str = strawberry.field(description=CREATED_BY)

    @classmethod
    def from_pb(cls, s: points_pb2.Scheme) -> Scheme:
        return cls(
            id=strawberry.ID(s.id),
            region_code=s.region_code,
            year=s.year,
            subject_kind=require_enum(SubjectKind, P.SubjectKind, s.subject_kind),
            title=s.title,
            is_template=s.is_template,
            template_scheme_id=strawberry.ID(s.template_scheme_id) if s.template_scheme_id else None,
            current_version=SchemeVersion.from_pb(s.current_version)
            if s.HasField("current_version")
            else None,
            latest_version=s.latest_version,
            cycle_closed=s.cycle_closed,
            create_time=to_datetime(s.create_time),
            created_by=s.created_by,
        )

    @strawberry.field(
        description="The county template (县级模板) it was copied from; null when it was not "
        "copied from one, or the template is not yours to see."
    )
    async def template(self, info: Info) -> Scheme | None:
        return await _scheme(info, str(self.template_scheme_id)) if self.template_scheme_id else None

    @strawberry.field(description="Every version, oldest first (历史版本).")
    async def versions(self, info: Info) -> list[SchemeVersion]:
        versions = await info.context.loaders.points_scheme_versions.load(str(self.id))
        return [SchemeVersion.from_pb(v) for v in versions]

    @strawberry.field(
        description="The version not yet adopted (草案, or 公示中 for comment), if any: the one to "
        "edit, publicise or adopt next; right after createPointsScheme, version 1's draft."
    )
    async def open_version(self, info: Info) -> SchemeVersion | None:
        versions = await info.context.loaders.points_scheme_versions.load(str(self.id))
        open_ = [v for v in versions
                 if v.status in (P.SCHEME_VERSION_STATUS_DRAFT, P.SCHEME_VERSION_STATUS_PUBLICIZED)]
        return SchemeVersion.from_pb(open_[-1]) if open_ else None

    @strawberry.field(description="The rules in force on a day (某日施行的规则); null when none was.")
    async def rules_on(
        self, info: Info, day: Annotated[dt.date, strawberry.argument(description="The day (日期).")]
    ) -> RulesInForce | None:
        answer = await info.context.loaders.points_rules_in_force.load((str(self.id), day.isoformat()))
        if answer is None:
            return None
        return RulesInForce(
            version=SchemeVersion.from_pb(answer.version),
            items_in_force=[CatalogItem.from_pb(i) for i in answer.items_in_force],
        )

    @strawberry.field(
        description="Where this village scheme departs from its template (与县级模板的差异): its "
        "latest version, or the one in force on a day, against the template's latest version.",
        deprecation_reason="Use templateComparison: it says which version was compared, and "
        "is null, not empty, when there was none.",
    )
    async def template_departures(
        self,
        info: Info,
        on_date: Annotated[
            dt.date | None,
            strawberry.argument(
                description="Compare the version in force (施行) that day instead of the latest one; "
                "empty when none was."
            ),
        ] = None,
    ) -> list[TemplateDeparture]:
        if self.template_scheme_id is None:
            return []
        day = on_date.isoformat() if on_date else ""
        answer = await info.context.loaders.points_template_comparisons.load((str(self.id), day))
        if answer is None:
            return []
        return [TemplateDeparture.from_pb(d) for d in answer.departures]

    @strawberry.field(
        description="This village scheme against its county template (与县级模板比对): which of its "
        "versions was compared (the latest, or the one in force on a day) and where it departs "
        "from the template's latest version. Null when it was not copied from a template, or "
        "had no version in force that day; an empty list of departures means none (无差异)."
    )
    async def template_comparison(
        self,
        info: Info,
        on_date: Annotated[
            dt.date | None,
            strawberry.argument(description="Compare the version in force (施行) that day instead of "
                                "the latest one."),
        ] = None,
    ) -> TemplateComparison | None:
        if self.template_scheme_id is None:
            return None
        day = on_date.isoformat() if on_date else ""
        answer = await info.context.loaders.points_template_comparisons.load((str(self.id), day))
        if answer is None:
            return None
        return TemplateComparison(
            template_scheme_id=strawberry.ID(answer.template_scheme_id),
            version=answer.version,
            departures=[TemplateDeparture.from_pb(d) for d in answer.departures],
        )


@strawberry.type(description="The rules of a scheme in force on a day (某日施行的规则).")
class RulesInForce:
    version: SchemeVersion = strawberry.field(description="The version in force (施行版本).")
    items_in_force: list[CatalogItem] = strawberry.field(
        description="Its items in force that day (当日有效事项)."
    )


@strawberry.type(description="How one village item departs from the template (与模板差异).")
class TemplateDeparture:
    code: str = strawberry.field(description="Item code (事项编码).")
    kind: DepartureKind = strawberry.field(description="Changed, added or removed (差异类型).")
    fields: list[str] = strawberry.field(
        description="Fields that differ (差异字段), named as CatalogItem names them: points, "
        "evidenceRequired, limits.perMonth."
    )
    template_item: CatalogItem | None = strawberry.field(description="The template's item (模板事项).")
    village_item: CatalogItem | None = strawberry.field(description="The village's item (本村事项).")

    @classmethod
    def from_pb(cls, d: points_pb2.TemplateDeparture) -> TemplateDeparture:
        return cls(
            code=d.code,
            kind=require_enum(DepartureKind, P.DepartureKind, d.kind),
            fields=[camel_case_path(f) for f in d.fields],
            template_item=CatalogItem.from_pb(d.template_item) if d.HasField("template_item") else None,
            village_item=CatalogItem.from_pb(d.village_item) if d.HasField("village_item") else None,
        )


@strawberry.type(description="A village scheme compared with its county template (与县级模板比对).")
class TemplateComparison:
    template_scheme_id: strawberry.ID = strawberry.field(description="The template (县级模板).")
    version: int = strawberry.field(description="Number of the village's version compared (比对版本号).")
    departures: list[TemplateDeparture] = strawberry.field(
        description="Where it departs (差异); empty when it follows the template (无差异)."
    )


@strawberry.type(description="A page of schemes (积分方案列表).")
class SchemePage:
    items: list[Scheme] = strawberry.field(description=ITEMS)
    next_page_token: str | None = strawberry.field(description=NEXT_PAGE_TOKEN)


@strawberry.input(description="How often an item may count (上限); 0 or omitted means no limit.")
class ItemLimitsInput:
    per_day: int = strawberry.field(default=0, description="Times a day (每日上限).")
    per_week: int = strawberry.field(default=0, description="Times a week (每周上限).")
    per_month: int = strawberry.field(default=0, description="Times a month (每月上限).")
    per_year: int = strawberry.field(default=0, description="Times a year (每年上限).")


@strawberry.input(description="A catalog item (积分事项).")
class CatalogItemInput:
    code: str = strawberry.field(description="Item code (事项编码), unique within the version.")
    name: str = strawberry.field(description="Item name (事项名称).")
    category: ItemCategory = strawberry.field(description="Governance area (类别).")
    sign: ItemSign = strawberry.field(description="Adds or deducts (加分/扣分).")
    points: int = strawberry.field(description="Points per occurrence (分值), a positive whole number.")
    evidence_required: str = strawberry.field(
        default="", description="Evidence a claim must carry (佐证材料要求)."
    )
    limits: ItemLimitsInput | None = strawberry.field(
        default=None, description="How often it may count (上限)."
    )
    effective_from: dt.date | None = strawberry.field(
        default=None, description="First day it applies (生效日期)."
    )
    effective_to: dt.date | None = strawberry.field(
        default=None, description="Last day it applies (失效日期)."
    )


def items_pb(items: list[CatalogItemInput]) -> list[points_pb2.CatalogItem]:
    out = []
    for i in items:
        lim = i.limits or ItemLimitsInput()
        out.append(
            P.CatalogItem(
                code=i.code,
                name=i.name,
                category=enum_to_pb(i.category, P.ItemCategory),
                sign=enum_to_pb(i.sign, P.ItemSign),
                points=i.points,
                evidence_required=i.evidence_required,
                limits=P.ItemLimits(
                    per_day=lim.per_day, per_week=lim.per_week, per_month=lim.per_month, per_year=lim.per_year
                ),
                effective_from=_date(i.effective_from),
                effective_to=_date(i.effective_to),
            )
        )
    return out


@strawberry.input(
    description="A scheme's settings (方案设置); omitted values take the defaults of the subject kind."
)
class SchemeSettingsInput:
    claim_publicity_days: int = strawberry.field(
        default=0, description="Claim publicity days (积分公示期), default 7."
    )
    comment_days: int = strawberry.field(
        default=0, description="Comment days of a draft (方案公示期), default 7."
    )
    cycle_policy: CyclePolicy | None = strawberry.field(
        default=None, description="Reset or carry over (年度结算方式)."
    )
    base_score: int = strawberry.field(
        default=0, description="Base score (基础分); representatives default to 100."
    )
    points_valid_months: int = strawberry.field(
        default=0, description="Months points stay usable (积分有效期)."
    )
    red_list_size: int = strawberry.field(default=0, description="Red list size (红榜人数), default 10.")
    black_list_size: int = strawberry.field(default=0, description="Black list size (黑榜人数), default 10.")
    black_list_below: int = strawberry.field(default=0, description="Black-list line (黑榜线), default 0.")
    star_thresholds: list[int] = strawberry.field(
        default_factory=list, description="Star thresholds (星级门槛)."
    )


def settings_pb(s: SchemeSettingsInput | None) -> points_pb2.SchemeSettings:
    s = s or SchemeSettingsInput()
    return P.SchemeSettings(
        claim_publicity_days=s.claim_publicity_days,
        comment_days=s.comment_days,
        cycle_policy=enum_to_pb(s.cycle_policy, P.CyclePolicy),
        base_score=s.base_score,
        points_valid_months=s.points_valid_months,
        red_list_size=s.red_list_size,
        black_list_size=s.black_list_size,
        black_list_below=s.black_list_below,
        star_thresholds=s.star_thresholds,
    )


@strawberry.input(description="A new scheme (新建积分方案), or a copy of a county template.")
class CreateSchemeInput:
    region_code: str = strawberry.field(
        description="Village code (行政区划代码), or a county/township code for a template."
    )
    year: int = strawberry.field(description="The year (年度).")
    subject_kind: SubjectKind = strawberry.field(description="Who it scores (积分对象类别).")
    title: str = strawberry.field(description="Title (方案名称).")
    is_template: bool = strawberry.field(
        default=False, description="Create a county or township template (模板)."
    )
    template_scheme_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="Copy settings and items from this template (复制模板); leave both out.",
    )
    settings: SchemeSettingsInput | None = strawberry.field(default=None, description="Settings (方案设置).")
    items: list[CatalogItemInput] = strawberry.field(
        default_factory=list, description="Items (正负积分清单)."
    )


@strawberry.input(
    description=(
        "A resolution of the representative meeting (村民代表会议决议): two thirds present, "
        "a majority of them for."
    )
)
class ResolutionInput:
    meeting_date: dt.date = strawberry.field(
        description="Day of the meeting (会议日期); for a scheme, after its comment period."
    )
    representatives_total: int = strawberry.field(description="Representatives (应到人数).")
    attendees: int = strawberry.field(description="Present (实到人数).")
    votes_for: int = strawberry.field(description="For (赞成).")
    votes_against: int = strawberry.field(default=0, description="Against (反对).")
    votes_abstain: int = strawberry.field(default=0, description="Abstaining (弃权).")
    number: str = strawberry.field(default="", description="Resolution number or title (决议文号).")
    note: str = strawberry.field(default="", description="Notes (备注).")


def resolution_pb(r: ResolutionInput) -> points_pb2.Resolution:
    return P.Resolution(
        meeting_date=r.meeting_date.isoformat(),
        representatives_total=r.representatives_total,
        attendees=r.attendees,
        votes_for=r.votes_for,
        votes_against=r.votes_against,
        votes_abstain=r.votes_abstain,
        number=r.number,
        note=r.note,
    )


# -- claims (积分申报) -------------------------------------------------------------------------


@strawberry.type(description="Evidence (佐证材料) of a claim.")
class Evidence:
    description: str = strawberry.field(description="What shows it happened (说明).")
    attachment_urls: list[str] = strawberry.field(description="Links to photos or documents (附件).")


@strawberry.type(description="One decision of the review group (评议记录).")
class ClaimReview:
    decision: ReviewDecision = strawberry.field(description="Approved or rejected (评议结果).")
    reason: str = strawberry.field(description="Why (评议意见).")
    reviewer: str = strawberry.field(description="Who reviewed (评议人).")
    review_time: dt.datetime = strawberry.field(description="When (评议时间).")


@strawberry.type(description="Objection (异议) raised during publicity.")
class Objection:
    id: strawberry.ID = strawberry.field(description="Objection id (异议编号).")
    reason: str = strawberry.field(description="Why (异议理由).")
    raised_by: str = strawberry.field(description="Who objected (异议人).")
    raise_time: dt.datetime = strawberry.field(description="When (提出时间).")
    status: ObjectionStatus = strawberry.field(description="What became of it (处理结果).")
    resolve_time: dt.datetime | None = strawberry.field(description="When it was settled (处理时间).")


@strawberry.type(
    description="Claim (积分申报): an item claimed for a subject, through review and publicity to the ledger."
)
class Claim:
    id: strawberry.ID = strawberry.field(description="Claim id (申报编号).")
    account_id: strawberry.ID = strawberry.field(description="The account (积分账户编号).")
    subject: Subject = strawberry.field(description="The subject (积分对象).")
    region_code: str = strawberry.field(description="12-digit village code (行政区划代码).")
    scheme_id: strawberry.ID = strawberry.field(description="The scheme (积分方案).")
    version_id: strawberry.ID = strawberry.field(
        description="The scheme version in force that day (适用版本)."
    )
    item_code: str = strawberry.field(description="Item code (事项编码).")
    item_name: str = strawberry.field(description="Item name (事项名称).")
    points: int = strawberry.field(description="Points it will post, signed (申报分值).")
    quantity: int = strawberry.field(description="Times (次数).")
    occurred_on: dt.date = strawberry.field(description="When it happened (发生日期).")
    source: ClaimSource = strawberry.field(description="Declared or recorded (申报来源).")
    evidence: Evidence = strawberry.field(description="Evidence (佐证材料).")
    status: ClaimStatus = strawberry.field(description="Where it stands (状态).")
    publicity_end_time: dt.datetime | None = strawberry.field(
        description="When the window closes (公示截止)."
    )
    reviews: list[ClaimReview] = strawberry.field(description="The review group's decisions (评议记录).")
    objections: list[Objection] = strawberry.field(description="Objections (异议).")
    entry_id: strawberry.ID | None = strawberry.field(description="The ledger entry, once posted (入账明细).")
    reversal_entry_id: strawberry.ID | None = strawberry.field(
        description="The entry that reversed entryId (冲正明细), once the claim is REVERSED."
    )
    create_time: dt.datetime = strawberry.field(description=CREATE_TIME)
    created_by: str = strawberry.field(description=CREATED_BY)
    update_time: dt.datetime = strawberry.field(description="When it last changed (更新时间).")

    @classmethod
    def from_pb(cls, c: points_pb2.Claim) -> Claim:
        return cls(
            id=strawberry.ID(c.id),
            account_id=strawberry.ID(c.account_id),
            subject=Subject.from_pb(c.subject),
            region_code=c.region_code,
            scheme_id=strawberry.ID(c.scheme_id),
            version_id=strawberry.ID(c.version_id),
            item_code=c.item_code,
            item_name=c.item_name,
            points=c.points,
            quantity=c.quantity,
            occurred_on=require_date(c.occurred_on),
            source=require_enum(ClaimSource, P.ClaimSource, c.source),
            evidence=Evidence(
                description=c.evidence.description, attachment_urls=list(c.evidence.attachment_urls)
            ),
            status=require_enum(ClaimStatus, P.ClaimStatus, c.status),
            publicity_end_time=to_datetime(c.publicity_end_time)
            if c.HasField("publicity_end_time")
            else None,
            reviews=[
                ClaimReview(
                    decision=require_enum(ReviewDecision, P.ReviewDecision, r.decision),
                    reason=r.reason,
                    reviewer=r.reviewer,
                    review_time=to_datetime(r.review_time),
                )
                for r in c.reviews
            ],
            objections=[
                Objection(
                    id=strawberry.ID(o.id),
                    reason=o.reason,
                    raised_by=o.raised_by,
                    raise_time=to_datetime(o.raise_time),
                    status=require_enum(ObjectionStatus, P.ObjectionStatus, o.status),
                    resolve_time=to_datetime(o.resolve_time) if o.HasField("resolve_time") else None,
                )
                for o in c.objections
            ],
            entry_id=strawberry.ID(c.entry_id) if c.entry_id else None,
            reversal_entry_id=strawberry.ID(c.reversal_entry_id) if c.reversal_entry_id else None,
            create_time=to_datetime(c.create_time),
            created_by=c.created_by,
            update_time=to_datetime(c.update_time),
        )

    @strawberry.field(description="The account (积分账户).")
    async def account(self, info: Info) -> Account | None:
        return await _account(info, str(self.account_id))

    @strawberry.field(description="The scheme (积分方案) it is claimed under.")
    async def scheme(self, info: Info) -> Scheme | None:
        return await _scheme(info, str(self.scheme_id))

    @strawberry.field(
        description="The scheme version (方案版本) the claim was judged under, in force the day it "
        "happened (适用版本); null when not yours to see. One call to the points service per "
        "distinct version, a few at a time."
    )
    async def version(self, info: Info) -> SchemeVersion | None:
        return await _scheme_version(info, str(self.version_id))

    @strawberry.field(
        description="The item claimed (积分事项) as the scheme has it on the day it happened: its "
        "points and the evidence it asks for (分值、佐证材料要求); null if none is in force then."
    )
    async def item(self, info: Info) -> CatalogItem | None:
        rules = await info.context.loaders.points_rules_in_force.load(
            (str(self.scheme_id), self.occurred_on.isoformat()))
        if rules is None:
            return None
        found = next((i for i in rules.items_in_force if i.code == self.item_code), None)
        return CatalogItem.from_pb(found) if found is not None else None

    @strawberry.field(description="The ledger entry (入账明细), once posted.")
    async def entry(self, info: Info) -> Entry | None:
        return await _entry(info, str(self.entry_id)) if self.entry_id else None

    @strawberry.field(description="The entry that reversed its posting (冲正明细), if any.")
    async def reversal_entry(self, info: Info) -> Entry | None:
        return await _entry(info, str(self.reversal_entry_id)) if self.reversal_entry_id else None


@strawberry.type(description="A page of claims (积分申报列表), newest first.")
class ClaimPage:
    items: list[Claim] = strawberry.field(description=ITEMS)
    next_page_token: str | None = strawberry.field(description=NEXT_PAGE_TOKEN)


@strawberry.type(description="A village's publicity board (公示栏) now.")
class PublicityBoard:
    in_publicity: list[Claim] = strawberry.field(
        description="Claims in their window, closing soonest first (公示中)."
    )
    objected: list[Claim] = strawberry.field(description="Claims sent back by objections (有异议待复核).")
    schemes_for_comment: list[SchemeVersion] = strawberry.field(
        description="Scheme versions open for comment (方案征求意见)."
    )


@strawberry.input(description="Evidence (佐证材料) of a claim.")
class EvidenceInput:
    description: str = strawberry.field(default="", description="What shows it happened (说明).")
    attachment_urls: list[str] = strawberry.field(
        default_factory=list, description="Links to photos or documents (附件)."
    )


@strawberry.input(description="A claim (积分申报).")
class SubmitClaimInput:
    subject: SubjectInput = strawberry.field(description="The subject (积分对象).")
    scheme_id: strawberry.ID = strawberry.field(description="The subject's scheme (积分方案).")
    item_code: str = strawberry.field(description="Item code (事项编码).")
    occurred_on: dt.date = strawberry.field(description="When it happened (发生日期).")
    quantity: int = strawberry.field(default=1, description="Times (次数), at least 1.")
    source: ClaimSource = strawberry.field(description="Declared or recorded (申报来源).")
    evidence: EvidenceInput | None = strawberry.field(default=None, description="Evidence (佐证材料).")


# -- batches, supermarket, cycles, standings ----------------------------------------------


@strawberry.type(description="A committed batch scoring (批量评分).")
class Batch:
    id: strawberry.ID = strawberry.field(description="Batch id (批次编号).")
    batch_key: str = strawberry.field(description="The caller's key, unique per village (批次键).")
    scheme_id: strawberry.ID = strawberry.field(description="The scheme (积分方案).")
    region_code: str = strawberry.field(description="12-digit village code (行政区划代码).")
    title: str = strawberry.field(description="Title (批次名称).")
    entry_count: int = strawberry.field(description="Entries written (明细条数).")
    total_score: int = strawberry.field(description="Sum of the entries' scores (总分).")
    create_time: dt.datetime = strawberry.field(description=CREATE_TIME)
    created_by: str = strawberry.field(description=CREATED_BY)

    @classmethod
    def from_pb(cls, b: points_pb2.Batch) -> Batch:
        return cls(
            id=strawberry.ID(b.id),
            batch_key=b.batch_key,
            scheme_id=strawberry.ID(b.scheme_id),
            region_code=b.region_code,
            title=b.title,
            entry_count=b.entry_count,
            total_score=b.total_score,
            create_time=to_datetime(b.create_time),
            created_by=b.created_by,
        )

    @strawberry.field(description="The scheme (积分方案) it scored under.")
    async def scheme(self, info: Info) -> Scheme | None:
        return await _scheme(info, str(self.scheme_id))


@strawberry.input(description="One line of a batch scoring (批量评分明细).")
class BatchLineInput:
    subject: SubjectInput = strawberry.field(description="The subject (积分对象).")
    item_code: str = strawberry.field(description="Item code (事项编码).")
    occurred_on: dt.date = strawberry.field(description="When it happened (发生日期).")
    quantity: int = strawberry.field(default=1, description="Times (次数).")
    note: str = strawberry.field(default="", description="Note (备注).")


@strawberry.type(description="Goods (商品) of a village points supermarket (积分超市).")
class Goods:
    id: strawberry.ID = strawberry.field(description="Goods id (商品编号).")
    region_code: str = strawberry.field(description="12-digit village code (行政区划代码).")
    name: str = strawberry.field(description="Name (商品名称).")
    price: int = strawberry.field(description="Points price (兑换积分).")
    stock: int = strawberry.field(description="Units in stock (库存); reservations hold stock.")
    active: bool = strawberry.field(description="Can be redeemed now (上架).")
    create_time: dt.datetime = strawberry.field(description=CREATE_TIME)
    created_by: str = strawberry.field(description=CREATED_BY)
    update_time: dt.datetime = strawberry.field(description="When it last changed (更新时间).")
    updated_by: str = strawberry.field(description="Who last changed it (更新人).")

    @classmethod
    def from_pb(cls, g: points_pb2.Goods) -> Goods:
        return cls(
            id=strawberry.ID(g.id),
            region_code=g.region_code,
            name=g.name,
            price=g.price,
            stock=g.stock,
            active=g.active,
            create_time=to_datetime(g.create_time),
            created_by=g.created_by,
            update_time=to_datetime(g.update_time),
            updated_by=g.updated_by,
        )


@strawberry.type(description="A page of goods (商品列表).")
class GoodsPage:
    items: list[Goods] = strawberry.field(description=ITEMS)
    next_page_token: str | None = strawberry.field(description=NEXT_PAGE_TOKEN)


@strawberry.type(description="Redemption (积分兑换): goods exchanged for points.")
class Redemption:
    id: strawberry.ID = strawberry.field(description="Redemption id (兑换编号).")
    account_id: strawberry.ID = strawberry.field(description="The account (积分账户编号).")
    subject: Subject = strawberry.field(description="The subject (积分对象).")
    region_code: str = strawberry.field(description="12-digit village code (行政区划代码).")
    goods_id: strawberry.ID = strawberry.field(description="The goods (商品编号).")
    goods_name: str = strawberry.field(description="The goods' name at the time (商品名称).")
    quantity: int = strawberry.field(description="Units (数量).")
    points: int = strawberry.field(description="Points taken (兑换积分).")
    status: RedemptionStatus = strawberry.field(description="Where it stands (状态).")
    entry_id: strawberry.ID = strawberry.field(description="The entry that took the points (扣减明细).")
    cancel_entry_id: strawberry.ID | None = strawberry.field(
        description="The entry that returned them (退回明细)."
    )
    cancel_reason: str | None = strawberry.field(description="Why it was cancelled (取消原因).")
    reserve_time: dt.datetime = strawberry.field(description="When it was reserved (预约时间).")
    reserved_by: str = strawberry.field(description="Who reserved it (经办人).")
    complete_time: dt.datetime | None = strawberry.field(
        description="When picked up or cancelled (完成时间)."
    )
    completed_by: str | None = strawberry.field(description="Who handed it over or cancelled it (经办人).")

    @classmethod
    def from_pb(cls, r: points_pb2.Redemption) -> Redemption:
        return cls(
            id=strawberry.ID(r.id),
            account_id=strawberry.ID(r.account_id),
            subject=Subject.from_pb(r.subject),
            region_code=r.region_code,
            goods_id=strawberry.ID(r.goods_id),
            goods_name=r.goods_name,
            quantity=r.quantity,
            points=r.points,
            status=require_enum(RedemptionStatus, P.RedemptionStatus, r.status),
            entry_id=strawberry.ID(r.entry_id),
            cancel_entry_id=strawberry.ID(r.cancel_entry_id) if r.cancel_entry_id else None,
            cancel_reason=r.cancel_reason or None,
            reserve_time=to_datetime(r.reserve_time),
            reserved_by=r.reserved_by,
            complete_time=to_datetime(r.complete_time) if r.HasField("complete_time") else None,
            completed_by=r.completed_by or None,
        )

    @strawberry.field(description="The goods (商品).")
    async def goods(self, info: Info) -> Goods | None:
        found = await info.context.loaders.points_goods.load(str(self.goods_id))
        return Goods.from_pb(found) if found is not None else None

    @strawberry.field(description="The account (积分账户).")
    async def account(self, info: Info) -> Account | None:
        return await _account(info, str(self.account_id))

    @strawberry.field(description="The entry that took the points (扣减明细).")
    async def entry(self, info: Info) -> Entry | None:
        return await _entry(info, str(self.entry_id))

    @strawberry.field(description="The entry that gave them back (退还明细), once cancelled.")
    async def cancel_entry(self, info: Info) -> Entry | None:
        return await _entry(info, str(self.cancel_entry_id)) if self.cancel_entry_id else None


@strawberry.type(description="A page of redemptions (兑换记录), newest first.")
class RedemptionPage:
    items: list[Redemption] = strawberry.field(description=ITEMS)
    next_page_token: str | None = strawberry.field(description=NEXT_PAGE_TOKEN)


@strawberry.type(description="The close of a scheme's year (年度结算).")
class CycleClose:
    id: strawberry.ID = strawberry.field(description="Close id (结算编号).")
    scheme_id: strawberry.ID = strawberry.field(description="The scheme (积分方案).")
    year: int = strawberry.field(description="The year closed (年度).")
    policy: CyclePolicy = strawberry.field(description="Reset or carry over (结算方式).")
    accounts: int = strawberry.field(description="Accounts of the scheme (账户数).")
    points_reset: int = strawberry.field(description="Points cleared (清零积分).")
    base_scores_opened: int = strawberry.field(
        description="Accounts given next year's base score (基础分开户数)."
    )
    close_time: dt.datetime = strawberry.field(description="When (结算时间).")
    closed_by: str = strawberry.field(description="Who closed it (结算人).")


@strawberry.type(description="One subject's place in a ranking (积分排名).")
class RankingRow:
    rank: int = strawberry.field(description="Place (名次); equal scores share a place.")
    account_id: strawberry.ID = strawberry.field(description="The account (积分账户编号).")
    subject: Subject = strawberry.field(description="The subject (积分对象).")
    region_code: str = strawberry.field(description="12-digit village code (行政区划代码).")
    display_name: str = strawberry.field(description="Name shown (显示名称).")
    score: int = strawberry.field(description="Score earned in the period (考评积分).")
    stars: int = strawberry.field(
        description="Stars reached (星级) by the scheme's thresholds; 0 unless ranked by a scheme "
        "(积分方案) or on an honour board.")

    @classmethod
    def from_pb(cls, r: points_pb2.RankingRow) -> RankingRow:
        return cls(
            rank=r.rank,
            account_id=strawberry.ID(r.account_id),
            subject=Subject.from_pb(r.subject),
            region_code=r.region_code,
            display_name=r.display_name,
            score=r.score,
            stars=r.stars,
        )

    @strawberry.field(description="The account (积分账户) with its balance.")
    async def account(self, info: Info) -> Account | None:
        return await _account(info, str(self.account_id))


@strawberry.type(description="A page of a ranking (积分排名), highest score first.")
class RankingPage:
    items: list[RankingRow] = strawberry.field(description=ITEMS)
    next_page_token: str | None = strawberry.field(description=NEXT_PAGE_TOKEN)


@strawberry.type(description="A scheme's honours (荣誉榜) for a period.")
class HonourBoard:
    red_list: list[RankingRow] = strawberry.field(
        description="The red list (红榜): the highest scores above zero and not below the black "
        "list's line; a place shared at the last spot (并列) is shown whole."
    )
    black_list: list[RankingRow] = strawberry.field(
        description="The black list (黑榜): the lowest scores below the line, ties at the last spot "
        "included; never someone on the red list."
    )
    starred: list[RankingRow] = strawberry.field(
        description="Star households (星级文明户), most stars first."
    )


# -- outstanding villagers' representatives (优秀村民代表) -----------------------------------


@strawberry.type(
    description=(
        "Outstanding villagers' representative (优秀村民代表): voted by the representative meeting "
        "for a year, with an honour certificate (荣誉证书); the person joins the reserve talent "
        "pool (后备人才)."
    )
)
class RepresentativeHonour:
    id: strawberry.ID = strawberry.field(description="Honour id (表彰编号).")
    account_id: strawberry.ID = strawberry.field(description="The representative's account (积分账户编号).")
    subject: Subject = strawberry.field(description="The representative (村民代表), by person id.")
    region_code: str = strawberry.field(description="12-digit village code (行政区划代码).")
    display_name: str = strawberry.field(description="Name shown (显示名称).")
    year: int = strawberry.field(description="The year honoured (年度).")
    resolution: Resolution = strawberry.field(description="The meeting's vote (村民代表会议决议).")
    certificate_number: str = strawberry.field(
        description="Certificate number (荣誉证书编号), unique within the village and year."
    )
    create_time: dt.datetime = strawberry.field(description="When it was recorded (录入时间).")
    created_by: str = strawberry.field(description="Who recorded it (录入人, 留痕): the user id.")

    @classmethod
    def from_pb(cls, h: points_pb2.RepresentativeHonour) -> RepresentativeHonour:
        return cls(
            id=strawberry.ID(h.id),
            account_id=strawberry.ID(h.account_id),
            subject=Subject.from_pb(h.subject),
            region_code=h.region_code,
            display_name=h.display_name,
            year=h.year,
            resolution=resolution_of(h.resolution),
            certificate_number=h.certificate_number,
            create_time=to_datetime(h.create_time),
            created_by=h.created_by,
        )

    @strawberry.field(description="The representative's points account (积分账户).")
    async def account(self, info: Info) -> Account | None:
        return await _account(info, str(self.account_id))


@strawberry.type(description="A page of outstanding representatives (优秀村民代表名单).")
class RepresentativeHonourPage:
    items: list[RepresentativeHonour] = strawberry.field(description=ITEMS)
    next_page_token: str | None = strawberry.field(description=NEXT_PAGE_TOKEN)


@strawberry.input(description="An honour of an outstanding villagers' representative (优秀村民代表).")
class HonourRepresentativeInput:
    account_id: strawberry.ID = strawberry.field(
        description="The representative's points account (村民代表积分账户编号)."
    )
    year: int = strawberry.field(description="The year honoured (年度); not a future year.")
    resolution: ResolutionInput = strawberry.field(
        description=(
            "The meeting's vote (村民代表会议决议): two thirds present, a majority of them for; "
            "not before the year began."
        )
    )
    certificate_number: str = strawberry.field(
        description="Certificate number (荣誉证书编号), unique within the village and year."
    )


# -- queries -----------------------------------------------------------------------------

DateArg = Annotated[dt.date | None, strawberry.argument(description="A day (日期), YYYY-MM-DD.")]


@strawberry.type
class PointsQuery:
    @strawberry.field(description="One household (农户); null when unknown or outside your scope.")
    async def household(
        self, info: Info, id: Annotated[strawberry.ID, id_arg("household")]
    ) -> Household | None:
        found = await info.context.loaders.households.load(require_id(id))
        return Household.from_pb(found) if found is not None else None

    @strawberry.field(description="Households (农户) in a region, a page at a time.")
    async def households(
        self,
        info: Info,
        region_code_prefix: RegionCodePrefixArg = "",
        first: FirstArg = None,
        after: AfterArg = None,
    ) -> HouseholdPage:
        ctx = info.context
        answer = await ctx.call(
            ctx.clients.points.ListHouseholds,
            points_pb2.ListHouseholdsRequest(
                region_code_prefix=region_code_prefix, page=page_request(first, after)
            ),
        )
        return HouseholdPage(
            items=[Household.from_pb(h) for h in answer.households],
            next_page_token=next_token(answer.page_info),
        )

    @strawberry.field(description="One points account (积分账户); null when unknown or outside your scope.")
    async def points_account(
        self, info: Info, id: Annotated[strawberry.ID, id_arg("account")]
    ) -> Account | None:
        return await _account(info, require_id(id))

    @strawberry.field(description="A subject's points account (积分账户); null when it has none you may see.")
    async def points_account_of(
        self,
        info: Info,
        subject: Annotated[SubjectInput, strawberry.argument(description="The subject (积分对象).")],
    ) -> Account | None:
        require_id(str(subject.id), "subject.id")
        found = await info.context.loaders.points_accounts_by_subject.load(
            (enum_to_pb(subject.kind, P.SubjectKind), str(subject.id).lower())
        )
        return Account.from_pb(found) if found is not None else None

    @strawberry.field(description="Points accounts (积分账户) in a region, a page at a time.")
    async def points_accounts(
        self,
        info: Info,
        region_code_prefix: RegionCodePrefixArg = "",
        subject_kind: Annotated[
            SubjectKind | None, strawberry.argument(description="Only this kind of subject (积分对象类别).")
        ] = None,
        first: FirstArg = None,
        after: AfterArg = None,
    ) -> AccountPage:
        ctx = info.context
        answer = await ctx.call(
            ctx.clients.points.ListAccounts,
            P.ListAccountsRequest(
                region_code_prefix=region_code_prefix,
                subject_kind=enum_to_pb(subject_kind, P.SubjectKind),
                page=page_request(first, after),
            ),
        )
        return AccountPage(
            items=[Account.from_pb(a) for a in answer.accounts], next_page_token=next_token(answer.page_info)
        )

    @strawberry.field(description="One points scheme (积分方案); null when unknown or not yours to see.")
    async def points_scheme(
        self, info: Info, id: Annotated[strawberry.ID, id_arg("scheme")]
    ) -> Scheme | None:
        found = await info.context.loaders.points_schemes.load(require_id(id))
        return Scheme.from_pb(found) if found is not None else None

    @strawberry.field(description="Points schemes (积分方案) in a region, a page at a time.")
    async def points_schemes(
        self,
        info: Info,
        region_code_prefix: RegionCodePrefixArg = "",
        year: Annotated[int | None, strawberry.argument(description="Only this year (年度).")] = None,
        subject_kind: Annotated[
            SubjectKind | None, strawberry.argument(description="Only this kind of subject (积分对象类别).")
        ] = None,
        first: FirstArg = None,
        after: AfterArg = None,
    ) -> SchemePage:
        ctx = info.context
        answer = await ctx.call(
            ctx.clients.points.ListSchemes,
            P.ListSchemesRequest(
                region_code_prefix=region_code_prefix,
                year=year or 0,
                subject_kind=enum_to_pb(subject_kind, P.SubjectKind),
                page=page_request(first, after),
            ),
        )
        return SchemePage(
            items=[Scheme.from_pb(s) for s in answer.schemes], next_page_token=next_token(answer.page_info)
        )

    @strawberry.field(
        description="One ledger entry (积分明细条目); null when unknown or outside your scope."
    )
    async def points_entry(self, info: Info, id: Annotated[strawberry.ID, id_arg("entry")]) -> Entry | None:
        found = await info.context.loaders.points_entries.load(require_id(id))
        return Entry.from_pb(found) if found is not None else None

    @strawberry.field(description="One claim (积分申报); null when unknown or outside your scope.")
    async def points_claim(self, info: Info, id: Annotated[strawberry.ID, id_arg("claim")]) -> Claim | None:
        found = await info.context.loaders.points_claims.load(require_id(id))
        return Claim.from_pb(found) if found is not None else None

    @strawberry.field(description="Claims (积分申报), newest first, a page at a time.")
    async def points_claims(
        self,
        info: Info,
        region_code_prefix: RegionCodePrefixArg = "",
        status: Annotated[
            ClaimStatus | None, strawberry.argument(description="Only this status (状态).")
        ] = None,
        account_id: Annotated[
            strawberry.ID | None, strawberry.argument(description="Only this account's (积分账户编号).")
        ] = None,
        first: FirstArg = None,
        after: AfterArg = None,
    ) -> ClaimPage:
        ctx = info.context
        answer = await ctx.call(
            ctx.clients.points.ListClaims,
            P.ListClaimsRequest(
                region_code_prefix=region_code_prefix,
                status=enum_to_pb(status, P.ClaimStatus),
                account_id=require_id(account_id, "accountId") if account_id else "",
                page=page_request(first, after),
            ),
        )
        return ClaimPage(
            items=[Claim.from_pb(c) for c in answer.claims], next_page_token=next_token(answer.page_info)
        )

    @strawberry.field(description="A village's publicity board (公示栏) now.")
    async def publicity_board(
        self,
        info: Info,
        region_code: Annotated[str, strawberry.argument(description="12-digit village code (行政区划代码).")],
    ) -> PublicityBoard:
        ctx = info.context
        answer = await ctx.call(
            ctx.clients.points.GetPublicityBoard, P.GetPublicityBoardRequest(region_code=region_code)
        )
        return PublicityBoard(
            in_publicity=[Claim.from_pb(c) for c in answer.in_publicity],
            objected=[Claim.from_pb(c) for c in answer.objected],
            schemes_for_comment=[SchemeVersion.from_pb(v) for v in answer.schemes_for_comment],
        )

    @strawberry.field(description="One scheme version (方案版本); null when unknown or outside your scope.")
    async def points_scheme_version(
        self, info: Info, id: Annotated[strawberry.ID, id_arg("scheme version")]
    ) -> SchemeVersion | None:
        return await _scheme_version(info, require_id(id))

    @strawberry.field(description="One batch scoring (批量评分); null when unknown or outside your scope.")
    async def points_batch(self, info: Info, id: Annotated[strawberry.ID, id_arg("batch")]) -> Batch | None:
        found = await info.context.loaders.points_batches.load(require_id(id))
        return Batch.from_pb(found) if found is not None else None

    @strawberry.field(
        description="Goods (商品) of a points supermarket; null when unknown or outside your scope."
    )
    async def goods(self, info: Info, id: Annotated[strawberry.ID, id_arg("goods")]) -> Goods | None:
        found = await info.context.loaders.points_goods.load(require_id(id))
        return Goods.from_pb(found) if found is not None else None

    @strawberry.field(description="Goods of the points supermarkets (积分超市商品) in a region.")
    async def goods_list(
        self,
        info: Info,
        region_code_prefix: RegionCodePrefixArg = "",
        active_only: Annotated[
            bool, strawberry.argument(description="Only goods that can be redeemed now: on the shelf "
                                      "(上架) and in stock.")
        ] = False,
        first: FirstArg = None,
        after: AfterArg = None,
    ) -> GoodsPage:
        ctx = info.context
        answer = await ctx.call(
            ctx.clients.points.ListGoods,
            P.ListGoodsRequest(
                region_code_prefix=region_code_prefix,
                active_only=active_only,
                page=page_request(first, after),
            ),
        )
        return GoodsPage(
            items=[Goods.from_pb(g) for g in answer.goods], next_page_token=next_token(answer.page_info)
        )

    @strawberry.field(description="One redemption (积分兑换); null when unknown or outside your scope.")
    async def redemption(
        self, info: Info, id: Annotated[strawberry.ID, id_arg("redemption")]
    ) -> Redemption | None:
        found = await info.context.loaders.points_redemptions.load(require_id(id))
        return Redemption.from_pb(found) if found is not None else None

    @strawberry.field(description="Redemptions (兑换记录), newest first, a page at a time.")
    async def redemptions(
        self,
        info: Info,
        region_code_prefix: RegionCodePrefixArg = "",
        account_id: Annotated[
            strawberry.ID | None, strawberry.argument(description="Only this account's (积分账户编号).")
        ] = None,
        status: Annotated[
            RedemptionStatus | None, strawberry.argument(description="Only this status (状态).")
        ] = None,
        first: FirstArg = None,
        after: AfterArg = None,
    ) -> RedemptionPage:
        ctx = info.context
        answer = await ctx.call(
            ctx.clients.points.ListRedemptions,
            P.ListRedemptionsRequest(
                region_code_prefix=region_code_prefix,
                account_id=require_id(account_id, "accountId") if account_id else "",
                status=enum_to_pb(status, P.RedemptionStatus),
                page=page_request(first, after),
            ),
        )
        return RedemptionPage(
            items=[Redemption.from_pb(r) for r in answer.redemptions],
            next_page_token=next_token(answer.page_info),
        )

    @strawberry.field(
        description="Ranking (积分排名) of a kind of subject in a village, township or county, "
        "or of one scheme's subjects (积分方案排名, with their stars 星级)."
    )
    async def points_ranking(
        self,
        info: Info,
        subject_kind: Annotated[
            SubjectKind | None,
            strawberry.argument(description="Who is ranked (积分对象类别); required without a scheme."),
        ] = None,
        from_date: Annotated[
            dt.date | None,
            strawberry.argument(
                description="First day of the period (起始日期); required without a scheme, "
                "else the scheme's year by default."
            ),
        ] = None,
        to_date_: Annotated[
            dt.date | None,
            strawberry.argument(
                name="toDate",
                description="Last day (截止日期); required without a scheme, else the scheme's year "
                "by default.",
            ),
        ] = None,
        region_code_prefix: RegionCodePrefixArg = "",
        scheme_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(
                description="Rank this scheme's subjects (积分方案) by what it scored, with stars by its "
                "thresholds."
            ),
        ] = None,
        first: FirstArg = None,
        after: AfterArg = None,
    ) -> RankingPage:
        ctx = info.context
        answer = await ctx.call(
            ctx.clients.points.ListRanking,
            P.ListRankingRequest(
                region_code_prefix=region_code_prefix,
                subject_kind=enum_to_pb(subject_kind, P.SubjectKind),
                from_date=from_date.isoformat() if from_date else "",
                to_date=to_date_.isoformat() if to_date_ else "",
                page=page_request(first, after),
                scheme_id=require_id(scheme_id, "schemeId") if scheme_id else "",
            ),
        )
        return RankingPage(
            items=[RankingRow.from_pb(r) for r in answer.rows], next_page_token=next_token(answer.page_info)
        )

    @strawberry.field(description="A scheme's red and black lists and star households (红黑榜、星级文明户).")
    async def honour_board(
        self,
        info: Info,
        scheme_id: Annotated[strawberry.ID, id_arg("scheme")],
        from_date: DateArg = None,
        to_date_: Annotated[
            dt.date | None, strawberry.argument(name="toDate", description="Last day (截止日期).")
        ] = None,
    ) -> HonourBoard:
        ctx = info.context
        answer = await ctx.call(
            ctx.clients.points.GetHonourBoard,
            P.GetHonourBoardRequest(
                scheme_id=require_id(scheme_id, "schemeId"),
                from_date=_date(from_date),
                to_date=_date(to_date_),
            ),
        )
        return HonourBoard(
            red_list=[RankingRow.from_pb(r) for r in answer.red_list],
            black_list=[RankingRow.from_pb(r) for r in answer.black_list],
            starred=[RankingRow.from_pb(r) for r in answer.starred],
        )

    @strawberry.field(
        description="An outstanding representative's honour (优秀村民代表); null when unknown or not yours."
    )
    async def representative_honour(
        self, info: Info, id: Annotated[strawberry.ID, id_arg("honour")]
    ) -> RepresentativeHonour | None:
        found = await info.context.loaders.representative_honours.load(require_id(id))
        return RepresentativeHonour.from_pb(found) if found is not None else None

    @strawberry.field(description="Outstanding representatives (优秀村民代表) of a region, a page at a time.")
    async def representative_honours(
        self,
        info: Info,
        region_code_prefix: RegionCodePrefixArg = "",
        year: Annotated[
            int | None, strawberry.argument(description="Only this year (年度); omitted means every year.")
        ] = None,
        first: FirstArg = None,
        after: AfterArg = None,
    ) -> RepresentativeHonourPage:
        ctx = info.context
        answer = await ctx.call(
            ctx.clients.points.ListRepresentativeHonours,
            P.ListRepresentativeHonoursRequest(
                region_code_prefix=region_code_prefix, year=year or 0, page=page_request(first, after)
            ),
        )
        return RepresentativeHonourPage(
            items=[RepresentativeHonour.from_pb(h) for h in answer.honours],
            next_page_token=next_token(answer.page_info),
        )


# -- mutations ---------------------------------------------------------------------------


def _arg(description: str) -> Any:
    return strawberry.argument(description=description)


@strawberry.type
class PointsMutation:
    @strawberry.mutation(
        description="Add a household to a village's roster (建档); its points account opens with it."
    )
    async def create_household(
        self,
        info: Info,
        request_id: RequestIdArg,
        input: Annotated[CreateHouseholdInput, strawberry.argument(description="The household (农户信息).")],
    ) -> Household:
        ctx = info.context
        answer = await ctx.call(
            ctx.clients.points.CreateHousehold,
            points_pb2.CreateHouseholdRequest(
                request_id=request_id,
                region_code=input.region_code,
                household_number=input.household_number,
                head_name=input.head_name,
                member_count=input.member_count,
                villager_group=input.villager_group,
            ),
        )
        return Household.from_pb(answer.household)

    @strawberry.mutation(
        description="Record a member of a household (家庭成员登记); the household's last member is "
        "the new one (its id is what changeHouseholdHead takes as memberId). A person known to "
        "talent is on one household at most: ALREADY_EXISTS on talentPersonId names the household "
        "they are on until they leave it (成员迁出)."
    )
    async def add_household_member(
        self,
        info: Info,
        request_id: RequestIdArg,
        input: Annotated[AddHouseholdMemberInput, _arg("The member (成员信息).")],
    ) -> Household:
        ctx = info.context
        answer = await ctx.call(
            ctx.clients.points.AddHouseholdMember,
            P.AddHouseholdMemberRequest(
                request_id=request_id,
                household_id=str(input.household_id),
                name=input.name,
                relation=input.relation,
                talent_person_id=str(input.talent_person_id or ""),
                joined_on=_date(input.joined_on),
                moved_in=input.moved_in,
            ),
        )
        return Household.from_pb(answer.household)

    @strawberry.mutation(description="Record that a member left the household (成员迁出).")
    async def record_member_left(
        self,
        info: Info,
        request_id: RequestIdArg,
        member_id: Annotated[strawberry.ID, _arg("The member (成员编号).")],
        left_on: Annotated[dt.date, _arg("Day the member left (迁出日期).")],
        reason: Annotated[str, _arg("Why (原因).")],
    ) -> Household:
        ctx = info.context
        answer = await ctx.call(
            ctx.clients.points.RecordMemberLeft,
            P.RecordMemberLeftRequest(
                request_id=request_id, member_id=str(member_id), left_on=left_on.isoformat(), reason=reason
            ),
        )
        return Household.from_pb(answer.household)

    @strawberry.mutation(description="Record that a household moved out (整户迁出); its history stays, and "
                       "its members still on the roster leave with it that day.")
    async def move_household_out(
        self,
        info: Info,
        request_id: RequestIdArg,
        household_id: Annotated[strawberry.ID, _arg("The household (农户编号).")],
        moved_out_on: Annotated[dt.date, _arg("Day it moved out (迁出日期).")],
        reason: Annotated[str, _arg("Why (原因).")],
    ) -> Household:
        ctx = info.context
        answer = await ctx.call(
            ctx.clients.points.MoveHouseholdOut,
            P.MoveHouseholdOutRequest(
                request_id=request_id,
                household_id=str(household_id),
                moved_out_on=moved_out_on.isoformat(),
                reason=reason,
            ),
        )
        return Household.from_pb(answer.household)

    @strawberry.mutation(
        description="Put a household that moved out (整户迁出) back on the roster (回迁, or 撤销迁出 "
        "when the move-out was recorded by mistake): it is on the roster (在册) again, the members "
        "(家庭成员) who left with it are members again and its points account (积分账户) earns "
        "again. Refused when a member who left with it is now a member of another household."
    )
    async def return_household(
        self,
        info: Info,
        request_id: RequestIdArg,
        household_id: Annotated[strawberry.ID, _arg("The household (农户编号); it moved out.")],
        returned_on: Annotated[
            dt.date,
            _arg("Day it is on the roster again (回迁日期); not before it moved out, not in the future."),
        ],
        reason: Annotated[str, _arg("Why (原因), e.g. 回迁, 误录迁出撤销.")],
    ) -> Household:
        ctx = info.context
        answer = await ctx.call(
            ctx.clients.points.ReturnHousehold,
            P.ReturnHouseholdRequest(
                request_id=request_id,
                household_id=str(household_id),
                returned_on=returned_on.isoformat(),
                reason=reason,
            ),
        )
        return Household.from_pb(answer.household)

    @strawberry.mutation(
        description="Record a new head of household (户主变更): the head's name and the points "
        "account's display name change together, and the change is kept (户主变更记录). Name the "
        "new head, or choose a current member (家庭成员) as head, or both; a household that "
        "moved out (整户迁出) cannot change its head."
    )
    async def change_household_head(
        self,
        info: Info,
        request_id: RequestIdArg,
        household_id: Annotated[strawberry.ID, _arg("The household (农户编号).")],
        changed_on: Annotated[dt.date, _arg("Day the change took effect (变更日期); not in the future.")],
        reason: Annotated[str, _arg("Why (变更原因), e.g. 原户主去世, 原户主迁出, 分户.")],
        head_name: Annotated[
            str | None,
            _arg("The new head's name (新户主姓名); may be left out when memberId is given, "
                 "to take the member's name."),
        ] = None,
        member_id: Annotated[
            strawberry.ID | None,
            _arg("The member (成员编号) who becomes head: a current member of this household. "
                 "Record a new member first (addHouseholdMember) to choose them."),
        ] = None,
    ) -> Household:
        ctx = info.context
        answer = await ctx.call(
            ctx.clients.points.ChangeHouseholdHead,
            P.ChangeHouseholdHeadRequest(
                request_id=request_id,
                household_id=str(household_id),
                head_name=head_name or "",
                member_id=str(member_id or ""),
                changed_on=changed_on.isoformat(),
                reason=reason,
            ),
        )
        return Household.from_pb(answer.household)

    @strawberry.mutation(
        description="Draft a points scheme (起草积分方案) or a county template; version 1 is a draft."
    )
    async def create_points_scheme(
        self,
        info: Info,
        request_id: RequestIdArg,
        input: Annotated[CreateSchemeInput, _arg("The scheme (方案).")],
    ) -> Scheme:
        ctx = info.context
        answer = await ctx.call(
            ctx.clients.points.CreateScheme,
            P.CreateSchemeRequest(
                request_id=request_id,
                region_code=input.region_code,
                year=input.year,
                subject_kind=enum_to_pb(input.subject_kind, P.SubjectKind),
                title=input.title,
                is_template=input.is_template,
                template_scheme_id=str(input.template_scheme_id or ""),
                settings=settings_pb(input.settings) if input.settings is not None else None,
                items=items_pb(input.items),
            ),
        )
        return Scheme.from_pb(answer.scheme)

    @strawberry.mutation(description="Start the next version of a scheme as a draft (方案修订).")
    async def draft_scheme_version(
        self,
        info: Info,
        request_id: RequestIdArg,
        scheme_id: Annotated[strawberry.ID, _arg("The scheme (方案编号).")],
        change_note: Annotated[str, _arg("What will change and why (修订说明).")],
    ) -> SchemeVersion:
        ctx = info.context
        answer = await ctx.call(
            ctx.clients.points.DraftSchemeVersion,
            P.DraftSchemeVersionRequest(
                request_id=request_id, scheme_id=str(scheme_id), change_note=change_note
            ),
        )
        return SchemeVersion.from_pb(answer.draft)

    @strawberry.mutation(description="Replace a draft's settings and items (修改草案).")
    async def update_scheme_draft(
        self,
        info: Info,
        request_id: RequestIdArg,
        version_id: Annotated[strawberry.ID, _arg("The draft version (版本编号).")],
        items: Annotated[list[CatalogItemInput], _arg("All the items (正负积分清单).")],
        settings: Annotated[
            SchemeSettingsInput | None,
            _arg("The settings (方案设置), all of them; omitted, the draft keeps its settings."),
        ] = None,
        change_note: Annotated[str, _arg("What changed and why (修订说明).")] = "",
    ) -> SchemeVersion:
        ctx = info.context
        answer = await ctx.call(
            ctx.clients.points.UpdateSchemeDraft,
            P.UpdateSchemeDraftRequest(
                request_id=request_id,
                version_id=str(version_id),
                settings=settings_pb(settings) if settings is not None else None,
                items=items_pb(items),
                change_note=change_note,
            ),
        )
        return SchemeVersion.from_pb(answer.draft)

    @strawberry.mutation(description="Publicise a draft for comment (方案公示征求意见).")
    async def publicize_scheme_version(
        self,
        info: Info,
        request_id: RequestIdArg,
        version_id: Annotated[strawberry.ID, _arg("The draft version (版本编号).")],
    ) -> SchemeVersion:
        ctx = info.context
        answer = await ctx.call(
            ctx.clients.points.PublicizeSchemeVersion,
            P.PublicizeSchemeVersionRequest(request_id=request_id, version_id=str(version_id)),
        )
        return SchemeVersion.from_pb(answer.version)

    @strawberry.mutation(
        description="Record the representative meeting's resolution adopting a version (村民代表会议通过)."
    )
    async def adopt_scheme_version(
        self,
        info: Info,
        request_id: RequestIdArg,
        version_id: Annotated[strawberry.ID, _arg("The publicised version (版本编号).")],
        resolution: Annotated[ResolutionInput, _arg("The resolution (村民代表会议决议).")],
        effective_from: Annotated[
            dt.date | None,
            _arg(
                "First day in force (施行日期); default: the meeting. A version that supersedes an"
                " adopted one (方案修订) never takes effect on a past day: not before the day the"
                " adoption is recorded (today, China time), nor on that day if points are already"
                " scored under the superseded version for it. The first adopted version may start"
                " on a past day."
            ),
        ] = None,
    ) -> SchemeVersion:
        ctx = info.context
        answer = await ctx.call(
            ctx.clients.points.AdoptSchemeVersion,
            P.AdoptSchemeVersionRequest(
                request_id=request_id,
                version_id=str(version_id),
                effective_from=_date(effective_from),
                resolution=resolution_pb(resolution),
            ),
        )
        return SchemeVersion.from_pb(answer.version)

    @strawberry.mutation(
        description="Open a points account (开立积分账户) for a person, representative or party member."
    )
    async def open_points_account(
        self,
        info: Info,
        request_id: RequestIdArg,
        subject: Annotated[SubjectInput, _arg("The subject (积分对象).")],
        region_code: Annotated[str, _arg("12-digit village code (行政区划代码).")],
        display_name: Annotated[str, _arg("Name shown (显示名称).")],
    ) -> Account:
        ctx = info.context
        answer = await ctx.call(
            ctx.clients.points.OpenAccount,
            P.OpenAccountRequest(
                request_id=request_id,
                subject=subject_pb(subject),
                region_code=region_code,
                display_name=display_name,
            ),
        )
        return Account.from_pb(answer.account)

    @strawberry.mutation(
        description="Record an item already reviewed and publicised straight to the ledger (直接记分)."
    )
    async def award_points(
        self,
        info: Info,
        request_id: RequestIdArg,
        subject: Annotated[SubjectInput, _arg("The subject (积分对象).")],
        scheme_id: Annotated[strawberry.ID, _arg("The subject's scheme (积分方案).")],
        item_code: Annotated[str, _arg("Item code (事项编码).")],
        occurred_on: Annotated[dt.date, _arg("When it happened (发生日期).")],
        reason: Annotated[str, _arg("The basis (依据), e.g. 3月评议会.")],
        quantity: Annotated[int, _arg("Times (次数), at least 1.")] = 1,
    ) -> Entry:
        ctx = info.context
        answer = await ctx.call(
            ctx.clients.points.AwardPoints,
            P.AwardPointsRequest(
                request_id=request_id,
                subject=subject_pb(subject),
                scheme_id=str(scheme_id),
                item_code=item_code,
                occurred_on=occurred_on.isoformat(),
                quantity=quantity,
                reason=reason,
            ),
        )
        return Entry.from_pb(answer.entry)

    @strawberry.mutation(description="Score many lines at once, all or none, once per batch key (批量评分).")
    async def score_batch(
        self,
        info: Info,
        request_id: RequestIdArg,
        batch_key: Annotated[str, _arg("Key of the batch, unique per village (批次键).")],
        scheme_id: Annotated[strawberry.ID, _arg("The scheme (积分方案).")],
        title: Annotated[str, _arg("Title (批次名称).")],
        lines: Annotated[list[BatchLineInput], _arg("The lines (评分明细).")],
    ) -> Batch:
        ctx = info.context
        answer = await ctx.call(
            ctx.clients.points.ScoreBatch,
            P.ScoreBatchRequest(
                request_id=request_id,
                batch_key=batch_key,
                scheme_id=str(scheme_id),
                title=title,
                lines=[
                    P.BatchLine(
                        subject=subject_pb(line.subject),
                        item_code=line.item_code,
                        occurred_on=line.occurred_on.isoformat(),
                        quantity=line.quantity,
                        note=line.note,
                    )
                    for line in lines
                ],
            ),
        )
        return Batch.from_pb(answer.batch)

    @strawberry.mutation(
        description="Correct an entry with a reversing entry (冲正); reversing a claim's entry "
        "makes the claim REVERSED (已冲正)."
    )
    async def reverse_entry(
        self,
        info: Info,
        request_id: RequestIdArg,
        entry_id: Annotated[strawberry.ID, _arg("The entry to reverse (明细编号).")],
        reason: Annotated[str, _arg("Why (冲正原因).")],
    ) -> Entry:
        ctx = info.context
        answer = await ctx.call(
            ctx.clients.points.ReverseEntry,
            P.ReverseEntryRequest(request_id=request_id, entry_id=str(entry_id), reason=reason),
        )
        return Entry.from_pb(answer.entry)

    @strawberry.mutation(
        description="Declare or record an item for a subject (积分申报); it waits for review. A "
        "deduction is recorded by a grid worker or clerk, not declared (本人申报)."
    )
    async def submit_claim(
        self,
        info: Info,
        request_id: RequestIdArg,
        input: Annotated[SubmitClaimInput, _arg("The claim (申报).")],
    ) -> Claim:
        ctx = info.context
        evidence = input.evidence or EvidenceInput()
        answer = await ctx.call(
            ctx.clients.points.SubmitClaim,
            P.SubmitClaimRequest(
                request_id=request_id,
                subject=subject_pb(input.subject),
                scheme_id=str(input.scheme_id),
                item_code=input.item_code,
                occurred_on=input.occurred_on.isoformat(),
                quantity=input.quantity,
                source=enum_to_pb(input.source, P.ClaimSource),
                evidence=P.Evidence(
                    description=evidence.description, attachment_urls=evidence.attachment_urls
                ),
            ),
        )
        return Claim.from_pb(answer.claim)

    @strawberry.mutation(
        description="Approve or reject a claim for the review group (评议), saying why; approval "
        "opens publicity. Whoever recorded the claim may not review it (回避)."
    )
    async def review_claim(
        self,
        info: Info,
        request_id: RequestIdArg,
        claim_id: Annotated[strawberry.ID, _arg("The claim (申报编号).")],
        decision: Annotated[ReviewDecision, _arg("Approve or reject (评议结果).")],
        reason: Annotated[str, _arg("Why (评议意见); required to approve or reject.")],
    ) -> Claim:
        ctx = info.context
        answer = await ctx.call(
            ctx.clients.points.ReviewClaim,
            P.ReviewClaimRequest(
                request_id=request_id,
                claim_id=str(claim_id),
                decision=enum_to_pb(decision, P.ReviewDecision),
                reason=reason,
            ),
        )
        return Claim.from_pb(answer.claim)

    @strawberry.mutation(
        description="Object to a claim on the publicity board (提出异议); it goes back to review. "
        "Each person objects to a claim once; the review group's decision on it stands."
    )
    async def object_to_claim(
        self,
        info: Info,
        request_id: RequestIdArg,
        claim_id: Annotated[strawberry.ID, _arg("The claim (申报编号).")],
        reason: Annotated[str, _arg("Why (异议理由).")],
    ) -> Claim:
        ctx = info.context
        answer = await ctx.call(
            ctx.clients.points.ObjectToClaim,
            P.ObjectToClaimRequest(request_id=request_id, claim_id=str(claim_id), reason=reason),
        )
        return Claim.from_pb(answer.claim)

    @strawberry.mutation(description="Withdraw a claim awaiting review (撤回申报).")
    async def withdraw_claim(
        self,
        info: Info,
        request_id: RequestIdArg,
        claim_id: Annotated[strawberry.ID, _arg("The claim (申报编号).")],
        reason: Annotated[
            str, _arg("Why (撤回原因); required when withdrawing a claim someone else put in.")
        ] = "",
    ) -> Claim:
        ctx = info.context
        answer = await ctx.call(
            ctx.clients.points.WithdrawClaim,
            P.WithdrawClaimRequest(request_id=request_id, claim_id=str(claim_id), reason=reason),
        )
        return Claim.from_pb(answer.claim)

    @strawberry.mutation(description="Put goods on a village points supermarket's shelf (商品上架).")
    async def add_goods(
        self,
        info: Info,
        request_id: RequestIdArg,
        region_code: Annotated[str, _arg("12-digit village code (行政区划代码).")],
        name: Annotated[str, _arg("Name (商品名称).")],
        price: Annotated[int, _arg("Points price (兑换积分), at least 1.")],
        stock: Annotated[int, _arg("Initial stock (库存).")] = 0,
    ) -> Goods:
        ctx = info.context
        answer = await ctx.call(
            ctx.clients.points.AddGoods,
            P.AddGoodsRequest(
                request_id=request_id, region_code=region_code, name=name, price=price, stock=stock
            ),
        )
        return Goods.from_pb(answer.goods)

    @strawberry.mutation(description="Change the name, price or availability of goods (修改商品).")
    async def update_goods(
        self,
        info: Info,
        request_id: RequestIdArg,
        goods_id: Annotated[strawberry.ID, _arg("The goods (商品编号).")],
        name: Annotated[str, _arg("Name (商品名称).")],
        price: Annotated[int, _arg("Points price (兑换积分).")],
        active: Annotated[bool, _arg("On the shelf (上架).")],
    ) -> Goods:
        ctx = info.context
        answer = await ctx.call(
            ctx.clients.points.UpdateGoods,
            P.UpdateGoodsRequest(
                request_id=request_id, goods_id=str(goods_id), name=name, price=price, active=active
            ),
        )
        return Goods.from_pb(answer.goods)

    @strawberry.mutation(description="Add stock (补货).")
    async def restock_goods(
        self,
        info: Info,
        request_id: RequestIdArg,
        goods_id: Annotated[strawberry.ID, _arg("The goods (商品编号).")],
        quantity: Annotated[int, _arg("Units added (数量).")],
        note: Annotated[str, _arg("Note (备注).")] = "",
    ) -> Goods:
        ctx = info.context
        answer = await ctx.call(
            ctx.clients.points.RestockGoods,
            P.RestockGoodsRequest(
                request_id=request_id, goods_id=str(goods_id), quantity=quantity, note=note
            ),
        )
        return Goods.from_pb(answer.goods)

    @strawberry.mutation(
        description="Reserve goods for a subject's points (兑换预约): never below zero, never twice."
    )
    async def reserve_redemption(
        self,
        info: Info,
        request_id: RequestIdArg,
        subject: Annotated[SubjectInput, _arg("Whose points (积分对象).")],
        goods_id: Annotated[strawberry.ID, _arg("The goods (商品编号).")],
        quantity: Annotated[int, _arg("Units (数量).")] = 1,
    ) -> Redemption:
        ctx = info.context
        answer = await ctx.call(
            ctx.clients.points.ReserveRedemption,
            P.ReserveRedemptionRequest(
                request_id=request_id, subject=subject_pb(subject), goods_id=str(goods_id), quantity=quantity
            ),
        )
        return Redemption.from_pb(answer.redemption)

    @strawberry.mutation(description="Hand reserved goods over (领取).")
    async def pick_up_redemption(
        self,
        info: Info,
        request_id: RequestIdArg,
        redemption_id: Annotated[strawberry.ID, _arg("The redemption (兑换编号).")],
    ) -> Redemption:
        ctx = info.context
        answer = await ctx.call(
            ctx.clients.points.PickUpRedemption,
            P.PickUpRedemptionRequest(request_id=request_id, redemption_id=str(redemption_id)),
        )
        return Redemption.from_pb(answer.redemption)

    @strawberry.mutation(
        description="Cancel a reservation (取消兑换): points return to their lots, stock to the shelf."
    )
    async def cancel_redemption(
        self,
        info: Info,
        request_id: RequestIdArg,
        redemption_id: Annotated[strawberry.ID, _arg("The redemption (兑换编号).")],
        reason: Annotated[str, _arg("Why (取消原因).")],
    ) -> Redemption:
        ctx = info.context
        answer = await ctx.call(
            ctx.clients.points.CancelRedemption,
            P.CancelRedemptionRequest(request_id=request_id, redemption_id=str(redemption_id), reason=reason),
        )
        return Redemption.from_pb(answer.redemption)

    @strawberry.mutation(
        description="Close a scheme's year (年度结算): reset or carry over as the scheme says."
    )
    async def close_points_cycle(
        self,
        info: Info,
        request_id: RequestIdArg,
        scheme_id: Annotated[strawberry.ID, _arg("The scheme (方案编号).")],
    ) -> CycleClose:
        ctx = info.context
        answer = await ctx.call(
            ctx.clients.points.CloseCycle,
            P.CloseCycleRequest(request_id=request_id, scheme_id=str(scheme_id)),
        )
        c = answer.close
        return CycleClose(
            id=strawberry.ID(c.id),
            scheme_id=strawberry.ID(c.scheme_id),
            year=c.year,
            policy=require_enum(CyclePolicy, P.CyclePolicy, c.policy),
            accounts=c.accounts,
            points_reset=c.points_reset,
            base_scores_opened=c.base_scores_opened,
            close_time=to_datetime(c.close_time),
            closed_by=c.closed_by,
        )

    @strawberry.mutation(
        description=(
            "Record that the representative meeting voted a representative outstanding for a year "
            "(优秀村民代表) with the honour certificate (荣誉证书); the person then joins the reserve "
            "talent pool (后备人才)."
        )
    )
    async def honour_representative(
        self,
        info: Info,
        request_id: RequestIdArg,
        input: Annotated[HonourRepresentativeInput, _arg("The honour (表彰信息).")],
    ) -> RepresentativeHonour:
        ctx = info.context
        answer = await ctx.call(
            ctx.clients.points.HonourRepresentative,
            P.HonourRepresentativeRequest(
                request_id=request_id,
                account_id=str(input.account_id),
                year=input.year,
                resolution=resolution_pb(input.resolution),
                certificate_number=input.certificate_number,
            ),
        )
        return RepresentativeHonour.from_pb(answer.honour)
