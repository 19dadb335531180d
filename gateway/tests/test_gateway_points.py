"""Points resolvers (积分制): accounts through their batch loader, awards, claims, redemptions,
rankings, the service's refusals as GraphQL errors, and enums that mirror the protos."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from enum import Enum
from typing import TYPE_CHECKING, Any

import grpc
import pytest
from google.protobuf import any_pb2
from google.protobuf.timestamp_pb2 import Timestamp
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status
from shanzhi.points.v1 import points_pb2 as P
from shanzhi_gateway.context import GatewayContext
from shanzhi_gateway.schema import points as gql
from shanzhi_gateway.schema import schema

if TYPE_CHECKING:
    from conftest import Fakes

VILLAGE = "130123101201"
STAMP = Timestamp(seconds=1_767_225_600)


def new_id() -> str:
    return str(uuid.uuid4())


def household_ref(household_id: str) -> P.SubjectRef:
    return P.SubjectRef(kind=P.SUBJECT_KIND_HOUSEHOLD, id=household_id)


def account_for(household_id: str, balance: int) -> P.Account:
    return P.Account(id=new_id(), subject=household_ref(household_id), region_code=VILLAGE,
                     display_name="0101 王建国", balance=balance, create_time=STAMP, created_by="clerk-1")


class RefusedCall(grpc.aio.AioRpcError):
    """What a service's FAILED_PRECONDITION with a field looks like to the gateway."""

    def __init__(self, code: grpc.StatusCode, field: str, description: str) -> None:
        detail = any_pb2.Any()
        detail.Pack(error_details_pb2.BadRequest(field_violations=[
            error_details_pb2.BadRequest.FieldViolation(field=field, description=description)]))
        status = status_pb2.Status(code=code.value[0], message=f"{field}: {description}", details=[detail])
        grpc_status = rpc_status.to_status(status)
        super().__init__(code, grpc.aio.Metadata(), grpc.aio.Metadata(*grpc_status.trailing_metadata),
                         details=status.message)


@pytest.mark.parametrize(
    ("enum", "proto_enum"),
    [(gql.SubjectKind, P.SubjectKind), (gql.ItemCategory, P.ItemCategory), (gql.ItemSign, P.ItemSign),
     (gql.CyclePolicy, P.CyclePolicy), (gql.SchemeVersionStatus, P.SchemeVersionStatus),
     (gql.DepartureKind, P.DepartureKind), (gql.EntryKind, P.EntryKind), (gql.ClaimStatus, P.ClaimStatus),
     (gql.ClaimSource, P.ClaimSource), (gql.ReviewDecision, P.ReviewDecision),
     (gql.ObjectionStatus, P.ObjectionStatus), (gql.RedemptionStatus, P.RedemptionStatus),
     (gql.HouseholdStatus, P.HouseholdStatus)],
)
def test_points_enums_mirror_the_protos(enum: type[Enum], proto_enum: Any) -> None:
    prefix = proto_enum.Name(0).removesuffix("UNSPECIFIED")
    names = {v.name.removeprefix(prefix) for v in proto_enum.DESCRIPTOR.values} - {"UNSPECIFIED"}
    assert set(enum.__members__) == names


async def test_households_balances_come_from_one_batch_call(
    fakes: Fakes, context_for: Callable[[str | None], GatewayContext], token: str
) -> None:
    homes = []
    accounts = {}
    for n, balance in enumerate((15, 40, 0)):
        account = account_for(new_id(), balance)
        home = P.Household(id=account.subject.id, region_code=VILLAGE, household_number=f"{n:04d}",
                           head_name="王建国", member_count=3, create_time=STAMP, created_by="clerk-1",
                           status=P.HOUSEHOLD_STATUS_ACTIVE, account_id=account.id)
        homes.append(home)
        accounts[account.id] = account
    fakes.points.answer("ListHouseholds", lambda r: P.ListHouseholdsResponse(households=homes))
    fakes.points.answer("BatchGetAccounts", lambda r: P.BatchGetAccountsResponse(
        accounts=[accounts[i] for i in r.ids if i in accounts]))
    result = await schema.execute(
        "{ households { items { householdNumber status account { balance subject { kind } } } } }",
        context_value=context_for(f"Bearer {token}"))
    assert result.errors is None and result.data is not None
    assert [(h["householdNumber"], h["status"], h["account"]["balance"]) for h in
            result.data["households"]["items"]] == [("0000", "ACTIVE", 15), ("0001", "ACTIVE", 40),
                                                   ("0002", "ACTIVE", 0)]
    assert result.data["households"]["items"][0]["account"]["subject"] == {"kind": "HOUSEHOLD"}
    (call,) = fakes.points.BatchGetAccounts.calls
    assert list(call.request.ids) == [h.account_id for h in homes]


