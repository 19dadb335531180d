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
    from conftest import Fakes, Run

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


async def test_honours_are_read_by_id_in_one_batch_call_and_an_unknown_one_is_null(
    fakes: Fakes, context_for: Callable[[str | None], GatewayContext], token: str
) -> None:
    representative = fakes.world.add_person("李秀英")
    honours = {h.id: h for h in (
        honour_of(P.HonourRepresentativeRequest(account_id=new_id(), year=year, certificate_number=number,
                                                resolution=P.Resolution(meeting_date="2025-12-20")),
                  representative.id)
        for year, number in ((2024, "2024-003"), (2025, "2025-001")))}
    fakes.points.answer("BatchGetRepresentativeHonours", lambda r: P.BatchGetRepresentativeHonoursResponse(
        honours=[honours[i] for i in r.ids if i in honours]))
    first, second = honours
    unknown = new_id()
    result = await schema.execute(
        """query($a: ID!, $b: ID!, $u: ID!) { a: representativeHonour(id: $a) { year certificateNumber }
             b: representativeHonour(id: $b) { year } unknown: representativeHonour(id: $u) { id } }""",
        variable_values={"a": first, "b": second.upper(), "u": unknown},
        context_value=context_for(f"Bearer {token}"))
    assert result.errors is None, result.errors
    assert result.data == {"a": {"year": 2024, "certificateNumber": "2024-003"}, "b": {"year": 2025},
                           "unknown": None}
    (call,) = fakes.points.BatchGetRepresentativeHonours.calls
    assert list(call.request.ids) == [first, second, unknown]
    assert fakes.points.GetRepresentativeHonour.calls == []


# -- mutations and fields without a test above ------------------------------------------------

STAMP_TEXT = "2026-01-01T00:00:00+00:00"
WEEK_LATER = Timestamp(seconds=STAMP.seconds + 7 * 86_400)
WEEK_LATER_TEXT = "2026-01-08T00:00:00+00:00"



def a_claim(subject: P.SubjectRef, status: P.ClaimStatus.ValueType, **fields: Any) -> P.Claim:
    values: dict[str, Any] = {
        "id": new_id(), "account_id": new_id(), "subject": subject, "region_code": VILLAGE,
        "scheme_id": new_id(), "version_id": new_id(), "item_code": "JF-01", "item_name": "收集反映社情民意",
        "points": 3, "quantity": 1, "occurred_on": "2026-03-02", "source": P.CLAIM_SOURCE_RECORDED,
        "status": status, "create_time": STAMP, "created_by": "grid-1", "update_time": STAMP,
    }
    return P.Claim(**{**values, **fields})


async def test_score_batch_reverse_entry_and_close_cycle(fakes: Fakes, run: Run) -> None:
    scheme, household, person = new_id(), new_id(), new_id()
    batch = P.Batch(id=new_id(), batch_key="2026-03 人居环境检查", scheme_id=scheme, region_code=VILLAGE,
                    title="3月人居环境检查", entry_count=2, total_score=0, create_time=STAMP,
                    created_by="clerk-1")
    fakes.points.answer("ScoreBatch", lambda r: P.ScoreBatchResponse(batch=batch))
    data = await run(
        """mutation($s: ID!, $h: ID!, $p: ID!) { scoreBatch(requestId: "r-batch",
             batchKey: "2026-03 人居环境检查", schemeId: $s, title: "3月人居环境检查", lines: [
               {subject: {kind: HOUSEHOLD, id: $h}, itemCode: "HJ-01", occurredOn: "2026-03-05", quantity: 2,
                note: "庭院整洁"},
               {subject: {kind: PERSON, id: $p}, itemCode: "YF-01", occurredOn: "2026-03-06"}])
             { id batchKey schemeId regionCode title entryCount totalScore createTime createdBy } }""",
        s=scheme, h=household, p=person)
    assert data["scoreBatch"] == {
        "id": batch.id, "batchKey": "2026-03 人居环境检查", "schemeId": scheme, "regionCode": VILLAGE,
        "title": "3月人居环境检查", "entryCount": 2, "totalScore": 0, "createTime": STAMP_TEXT,
        "createdBy": "clerk-1"}
    (call,) = fakes.points.ScoreBatch.calls
    assert call.request == P.ScoreBatchRequest(
        request_id="r-batch", batch_key="2026-03 人居环境检查", scheme_id=scheme, title="3月人居环境检查",
        lines=[P.BatchLine(subject=household_ref(household), item_code="HJ-01", occurred_on="2026-03-05",
                           quantity=2, note="庭院整洁"),
               P.BatchLine(subject=P.SubjectRef(kind=P.SUBJECT_KIND_PERSON, id=person), item_code="YF-01",
                           occurred_on="2026-03-06", quantity=1, note="")])

    # 冲正: the reversal points to the entry it reverses and to that entry's source (the batch).
    reversed_entry, account = new_id(), account_for(household, 15)
    fakes.points.answer("ReverseEntry", lambda r: P.ReverseEntryResponse(entry=P.Entry(
        id=new_id(), account_id=account.id, subject=household_ref(household), region_code=VILLAGE,
        kind=P.ENTRY_KIND_REVERSAL, amount=-10, score=-10, balance_after=15, entry_date="2026-03-20",
        year=2026, scheme_id=scheme, item_code="HJ-01", item_name="庭院整洁", quantity=2,
        source_id=batch.id, reverses_entry_id=r.entry_id, reason=r.reason, create_time=STAMP,
        created_by="officer-1")))
    fakes.points.answer("BatchGetAccounts", lambda r: P.BatchGetAccountsResponse(
        accounts=[account] if account.id in r.ids else []))
    data = await run(
        """mutation($e: ID!) { reverseEntry(requestId: "r-rev", entryId: $e, reason: "检查记录有误") {
             kind amount score balanceAfter entryDate year schemeId itemCode sourceId reversesEntryId
             reason subject { kind id } account { id balance } } }""",
        e=reversed_entry)
    assert data["reverseEntry"] == {
        "kind": "REVERSAL", "amount": -10, "score": -10, "balanceAfter": 15, "entryDate": "2026-03-20",
        "year": 2026, "schemeId": scheme, "itemCode": "HJ-01", "sourceId": batch.id,
        "reversesEntryId": reversed_entry, "reason": "检查记录有误",
        "subject": {"kind": "HOUSEHOLD", "id": household}, "account": {"id": account.id, "balance": 15}}
    (call,) = fakes.points.ReverseEntry.calls
    assert call.request == P.ReverseEntryRequest(request_id="r-rev", entry_id=reversed_entry,
                                                 reason="检查记录有误")
    assert [list(c.request.ids) for c in fakes.points.BatchGetAccounts.calls] == [[account.id]]

    # 年度结算
    fakes.points.answer("CloseCycle", lambda r: P.CloseCycleResponse(close=P.CycleClose(
        id=new_id(), scheme_id=r.scheme_id, year=2025, policy=P.CYCLE_POLICY_RESET, accounts=120,
        points_reset=3400, base_scores_opened=118, close_time=STAMP, closed_by="officer-1")))
    data = await run(
        """mutation($s: ID!) { closePointsCycle(requestId: "r-close", schemeId: $s) {
             schemeId year policy accounts pointsReset baseScoresOpened closeTime closedBy } }""",
        s=scheme)
    assert data["closePointsCycle"] == {
        "schemeId": scheme, "year": 2025, "policy": "RESET", "accounts": 120, "pointsReset": 3400,
        "baseScoresOpened": 118, "closeTime": STAMP_TEXT, "closedBy": "officer-1"}
    (call,) = fakes.points.CloseCycle.calls
    assert call.request == P.CloseCycleRequest(request_id="r-close", scheme_id=scheme)


