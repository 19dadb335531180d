"""Claims (积分申报): review (评议), publicity (公示), objections (异议), the village board,
and what a reversal (冲正) of a posted claim's entry does to the claim."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import grpc
from shanzhi.points.v1 import events_pb2, points_pb2
from shanzhi_kit.auth import Caller
from shanzhi_kit.errors import InvalidArgument, NotFound, PermissionDenied, Validator
from shanzhi_kit.paging import page_of
from shanzhi_kit.values import aware, batch_ids, format_date, new_id, require_id
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from shanzhi_points import domain
from shanzhi_points.api.base import ApiBase
from shanzhi_points.api.scoring import (
    LimitLedger,
    check_day,
    check_item,
    check_scheme,
    check_subject_fits,
    rule_and_locked_account,
    signed,
)
from shanzhi_points.errors import refused, require_scope
from shanzhi_points.messages import claim_message, name_of, subject_ref, version_message
from shanzhi_points.repository import PointsRepository

PENDING = points_pb2.CLAIM_STATUS_PENDING_REVIEW
IN_PUBLICITY = points_pb2.CLAIM_STATUS_IN_PUBLICITY
REJECTED = points_pb2.CLAIM_STATUS_REJECTED
WITHDRAWN = points_pb2.CLAIM_STATUS_WITHDRAWN
POSTED = points_pb2.CLAIM_STATUS_POSTED
REVERSED = points_pb2.CLAIM_STATUS_REVERSED
APPROVE = points_pb2.REVIEW_DECISION_APPROVE
REJECT = points_pb2.REVIEW_DECISION_REJECT
STATUS = points_pb2.ClaimStatus
DECLARED = points_pb2.CLAIM_SOURCE_DECLARED
NEGATIVE = points_pb2.ITEM_SIGN_NEGATIVE



async def posted_claim_of(repo: PointsRepository, entry: Row[Any]) -> Row[Any] | None:
    """The posted claim (已入账) whose ledger entry ``entry`` is, locked; None for any other entry.

    Called before the account is locked, the order in which windows close (claims, then
    accounts).
    """
    if entry.kind != points_pb2.ENTRY_KIND_CLAIM or not entry.source_id:
        return None
    claim = (await repo.claims_by_ids([entry.source_id], lock=True)).get(entry.source_id)
    if claim is None or claim.status != POSTED or claim.entry_id != entry.id:
        return None
    return claim


def claim_reversed_event(claim: Row[Any], reversal_entry_id: str) -> events_pb2.ClaimReversedEvent:
    return events_pb2.ClaimReversedEvent(claim_id=claim.id, entry_id=claim.entry_id,
                                         reversal_entry_id=reversal_entry_id,
                                         region_code=claim.region_code)


async def mark_claim_reversed(repo: PointsRepository, claim: Row[Any], reversal_entry_id: str,
                              reason: str, actor: str, now: datetime) -> None:
    """The claim is reversed (已冲正) by the entry ``reversal_entry_id``, and its reviews
    (评议记录, 留痕) say who reversed it and why: a line whose id is the reversing entry's."""
    await repo.update_claim(claim.id, status=REVERSED, reversal_entry_id=reversal_entry_id,
                            updated_at=now)
    await repo.add_review(id=reversal_entry_id, claim_id=claim.id, decision=REJECT,
                          reason=f"冲正 (reversed): {reason}", reviewer=actor, reviewed_at=now)