async def test_award_points_maps_the_subject_item_and_date(
    fakes: Fakes, context_for: Callable[[str | None], GatewayContext], token: str
) -> None:
    household, scheme = new_id(), new_id()

    def award(r: P.AwardPointsRequest) -> P.AwardPointsResponse:
        return P.AwardPointsResponse(entry=P.Entry(
            id=new_id(), account_id=new_id(), subject=r.subject, region_code=VILLAGE, kind=P.ENTRY_KIND_AWARD,
            amount=10, score=10, balance_after=25, entry_date=r.occurred_on, year=2026, scheme_id=r.scheme_id,
            item_code=r.item_code, item_name="庭院整洁", quantity=r.quantity, reason=r.reason,
            create_time=STAMP, created_by="officer-1"))

    fakes.points.answer("AwardPoints", award)
    result = await schema.execute(
        """mutation($s: ID!, $h: ID!) { awardPoints(requestId: "r-1", subject: {kind: HOUSEHOLD, id: $h},
             schemeId: $s, itemCode: "HJ-01", occurredOn: "2026-03-01", quantity: 2, reason: "3月评议会")
             { kind amount score balanceAfter entryDate itemName subject { kind id } } }""",
        variable_values={"s": scheme, "h": household}, context_value=context_for(f"Bearer {token}"))
    assert result.errors is None and result.data is not None
    assert result.data["awardPoints"] == {
        "kind": "AWARD", "amount": 10, "score": 10, "balanceAfter": 25, "entryDate": "2026-03-01",
        "itemName": "庭院整洁", "subject": {"kind": "HOUSEHOLD", "id": household}}
    (call,) = fakes.points.AwardPoints.calls
    assert call.request == P.AwardPointsRequest(
        request_id="r-1", subject=household_ref(household), scheme_id=scheme, item_code="HJ-01",
        occurred_on="2026-03-01", quantity=2, reason="3月评议会")


async def test_a_fractional_quantity_is_refused_before_any_call(
    fakes: Fakes, context_for: Callable[[str | None], GatewayContext], token: str
) -> None:
    result = await schema.execute(
        """mutation { reserveRedemption(requestId: "r", subject: {kind: HOUSEHOLD, id: "x"},
             goodsId: "g", quantity: 1.5) { id } }""",
        context_value=context_for(f"Bearer {token}"))
    assert result.errors and "Int cannot represent non-integer value: 1.5" in result.errors[0].message
    assert fakes.all_calls() == []


async def test_a_refused_redemption_names_the_field_in_camel_case(
    fakes: Fakes, context_for: Callable[[str | None], GatewayContext], token: str
) -> None:
    fakes.points.answer("ReserveRedemption", lambda r: RefusedCall(
        grpc.StatusCode.FAILED_PRECONDITION, "quantity", "needs 30 points; the balance is 12"))
    result = await schema.execute(
        """mutation($h: ID!, $g: ID!) { reserveRedemption(requestId: "r", subject: {kind: HOUSEHOLD, id: $h},
             goodsId: $g, quantity: 3) { id } }""",
        variable_values={"h": new_id(), "g": new_id()}, context_value=context_for(f"Bearer {token}"))
    assert result.errors is not None
    error = result.errors[0]
    assert error.extensions == {"code": "FAILED_PRECONDITION", "fieldViolations": [
        {"field": "quantity", "description": "needs 30 points; the balance is 12"}]}