async def test_claim_mutations_send_their_arguments_and_map_the_claim(fakes: Fakes, run: Run) -> None:
    representative = fakes.world.add_person("李秀英")
    subject = P.SubjectRef(kind=P.SUBJECT_KIND_REPRESENTATIVE, id=representative.id)
    scheme, claim_id = new_id(), new_id()
    fakes.points.answer("SubmitClaim", lambda r: P.SubmitClaimResponse(claim=a_claim(
        r.subject, P.CLAIM_STATUS_PENDING_REVIEW, id=claim_id, scheme_id=r.scheme_id, item_code=r.item_code,
        occurred_on=r.occurred_on, quantity=r.quantity, points=3 * r.quantity, source=r.source,
        evidence=r.evidence, created_by="rep-7")))
    data = await run(
        """mutation($s: ID!, $p: ID!) { submitClaim(requestId: "r-submit", input: {
             subject: {kind: REPRESENTATIVE, id: $p}, schemeId: $s, itemCode: "JF-01",
             occurredOn: "2026-03-02", source: DECLARED,
             evidence: {description: "会议记录", attachmentUrls: ["https://files.example/1.jpg"]}})
             { id status source points quantity occurredOn scheme: schemeId reviews { decision }
               evidence { description attachmentUrls } subject { kind person { name } } } }""",
        s=scheme, p=representative.id)
    assert data["submitClaim"] == {
        "id": claim_id, "status": "PENDING_REVIEW", "source": "DECLARED", "points": 3, "quantity": 1,
        "occurredOn": "2026-03-02", "scheme": scheme, "reviews": [],
        "evidence": {"description": "会议记录", "attachmentUrls": ["https://files.example/1.jpg"]},
        "subject": {"kind": "REPRESENTATIVE", "person": {"name": "李秀英"}}}
    (call,) = fakes.points.SubmitClaim.calls
    assert call.request == P.SubmitClaimRequest(
        request_id="r-submit", subject=subject, scheme_id=scheme, item_code="JF-01", occurred_on="2026-03-02",
        quantity=1, source=P.CLAIM_SOURCE_DECLARED,
        evidence=P.Evidence(description="会议记录", attachment_urls=["https://files.example/1.jpg"]))

    # 评议: approval opens the publicity window.
    fakes.points.answer("ReviewClaim", lambda r: P.ReviewClaimResponse(claim=a_claim(
        subject, P.CLAIM_STATUS_IN_PUBLICITY, id=r.claim_id, publicity_end_time=WEEK_LATER,
        reviews=[P.ClaimReview(decision=r.decision, reason=r.reason, reviewer="reviewer-2",
                               review_time=STAMP)])))
    data = await run(
        """mutation($c: ID!) { reviewClaim(requestId: "r-review", claimId: $c, decision: APPROVE,
             reason: "评议小组3月例会通过") { id status publicityEndTime
             reviews { decision reason reviewer reviewTime } } }""",
        c=claim_id)
    assert data["reviewClaim"] == {
        "id": claim_id, "status": "IN_PUBLICITY", "publicityEndTime": WEEK_LATER_TEXT,
        "reviews": [{"decision": "APPROVE", "reason": "评议小组3月例会通过", "reviewer": "reviewer-2",
                     "reviewTime": STAMP_TEXT}]}
    (call,) = fakes.points.ReviewClaim.calls
    assert call.request == P.ReviewClaimRequest(request_id="r-review", claim_id=claim_id,
                                                decision=P.REVIEW_DECISION_APPROVE,
                                                reason="评议小组3月例会通过")

    # 提出异议: the claim goes back to review with an open objection.
    objection = new_id()
    fakes.points.answer("ObjectToClaim", lambda r: P.ObjectToClaimResponse(claim=a_claim(
        subject, P.CLAIM_STATUS_PENDING_REVIEW, id=r.claim_id,
        objections=[P.Objection(id=objection, reason=r.reason, raised_by="villager-9", raise_time=STAMP,
                                status=P.OBJECTION_STATUS_OPEN)])))
    data = await run(
        """mutation($c: ID!) { objectToClaim(requestId: "r-object", claimId: $c, reason: "当天未参加会议")
             { status publicityEndTime objections { id reason raisedBy raiseTime status resolveTime } } }""",
        c=claim_id)
    assert data["objectToClaim"] == {
        "status": "PENDING_REVIEW", "publicityEndTime": None,
        "objections": [{"id": objection, "reason": "当天未参加会议", "raisedBy": "villager-9",
                        "raiseTime": STAMP_TEXT, "status": "OPEN", "resolveTime": None}]}
    (call,) = fakes.points.ObjectToClaim.calls
    assert call.request == P.ObjectToClaimRequest(request_id="r-object", claim_id=claim_id,
                                                  reason="当天未参加会议")

    # 撤回申报 without a reason: the reason is left empty.
    fakes.points.answer("WithdrawClaim", lambda r: P.WithdrawClaimResponse(claim=a_claim(
        subject, P.CLAIM_STATUS_WITHDRAWN, id=r.claim_id)))
    data = await run(
        """mutation($c: ID!) { withdrawClaim(requestId: "r-withdraw", claimId: $c) { id status entryId } }""",
        c=claim_id)
    assert data["withdrawClaim"] == {"id": claim_id, "status": "WITHDRAWN", "entryId": None}
    (call,) = fakes.points.WithdrawClaim.calls
    assert call.request == P.WithdrawClaimRequest(request_id="r-withdraw", claim_id=claim_id, reason="")


async def test_lapsed_claims_and_the_publicity_board(fakes: Fakes, run: Run) -> None:
    household, account = new_id(), new_id()
    lapsed = a_claim(household_ref(household), P.CLAIM_STATUS_LAPSED, account_id=account, reviews=[
        P.ClaimReview(decision=P.REVIEW_DECISION_APPROVE, reason="评议通过", reviewer="reviewer-2",
                      review_time=STAMP),
        P.ClaimReview(decision=P.REVIEW_DECISION_REJECT, reason="公示期满时该户已迁出", reviewer="system",
                      review_time=WEEK_LATER)])
    fakes.points.answer("ListClaims", lambda r: P.ListClaimsResponse(claims=[lapsed]))
    data = await run(
        """query($a: ID!) { pointsClaims(regionCodePrefix: "130123101", status: LAPSED, accountId: $a)
             { items { id status entryId reviews { decision reason } } nextPageToken } }""",
        a=account)
    assert data["pointsClaims"] == {"items": [{
        "id": lapsed.id, "status": "LAPSED", "entryId": None,
        "reviews": [{"decision": "APPROVE", "reason": "评议通过"},
                    {"decision": "REJECT", "reason": "公示期满时该户已迁出"}]}], "nextPageToken": None}
    (call,) = fakes.points.ListClaims.calls
    assert call.request.status == P.CLAIM_STATUS_LAPSED == 6
    assert (call.request.region_code_prefix, call.request.account_id, call.request.page.page_size) == (
        "130123101", account, 0)

    # 公示栏: claims in their window, claims objected to, and scheme drafts open for comment.
    showing = a_claim(household_ref(household), P.CLAIM_STATUS_IN_PUBLICITY, publicity_end_time=WEEK_LATER)
    objected = a_claim(household_ref(household), P.CLAIM_STATUS_PENDING_REVIEW, objections=[
        P.Objection(id=new_id(), reason="不属实", raised_by="villager-3", raise_time=STAMP,
                    status=P.OBJECTION_STATUS_OPEN)])
    draft = P.SchemeVersion(id=new_id(), scheme_id=new_id(), version=2,
                            status=P.SCHEME_VERSION_STATUS_PUBLICIZED, publicize_time=STAMP,
                            comment_ends_on="2026-01-08", change_note="增加垃圾分类事项", create_time=STAMP,
                            created_by="clerk-1")
    fakes.points.answer("GetPublicityBoard", lambda r: P.GetPublicityBoardResponse(
        in_publicity=[showing], objected=[objected], schemes_for_comment=[draft]))
    data = await run(
        """query($r: String!) { publicityBoard(regionCode: $r) {
             inPublicity { id status publicityEndTime }
             objected { id status objections { reason status } }
             schemesForComment { id version status publicizeTime commentEndsOn changeNote
                                 resolution { number } effectiveFrom } } }""",
        r=VILLAGE)
    assert data["publicityBoard"] == {
        "inPublicity": [{"id": showing.id, "status": "IN_PUBLICITY", "publicityEndTime": WEEK_LATER_TEXT}],
        "objected": [{"id": objected.id, "status": "PENDING_REVIEW",
                      "objections": [{"reason": "不属实", "status": "OPEN"}]}],
        "schemesForComment": [{"id": draft.id, "version": 2, "status": "PUBLICIZED",
                               "publicizeTime": STAMP_TEXT, "commentEndsOn": "2026-01-08",
                               "changeNote": "增加垃圾分类事项", "resolution": None, "effectiveFrom": None}]}
    (call,) = fakes.points.GetPublicityBoard.calls
    assert call.request == P.GetPublicityBoardRequest(region_code=VILLAGE)