class ClaimsApi(ApiBase):
    async def _claim_messages(self, repo: PointsRepository, rows: Sequence[Row[Any]]
                              ) -> list[points_pb2.Claim]:
        ids = [r.id for r in rows]
        reviews, objections = await repo.reviews_and_objections(ids)
        accounts = await repo.accounts_by_ids(list({r.account_id for r in rows}))
        return [claim_message(r, subject_ref(accounts[r.account_id].subject_kind,
                                             accounts[r.account_id].subject_id),
                              reviews.get(r.id, []), objections.get(r.id, [])) for r in rows]

    async def _one(self, repo: PointsRepository, claim_id: str) -> points_pb2.Claim:
        row = (await repo.claims_by_ids([claim_id]))[claim_id]
        return (await self._claim_messages(repo, [row]))[0]

    async def _locked_claim(self, repo: PointsRepository, claim_id: str, caller: Caller,
                            status: int | None) -> Row[Any]:
        """The claim, locked and in the caller's scope; in ``status`` unless that is None
        (the caller then checks it with ``_require_status``)."""
        row = (await repo.claims_by_ids([claim_id], lock=True)).get(claim_id)
        if row is None:
            raise NotFound("claim", claim_id, "claim_id")
        require_scope(caller.scope, row.region_code, "claim_id")
        if status is not None:
            self._require_status(row, status)
        return row

    @staticmethod
    def _require_status(row: Row[Any], status: int) -> None:
        if row.status != status:
            raise refused("claim_id", f"the claim is {name_of(STATUS, row.status)}, "
                          f"not {name_of(STATUS, status)}")

    # -- writing ------------------------------------------------------------------------

    async def SubmitClaim(
        self, request: points_pb2.SubmitClaimRequest, context: grpc.aio.ServicerContext
    ) -> points_pb2.SubmitClaimResponse:
        caller = self._caller()
        new = domain.check_claim(request, self._clock.today())
        if new.source == points_pb2.CLAIM_SOURCE_RECORDED:
            caller.require_role(*domain.RECORDER_ROLES)
        scoring = new.scoring

        async def work(session: AsyncSession) -> points_pb2.SubmitClaimResponse:
            repo = PointsRepository(session)
            writer = self._ledger(session, caller)
            rule, account = await rule_and_locked_account(repo, writer, new.scheme_id, scoring)
            scheme = check_scheme(rule, caller)
            check_day(scheme, scoring.occurred_on, "occurred_on")
            item = check_item(rule.version, rule.item, scoring.item_code, scoring.occurred_on,
                              code_field="item_code", day_field="occurred_on")
            state = check_subject_fits(account, scoring.subject.kind, scheme, scoring.occurred_on, caller)
            if (new.source == DECLARED and item.sign == NEGATIVE
                    and not caller.has_any_role(domain.RECORDER_ROLES)):
                # Reward more than punish (以奖为主、以罚为戒): deductions are recorded by grid
                # workers and clerks, not declared by one villager against another. The error
                # names `source`, not `item_code`: the item is valid and the same deduction is
                # accepted when a recorder puts it in; what is refused is declaring it.
                raise PermissionDenied.about(
                    "source", f"item {item.code!r} deducts points: a deduction is recorded "
                    f"(CLAIM_SOURCE_RECORDED) by one of the roles {', '.join(domain.RECORDER_ROLES)}, "
                    "not declared (本人申报)")
            if item.evidence_required and not (new.evidence or new.urls):
                raise refused("evidence", f"item {item.code!r} needs evidence: {item.evidence_required}")
            if item.limits.any:
                limits = LimitLedger()
                await limits.load(repo, [state.id], [item.code], [scoring.occurred_on])
                limits.take(state.id, item, scoring.occurred_on, scoring.quantity, "item_code")
            claim_id, now = new_id(), writer.now
            points = signed(item, scoring.quantity)
            assert rule.version is not None
            await repo.add_claim(
                id=claim_id, account_id=state.id, region_code=state.region_code,
                scheme_id=scheme.scheme_id, version_id=rule.version.version_id, item_code=item.code,
                item_name=item.name, points=points, quantity=scoring.quantity,
                occurred_on=scoring.occurred_on, source=new.source, evidence=new.evidence,
                evidence_urls=new.urls, status=PENDING, publicity_ends_at=None, entry_id=None,
                created_at=now, created_by=caller.subject, updated_at=now)
            await self._outbox.add(session, events_pb2.ClaimSubmittedEvent(
                claim_id=claim_id, account_id=state.id, region_code=state.region_code,
                item_code=item.code, points=points), subject=claim_id, region_code=state.region_code)
            return points_pb2.SubmitClaimResponse(claim=await self._one(repo, claim_id))

        return await self._write("SubmitClaim", request, points_pb2.SubmitClaimResponse, work)

    async def ReviewClaim(
        self, request: points_pb2.ReviewClaimRequest, context: grpc.aio.ServicerContext
    ) -> points_pb2.ReviewClaimResponse:
        caller = self._caller()
        v = Validator()
        claim_id = domain.check_uuid(v, "claim_id", request.claim_id)
        v.check(request.decision in (APPROVE, REJECT), "decision",
                "must be REVIEW_DECISION_APPROVE or REVIEW_DECISION_REJECT")
        # The review group says why it decides, approving as much as rejecting (评议意见):
        # the claim's history answers "who reviewed, and why".
        reason = domain.reason_text(v, "reason", request.reason, required=False)
        v.check(bool(reason), "reason", "is required: say why the claim is approved or rejected "
                "(评议意见)")
        v.raise_if_any()
        caller.require_role(*domain.REVIEWER_ROLES)

        async def work(session: AsyncSession) -> points_pb2.ReviewClaimResponse:
            repo = PointsRepository(session)
            row = await self._locked_claim(repo, claim_id, caller, PENDING)
            if row.created_by == caller.subject:
                # Separation of duties (回避): whoever recorded or declared the claim does
                # not decide it; another member of the review group does.
                raise refused("claim_id", f"the claim was put in by {caller.subject}, who may not "
                              "also review it (回避): another member of the review group must")
            if await repo.open_objection_by(claim_id, caller.subject) is not None:
                # Likewise whoever objected does not decide their own objection.
                raise refused("claim_id", f"{caller.subject} has an open objection (异议) to the "
                              "claim and may not also review it (回避): another member of the "
                              "review group must")
            objected = await repo.open_objection_count(claim_id)
            now = self._clock.now()
            if request.decision == APPROVE:
                closed_on = (await repo.accounts_by_ids([row.account_id]))[row.account_id].closed_on
                if closed_on is not None and closed_on <= self._clock.today():
                    # Its points could never post (the window would close on a closed
                    # account and the claim lapse): say so now.
                    raise refused("claim_id", f"the claim's account closed on {format_date(closed_on)} "
                                  "(账户已关闭): it can only be rejected")
                version = await repo.version(row.version_id)
                assert version is not None
                ends = now + timedelta(days=version.claim_publicity_days)
                await repo.update_claim(claim_id, status=IN_PUBLICITY, publicity_ends_at=ends,
                                        updated_at=now)
                status = IN_PUBLICITY
            else:
                await repo.update_claim(claim_id, status=REJECTED, publicity_ends_at=None,
                                        updated_at=now)
                status = REJECTED
            if objected:
                await repo.resolve_objections(
                    claim_id, points_pb2.OBJECTION_STATUS_DISMISSED if request.decision == APPROVE
                    else points_pb2.OBJECTION_STATUS_UPHELD, now, caller.subject)
            await repo.add_review(id=new_id(), claim_id=claim_id, decision=request.decision,
                                  reason=reason, reviewer=caller.subject, reviewed_at=now)
            await self._outbox.add(session, events_pb2.ClaimReviewedEvent(
                claim_id=claim_id, region_code=row.region_code, decision=request.decision,
                status=status), subject=claim_id, region_code=row.region_code)
            return points_pb2.ReviewClaimResponse(claim=await self._one(repo, claim_id))

        return await self._write("ReviewClaim", request, points_pb2.ReviewClaimResponse, work)

    async def ObjectToClaim(
        self, request: points_pb2.ObjectToClaimRequest, context: grpc.aio.ServicerContext
    ) -> points_pb2.ObjectToClaimResponse:
        caller = self._caller()
        v = Validator()
        claim_id = domain.check_uuid(v, "claim_id", request.claim_id)
        reason = domain.reason_text(v, "reason", request.reason)
        v.raise_if_any()

        async def work(session: AsyncSession) -> points_pb2.ObjectToClaimResponse:
            repo = PointsRepository(session)
            # The claim's row lock orders objections to it: a second one by the same caller
            # waits here, then finds the first.
            row = await self._locked_claim(repo, claim_id, caller, None)
            mine = await repo.objection_by(claim_id, caller.subject)
            if mine is not None:
                # One objection per person per claim, and the review group's decision on it
                # stands: objecting again would send the claim back to review, and open a
                # new window, as often as one person liked.
                raised = aware(mine.raised_at).isoformat()
                if mine.status == points_pb2.OBJECTION_STATUS_OPEN:
                    raise refused("claim_id", f"{caller.subject}'s objection (异议) raised at {raised} "
                                  "is still open: the review group settles it")
                raise refused("claim_id", f"{caller.subject} objected (异议) at {raised} and the review "
                              "group decided it: one objection per person per claim")
            self._require_status(row, IN_PUBLICITY)
            now = self._clock.now()
            if aware(row.publicity_ends_at) <= now:
                raise refused("claim_id", "the publicity window has closed (公示期已满)")
            objection_id = new_id()
            await repo.add_objection(id=objection_id, claim_id=claim_id, reason=reason,
                                     raised_by=caller.subject, raised_at=now,
                                     status=points_pb2.OBJECTION_STATUS_OPEN)
            await repo.update_claim(claim_id, status=PENDING, publicity_ends_at=None, updated_at=now)
            await self._outbox.add(session, events_pb2.ClaimObjectedEvent(
                claim_id=claim_id, objection_id=objection_id, region_code=row.region_code),
                subject=claim_id, region_code=row.region_code)
            return points_pb2.ObjectToClaimResponse(claim=await self._one(repo, claim_id))

        return await self._write("ObjectToClaim", request, points_pb2.ObjectToClaimResponse, work)

    async def WithdrawClaim(
        self, request: points_pb2.WithdrawClaimRequest, context: grpc.aio.ServicerContext
    ) -> points_pb2.WithdrawClaimResponse:
        caller = self._caller()
        v = Validator()
        claim_id = domain.check_uuid(v, "claim_id", request.claim_id)
        reason = domain.reason_text(v, "reason", request.reason, required=False)
        v.raise_if_any()

        async def work(session: AsyncSession) -> points_pb2.WithdrawClaimResponse:
            repo = PointsRepository(session)
            row = await self._locked_claim(repo, claim_id, caller, PENDING)
            if row.created_by != caller.subject:
                caller.require_role(*domain.MANAGER_ROLES)
                # Withdrawing another's claim ends it as a rejection would: say why, as the
                # review group must (评议意见). Its author may withdraw it without a reason.
                if not reason:
                    raise InvalidArgument.field(
                        "reason", f"is required to withdraw a claim put in by {row.created_by} "
                        "(撤回理由): say why")
            now = self._clock.now()
            await repo.update_claim(claim_id, status=WITHDRAWN, updated_at=now)
            # Its open objections close with it. No ObjectionStatus means "closed by a
            # withdrawal"; UPHELD (异议成立) is the nearer: the claim will never post, as the
            # objection asked. DISMISSED (异议不成立) would tell the objector they were wrong.
            await repo.resolve_objections(claim_id, points_pb2.OBJECTION_STATUS_UPHELD, now,
                                          caller.subject)
            # The trace of who withdrew it and why (留痕), beside the review group's decisions.
            await repo.add_review(id=new_id(), claim_id=claim_id, decision=REJECT,
                                  reason=f"撤回 (withdrawn){': ' + reason if reason else ''}",
                                  reviewer=caller.subject, reviewed_at=now)
            await self._outbox.add(session, events_pb2.ClaimReviewedEvent(
                claim_id=claim_id, region_code=row.region_code, decision=REJECT, status=WITHDRAWN),
                subject=claim_id, region_code=row.region_code)
            return points_pb2.WithdrawClaimResponse(claim=await self._one(repo, claim_id))

        return await self._write("WithdrawClaim", request, points_pb2.WithdrawClaimResponse, work)

    # -- reading ------------------------------------------------------------------------

    async def GetClaim(
        self, request: points_pb2.GetClaimRequest, context: grpc.aio.ServicerContext
    ) -> points_pb2.GetClaimResponse:
        claim_id = require_id(request.id)
        async with self._sessionmaker() as session:
            row = (await PointsRepository(session).claims_by_ids([claim_id])).get(claim_id)
        if row is None:
            raise NotFound("claim", claim_id, "id")
        require_scope(self._caller().scope, row.region_code, "id")
        await self._finaliser.finalise_due(account_id=row.account_id)
        async with self._sessionmaker() as session:
            return points_pb2.GetClaimResponse(claim=await self._one(PointsRepository(session), claim_id))

    async def BatchGetClaims(
        self, request: points_pb2.BatchGetClaimsRequest, context: grpc.aio.ServicerContext
    ) -> points_pb2.BatchGetClaimsResponse:
        ids = batch_ids(request.ids)
        scope = self._caller().scope
        if scope.prefix is not None:
            await self._finaliser.finalise_due(region_prefix=scope.prefix)
        async with self._sessionmaker() as session:
            repo = PointsRepository(session)
            rows = await repo.claims_by_ids(ids)
            found = scope.in_order(ids, rows)
            return points_pb2.BatchGetClaimsResponse(claims=await self._claim_messages(repo, found))

    async def ListClaims(
        self, request: points_pb2.ListClaimsRequest, context: grpc.aio.ServicerContext
    ) -> points_pb2.ListClaimsResponse:
        page = page_of(request.page, key_types=(datetime, str))
        v = Validator()
        domain.check_filter(v, "status", request.status, points_pb2.ClaimStatus.values(), "a ClaimStatus")
        v.raise_if_any()
        prefix = self._caller().scope.narrow(request.region_code_prefix)
        account_id = require_id(request.account_id, "account_id") if request.account_id else ""
        if prefix is None:
            return points_pb2.ListClaimsResponse()
        await self._finaliser.finalise_due(region_prefix=prefix)
        async with self._sessionmaker() as session:
            repo = PointsRepository(session)
            rows = await repo.list_claims(prefix, request.status, account_id, page)
            return points_pb2.ListClaimsResponse(
                claims=await self._claim_messages(repo, rows[: page.size]),
                page_info=page.info(rows, lambda r: [aware(r.created_at).isoformat(), r.id]))

    async def GetPublicityBoard(
        self, request: points_pb2.GetPublicityBoardRequest, context: grpc.aio.ServicerContext
    ) -> points_pb2.GetPublicityBoardResponse:
        v = Validator()
        domain.village(v, request.region_code)
        v.raise_if_any()
        require_scope(self._caller().scope, request.region_code, "region_code")
        await self._finaliser.finalise_due(region_prefix=request.region_code)
        async with self._sessionmaker() as session:
            repo = PointsRepository(session)
            rows = await repo.board_claims(request.region_code)
            claims = await self._claim_messages(repo, rows)
            versions = await repo.versions_for_comment(request.region_code, self._clock.today())
            items = await repo.items_of([x.id for x in versions])
        return points_pb2.GetPublicityBoardResponse(
            in_publicity=[c for c in claims if c.status == IN_PUBLICITY],
            objected=[c for c in claims if c.status == PENDING],
            schemes_for_comment=[version_message(x, items.get(x.id, [])) for x in versions])