async def test_claims_show_reviews_objections_and_the_subjects_person(
    fakes: Fakes, context_for: Callable[[str | None], GatewayContext], token: str
) -> None:
    representative = fakes.world.add_person("李秀英")
    claim = P.Claim(
        id=new_id(), account_id=new_id(),
        subject=P.SubjectRef(kind=P.SUBJECT_KIND_REPRESENTATIVE, id=representative.id), region_code=VILLAGE,
        scheme_id=new_id(), version_id=new_id(), item_code="JF-01", item_name="收集反映社情民意", points=3,
        quantity=1, occurred_on="2026-03-02", source=P.CLAIM_SOURCE_RECORDED,
        evidence=P.Evidence(description="会议记录"), status=P.CLAIM_STATUS_PENDING_REVIEW,
        reviews=[P.ClaimReview(decision=P.REVIEW_DECISION_APPROVE, reason="", reviewer="clerk-1",
                               review_time=STAMP)],
        objections=[P.Objection(id=new_id(), reason="未参加", raised_by="villager-9", raise_time=STAMP,
                                status=P.OBJECTION_STATUS_OPEN)],
        create_time=STAMP, created_by="grid-1", update_time=STAMP)
    fakes.points.answer("BatchGetClaims", lambda r: P.BatchGetClaimsResponse(
        claims=[claim] if claim.id in r.ids else []))
    result = await schema.execute(
        """query($id: ID!) { pointsClaim(id: $id) { status source points reviews { decision }
             objections { status reason } subject { kind person { name } household { id } } } }""",
        variable_values={"id": claim.id}, context_value=context_for(f"Bearer {token}"))
    assert result.errors is None and result.data is not None
    assert result.data["pointsClaim"] == {
        "status": "PENDING_REVIEW", "source": "RECORDED", "points": 3, "reviews": [{"decision": "APPROVE"}],
        "objections": [{"status": "OPEN", "reason": "未参加"}],
        "subject": {"kind": "REPRESENTATIVE", "person": {"name": "李秀英"}, "household": None}}


async def test_ranking_and_honour_board(
    fakes: Fakes, context_for: Callable[[str | None], GatewayContext], token: str
) -> None:
    rows = [P.RankingRow(rank=r, account_id=new_id(), subject=household_ref(new_id()), region_code=VILLAGE,
                         display_name=f"户{r}", score=s, stars=st)
            for r, s, st in ((1, 30, 2), (2, 10, 1), (3, -5, 0))]
    fakes.points.answer("ListRanking", lambda r: P.ListRankingResponse(rows=rows))
    fakes.points.answer("GetHonourBoard", lambda r: P.GetHonourBoardResponse(
        red_list=rows[:2], black_list=rows[2:], starred=rows[:2]))
    scheme = new_id()
    result = await schema.execute(
        """query($s: ID!) {
             pointsRanking(subjectKind: HOUSEHOLD, fromDate: "2026-01-01", toDate: "2026-06-30",
                           regionCodePrefix: "130123101") { items { rank score displayName } }
             honourBoard(schemeId: $s, fromDate: "2026-01-01") { redList { score } blackList { score }
                                                                  starred { stars } } }""",
        variable_values={"s": scheme}, context_value=context_for(f"Bearer {token}"))
    assert result.errors is None and result.data is not None
    assert [r["rank"] for r in result.data["pointsRanking"]["items"]] == [1, 2, 3]
    assert result.data["honourBoard"] == {
        "redList": [{"score": 30}, {"score": 10}], "blackList": [{"score": -5}],
        "starred": [{"stars": 2}, {"stars": 1}]}
    (ranking,) = fakes.points.ListRanking.calls
    assert (ranking.request.subject_kind, ranking.request.from_date, ranking.request.to_date) == (
        P.SUBJECT_KIND_HOUSEHOLD, "2026-01-01", "2026-06-30")
    (board,) = fakes.points.GetHonourBoard.calls
    assert (board.request.scheme_id, board.request.from_date, board.request.to_date) == (
        scheme, "2026-01-01", "")
    # A scheme's ranking (积分方案排名) needs neither a kind nor a period.
    result = await schema.execute(
        "query($s: ID!) { pointsRanking(schemeId: $s) { items { rank stars } } }",
        variable_values={"s": scheme}, context_value=context_for(f"Bearer {token}"))
    assert result.errors is None and result.data is not None
    assert [r["stars"] for r in result.data["pointsRanking"]["items"]] == [2, 1, 0]
    by_scheme = fakes.points.ListRanking.calls[-1].request
    assert (by_scheme.scheme_id, by_scheme.subject_kind, by_scheme.from_date, by_scheme.to_date) == (
        scheme, 0, "", "")