async def test_a_scheme_version_from_draft_through_publicity_to_adoption(fakes: Fakes, run: Run) -> None:
    scheme, version = new_id(), new_id()

    def version_of(status: P.SchemeVersionStatus.ValueType, **fields: Any) -> P.SchemeVersion:
        return P.SchemeVersion(**{"id": version, "scheme_id": scheme, "version": 2, "status": status,
                                  "change_note": "增加垃圾分类事项", "create_time": STAMP,
                                  "created_by": "clerk-1", **fields})

    # 方案修订
    fakes.points.answer("DraftSchemeVersion", lambda r: P.DraftSchemeVersionResponse(
        draft=version_of(P.SCHEME_VERSION_STATUS_DRAFT)))
    data = await run(
        """mutation($s: ID!) { draftSchemeVersion(requestId: "r-draft", schemeId: $s,
             changeNote: "增加垃圾分类事项") { id schemeId version status changeNote publicizeTime } }""",
        s=scheme)
    assert data["draftSchemeVersion"] == {"id": version, "schemeId": scheme, "version": 2, "status": "DRAFT",
                                          "changeNote": "增加垃圾分类事项", "publicizeTime": None}
    (call,) = fakes.points.DraftSchemeVersion.calls
    assert call.request == P.DraftSchemeVersionRequest(request_id="r-draft", scheme_id=scheme,
                                                       change_note="增加垃圾分类事项")

    # 修改草案 without settings or a note: no settings are sent (the draft keeps its own), nor a note.
    fakes.points.answer("UpdateSchemeDraft", lambda r: P.UpdateSchemeDraftResponse(draft=version_of(
        P.SCHEME_VERSION_STATUS_DRAFT, items=[P.CatalogItem(id=new_id(), **{
            f.name: getattr(i, f.name) for f in P.CatalogItem.DESCRIPTOR.fields if f.name != "id"})
            for i in r.items],
        settings=P.SchemeSettings(claim_publicity_days=7, cycle_policy=P.CYCLE_POLICY_RESET))))
    data = await run(
        """mutation($v: ID!) { updateSchemeDraft(requestId: "r-update", versionId: $v, items: [
             {code: "LJ-01", name: "垃圾分类", category: BEAUTIFUL_VILLAGE, sign: POSITIVE, points: 2,
              evidenceRequired: "照片", limits: {perWeek: 1}, effectiveTo: "2026-12-31"}])
             { status settings { claimPublicityDays cyclePolicy }
               items { code category sign points evidenceRequired limits { perDay perWeek } effectiveFrom
                       effectiveTo } } }""",
        v=version)
    assert data["updateSchemeDraft"] == {
        "status": "DRAFT", "settings": {"claimPublicityDays": 7, "cyclePolicy": "RESET"},
        "items": [{"code": "LJ-01", "category": "BEAUTIFUL_VILLAGE", "sign": "POSITIVE", "points": 2,
                   "evidenceRequired": "照片", "limits": {"perDay": 0, "perWeek": 1}, "effectiveFrom": None,
                   "effectiveTo": "2026-12-31"}]}
    call = fakes.points.UpdateSchemeDraft.calls[0]
    assert not call.request.HasField("settings")
    assert call.request == P.UpdateSchemeDraftRequest(
        request_id="r-update", version_id=version, change_note="",
        items=[P.CatalogItem(code="LJ-01", name="垃圾分类", category=P.ITEM_CATEGORY_BEAUTIFUL_VILLAGE,
                             sign=P.ITEM_SIGN_POSITIVE, points=2, evidence_required="照片",
                             limits=P.ItemLimits(per_week=1), effective_to="2026-12-31")])
    # With settings and a note, both are sent.
    await run(
        """mutation($v: ID!) { updateSchemeDraft(requestId: "r-update-2", versionId: $v, items: [],
             settings: {claimPublicityDays: 5, cyclePolicy: CARRY_OVER, pointsValidMonths: 24},
             changeNote: "积分两年有效") { status } }""",
        v=version)
    assert fakes.points.UpdateSchemeDraft.calls[-1].request == P.UpdateSchemeDraftRequest(
        request_id="r-update-2", version_id=version, change_note="积分两年有效",
        settings=P.SchemeSettings(claim_publicity_days=5, cycle_policy=P.CYCLE_POLICY_CARRY_OVER,
                                  points_valid_months=24))

    # 方案公示征求意见
    fakes.points.answer("PublicizeSchemeVersion", lambda r: P.PublicizeSchemeVersionResponse(
        version=version_of(P.SCHEME_VERSION_STATUS_PUBLICIZED, publicize_time=STAMP,
                           comment_ends_on="2026-01-08")))
    data = await run(
        """mutation($v: ID!) { publicizeSchemeVersion(requestId: "r-publicize", versionId: $v)
             { status publicizeTime commentEndsOn } }""",
        v=version)
    assert data["publicizeSchemeVersion"] == {"status": "PUBLICIZED", "publicizeTime": STAMP_TEXT,
                                              "commentEndsOn": "2026-01-08"}
    (call,) = fakes.points.PublicizeSchemeVersion.calls
    assert call.request == P.PublicizeSchemeVersionRequest(request_id="r-publicize", version_id=version)

    # 村民代表会议通过, first with a day in force, then without one (the service takes the meeting's).
    fakes.points.answer("AdoptSchemeVersion", lambda r: P.AdoptSchemeVersionResponse(version=version_of(
        P.SCHEME_VERSION_STATUS_ADOPTED, resolution=r.resolution,
        effective_from=r.effective_from or r.resolution.meeting_date, adopt_time=STAMP,
        adopted_by="officer-1")))
    adopt = """mutation($v: ID!, $r: ResolutionInput!, $from: Date) {
                 adoptSchemeVersion(requestId: "r-adopt", versionId: $v, resolution: $r, effectiveFrom: $from)
                 { status effectiveFrom effectiveTo adoptTime adoptedBy
                   resolution { meetingDate representativesTotal attendees votesFor votesAgainst
                                votesAbstain number note } } }"""
    data = await run(adopt, v=version, r={
        "meetingDate": "2026-01-15", "representativesTotal": 30, "attendees": 24, "votesFor": 20,
        "votesAgainst": 3, "votesAbstain": 1, "number": "村代会决议〔2026〕1号", "note": "第二版"},
        **{"from": "2026-02-01"})
    assert data["adoptSchemeVersion"] == {
        "status": "ADOPTED", "effectiveFrom": "2026-02-01", "effectiveTo": None, "adoptTime": STAMP_TEXT,
        "adoptedBy": "officer-1",
        "resolution": {"meetingDate": "2026-01-15", "representativesTotal": 30, "attendees": 24,
                       "votesFor": 20, "votesAgainst": 3, "votesAbstain": 1,
                       "number": "村代会决议〔2026〕1号", "note": "第二版"}}
    data = await run(adopt, v=version, r={"meetingDate": "2026-01-15", "representativesTotal": 30,
                                          "attendees": 21, "votesFor": 11})
    assert data["adoptSchemeVersion"]["effectiveFrom"] == "2026-01-15"
    assert [c.request for c in fakes.points.AdoptSchemeVersion.calls] == [
        P.AdoptSchemeVersionRequest(
            request_id="r-adopt", version_id=version, effective_from="2026-02-01",
            resolution=P.Resolution(meeting_date="2026-01-15", representatives_total=30, attendees=24,
                                    votes_for=20, votes_against=3, votes_abstain=1,
                                    number="村代会决议〔2026〕1号", note="第二版")),
        P.AdoptSchemeVersionRequest(
            request_id="r-adopt", version_id=version, effective_from="",
            resolution=P.Resolution(meeting_date="2026-01-15", representatives_total=30, attendees=21,
                                    votes_for=11))]


