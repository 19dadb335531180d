"""Cycles (年度结算), rankings (排名), honours (红黑榜、星级文明户), villagers'
representatives' accounts opened from talent appointments (村民代表积分量化管理), and
the sources (来源) that close, base and expiry entries point to."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, time
from typing import Any

import grpc
import pytest
from shanzhi.common.v1 import event_pb2
from shanzhi.common.v1.paging_pb2 import PageRequest
from shanzhi.points.v1 import points_pb2 as P
from shanzhi.talent.v1 import events_pb2 as talent_events
from shanzhi.talent.v1 import talent_pb2
from shanzhi_kit.events import envelope
from shanzhi_kit.pytest_plugin import rpc_error_details, wait_until
from shanzhi_kit.testing import Broker
from shanzhi_points.clock import CHINA
from shanzhi_points.tables import accounts, claims, cycle_closes, entries, messaging
from sqlalchemy import select, text, update

pytestmark = pytest.mark.postgres


def at(day: date) -> datetime:
    return datetime.combine(day, time(10), CHINA).astimezone(UTC)


async def test_a_reset_cycle_clears_the_year_and_a_carry_over_keeps_it(pk: Any) -> None:
    reset_village, carry_village = pk.village(), pk.village()
    reset = await pk.scheme(reset_village, cycle_policy=P.CYCLE_POLICY_RESET)
    carry = await pk.scheme(carry_village)
    a, b = await pk.household(reset_village), await pk.household(carry_village)
    await pk.award(pk.ref(a), reset.id, "HJ-01", quantity=3)
    await pk.award(pk.ref(b), carry.id, "HJ-01", quantity=3)
    soap = await pk.goods(reset_village, price=4)
    spent = (await pk.stub.ReserveRedemption(P.ReserveRedemptionRequest(
        request_id=pk.rid(), subject=pk.ref(a), goods_id=soap.id, quantity=1), metadata=pk.ADMIN)).redemption

    async def close(scheme: Any) -> P.CycleClose:
        return (await pk.stub.CloseCycle(P.CloseCycleRequest(request_id=pk.rid(), scheme_id=scheme.id),
                                         metadata=pk.ADMIN)).close

    with pytest.raises(grpc.aio.AioRpcError) as err:
        await close(reset)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert rpc_error_details(err.value)[0] == ("scheme_id", "the year 2025 is not over")
    pk.clock.set(at(date(2026, 1, 2)))
    closed = await close(reset)
    assert (closed.year, closed.policy, closed.accounts, closed.points_reset) == (
        2025, P.CYCLE_POLICY_RESET, 1, 11)
    assert (await pk.account(pk.ref(a))).balance == 0
    kept = await close(carry)
    assert (kept.policy, kept.points_reset) == (P.CYCLE_POLICY_CARRY_OVER, 0)
    assert (await pk.account(pk.ref(b))).balance == 15
    # Closed is closed: no second close, no scoring, no reversal into the closed year, and a
    # cancellation after the reset does not bring last year's points back.
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await close(reset)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await pk.award(pk.ref(a), reset.id, "HJ-01", occurred_on=date(2025, 12, 30))
    assert rpc_error_details(err.value)[0][0] == "scheme_id"
    back = (await pk.stub.CancelRedemption(P.CancelRedemptionRequest(
        request_id=pk.rid(), redemption_id=spent.id, reason="取消"), metadata=pk.ADMIN)).redemption
    assert back.status == P.REDEMPTION_STATUS_CANCELLED
    assert (await pk.account(pk.ref(a))).balance == 0
    statement = await pk.stub.GetStatement(P.GetStatementRequest(subject=pk.ref(a)), metadata=pk.ADMIN)
    assert [(e.kind, e.amount) for e in statement.entries] == [
        (P.ENTRY_KIND_AWARD, 15), (P.ENTRY_KIND_REDEMPTION, -4), (P.ENTRY_KIND_CYCLE_CLOSE, -11),
        (P.ENTRY_KIND_REDEMPTION_CANCEL, 0)]
    # Each entry names its source (来源): the reset names the close.
    assert [e.source_id for e in statement.entries] == ["", spent.id, closed.id, spent.id]


@pytest.mark.parametrize("item_code", ["HJ-01", "YF-01"], ids=["unlocked credit", "locked deduction"])
async def test_an_award_that_waited_for_the_close_finds_the_cycle_closed(pk: Any, item_code: str) -> None:
    village = pk.village()
    scheme = await pk.scheme(village)
    home = await pk.household(village)
    await pk.award(pk.ref(home), scheme.id, "HJ-01", quantity=4)
    pk.clock.set(at(date(2026, 1, 2)))
    # Hold the account's row lock as a close does while the award starts: the award has read
    # the cycle as open and waits; then the close's rows commit.
    async with pk.host.engine.connect() as conn:
        close = await conn.begin()
        await conn.execute(select(accounts.c.id).where(accounts.c.id == home.account_id).with_for_update())
        award = asyncio.ensure_future(pk.award(pk.ref(home), scheme.id, item_code,
                                               occurred_on=date(2025, 12, 30)))
        await wait_until(lambda: _waiting_on_a_lock(pk), within=10)
        await conn.execute(cycle_closes.insert().values(
            id=str(uuid.uuid4()), scheme_id=scheme.id, year=2025, policy=P.CYCLE_POLICY_CARRY_OVER,
            accounts=1, points_reset=0, base_scores_opened=0, closed_at=datetime.now(UTC),
            closed_by="tester"))
        await conn.execute(update(accounts).where(accounts.c.id == home.account_id)
                           .values(closed_cycle_year=2025))
        await close.commit()
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await award
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert rpc_error_details(err.value)[0] == ("scheme_id", "the scheme's 2025 cycle is closed (年度已结算)")
    assert (await pk.account(pk.ref(home))).balance == 20
    assert await pk.count(entries, entries.c.account_id == home.account_id) == 1


async def test_a_close_waits_for_a_claim_being_submitted_and_then_refuses(pk: Any) -> None:
    village = pk.village()
    scheme = await pk.scheme(village)
    home = await pk.household(village)
    version = (await pk.stub.GetScheme(P.GetSchemeRequest(id=scheme.id), metadata=pk.ADMIN)).scheme
    pk.clock.set(at(date(2026, 1, 2)))
    # A claim submission holds the account's lock until its claim row commits (as here).
    async with pk.host.engine.connect() as conn:
        submitting = await conn.begin()
        await conn.execute(select(accounts.c.id).where(accounts.c.id == home.account_id).with_for_update())
        close = asyncio.ensure_future(pk.stub.CloseCycle(
            P.CloseCycleRequest(request_id=pk.rid(), scheme_id=scheme.id), metadata=pk.ADMIN))
        await wait_until(lambda: _waiting_on_a_lock(pk), within=10)
        now = datetime.now(UTC)
        await conn.execute(claims.insert().values(
            id=str(uuid.uuid4()), account_id=home.account_id, region_code=village, scheme_id=scheme.id,
            version_id=version.current_version.id, item_code="HJ-01", item_name="庭院整洁", points=5,
            quantity=1, occurred_on=date(2025, 12, 30), source=P.CLAIM_SOURCE_RECORDED, evidence="",
            evidence_urls=[], status=P.CLAIM_STATUS_PENDING_REVIEW, created_at=now, created_by="tester",
            updated_at=now))
        await submitting.commit()
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await close
    assert rpc_error_details(err.value)[0] == ("scheme_id", "1 claims are still in review or publicity")
    assert await pk.count(cycle_closes, cycle_closes.c.scheme_id == scheme.id) == 0


async def _waiting_on_a_lock(pk: Any) -> bool:
    async with pk.host.engine.connect() as conn:
        waiting = (await conn.execute(text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock'"))).scalar_one()
    return bool(waiting)


async def test_a_cycle_with_claims_pending_cannot_close(pk: Any) -> None:
    village = pk.village()
    scheme = await pk.scheme(village)
    home = await pk.household(village)
    await pk.stub.SubmitClaim(P.SubmitClaimRequest(
        request_id=pk.rid(), subject=pk.ref(home), scheme_id=scheme.id, item_code="HJ-01",
        occurred_on=pk.TODAY.isoformat(), source=P.CLAIM_SOURCE_RECORDED), metadata=pk.ADMIN)
    pk.clock.set(at(date(2026, 1, 2)))
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await pk.stub.CloseCycle(P.CloseCycleRequest(request_id=pk.rid(), scheme_id=scheme.id),
                                 metadata=pk.ADMIN)
    assert rpc_error_details(err.value)[0] == (
        "scheme_id", "1 claims are still in review or publicity")


async def test_rankings_share_places_and_honour_boards_pick_red_black_and_stars(pk: Any) -> None:
    village = pk.village()
    scheme = await pk.scheme(village, red_list_size=2, black_list_size=2, star_thresholds=[10, 20])
    homes = [await pk.household(village, head=f"户主{i}") for i in range(5)]
    for home, quantity in zip(homes[:3], (4, 2, 2), strict=True):
        await pk.award(pk.ref(home), scheme.id, "HJ-01", quantity=quantity)
    await pk.award(pk.ref(homes[4]), scheme.id, "YF-01")
    ranking = await pk.stub.ListRanking(P.ListRankingRequest(
        region_code_prefix=village, subject_kind=P.SUBJECT_KIND_HOUSEHOLD, from_date="2025-01-01",
        to_date="2025-12-31"), metadata=pk.ADMIN)
    assert [(r.rank, r.score) for r in ranking.rows] == [(1, 20), (2, 10), (2, 10), (4, 0), (5, -10)]
    assert ranking.rows[0].account_id == homes[0].account_id
    paged, token = [], ""
    while True:
        page = await pk.stub.ListRanking(P.ListRankingRequest(
            region_code_prefix=village, subject_kind=P.SUBJECT_KIND_HOUSEHOLD, from_date="2025-01-01",
            to_date="2025-12-31", page=PageRequest(page_size=2, page_token=token)), metadata=pk.ADMIN)
        paged += [(r.rank, r.account_id) for r in page.rows]
        token = page.page_info.next_page_token
        if not token:
            break
    assert paged == [(r.rank, r.account_id) for r in ranking.rows]
    board = await pk.stub.GetHonourBoard(P.GetHonourBoardRequest(scheme_id=scheme.id), metadata=pk.ADMIN)
    # Two places on the red list; the second is shared (并列), so it is shown whole.
    assert [r.score for r in board.red_list] == [20, 10, 10]
    assert [(r.account_id, r.score) for r in board.black_list] == [(homes[4].account_id, -10)]
    assert [(r.stars, r.score) for r in board.starred] == [(2, 20), (1, 10), (1, 10)]
    # Redemptions spend the balance, not the score.
    soap = await pk.goods(village, price=5)
    await pk.stub.ReserveRedemption(P.ReserveRedemptionRequest(
        request_id=pk.rid(), subject=pk.ref(homes[0]), goods_id=soap.id, quantity=3), metadata=pk.ADMIN)
    again = await pk.stub.GetHonourBoard(P.GetHonourBoardRequest(scheme_id=scheme.id), metadata=pk.ADMIN)
    assert again.red_list[0].score == 20
    township = await pk.stub.ListRanking(P.ListRankingRequest(
        region_code_prefix=village[:9], subject_kind=P.SUBJECT_KIND_HOUSEHOLD, from_date="2025-06-01",
        to_date="2025-06-30", page=PageRequest(page_size=500)), metadata=pk.ADMIN)
    assert {r.account_id for r in ranking.rows} <= {r.account_id for r in township.rows}


async def test_a_representative_appointment_opens_an_account_at_100_exactly_once(
        pk: Any, broker: Broker) -> None:
    village = pk.village()
    person = str(uuid.uuid4())
    appointed = talent_events.PersonAppointedEvent(
        post_id=str(uuid.uuid4()), person_id=person, region_code=village,
        role=talent_pb2.POST_ROLE_VILLAGER_REPRESENTATIVE, start_date="2024-01-15", person_name="李秀英")
    other_role = talent_events.PersonAppointedEvent(
        post_id=str(uuid.uuid4()), person_id=str(uuid.uuid4()), region_code=village,
        role=talent_pb2.POST_ROLE_GRID_WORKER, start_date="2024-01-15", person_name="王志强")
    no_post = talent_events.PersonAppointedEvent(
        person_id=str(uuid.uuid4()), region_code=village,
        role=talent_pb2.POST_ROLE_VILLAGER_REPRESENTATIVE, start_date="2024-01-15", person_name="周敏")
    # The clerk who made the appointment in talent is who caused the account and its base.
    first = envelope(appointed, source="shanzhi.talent", subject=person, region_code=village,
                     actor="talent-clerk-7")
    replay = envelope(appointed, source="shanzhi.talent", subject=person, region_code=village,
                      actor="talent-clerk-7")
    refused = envelope(no_post, source="shanzhi.talent", subject=no_post.person_id, region_code=village)
    await broker.publish("shanzhi.talent.v1", first, first, replay, envelope(
        other_role, source="shanzhi.talent", subject=other_role.person_id, region_code=village), refused)
    subject = P.SubjectRef(kind=P.SUBJECT_KIND_REPRESENTATIVE, id=person)
    account = None
    for _ in range(150):
        try:
            account = await pk.account(subject)
            break
        except grpc.aio.AioRpcError:
            await asyncio.sleep(0.1)
    assert account is not None, "the representative's account was not opened"
    assert (account.balance, account.display_name, account.region_code) == (100, "李秀英", village)
    inbox = messaging.inbox

    async def refused_recorded() -> bool:
        return await pk.count(inbox, inbox.c.event_id == refused.id) == 1

    await wait_until(refused_recorded, within=30)
    await asyncio.sleep(1.0)
    async with pk.host.engine.connect() as conn:
        rows = (await conn.execute(select(entries.c.kind, entries.c.year, entries.c.amount,
                                          entries.c.source_id, entries.c.created_by).where(
            entries.c.account_id == account.id))).all()
        opened_by = (await conn.execute(select(accounts.c.created_by).where(
            accounts.c.id == account.id))).scalar_one()
        opened = (await conn.execute(select(messaging.outbox.c.payload).where(
            messaging.outbox.c.event_type == "shanzhi.points.v1.AccountOpenedEvent",
            messaging.outbox.c.key == account.id))).all()
        rejected = (await conn.execute(select(inbox.c.outcome, inbox.c.detail).where(
            inbox.c.event_id == refused.id))).one()
    # The base score points to the appointment (任职): talent's post, not the event.
    assert [tuple(r) for r in rows] == [(P.ENTRY_KIND_BASE, 2025, 100, appointed.post_id, "talent-clerk-7")]
    assert opened_by == "talent-clerk-7"
    statement = await pk.stub.GetStatement(P.GetStatementRequest(subject=subject), metadata=pk.ADMIN)
    assert [(e.kind, e.source_id) for e in statement.entries] == [(P.ENTRY_KIND_BASE, appointed.post_id)]
    # An appointment without a post has nothing to point to: refused, no account.
    assert rejected.outcome == "rejected" and "data.post_id" in rejected.detail
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await pk.account(P.SubjectRef(kind=P.SUBJECT_KIND_REPRESENTATIVE, id=no_post.person_id))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    # The event names who the account and its entry name: the clerk, not the service.
    assert len(opened) == 1
    assert event_pb2.EventEnvelope.FromString(opened[0].payload).actor == "talent-clerk-7"
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await pk.account(P.SubjectRef(kind=P.SUBJECT_KIND_REPRESENTATIVE, id=other_role.person_id))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND

    # The term ends (出缺): nothing counts after its last day.
    scheme = await pk.scheme(village, kind=P.SUBJECT_KIND_REPRESENTATIVE, items=(
        pk.item("JF-01", 3, category=P.ITEM_CATEGORY_REPRESENTATIVE_DUTY, name="收集反映社情民意"),))
    ended = talent_events.PostEndedEvent(
        post_id=appointed.post_id, person_id=person, region_code=village,
        role=talent_pb2.POST_ROLE_VILLAGER_REPRESENTATIVE, start_date="2024-01-15",
        end_date="2025-06-10", person_name="李秀英")
    await broker.publish("shanzhi.talent.v1", envelope(ended, source="shanzhi.talent", subject=person,
                                                       region_code=village))
    assert (await pk.award(subject, scheme.id, "JF-01", occurred_on=date(2025, 6, 1))).amount == 3
    for _ in range(100):
        try:
            await pk.award(subject, scheme.id, "JF-01", occurred_on=date(2025, 6, 12))
        except grpc.aio.AioRpcError as exc:
            assert exc.code() == grpc.StatusCode.FAILED_PRECONDITION
            assert rpc_error_details(exc)[0] == ("subject.id", "the account closed on 2025-06-10")
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("the account stayed open after the term ended")
    assert (await pk.account(subject)).closed_on == "2025-06-10"


async def test_representatives_start_each_year_at_their_base_score(pk: Any) -> None:
    village = pk.village()
    scheme = await pk.scheme(village, kind=P.SUBJECT_KIND_REPRESENTATIVE, items=(
        pk.item("FM-01", 5, sign=P.ITEM_SIGN_NEGATIVE, category=P.ITEM_CATEGORY_REPRESENTATIVE_DUTY,
                name="无故不参加村民代表会议"),
        pk.item("JF-01", 3, category=P.ITEM_CATEGORY_REPRESENTATIVE_DUTY, name="收集反映社情民意")))
    assert scheme.current_version.settings.base_score == 100
    rep = P.SubjectRef(kind=P.SUBJECT_KIND_REPRESENTATIVE, id=str(uuid.uuid4()))
    opened = (await pk.stub.OpenAccount(P.OpenAccountRequest(
        request_id=pk.rid(), subject=rep, region_code=village, display_name="赵国庆"),
        metadata=pk.ADMIN)).account
    assert opened.balance == 100
    await pk.award(rep, scheme.id, "FM-01", quantity=2)
    await pk.award(rep, scheme.id, "JF-01")
    assert (await pk.account(rep)).balance == 93
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await pk.stub.OpenAccount(P.OpenAccountRequest(
            request_id=pk.rid(), subject=rep, region_code=village, display_name="赵国庆"),
            metadata=pk.ADMIN)
    assert err.value.code() == grpc.StatusCode.ALREADY_EXISTS
    pk.clock.set(at(date(2026, 1, 3)))
    closed = (await pk.stub.CloseCycle(P.CloseCycleRequest(request_id=pk.rid(), scheme_id=scheme.id),
                                       metadata=pk.ADMIN)).close
    assert (closed.policy, closed.points_reset, closed.base_scores_opened) == (
        P.CYCLE_POLICY_RESET, 93, 1)
    statement = await pk.stub.GetStatement(P.GetStatementRequest(subject=rep), metadata=pk.ADMIN)
    assert [(e.kind, e.year, e.amount) for e in statement.entries][-2:] == [
        (P.ENTRY_KIND_CYCLE_CLOSE, 2025, -93), (P.ENTRY_KIND_BASE, 2026, 100)]
    assert statement.account.balance == 100
    # The close's reset and the next year's base point to the close; the base of an account a
    # clerk opened has no source.
    assert [(e.kind, e.year, e.source_id) for e in statement.entries
            if e.kind in (P.ENTRY_KIND_BASE, P.ENTRY_KIND_CYCLE_CLOSE)] == [
        (P.ENTRY_KIND_BASE, 2025, ""), (P.ENTRY_KIND_CYCLE_CLOSE, 2025, closed.id),
        (P.ENTRY_KIND_BASE, 2026, closed.id)]


async def test_an_entry_of_a_closed_year_is_not_reversed_even_without_a_scheme(pk: Any) -> None:
    village = pk.village()
    rep = P.SubjectRef(kind=P.SUBJECT_KIND_REPRESENTATIVE, id=str(uuid.uuid4()))
    # Opened before the village had a representatives' scheme: the base has no scheme.
    await pk.stub.OpenAccount(P.OpenAccountRequest(
        request_id=pk.rid(), subject=rep, region_code=village, display_name="钱学文"), metadata=pk.ADMIN)
    [base] = (await pk.stub.GetStatement(P.GetStatementRequest(subject=rep), metadata=pk.ADMIN)).entries
    assert (base.kind, base.year, base.scheme_id) == (P.ENTRY_KIND_BASE, 2025, "")
    scheme = await pk.scheme(village, kind=P.SUBJECT_KIND_REPRESENTATIVE, items=(
        pk.item("JF-01", 3, category=P.ITEM_CATEGORY_REPRESENTATIVE_DUTY, name="收集反映社情民意"),))
    pk.clock.set(at(date(2026, 1, 3)))
    await pk.stub.CloseCycle(P.CloseCycleRequest(request_id=pk.rid(), scheme_id=scheme.id), metadata=pk.ADMIN)
    before = (await pk.account(rep)).balance
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await pk.stub.ReverseEntry(P.ReverseEntryRequest(
            request_id=pk.rid(), entry_id=base.id, reason="误开账户"), metadata=pk.ADMIN)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert rpc_error_details(err.value) == [("entry_id", "the entry's year 2025 is closed (年度已结算)")]
    assert (await pk.account(rep)).balance == before


async def test_expiries_at_a_close_point_to_the_credit_whose_lot_expired(pk: Any) -> None:
    village = pk.village()
    scheme = await pk.scheme(village, cycle_policy=P.CYCLE_POLICY_RESET, points_valid_months=1)
    home = await pk.household(village)
    old = await pk.award(pk.ref(home), scheme.id, "HJ-01", occurred_on=date(2025, 5, 20))
    pk.clock.set(at(date(2025, 12, 20)))
    await pk.award(pk.ref(home), scheme.id, "HJ-01", quantity=2, occurred_on=date(2025, 12, 20))
    pk.clock.set(at(date(2026, 1, 2)))
    closed = (await pk.stub.CloseCycle(P.CloseCycleRequest(request_id=pk.rid(), scheme_id=scheme.id),
                                       metadata=pk.ADMIN)).close
    assert closed.points_reset == 10
    statement = await pk.stub.GetStatement(P.GetStatementRequest(subject=pk.ref(home)), metadata=pk.ADMIN)
    # The lot of May 20 expired (积分过期) by the close, or before it without anyone asking:
    # its expiry names the award that made the lot; the December lot is reset by the close
    # and that entry names the close.
    assert {(e.kind, e.amount): e.source_id for e in statement.entries} == {
        (P.ENTRY_KIND_AWARD, 5): "", (P.ENTRY_KIND_EXPIRY, -5): old.id, (P.ENTRY_KIND_AWARD, 10): "",
        (P.ENTRY_KIND_CYCLE_CLOSE, -10): closed.id}
    assert len(statement.entries) == 4


async def test_a_party_members_base_score_points_to_the_person(pk: Any, broker: Broker) -> None:
    village = pk.village()
    await pk.scheme(village, kind=P.SUBJECT_KIND_PARTY_MEMBER, base_score=60, items=(
        pk.item("DY-01", 2, category=P.ITEM_CATEGORY_PARTY_DUTY, name="按时参加组织生活"),))
    member = talent_events.PersonRegisteredEvent(
        person_id=str(uuid.uuid4()), region_code=village, party_member=True, person_name="吴国庆")
    await broker.publish("shanzhi.talent.v1", envelope(
        member, source="shanzhi.talent", subject=member.person_id, region_code=village))
    subject = P.SubjectRef(kind=P.SUBJECT_KIND_PARTY_MEMBER, id=member.person_id)

    async def opened() -> bool:
        return await pk.count(accounts, accounts.c.subject_id == member.person_id) == 1

    await wait_until(opened, within=30)
    statement = await pk.stub.GetStatement(P.GetStatementRequest(subject=subject), metadata=pk.ADMIN)
    # Registration (人员登记) carries no id but the person's: talent's record of the member.
    assert [(e.kind, e.amount, e.source_id) for e in statement.entries] == [
        (P.ENTRY_KIND_BASE, 60, member.person_id)]


async def test_cycles_close_in_turn_and_a_draft_that_was_never_adopted_does_not_hold_them_up(
        pk: Any) -> None:
    village = pk.village()
    this_year = await pk.scheme(village, year=2025, effective_from=date(2025, 1, 1))
    next_year = await pk.scheme(village, year=2026, effective_from=date(2026, 1, 1))
    home = await pk.household(village)
    await pk.award(pk.ref(home), this_year.id, "HJ-01")
    # Another kind of subject's scheme that only ever was a draft has no cycle to close.
    await pk.stub.CreateScheme(P.CreateSchemeRequest(
        request_id=pk.rid(), region_code=village, year=2025, subject_kind=P.SUBJECT_KIND_PERSON,
        title="2025年个人积分方案", items=list(pk.DEFAULT_ITEMS)), metadata=pk.ADMIN)
    pk.clock.set(at(date(2027, 1, 4)))

    def close(scheme: Any) -> Any:
        return pk.stub.CloseCycle(P.CloseCycleRequest(request_id=pk.rid(), scheme_id=scheme.id),
                                  metadata=pk.ADMIN)

    # 2026 waits for 2025, and the refusal changes nothing: 2025 can still be scored.
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await close(next_year)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert rpc_error_details(err.value)[0] == (
        "scheme_id", "the 2025 cycle of this village's scheme is not closed yet; close it first")
    assert await pk.count(cycle_closes, cycle_closes.c.scheme_id == next_year.id) == 0
    await pk.award(pk.ref(home), this_year.id, "HJ-01", occurred_on=date(2025, 12, 31))
    assert (await close(this_year)).close.year == 2025
    assert (await close(next_year)).close.year == 2026
    assert await pk.count(accounts, accounts.c.id == home.account_id,
                          accounts.c.closed_cycle_year == 2026) == 1


async def test_no_one_is_on_both_the_red_and_the_black_list(pk: Any) -> None:
    village = pk.village()
    scheme = await pk.scheme(village, red_list_size=5, black_list_size=5, black_list_below=12)
    homes = [await pk.household(village) for _ in range(3)]
    for home, quantity in zip(homes, (3, 2, 1), strict=True):  # 15, 10 and 5 points
        await pk.award(pk.ref(home), scheme.id, "HJ-01", quantity=quantity)
    board = await pk.stub.GetHonourBoard(P.GetHonourBoardRequest(scheme_id=scheme.id), metadata=pk.ADMIN)
    assert [r.score for r in board.red_list] == [15]
    assert [r.score for r in board.black_list] == [5, 10]


async def test_a_schemes_board_is_for_a_period_of_its_year(pk: Any) -> None:
    scheme = await pk.scheme(pk.village())
    for change, field in (({"from_date": "2026-01-01", "to_date": "2026-03-31"}, "from_date"),
                          ({"from_date": "2024-10-01", "to_date": "2024-12-31"}, "to_date")):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await pk.stub.GetHonourBoard(P.GetHonourBoardRequest(scheme_id=scheme.id, **change),
                                         metadata=pk.ADMIN)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert [f for f, _ in rpc_error_details(err.value)] == [field]


async def test_a_schemes_ranking_counts_each_representatives_base_however_it_was_credited(
        pk: Any) -> None:
    village = pk.village()
    early = P.SubjectRef(kind=P.SUBJECT_KIND_REPRESENTATIVE, id=str(uuid.uuid4()))
    # Opened before the village had a representatives' scheme: its base carries no scheme.
    await pk.stub.OpenAccount(P.OpenAccountRequest(
        request_id=pk.rid(), subject=early, region_code=village, display_name="孙立新"), metadata=pk.ADMIN)
    scheme = await pk.scheme(village, kind=P.SUBJECT_KIND_REPRESENTATIVE, items=(
        pk.item("JF-01", 3, category=P.ITEM_CATEGORY_REPRESENTATIVE_DUTY, name="收集反映社情民意"),))
    late = P.SubjectRef(kind=P.SUBJECT_KIND_REPRESENTATIVE, id=str(uuid.uuid4()))
    await pk.stub.OpenAccount(P.OpenAccountRequest(
        request_id=pk.rid(), subject=late, region_code=village, display_name="周建华"), metadata=pk.ADMIN)
    await pk.award(early, scheme.id, "JF-01")
    ranking = await pk.stub.ListRanking(P.ListRankingRequest(scheme_id=scheme.id), metadata=pk.ADMIN)
    assert [(r.display_name, r.score) for r in ranking.rows] == [("孙立新", 103), ("周建华", 100)]


async def test_a_close_opens_the_next_year_at_the_base_even_before_its_scheme_is_adopted(
        pk: Any) -> None:
    village = pk.village()
    scheme = await pk.scheme(village, base_score=60, cycle_policy=P.CYCLE_POLICY_CARRY_OVER)
    home = await pk.household(village)
    await pk.award(pk.ref(home), scheme.id, "HJ-01")
    pk.clock.set(at(date(2026, 1, 3)))  # no 2026 household scheme yet
    closed = (await pk.stub.CloseCycle(P.CloseCycleRequest(request_id=pk.rid(), scheme_id=scheme.id),
                                       metadata=pk.ADMIN)).close
    assert closed.base_scores_opened == 1
    statement = await pk.stub.GetStatement(P.GetStatementRequest(subject=pk.ref(home)), metadata=pk.ADMIN)
    base = statement.entries[-1]
    assert (base.kind, base.year, base.amount, base.source_id) == (P.ENTRY_KIND_BASE, 2026, 60, closed.id)