async def test_create_scheme_sends_items_settings_and_enums(
    fakes: Fakes, context_for: Callable[[str | None], GatewayContext], token: str
) -> None:
    def create(r: P.CreateSchemeRequest) -> P.CreateSchemeResponse:
        return P.CreateSchemeResponse(scheme=P.Scheme(
            id=new_id(), region_code=r.region_code, year=r.year, subject_kind=r.subject_kind, title=r.title,
            latest_version=1, create_time=STAMP, created_by="officer-1"))

    fakes.points.answer("CreateScheme", create)
    result = await schema.execute(
        """mutation { createPointsScheme(requestId: "r", input: {regionCode: "130123101201", year: 2026,
             subjectKind: HOUSEHOLD, title: "2026年家庭积分方案",
             settings: {claimPublicityDays: 7, cyclePolicy: CARRY_OVER, starThresholds: [60, 80]},
             items: [{code: "HJ-01", name: "庭院整洁", category: BEAUTIFUL_VILLAGE, sign: POSITIVE, points: 5,
                      limits: {perMonth: 2}, effectiveFrom: "2026-03-01"},
                     {code: "YF-01", name: "大操大办", category: CIVILITY, sign: NEGATIVE, points: 10}]})
             { title subjectKind latestVersion currentVersion { id } } }""",
        context_value=context_for(f"Bearer {token}"))
    assert result.errors is None and result.data is not None
    assert result.data["createPointsScheme"] == {"title": "2026年家庭积分方案", "subjectKind": "HOUSEHOLD",
                                                 "latestVersion": 1, "currentVersion": None}
    (call,) = fakes.points.CreateScheme.calls
    request = call.request
    assert request.settings.cycle_policy == P.CYCLE_POLICY_CARRY_OVER
    assert list(request.settings.star_thresholds) == [60, 80]
    assert [(i.code, i.category, i.sign, i.limits.per_month, i.effective_from) for i in request.items] == [
        ("HJ-01", P.ITEM_CATEGORY_BEAUTIFUL_VILLAGE, P.ITEM_SIGN_POSITIVE, 2, "2026-03-01"),
        ("YF-01", P.ITEM_CATEGORY_CIVILITY, P.ITEM_SIGN_NEGATIVE, 0, "")]


async def test_person_points_accounts_come_from_one_batch_call_by_subject(
    fakes: Fakes, context_for: Callable[[str | None], GatewayContext], token: str
) -> None:
    people = [fakes.world.add_person(name) for name in ("张建国", "李秀英", "王志强")]
    held = {
        (P.SUBJECT_KIND_REPRESENTATIVE, people[0].id): 100,
        (P.SUBJECT_KIND_PARTY_MEMBER, people[0].id): 12,
        (P.SUBJECT_KIND_PERSON, people[2].id): 7,
    }

    def batch(r: P.BatchGetAccountsRequest) -> P.BatchGetAccountsResponse:
        return P.BatchGetAccountsResponse(accounts=[
            P.Account(id=new_id(), subject=s, region_code=VILLAGE, display_name="村民",
                      balance=held[(s.kind, s.id)], create_time=STAMP, created_by="clerk-1")
            for s in reversed(r.subjects) if (s.kind, s.id) in held])

    fakes.points.answer("BatchGetAccounts", batch)
    result = await schema.execute(
        "{ people { items { name pointsAccounts { balance subject { kind id } } } } }",
        context_value=context_for(f"Bearer {token}"))
    assert result.errors is None and result.data is not None
    assert [(p["name"], [(a["subject"]["kind"], a["balance"]) for a in p["pointsAccounts"]])
            for p in result.data["people"]["items"]] == [
        ("张建国", [("REPRESENTATIVE", 100), ("PARTY_MEMBER", 12)]), ("李秀英", []),
        ("王志强", [("PERSON", 7)])]
    assert result.data["people"]["items"][0]["pointsAccounts"][0]["subject"]["id"] == people[0].id
    (call,) = fakes.points.BatchGetAccounts.calls
    assert {(s.kind, s.id) for s in call.request.subjects} == {
        (kind, p.id) for p in people
        for kind in (P.SUBJECT_KIND_PERSON, P.SUBJECT_KIND_REPRESENTATIVE, P.SUBJECT_KIND_PARTY_MEMBER)}
    assert not call.request.ids


async def test_person_points_accounts_are_null_when_points_cannot_answer(
    fakes: Fakes, context_for: Callable[[str | None], GatewayContext], token: str
) -> None:
    fakes.world.add_person("褚十五")
    fakes.points.answer("BatchGetAccounts", lambda r: grpc.aio.AioRpcError(
        grpc.StatusCode.UNAVAILABLE, grpc.aio.Metadata(), grpc.aio.Metadata()))
    result = await schema.execute("{ people { items { name pointsAccounts { id } } } }",
                                  context_value=context_for(f"Bearer {token}"))
    assert result.data == {"people": {"items": [{"name": "褚十五", "pointsAccounts": None}]}}
    assert result.errors is not None and result.errors[0].extensions == {"code": "UNAVAILABLE"}


def honour_of(r: P.HonourRepresentativeRequest, person_id: str) -> P.RepresentativeHonour:
    return P.RepresentativeHonour(
        id=new_id(), account_id=r.account_id,
        subject=P.SubjectRef(kind=P.SUBJECT_KIND_REPRESENTATIVE, id=person_id), region_code=VILLAGE,
        display_name="李秀英", year=r.year, resolution=r.resolution,
        certificate_number=r.certificate_number, create_time=STAMP, created_by="clerk-1")