async def test_rules_on_a_day_and_template_departures_of_listed_schemes(fakes: Fakes, run: Run) -> None:
    template = new_id()

    def scheme(title: str, template_id: str = "") -> P.Scheme:
        return P.Scheme(id=new_id(), region_code=VILLAGE, year=2026, subject_kind=P.SUBJECT_KIND_HOUSEHOLD,
                        title=title, template_scheme_id=template_id, latest_version=1, create_time=STAMP,
                        created_by="clerk-1")

    copied, own = scheme("东村家庭积分", template), scheme("西村家庭积分")
    unchanged = scheme("南村家庭积分", template)
    fakes.points.answer("ListSchemes", lambda r: P.ListSchemesResponse(schemes=[copied, own, unchanged]))

    def item(code: str, points: int, **fields: Any) -> P.CatalogItem:
        return P.CatalogItem(id=new_id(), code=code, name=code, category=P.ITEM_CATEGORY_CIVILITY,
                             sign=P.ITEM_SIGN_POSITIVE, points=points, **fields)

    def rules(r: P.BatchGetRulesInForceRequest) -> P.BatchGetRulesInForceResponse:
        # The scheme made without a template had no version in force that day: left out.
        return P.BatchGetRulesInForceResponse(rules=[P.RulesInForce(
            scheme_id=k.scheme_id, on_date=k.on_date,
            version=P.SchemeVersion(id=new_id(), scheme_id=k.scheme_id, version=1,
                                    status=P.SCHEME_VERSION_STATUS_ADOPTED, effective_from="2026-01-01",
                                    create_time=STAMP, created_by="clerk-1"),
            items_in_force=[item("WM-01", 5, limits=P.ItemLimits(per_month=1), effective_to="2026-06-30")])
            for k in r.keys if k.scheme_id != own.id])

    fakes.points.answer("BatchGetRulesInForce", rules)
    fakes.points.answer("BatchCompareSchemesWithTemplate", lambda r: (
        P.BatchCompareSchemesWithTemplateResponse(comparisons=[
            P.SchemeTemplateComparison(scheme_id=copied.id, template_scheme_id=template, departures=[
                P.TemplateDeparture(code="WM-01", kind=P.DEPARTURE_KIND_CHANGED,
                                    fields=["points", "evidence_required", "limits.per_month"],
                                    template_item=item("WM-01", 3), village_item=item("WM-01", 5)),
                P.TemplateDeparture(code="WM-09", kind=P.DEPARTURE_KIND_ADDED, village_item=item("WM-09", 1)),
                P.TemplateDeparture(code="WM-02", kind=P.DEPARTURE_KIND_REMOVED,
                                    template_item=item("WM-02", 2))]),
            P.SchemeTemplateComparison(scheme_id=unchanged.id, template_scheme_id=template)])))
    data = await run(
        """{ pointsSchemes { items { title templateSchemeId
             rulesOn(day: "2026-03-15") { version { version status effectiveFrom }
                                          itemsInForce { code points limits { perMonth } effectiveTo } }
             templateDepartures { code kind fields templateItem { points } villageItem { points } } } } }""")
    first_rules = {"version": {"version": 1, "status": "ADOPTED", "effectiveFrom": "2026-01-01"},
                   "itemsInForce": [{"code": "WM-01", "points": 5, "limits": {"perMonth": 1},
                                     "effectiveTo": "2026-06-30"}]}
    assert data["pointsSchemes"]["items"] == [
        {"title": "东村家庭积分", "templateSchemeId": template, "rulesOn": first_rules,
         "templateDepartures": [
            {"code": "WM-01", "kind": "CHANGED", "fields": ["points", "evidenceRequired", "limits.perMonth"],
             "templateItem": {"points": 3},
             "villageItem": {"points": 5}},
            {"code": "WM-09", "kind": "ADDED", "fields": [], "templateItem": None,
             "villageItem": {"points": 1}},
            {"code": "WM-02", "kind": "REMOVED", "fields": [], "templateItem": {"points": 2},
             "villageItem": None}]},
        {"title": "西村家庭积分", "templateSchemeId": None, "rulesOn": None, "templateDepartures": []},
        {"title": "南村家庭积分", "templateSchemeId": template, "rulesOn": first_rules,
         "templateDepartures": []}]
    # The rules in force come from one batch call for every scheme, each for the day asked.
    (rules_call,) = fakes.points.BatchGetRulesInForce.calls
    assert [(k.scheme_id, k.on_date) for k in rules_call.request.keys] == [
        (s.id, "2026-03-15") for s in (copied, own, unchanged)]
    assert fakes.points.GetRulesInForce.calls == []
    # Departures come from one batch call for the schemes copied from a template.
    (batch,) = fakes.points.BatchCompareSchemesWithTemplate.calls
    assert list(batch.request.scheme_ids) == [copied.id, unchanged.id]
    assert fakes.points.CompareSchemeWithTemplate.calls == []
    assert fakes.points.BatchGetSchemes.calls == []


async def test_goods_and_redemption_mutations(fakes: Fakes, run: Run) -> None:
    goods_id = new_id()

    def goods(name: str, price: int, stock: int, active: bool = True) -> P.Goods:
        return P.Goods(id=goods_id, region_code=VILLAGE, name=name, price=price, stock=stock, active=active,
                       create_time=STAMP, created_by="clerk-1", update_time=WEEK_LATER, updated_by="clerk-2")

    # 商品上架 without a stock: the stock is left at 0.
    fakes.points.answer("AddGoods", lambda r: P.AddGoodsResponse(goods=goods(r.name, r.price, r.stock)))
    data = await run(
        """mutation($r: String!) { addGoods(requestId: "r-add", regionCode: $r, name: "洗衣粉", price: 20)
             { id regionCode name price stock active createTime createdBy updateTime updatedBy } }""",
        r=VILLAGE)
    assert data["addGoods"] == {
        "id": goods_id, "regionCode": VILLAGE, "name": "洗衣粉", "price": 20, "stock": 0, "active": True,
        "createTime": STAMP_TEXT, "createdBy": "clerk-1", "updateTime": WEEK_LATER_TEXT,
        "updatedBy": "clerk-2"}
    (call,) = fakes.points.AddGoods.calls
    assert call.request == P.AddGoodsRequest(request_id="r-add", region_code=VILLAGE, name="洗衣粉", price=20,
                                             stock=0)

    # 修改商品: taking goods off the shelf sends active=false.
    fakes.points.answer("UpdateGoods", lambda r: P.UpdateGoodsResponse(
        goods=goods(r.name, r.price, 0, r.active)))
    data = await run(
        """mutation($g: ID!) { updateGoods(requestId: "r-upd", goodsId: $g, name: "洗衣粉 2kg", price: 25,
             active: false) { name price active } }""",
        g=goods_id)
    assert data["updateGoods"] == {"name": "洗衣粉 2kg", "price": 25, "active": False}
    (call,) = fakes.points.UpdateGoods.calls
    assert call.request == P.UpdateGoodsRequest(request_id="r-upd", goods_id=goods_id, name="洗衣粉 2kg",
                                                price=25, active=False)

    # 补货, with and without a note.
    fakes.points.answer("RestockGoods", lambda r: P.RestockGoodsResponse(
        goods=goods("洗衣粉 2kg", 25, r.quantity)))
    data = await run(
        """mutation($g: ID!) { restockGoods(requestId: "r-stock", goodsId: $g, quantity: 30) { stock } }""",
        g=goods_id)
    assert data["restockGoods"] == {"stock": 30}
    await run(
        """mutation($g: ID!) { restockGoods(requestId: "r-stock-2", goodsId: $g, quantity: 5,
             note: "乡贤捐赠") { stock } }""",
        g=goods_id)
    assert [c.request for c in fakes.points.RestockGoods.calls] == [
        P.RestockGoodsRequest(request_id="r-stock", goods_id=goods_id, quantity=30, note=""),
        P.RestockGoodsRequest(request_id="r-stock-2", goods_id=goods_id, quantity=5, note="乡贤捐赠")]

    # 领取 and 取消兑换: the goods, the account and the household come through their batch loaders.
    account = account_for(new_id(), 40)
    home = P.Household(id=account.subject.id, region_code=VILLAGE, household_number="0101",
                       head_name="王建国", member_count=3, create_time=STAMP, created_by="clerk-1",
                       status=P.HOUSEHOLD_STATUS_ACTIVE, account_id=account.id)
    fakes.world.households[home.id] = home
    fakes.points.answer("BatchGetGoods", lambda r: P.BatchGetGoodsResponse(
        goods=[goods("洗衣粉 2kg", 25, 34)] if goods_id in r.ids else []))
    fakes.points.answer("BatchGetAccounts", lambda r: P.BatchGetAccountsResponse(
        accounts=[account] if account.id in r.ids else []))
    redemption_id, entry_id, cancel_entry_id = new_id(), new_id(), new_id()

    def redemption(status: P.RedemptionStatus.ValueType, **fields: Any) -> P.Redemption:
        return P.Redemption(**{
            "id": redemption_id, "account_id": account.id, "subject": account.subject, "region_code": VILLAGE,
            "goods_id": goods_id, "goods_name": "洗衣粉", "quantity": 2, "points": 40, "status": status,
            "entry_id": entry_id, "reserve_time": STAMP, "reserved_by": "clerk-1",
            "complete_time": WEEK_LATER, "completed_by": "clerk-2", **fields})

    fakes.points.answer("PickUpRedemption", lambda r: P.PickUpRedemptionResponse(
        redemption=redemption(P.REDEMPTION_STATUS_PICKED_UP)))
    data = await run(
        """mutation($id: ID!) { pickUpRedemption(requestId: "r-pick", redemptionId: $id) {
             id status goodsName quantity points entryId cancelEntryId cancelReason reserveTime
             completeTime completedBy goods { name } account { balance }
             subject { kind household { householdNumber } } } }""",
        id=redemption_id)
    assert data["pickUpRedemption"] == {
        "id": redemption_id, "status": "PICKED_UP", "goodsName": "洗衣粉", "quantity": 2, "points": 40,
        "entryId": entry_id, "cancelEntryId": None, "cancelReason": None, "reserveTime": STAMP_TEXT,
        "completeTime": WEEK_LATER_TEXT, "completedBy": "clerk-2", "goods": {"name": "洗衣粉 2kg"},
        "account": {"balance": 40},
        "subject": {"kind": "HOUSEHOLD", "household": {"householdNumber": "0101"}}}
    (call,) = fakes.points.PickUpRedemption.calls
    assert call.request == P.PickUpRedemptionRequest(request_id="r-pick", redemption_id=redemption_id)
    assert [list(c.request.ids) for c in fakes.points.BatchGetGoods.calls] == [[goods_id]]

    fakes.points.answer("CancelRedemption", lambda r: P.CancelRedemptionResponse(redemption=redemption(
        P.REDEMPTION_STATUS_CANCELLED, cancel_entry_id=cancel_entry_id, cancel_reason=r.reason)))
    data = await run(
        """mutation($id: ID!) { cancelRedemption(requestId: "r-cancel", redemptionId: $id,
             reason: "村民改选其他商品") { status cancelEntryId cancelReason completedBy } }""",
        id=redemption_id)
    assert data["cancelRedemption"] == {"status": "CANCELLED", "cancelEntryId": cancel_entry_id,
                                        "cancelReason": "村民改选其他商品", "completedBy": "clerk-2"}
    (call,) = fakes.points.CancelRedemption.calls
    assert call.request == P.CancelRedemptionRequest(request_id="r-cancel", redemption_id=redemption_id,
                                                     reason="村民改选其他商品")


@pytest.mark.parametrize(
    ("code", "field", "client_field", "description"),
    [(grpc.StatusCode.FAILED_PRECONDITION, "claim_id", "claimId",
      "whoever recorded the claim may not review it (回避)"),
     (grpc.StatusCode.INVALID_ARGUMENT, "reason", "reason", "is required to reject a claim")],
)
async def test_a_refused_review_reaches_the_client_and_nothing_else_is_called(
    fakes: Fakes, context_for: Callable[[str | None], GatewayContext], token: str,
    code: grpc.StatusCode, field: str, client_field: str, description: str,
) -> None:
    fakes.points.answer("ReviewClaim", lambda r: RefusedCall(code, field, description))
    claim = new_id()
    result = await schema.execute(
        """mutation($c: ID!) { reviewClaim(requestId: "r-review", claimId: $c, decision: REJECT, reason: "")
             { id status } }""",
        variable_values={"c": claim}, context_value=context_for(f"Bearer {token}"))
    assert result.data is None
    assert result.errors is not None and len(result.errors) == 1
    error = result.errors[0]
    assert error.path == ["reviewClaim"]
    assert error.message == f"{field}: {description}"
    assert error.extensions == {"code": code.name, "fieldViolations": [
        {"field": client_field, "description": description}]}
    assert [c.request for c in fakes.all_calls()] == [P.ReviewClaimRequest(
        request_id="r-review", claim_id=claim, decision=P.REVIEW_DECISION_REJECT, reason="")]


async def test_template_departures_of_the_rules_in_force_on_a_day(fakes: Fakes, run: Run) -> None:
    template = new_id()
    scheme = P.Scheme(id=new_id(), region_code=VILLAGE, year=2026, subject_kind=P.SUBJECT_KIND_HOUSEHOLD,
                      title="东村家庭积分", template_scheme_id=template, latest_version=2, create_time=STAMP,
                      created_by="clerk-1")
    fakes.points.answer("BatchGetSchemes", lambda r: P.BatchGetSchemesResponse(schemes=[scheme]))

    def compare(r: P.BatchCompareSchemesWithTemplateRequest) -> P.BatchCompareSchemesWithTemplateResponse:
        # The latest version (a draft) departs; the one in force on 2026-03-01 does not.
        departures = [] if r.on_date else [P.TemplateDeparture(code="WM-01", kind=P.DEPARTURE_KIND_ADDED)]
        return P.BatchCompareSchemesWithTemplateResponse(comparisons=[P.SchemeTemplateComparison(
            scheme_id=i, template_scheme_id=template, version=1 if r.on_date else 2, departures=departures)
            for i in r.scheme_ids])

    fakes.points.answer("BatchCompareSchemesWithTemplate", compare)
    data = await run("""query($id: ID!) { pointsScheme(id: $id) { latest: templateDepartures { code kind }
                            inForce: templateDepartures(onDate: "2026-03-01") { code } } }""", id=scheme.id)
    assert data["pointsScheme"] == {"latest": [{"code": "WM-01", "kind": "ADDED"}], "inForce": []}
    assert sorted((list(c.request.scheme_ids), c.request.on_date)
                  for c in fakes.points.BatchCompareSchemesWithTemplate.calls) == [
        ([scheme.id], ""), ([scheme.id], "2026-03-01")]


async def test_each_mutation_reads_what_the_writes_before_it_left(
    fakes: Fakes, context_for: Callable[[str | None], GatewayContext], token: str
) -> None:
    household, goods = new_id(), new_id()
    account = account_for(household, 100)

    def reserve(request: P.ReserveRedemptionRequest) -> P.ReserveRedemptionResponse:
        account.balance -= 10
        return P.ReserveRedemptionResponse(redemption=P.Redemption(
            id=new_id(), account_id=account.id, subject=household_ref(household), region_code=VILLAGE,
            goods_id=goods, goods_name="肥皂", quantity=1, points=10,
            status=P.REDEMPTION_STATUS_RESERVED, reserve_time=STAMP))

    fakes.points.answer("ReserveRedemption", reserve)
    fakes.points.answer("BatchGetAccounts", lambda r: P.BatchGetAccountsResponse(accounts=[account]))
    result = await schema.execute(
        """mutation($h: ID!, $g: ID!) {
             first: reserveRedemption(requestId: "r1", subject: {kind: HOUSEHOLD, id: $h}, goodsId: $g,
               quantity: 1) { account { balance } }
             second: reserveRedemption(requestId: "r2", subject: {kind: HOUSEHOLD, id: $h}, goodsId: $g,
               quantity: 1) { account { balance } } }""",
        variable_values={"h": household, "g": goods}, context_value=context_for(f"Bearer {token}"))
    assert result.errors is None, result.errors
    assert result.data == {"first": {"account": {"balance": 90}}, "second": {"account": {"balance": 80}}}


async def test_an_accounts_lots_are_asked_once_however_many_fields_ask(
    fakes: Fakes, context_for: Callable[[str | None], GatewayContext], token: str
) -> None:
    household = new_id()
    account = account_for(household, 12)
    credit = P.Entry(id=new_id(), account_id=account.id, subject=household_ref(household),
                     region_code=VILLAGE, kind=P.ENTRY_KIND_AWARD, amount=12, score=12, balance_after=12,
                     entry_date="2026-03-01", year=2026, create_time=STAMP, created_by="clerk-1")
    fakes.points.answer("BatchGetAccounts", lambda r: P.BatchGetAccountsResponse(accounts=[account]))
    fakes.points.answer("ListLots", lambda r: P.ListLotsResponse(lots=[P.Lot(
        id=1, entry_id=credit.id, lot_date="2026-03-01", amount=12, available=12)]))
    fakes.points.answer("BatchGetEntries", lambda r: P.BatchGetEntriesResponse(
        entries=[credit] if credit.id in r.ids else []))
    result = await schema.execute(
        """query($a: ID!) { one: pointsAccount(id: $a) { lots { available entry { kind amount } } }
                            two: pointsAccount(id: $a) { lots { available } } }""",
        variable_values={"a": account.id}, context_value=context_for(f"Bearer {token}"))
    assert result.errors is None, result.errors
    assert result.data == {"one": {"lots": [{"available": 12, "entry": {"kind": "AWARD", "amount": 12}}]},
                           "two": {"lots": [{"available": 12}]}}
    assert len(fakes.points.ListLots.calls) == 1
    assert len(fakes.points.BatchGetEntries.calls) == 1