async def test_honour_representative_sends_the_vote_and_lists_the_honours(
    fakes: Fakes, context_for: Callable[[str | None], GatewayContext], token: str
) -> None:
    representative = fakes.world.add_person("李秀英")
    account = new_id()
    honours: list[P.RepresentativeHonour] = []

    def record(r: P.HonourRepresentativeRequest) -> P.HonourRepresentativeResponse:
        honours.append(honour_of(r, representative.id))
        return P.HonourRepresentativeResponse(honour=honours[-1])

    fakes.points.answer("HonourRepresentative", record)
    fakes.points.answer("ListRepresentativeHonours", lambda r: P.ListRepresentativeHonoursResponse(
        honours=honours))
    result = await schema.execute(
        """mutation($a: ID!) { honourRepresentative(requestId: "r-1", input: {accountId: $a, year: 2025,
             certificateNumber: "2025-001", resolution: {meetingDate: "2025-12-20", representativesTotal: 30,
             attendees: 25, votesFor: 22, votesAgainst: 2, votesAbstain: 1, number: "村代会决议〔2025〕9号"}})
             { year certificateNumber displayName subject { kind person { name } }
               resolution { meetingDate attendees votesFor } } }""",
        variable_values={"a": account}, context_value=context_for(f"Bearer {token}"))
    assert result.errors is None and result.data is not None
    assert result.data["honourRepresentative"] == {
        "year": 2025, "certificateNumber": "2025-001", "displayName": "李秀英",
        "subject": {"kind": "REPRESENTATIVE", "person": {"name": "李秀英"}},
        "resolution": {"meetingDate": "2025-12-20", "attendees": 25, "votesFor": 22}}
    (call,) = fakes.points.HonourRepresentative.calls
    assert call.request == P.HonourRepresentativeRequest(
        request_id="r-1", account_id=account, year=2025, certificate_number="2025-001",
        resolution=P.Resolution(meeting_date="2025-12-20", representatives_total=30, attendees=25,
                                votes_for=22, votes_against=2, votes_abstain=1,
                                number="村代会决议〔2025〕9号"))

    listed = await schema.execute(
        """{ representativeHonours(regionCodePrefix: "130123101", year: 2025, first: 10)
             { items { certificateNumber year } nextPageToken } }""",
        context_value=context_for(f"Bearer {token}"))
    assert listed.errors is None and listed.data is not None
    assert listed.data["representativeHonours"] == {
        "items": [{"certificateNumber": "2025-001", "year": 2025}], "nextPageToken": None}
    (query,) = fakes.points.ListRepresentativeHonours.calls
    assert (query.request.region_code_prefix, query.request.year, query.request.page.page_size) == (
        "130123101", 2025, 10)


async def test_an_honour_without_a_majority_names_the_field_in_camel_case(
    fakes: Fakes, context_for: Callable[[str | None], GatewayContext], token: str
) -> None:
    fakes.points.answer("HonourRepresentative", lambda r: RefusedCall(
        grpc.StatusCode.INVALID_ARGUMENT, "resolution.votes_for",
        "not more than half of those present voted for: the representative is not honoured"))
    result = await schema.execute(
        """mutation($a: ID!) { honourRepresentative(requestId: "r", input: {accountId: $a, year: 2025,
             certificateNumber: "2025-002", resolution: {meetingDate: "2025-12-20", representativesTotal: 30,
             attendees: 24, votesFor: 12}}) { id } }""",
        variable_values={"a": new_id()}, context_value=context_for(f"Bearer {token}"))
    assert result.errors is not None
    assert result.errors[0].extensions == {"code": "INVALID_ARGUMENT", "fieldViolations": [
        {"field": "resolution.votesFor",
         "description": "not more than half of those present voted for: the representative is not honoured"}]}


async def test_an_unknown_honour_is_null(
    fakes: Fakes, context_for: Callable[[str | None], GatewayContext], token: str
) -> None:
    fakes.points.answer("GetRepresentativeHonour", lambda r: RefusedCall(
        grpc.StatusCode.NOT_FOUND, "id", "no such honour"))
    result = await schema.execute(
        "query($id: ID!) { representativeHonour(id: $id) { id } }",
        variable_values={"id": new_id()}, context_value=context_for(f"Bearer {token}"))
    assert result.errors is None and result.data == {"representativeHonour": None}