async def test_a_claim_links_to_its_scheme_item_and_entries(
    fakes: Fakes, context_for: Callable[[str | None], GatewayContext], token: str
) -> None:
    household, scheme_id = new_id(), new_id()
    posted = P.Entry(id=new_id(), account_id=new_id(), subject=household_ref(household), region_code=VILLAGE,
                     kind=P.ENTRY_KIND_CLAIM, amount=5, score=5, balance_after=5, entry_date="2026-03-02",
                     year=2026, scheme_id=scheme_id, create_time=STAMP, created_by="system")
    claim = P.Claim(
        id=new_id(), account_id=posted.account_id, subject=household_ref(household), region_code=VILLAGE,
        scheme_id=scheme_id, version_id=new_id(), item_code="HJ-01", item_name="庭院整洁", points=5,
        quantity=1, occurred_on="2026-03-02", source=P.CLAIM_SOURCE_RECORDED,
        evidence=P.Evidence(description="网格员拍照"), status=P.CLAIM_STATUS_POSTED, entry_id=posted.id,
        create_time=STAMP, created_by="grid-1", update_time=STAMP)
    item = P.CatalogItem(code="HJ-01", name="庭院整洁", category=P.ITEM_CATEGORY_BEAUTIFUL_VILLAGE,
                         sign=P.ITEM_SIGN_POSITIVE, points=5, evidence_required="现场照片")
    fakes.points.answer("BatchGetClaims", lambda r: P.BatchGetClaimsResponse(claims=[claim]))
    fakes.points.answer("BatchGetEntries", lambda r: P.BatchGetEntriesResponse(entries=[posted]))
    fakes.points.answer("BatchGetSchemes", lambda r: P.BatchGetSchemesResponse(schemes=[P.Scheme(
        id=scheme_id, region_code=VILLAGE, year=2026, subject_kind=P.SUBJECT_KIND_HOUSEHOLD,
        title="2026年家庭积分方案", create_time=STAMP, created_by="clerk-1")]))
    fakes.points.answer("BatchGetRulesInForce", lambda r: P.BatchGetRulesInForceResponse(rules=[
        P.RulesInForce(scheme_id=k.scheme_id, on_date=k.on_date, items_in_force=[item]) for k in r.keys]))
    result = await schema.execute(
        """query($c: ID!) { pointsClaim(id: $c) { entry { amount scheme { title } } reversalEntry { id }
             scheme { title } item { points evidenceRequired } } }""",
        variable_values={"c": claim.id}, context_value=context_for(f"Bearer {token}"))
    assert result.errors is None, result.errors
    assert result.data == {"pointsClaim": {
        "entry": {"amount": 5, "scheme": {"title": "2026年家庭积分方案"}}, "reversalEntry": None,
        "scheme": {"title": "2026年家庭积分方案"}, "item": {"points": 5, "evidenceRequired": "现场照片"}}}
    # The scheme asked twice, by the claim and by its entry, in one call.
    assert len(fakes.points.BatchGetSchemes.calls) == 1


async def test_a_template_comparison_says_what_was_compared_and_null_when_nothing_was(
    fakes: Fakes, context_for: Callable[[str | None], GatewayContext], token: str
) -> None:
    follows, unadopted, template = new_id(), new_id(), new_id()
    schemes = {i: P.Scheme(id=i, region_code=VILLAGE, year=2026, subject_kind=P.SUBJECT_KIND_HOUSEHOLD,
                           title="方案", template_scheme_id=template, create_time=STAMP, created_by="c")
               for i in (follows, unadopted)}
    fakes.points.answer("BatchGetSchemes", lambda r: P.BatchGetSchemesResponse(
        schemes=[schemes[i] for i in r.ids]))
    compared = P.SchemeTemplateComparison(scheme_id=follows, template_scheme_id=template, version=2)
    fakes.points.answer("BatchCompareSchemesWithTemplate",
                        lambda r: P.BatchCompareSchemesWithTemplateResponse(comparisons=[compared]))
    result = await schema.execute(
        """query($a: ID!, $b: ID!) {
             a: pointsScheme(id: $a) {
               templateComparison(onDate: "2026-03-01") { version departures { code } } }
             b: pointsScheme(id: $b) { templateComparison(onDate: "2026-03-01") { version } } }""",
        variable_values={"a": follows, "b": unadopted}, context_value=context_for(f"Bearer {token}"))
    assert result.errors is None, result.errors
    assert result.data == {"a": {"templateComparison": {"version": 2, "departures": []}},
                           "b": {"templateComparison": None}}


async def test_a_scheme_version_is_read_by_its_id_and_null_when_unknown(
    fakes: Fakes, context_for: Callable[[str | None], GatewayContext], token: str
) -> None:
    known = new_id()

    def answer(request: P.GetSchemeVersionRequest) -> Any:
        if request.id != known:
            return RefusedCall(grpc.StatusCode.NOT_FOUND, "id", "no scheme version has this id")
        return P.GetSchemeVersionResponse(version=P.SchemeVersion(
            id=known, scheme_id=new_id(), version=3, status=P.SCHEME_VERSION_STATUS_ADOPTED,
            create_time=STAMP, created_by="clerk-1"))

    fakes.points.answer("GetSchemeVersion", answer)
    result = await schema.execute(
        """query($k: ID!, $u: ID!) { known: pointsSchemeVersion(id: $k) { version status }
                                     unknown: pointsSchemeVersion(id: $u) { version } }""",
        variable_values={"k": known, "u": new_id()}, context_value=context_for(f"Bearer {token}"))
    assert result.errors is None, result.errors
    assert result.data == {"known": {"version": 3, "status": "ADOPTED"}, "unknown": None}


async def test_a_new_scheme_shows_the_draft_to_edit_next(
    fakes: Fakes, context_for: Callable[[str | None], GatewayContext], token: str
) -> None:
    scheme = P.Scheme(id=new_id(), region_code=VILLAGE, year=2026, subject_kind=P.SUBJECT_KIND_HOUSEHOLD,
                      title="2026年家庭积分方案", latest_version=1, create_time=STAMP, created_by="clerk-1")
    draft = P.SchemeVersion(id=new_id(), scheme_id=scheme.id, version=1, status=P.SCHEME_VERSION_STATUS_DRAFT,
                            create_time=STAMP, created_by="clerk-1")
    fakes.points.answer("CreateScheme", lambda r: P.CreateSchemeResponse(scheme=scheme, draft=draft))
    fakes.points.answer("ListSchemeVersions", lambda r: P.ListSchemeVersionsResponse(versions=[draft]))
    result = await schema.execute(
        """mutation($v: String!) { createPointsScheme(requestId: "r", input: {regionCode: $v, year: 2026,
             subjectKind: HOUSEHOLD, title: "2026年家庭积分方案"}) {
             currentVersion { id } openVersion { id version status } } }""",
        variable_values={"v": VILLAGE}, context_value=context_for(f"Bearer {token}"))
    assert result.errors is None, result.errors
    assert result.data == {"createPointsScheme": {
        "currentVersion": None, "openVersion": {"id": draft.id, "version": 1, "status": "DRAFT"}}}


async def test_statements_go_through_a_loader_and_an_entry_is_read_by_id(
    fakes: Fakes, context_for: Callable[[str | None], GatewayContext], token: str
) -> None:
    accounts = [P.Account(id=new_id(), subject=household_ref(new_id()), region_code=VILLAGE, balance=5,
                          create_time=STAMP, created_by="clerk-1") for _ in range(3)]
    entry = P.Entry(id=new_id(), account_id=accounts[0].id, subject=accounts[0].subject, region_code=VILLAGE,
                    kind=P.ENTRY_KIND_AWARD, amount=5, score=5, balance_after=5, entry_date="2026-03-01",
                    year=2026, create_time=STAMP, created_by="clerk-1")
    fakes.points.answer("BatchGetAccounts", lambda r: P.BatchGetAccountsResponse(
        accounts=[a for a in accounts if a.id in r.ids]))
    fakes.points.answer("GetStatement", lambda r: P.GetStatementResponse(
        entries=[entry] if r.account_id == entry.account_id else []))
    fakes.points.answer("BatchGetEntries", lambda r: P.BatchGetEntriesResponse(
        entries=[entry] if entry.id in r.ids else []))
    result = await schema.execute(
        """query($a: ID!, $b: ID!, $c: ID!, $e: ID!) {
             a: pointsAccount(id: $a) { entries(first: 3) { items { id amount } } }
             again: pointsAccount(id: $a) { entries(first: 3) { items { id } } }
             b: pointsAccount(id: $b) { entries(first: 3, fromDate: "2026-01-01") { items { id } } }
             c: pointsAccount(id: $c) { entries { items { id } } }
             pointsEntry(id: $e) { amount kind }
             missing: pointsEntry(id: $a) { id } }""",
        variable_values={"a": accounts[0].id, "b": accounts[1].id, "c": accounts[2].id, "e": entry.id},
        context_value=context_for(f"Bearer {token}"))
    assert result.errors is None, result.errors
    assert result.data == {
        "a": {"entries": {"items": [{"id": entry.id, "amount": 5}]}},
        "again": {"entries": {"items": [{"id": entry.id}]}},
        "b": {"entries": {"items": []}}, "c": {"entries": {"items": []}},
        "pointsEntry": {"amount": 5, "kind": "AWARD"}, "missing": None}
    # One call per distinct account and page asked: the repeated one is answered from the loader.
    calls = sorted((c.request.account_id, c.request.from_date, c.request.page.page_size)
                   for c in fakes.points.GetStatement.calls)
    assert calls == sorted([(accounts[0].id, "", 3), (accounts[1].id, "2026-01-01", 3),
                            (accounts[2].id, "", 0)])
    assert len(fakes.points.BatchGetEntries.calls) == 1


# -- links between records, through the request's loaders ------------------------------------


def an_entry(account: P.Account, kind: P.EntryKind.ValueType, source_id: str = "", **fields: Any) -> P.Entry:
    return P.Entry(id=new_id(), account_id=account.id, subject=account.subject, region_code=VILLAGE,
                   kind=kind, amount=5, score=5, balance_after=5, entry_date="2026-03-02", year=2026,
                   source_id=source_id, create_time=STAMP, created_by="system", **fields)


async def test_entries_link_to_their_claim_redemption_and_batch_in_one_call_each(
    fakes: Fakes, run: Run
) -> None:
    household = new_id()
    account = account_for(household, 40)
    claims = [a_claim(household_ref(household), P.CLAIM_STATUS_POSTED, item_name=name)
              for name in ("庭院整洁", "志愿服务")]
    redemption = P.Redemption(id=new_id(), account_id=account.id, subject=account.subject,
                              region_code=VILLAGE, goods_id=new_id(), goods_name="肥皂", quantity=1,
                              points=10, status=P.REDEMPTION_STATUS_CANCELLED, reserve_time=STAMP)
    batches = {b.id: b for b in (
        P.Batch(id=new_id(), batch_key=key, scheme_id=new_id(), region_code=VILLAGE, title=key,
                entry_count=80, create_time=STAMP, created_by="clerk-1")
        for key in ("2026-02 人居环境检查", "2026-03 人居环境检查"))}
    first_batch, second_batch = batches
    unknown_batch = new_id()
    entries = [
        an_entry(account, P.ENTRY_KIND_CLAIM, claims[0].id),
        an_entry(account, P.ENTRY_KIND_CLAIM, claims[1].id),
        an_entry(account, P.ENTRY_KIND_REDEMPTION, redemption.id),
        an_entry(account, P.ENTRY_KIND_REDEMPTION_CANCEL, redemption.id),
        an_entry(account, P.ENTRY_KIND_BATCH, first_batch),
        an_entry(account, P.ENTRY_KIND_BATCH, second_batch),
        an_entry(account, P.ENTRY_KIND_BATCH, first_batch),
        an_entry(account, P.ENTRY_KIND_BATCH, unknown_batch),
        an_entry(account, P.ENTRY_KIND_AWARD),
        # A reversal's source is its reversed entry's (here a claim): not a claim of its own kind.
        an_entry(account, P.ENTRY_KIND_REVERSAL, claims[0].id),
    ]

    def get_batch(r: P.GetBatchRequest) -> Any:
        if r.id not in batches:
            return RefusedCall(grpc.StatusCode.NOT_FOUND, "id", "no batch has this id")
        return P.GetBatchResponse(batch=batches[r.id])

    fakes.points.answer("BatchGetAccounts", lambda r: P.BatchGetAccountsResponse(accounts=[account]))
    fakes.points.answer("GetStatement", lambda r: P.GetStatementResponse(entries=entries))
    fakes.points.answer("BatchGetClaims", lambda r: P.BatchGetClaimsResponse(
        claims=[c for c in claims if c.id in r.ids]))
    fakes.points.answer("BatchGetRedemptions", lambda r: P.BatchGetRedemptionsResponse(
        redemptions=[redemption] if redemption.id in r.ids else []))
    fakes.points.answer("GetBatch", get_batch)
    data = await run(
        """query($a: ID!) { pointsAccount(id: $a) { entries { items {
             kind claim { itemName status } redemption { goodsName status } batch { batchKey } } } } }""",
        a=account.id)
    assert data["pointsAccount"]["entries"]["items"] == [
        {"kind": "CLAIM", "claim": {"itemName": "庭院整洁", "status": "POSTED"}, "redemption": None,
         "batch": None},
        {"kind": "CLAIM", "claim": {"itemName": "志愿服务", "status": "POSTED"}, "redemption": None,
         "batch": None},
        {"kind": "REDEMPTION", "claim": None, "redemption": {"goodsName": "肥皂", "status": "CANCELLED"},
         "batch": None},
        {"kind": "REDEMPTION_CANCEL", "claim": None,
         "redemption": {"goodsName": "肥皂", "status": "CANCELLED"}, "batch": None},
        {"kind": "BATCH", "claim": None, "redemption": None, "batch": {"batchKey": "2026-02 人居环境检查"}},
        {"kind": "BATCH", "claim": None, "redemption": None, "batch": {"batchKey": "2026-03 人居环境检查"}},
        {"kind": "BATCH", "claim": None, "redemption": None, "batch": {"batchKey": "2026-02 人居环境检查"}},
        {"kind": "BATCH", "claim": None, "redemption": None, "batch": None},
        {"kind": "AWARD", "claim": None, "redemption": None, "batch": None},
        {"kind": "REVERSAL", "claim": None, "redemption": None, "batch": None},
    ]
    (claim_call,) = fakes.points.BatchGetClaims.calls
    assert list(claim_call.request.ids) == [claims[0].id, claims[1].id]
    (redemption_call,) = fakes.points.BatchGetRedemptions.calls
    assert list(redemption_call.request.ids) == [redemption.id]
    # No batch read of batches: one GetBatch per distinct batch, however many entries ask.
    assert sorted(c.request.id for c in fakes.points.GetBatch.calls) == sorted(
        [first_batch, second_batch, unknown_batch])


async def test_a_batch_by_id_shares_the_loader_and_is_null_when_unknown_or_not_yours(
    fakes: Fakes, run: Run
) -> None:
    account = account_for(new_id(), 10)
    batch = P.Batch(id=new_id(), batch_key="2026-03 人居环境检查", scheme_id=new_id(), region_code=VILLAGE,
                    title="3月人居环境检查", entry_count=2, total_score=10, create_time=STAMP,
                    created_by="clerk-1")
    unknown, elsewhere = new_id(), new_id()

    def get_batch(r: P.GetBatchRequest) -> Any:
        if r.id == unknown:
            return RefusedCall(grpc.StatusCode.NOT_FOUND, "id", "no batch has this id")
        if r.id == elsewhere:
            return RefusedCall(grpc.StatusCode.PERMISSION_DENIED, "id", "outside your region scope")
        return P.GetBatchResponse(batch=batch)

    entry = an_entry(account, P.ENTRY_KIND_BATCH, batch.id)
    fakes.points.answer("GetBatch", get_batch)
    fakes.points.answer("BatchGetEntries", lambda r: P.BatchGetEntriesResponse(entries=[entry]))
    data = await run(
        """query($b: ID!, $u: ID!, $x: ID!, $e: ID!) { pointsBatch(id: $b) { title totalScore }
             unknown: pointsBatch(id: $u) { id } elsewhere: pointsBatch(id: $x) { id }
             pointsEntry(id: $e) { batch { id } } }""",
        b=batch.id, u=unknown, x=elsewhere, e=entry.id)
    assert data == {"pointsBatch": {"title": "3月人居环境检查", "totalScore": 10}, "unknown": None,
                    "elsewhere": None, "pointsEntry": {"batch": {"id": batch.id}}}
    assert sorted(c.request.id for c in fakes.points.GetBatch.calls) == sorted([batch.id, unknown, elsewhere])


async def test_a_batch_read_that_fails_otherwise_is_an_error_of_that_field(
    fakes: Fakes, context_for: Callable[[str | None], GatewayContext], token: str
) -> None:
    fakes.points.answer("GetBatch", lambda r: grpc.aio.AioRpcError(
        grpc.StatusCode.UNAVAILABLE, grpc.aio.Metadata(), grpc.aio.Metadata()))
    result = await schema.execute("query($b: ID!) { pointsBatch(id: $b) { id } }", variable_values={
        "b": new_id()}, context_value=context_for(f"Bearer {token}"))
    assert result.data == {"pointsBatch": None}
    assert result.errors is not None and result.errors[0].extensions == {"code": "UNAVAILABLE"}


async def test_claims_link_to_the_version_they_were_judged_under_once_per_version(
    fakes: Fakes, run: Run
) -> None:
    scheme = new_id()
    versions = {v.id: v for v in (
        P.SchemeVersion(id=new_id(), scheme_id=scheme, version=n, status=status, create_time=STAMP,
                        created_by="clerk-1",
                        settings=P.SchemeSettings(claim_publicity_days=7, cycle_policy=P.CYCLE_POLICY_RESET))
        for n, status in ((1, P.SCHEME_VERSION_STATUS_SUPERSEDED), (2, P.SCHEME_VERSION_STATUS_ADOPTED)))}
    old, current = versions
    unknown = new_id()
    claims = [a_claim(household_ref(new_id()), P.CLAIM_STATUS_POSTED, scheme_id=scheme, version_id=v)
              for v in (old, current, old, unknown)]

    def get_version(r: P.GetSchemeVersionRequest) -> Any:
        if r.id not in versions:
            return RefusedCall(grpc.StatusCode.NOT_FOUND, "id", "no scheme version has this id")
        return P.GetSchemeVersionResponse(version=versions[r.id])

    fakes.points.answer("ListClaims", lambda r: P.ListClaimsResponse(claims=claims))
    fakes.points.answer("GetSchemeVersion", get_version)
    data = await run(
        """query($v: ID!) { pointsClaims { items { version { version status settings { cyclePolicy } } } }
             pointsSchemeVersion(id: $v) { version } }""",
        v=current)
    assert [c["version"] for c in data["pointsClaims"]["items"]] == [
        {"version": 1, "status": "SUPERSEDED", "settings": {"cyclePolicy": "RESET"}},
        {"version": 2, "status": "ADOPTED", "settings": {"cyclePolicy": "RESET"}},
        {"version": 1, "status": "SUPERSEDED", "settings": {"cyclePolicy": "RESET"}},
        None]
    assert data["pointsSchemeVersion"] == {"version": 2}
    # No batch read of versions: one GetSchemeVersion per distinct id, shared with the by-id query.
    asked = sorted(c.request.id for c in fakes.points.GetSchemeVersion.calls)
    assert asked == sorted([old, current, unknown])


async def test_schemes_link_to_their_template_in_one_batch_call(fakes: Fakes, run: Run) -> None:
    template, hidden = new_id(), new_id()

    def scheme(title: str, template_id: str = "", region: str = VILLAGE) -> P.Scheme:
        return P.Scheme(id=new_id(), region_code=region, year=2026, subject_kind=P.SUBJECT_KIND_HOUSEHOLD,
                        title=title, template_scheme_id=template_id, create_time=STAMP, created_by="c")

    county = scheme("县级家庭积分模板", region="130123000000")
    county.id, county.is_template = template, True
    listed = [scheme("甲村方案", template), scheme("乙村方案", template), scheme("丙村方案", hidden),
              scheme("丁村方案")]
    fakes.points.answer("ListSchemes", lambda r: P.ListSchemesResponse(schemes=listed))
    fakes.points.answer("BatchGetSchemes", lambda r: P.BatchGetSchemesResponse(
        schemes=[county] if template in r.ids else []))
    data = await run("{ pointsSchemes { items { title template { title isTemplate } } } }")
    assert data["pointsSchemes"]["items"] == [
        {"title": "甲村方案", "template": {"title": "县级家庭积分模板", "isTemplate": True}},
        {"title": "乙村方案", "template": {"title": "县级家庭积分模板", "isTemplate": True}},
        {"title": "丙村方案", "template": None}, {"title": "丁村方案", "template": None}]
    (call,) = fakes.points.BatchGetSchemes.calls
    assert list(call.request.ids) == [template, hidden]


async def test_household_members_link_to_their_talent_person_in_one_batch_call(
    fakes: Fakes, run: Run
) -> None:
    wang, li = fakes.world.add_person("王建国"), fakes.world.add_person("李秀英")
    gone = new_id()

    def household(number: str, *members: tuple[str, str]) -> P.Household:
        return P.Household(id=new_id(), region_code=VILLAGE, household_number=number, head_name="户主",
                           member_count=len(members), create_time=STAMP, created_by="clerk-1",
                           status=P.HOUSEHOLD_STATUS_ACTIVE, members=[
                               P.HouseholdMember(id=new_id(), name=name, relation="家庭成员",
                                                 talent_person_id=pid) for name, pid in members])

    homes = [household("0101", ("王建国", wang.id), ("王小明", "")),
             household("0102", ("李秀英", li.id), ("李四", gone))]
    fakes.points.answer("ListHouseholds", lambda r: P.ListHouseholdsResponse(households=homes))
    data = await run("{ households { items { members { name person { name } } } } }")
    assert data["households"]["items"] == [
        {"members": [{"name": "王建国", "person": {"name": "王建国"}}, {"name": "王小明", "person": None}]},
        {"members": [{"name": "李秀英", "person": {"name": "李秀英"}}, {"name": "李四", "person": None}]}]
    (call,) = fakes.talent.BatchGetPeople.calls
    assert list(call.request.ids) == [wang.id, li.id, gone]


async def test_ranking_rows_link_to_their_accounts_in_one_batch_call(fakes: Fakes, run: Run) -> None:
    accounts = [account_for(new_id(), balance) for balance in (30, 12, 0)]
    rows = [P.RankingRow(rank=n + 1, account_id=a.id, subject=a.subject, region_code=VILLAGE,
                         display_name=a.display_name, score=30 - 10 * n) for n, a in enumerate(accounts)]
    rows.append(P.RankingRow(rank=4, account_id=new_id(), subject=household_ref(new_id()),
                             region_code=VILLAGE, display_name="外村户", score=-1))
    fakes.points.answer("ListRanking", lambda r: P.ListRankingResponse(rows=rows))
    fakes.points.answer("BatchGetAccounts", lambda r: P.BatchGetAccountsResponse(
        accounts=[a for a in accounts if a.id in r.ids]))
    data = await run(
        """{ pointsRanking(subjectKind: HOUSEHOLD, fromDate: "2026-01-01", toDate: "2026-12-31")
             { items { rank account { balance } } } }""")
    assert data["pointsRanking"]["items"] == [
        {"rank": 1, "account": {"balance": 30}}, {"rank": 2, "account": {"balance": 12}},
        {"rank": 3, "account": {"balance": 0}}, {"rank": 4, "account": None}]
    (call,) = fakes.points.BatchGetAccounts.calls
    assert list(call.request.ids) == [r.account_id for r in rows]


async def test_household_status_and_cycle_policy_are_non_null(
    fakes: Fakes, context_for: Callable[[str | None], GatewayContext], token: str
) -> None:
    types = {t.name: t for t in schema._schema.type_map.values() if hasattr(t, "fields")}
    assert str(types["Household"].fields["status"].type) == "HouseholdStatus!"
    assert str(types["SchemeSettings"].fields["cyclePolicy"].type) == "CyclePolicy!"
    # The service sets both on every record; one sent without fails only the field asked.
    home = P.Household(id=new_id(), region_code=VILLAGE, household_number="0101", head_name="王建国",
                       member_count=1, create_time=STAMP, created_by="clerk-1")
    fakes.world.households[home.id] = home
    result = await schema.execute(
        "query($h: ID!) { a: household(id: $h) { householdNumber } b: household(id: $h) { status } }",
        variable_values={"h": home.id}, context_value=context_for(f"Bearer {token}"))
    assert result.data == {"a": {"householdNumber": "0101"}, "b": None}
    assert result.errors is not None and [e.path for e in result.errors] == [["b", "status"]]
