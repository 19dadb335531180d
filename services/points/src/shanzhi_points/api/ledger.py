"""Accounts (积分账户) and the ledger (积分台账): awards, batch scoring, reversals, statements."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import date
from typing import Any

import asyncpg
import grpc
from shanzhi.points.v1 import points_pb2
from shanzhi_kit.auth import Caller
from shanzhi_kit.db import DriverPool
from shanzhi_kit.errors import (
    Aborted,
    AlreadyExists,
    InvalidArgument,
    NotFound,
    ServiceError,
    Validator,
)
from shanzhi_kit.idempotency import KeyRow
from shanzhi_kit.paging import page_of
from shanzhi_kit.values import MAX_BATCH, batch_ids, new_id, parse_date, require_id
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from shanzhi_points import domain, rules
from shanzhi_points.accounts import credit_base, open_account
from shanzhi_points.api.base import ApiBase
from shanzhi_points.api.claims import claim_reversed_event, mark_claim_reversed, posted_claim_of
from shanzhi_points.api.schemes import in_force
from shanzhi_points.api.scoring import (
    LimitLedger,
    check_day,
    check_item,
    check_scheme,
    check_subject_fits,
    rule_and_locked_account,
    signed,
)
from shanzhi_points.errors import refused, require_scope, unknown
from shanzhi_points.ledger import expiry_date, plan_credit, plan_deduct, plan_restore, plan_take_back
from shanzhi_points.messages import (
    account_message,
    batch_message,
    entry_message,
    lot_message,
    name_of,
    subject_ref,
)
from shanzhi_points.posting import AccountState, LedgerPlan
from shanzhi_points.repository import (
    ACCOUNT_FIELDS,
    PointsRepository,
    ScoringRule,
    read_for_scoring,
    rule_of,
)

REVERSIBLE = (points_pb2.ENTRY_KIND_CLAIM, points_pb2.ENTRY_KIND_AWARD, points_pb2.ENTRY_KIND_BATCH,
              points_pb2.ENTRY_KIND_BASE)


def post_scored(writer: LedgerPlan, state: AccountState, kind: int, points: int, *, scheme: Any,
                item: Any, quantity: int, day: date, valid_months: int, reason: str,
                source_id: str | None = None, batch_id: str | None = None) -> dict[str, Any]:
    """Post an item's signed points: a credit makes a lot, a deduction takes from the oldest."""
    if points > 0:
        plan = plan_credit(points)
    else:
        assert state.lots is not None, "load the lots of accounts that lose points"
        plan = plan_deduct(list(state.lots.values()), -points, writer.today)
    return writer.post(state, kind, plan, entry_date=day, year=scheme.year, scheme_id=scheme.id,
                       item_code=item.code, item_name=item.name, quantity=quantity,
                       source_id=source_id, batch_id=batch_id, reason=reason,
                       expires_on=expiry_date(day, valid_months) if points > 0 else None)


#: Reads of an account before an unlocked award gives way to the locked path.
UNLOCKED_ATTEMPTS = 3


def _award_checks(rule: ScoringRule, account: AccountState | None, scoring: domain.Scoring,
                  caller: Caller) -> tuple[Any, rules.Item, AccountState]:
    """The scheme, the item and the account of an award, each checked."""
    scheme = check_scheme(rule, caller)
    check_day(scheme, scoring.occurred_on, "occurred_on")
    item = check_item(rule.version, rule.item, scoring.item_code, scoring.occurred_on,
                      code_field="item_code", day_field="occurred_on")
    state = check_subject_fits(account, scoring.subject.kind, scheme, scoring.occurred_on, caller)
    return scheme, item, state


def _post_award(plan: LedgerPlan, key: KeyRow, rule: ScoringRule, scheme: Any, item: rules.Item,
                state: AccountState, scoring: domain.Scoring) -> points_pb2.AwardPointsResponse:
    """Post the award's entry, and its answer under the request's key; returns the answer."""
    assert rule.version is not None
    entry = post_scored(plan, state, points_pb2.ENTRY_KIND_AWARD, signed(item, scoring.quantity),
                        scheme=_SchemeView(scheme.scheme_id, scheme.year), item=item,
                        quantity=scoring.quantity, day=scoring.occurred_on,
                        valid_months=rule.version.points_valid_months, reason=scoring.note)
    response = points_pb2.AwardPointsResponse(entry=entry_message(entry, state.subject))
    plan.also_insert(key.table, key.row(response))
    return response


def batch_hash(request: points_pb2.ScoreBatchRequest) -> str:
    content = points_pb2.ScoreBatchRequest()
    content.CopyFrom(request)
    content.request_id = ""
    return hashlib.sha256(content.SerializeToString(deterministic=True)).hexdigest()


def _version_id(version: Any) -> str | None:
    return None if version is None else str(version.id)


class LedgerApi(ApiBase):
    # -- accounts -----------------------------------------------------------------------

    async def OpenAccount(
        self, request: points_pb2.OpenAccountRequest, context: grpc.aio.ServicerContext
    ) -> points_pb2.OpenAccountResponse:
        caller = self._caller()
        v = Validator()
        subject = domain.check_subject(v, "subject", request.subject, domain.PERSON_KINDS)
        domain.village(v, request.region_code)
        name = request.display_name.strip()
        v.require("display_name", name)
        v.check(len(name) <= 100, "display_name", "must be at most 100 characters")
        v.raise_if_any()
        require_scope(caller.scope, request.region_code, "region_code")
        caller.require_role(*domain.MANAGER_ROLES)

        async def work(session: AsyncSession) -> points_pb2.OpenAccountResponse:
            repo = PointsRepository(session)
            if await repo.accounts_by_subjects([(subject.kind, subject.id)]):
                raise AlreadyExists.about("subject.id", "this subject already has an account")
            writer = self._ledger(session, caller)
            try:
                async with session.begin_nested():
                    state = await open_account(
                        session, writer.events, kind=subject.kind, subject_id=subject.id,
                        region_code=request.region_code, display_name=name, now=writer.now,
                        actor=caller.subject)
            except IntegrityError:
                raise AlreadyExists.about("subject.id", "this subject already has an account") from None
            state.lots = {}
            # No source (来源): the opening is the account's own record, and the entry's
            # created_by names the clerk.
            await credit_base(writer, state, writer.today.year, writer.today, source_id=None)
            await writer.flush()
            row = (await repo.accounts_by_ids([state.id]))[state.id]
            return points_pb2.OpenAccountResponse(account=account_message(row))

        return await self._write("OpenAccount", request, points_pb2.OpenAccountResponse, work)

    async def _account_row(self, repo: PointsRepository, account_id: str,
                           subject: points_pb2.SubjectRef, *, id_field: str) -> Any:
        if account_id:
            account_id = require_id(account_id, id_field)
            row = (await repo.accounts_by_ids([account_id])).get(account_id)
        else:
            if not subject.id and not subject.kind:
                raise InvalidArgument.field(id_field, "give the account's id or its subject")
            v = Validator()
            ref = domain.check_subject(v, "subject", subject)
            v.raise_if_any()
            row = (await repo.accounts_by_subjects([(ref.kind, ref.id)])).get((ref.kind, ref.id))
        if row is None:
            raise NotFound("account", account_id or subject.id,
                           id_field if account_id else "subject.id")
        require_scope(self._caller().scope, row.region_code, id_field)
        return row

    async def GetAccount(
        self, request: points_pb2.GetAccountRequest, context: grpc.aio.ServicerContext
    ) -> points_pb2.GetAccountResponse:
        async with self._sessionmaker() as session:
            row = await self._account_row(PointsRepository(session), request.id, request.subject,
                                          id_field="id")
        # Read again after the windows close: another transaction may have posted one.
        await self._finaliser.finalise_due(account_id=row.id)
        async with self._sessionmaker() as session:
            row = (await PointsRepository(session).accounts_by_ids([row.id]))[row.id]
        return points_pb2.GetAccountResponse(account=account_message(row))

    async def BatchGetAccounts(
        self, request: points_pb2.BatchGetAccountsRequest, context: grpc.aio.ServicerContext
    ) -> points_pb2.BatchGetAccountsResponse:
        ids = batch_ids(request.ids)
        v = Validator()
        v.check(len(request.subjects) <= MAX_BATCH, "subjects", f"at most {MAX_BATCH} subjects per call")
        subjects = [domain.check_subject(v, f"subjects[{i}]", s)
                    for i, s in enumerate(request.subjects[:MAX_BATCH])]
        v.raise_if_any()
        scope = self._caller().scope
        if scope.prefix is not None:
            await self._finaliser.finalise_due(region_prefix=scope.prefix)
        async with self._sessionmaker() as session:
            repo = PointsRepository(session)
            by_id = await repo.accounts_by_ids(ids)
            by_subject = await repo.accounts_by_subjects(
                list(dict.fromkeys((s.kind, s.id) for s in subjects)))
        found = [by_id[i] for i in ids if i in by_id]
        found += [by_subject[k] for k in dict.fromkeys((s.kind, s.id) for s in subjects)
                  if k in by_subject]
        return points_pb2.BatchGetAccountsResponse(
            accounts=[account_message(r) for r in found if scope.covers(r.region_code)])

    async def ListAccounts(
        self, request: points_pb2.ListAccountsRequest, context: grpc.aio.ServicerContext
    ) -> points_pb2.ListAccountsResponse:
        page = page_of(request.page)
        v = Validator()
        domain.check_filter(v, "subject_kind", request.subject_kind, domain.SUBJECT_KINDS, "a SubjectKind")
        v.raise_if_any()
        prefix = self._caller().scope.narrow(request.region_code_prefix)
        if prefix is None:
            return points_pb2.ListAccountsResponse()
        await self._finaliser.finalise_due(region_prefix=prefix)
        async with self._sessionmaker() as session:
            rows = await PointsRepository(session).list_accounts(prefix, request.subject_kind, page)
        return points_pb2.ListAccountsResponse(
            accounts=[account_message(r) for r in rows[: page.size]],
            page_info=page.info(rows, lambda r: [r.id]))

    async def ListLots(
        self, request: points_pb2.ListLotsRequest, context: grpc.aio.ServicerContext
    ) -> points_pb2.ListLotsResponse:
        account_id = require_id(request.account_id, "account_id")
        async with self._sessionmaker() as session:
            repo = PointsRepository(session)
            await self._account_row(repo, account_id, points_pb2.SubjectRef(), id_field="account_id")
            rows = await repo.lots_of(account_id, request.include_spent)
        return points_pb2.ListLotsResponse(lots=[lot_message(r) for r in rows])

    # -- awards (直接记分) -----------------------------------------------------------------

    async def AwardPoints(
        self, request: points_pb2.AwardPointsRequest, context: grpc.aio.ServicerContext
    ) -> points_pb2.AwardPointsResponse:
        caller = self._caller()
        scheme_id, scoring = domain.check_award(request, self._clock.today())
        caller.require_role(*domain.MANAGER_ROLES)
        if self._direct:
            done = await self._award_unlocked(request, caller, scheme_id, scoring)
            if done is not None:
                return done

        async def work(session: AsyncSession, key: KeyRow) -> points_pb2.AwardPointsResponse:
            repo = PointsRepository(session)
            writer = self._ledger(session, caller)
            rule, account = await rule_and_locked_account(repo, writer, scheme_id, scoring)
            scheme, item, state = _award_checks(rule, account, scoring, caller)
            if item.limits.any:
                limits = LimitLedger()
                await limits.load(repo, [state.id], [item.code], [scoring.occurred_on])
                limits.take(state.id, item, scoring.occurred_on, scoring.quantity, "item_code")
            if signed(item, scoring.quantity) < 0:
                await writer.expire_due([state])
            response = _post_award(writer, key, rule, scheme, item, state, scoring)
            await writer.flush()
            return response

        return await self._write_key_last("AwardPoints", request, points_pb2.AwardPointsResponse, work)

    async def _award_unlocked(self, request: points_pb2.AwardPointsRequest, caller: Caller,
                              scheme_id: str, scoring: domain.Scoring
                              ) -> points_pb2.AwardPointsResponse | None:
        """An award of points read without a lock and written by one statement that applies
        only if the account is unchanged since (PostgreSQL): two round trips, no transaction.

        None leaves the award to the locked path: a deduction (it spends lots), an item
        with limits (its uses must not change meanwhile), anything the checks refuse (the
        locked path says why, or finds that this is a retry of a finished award), a request
        id already used, or an account that other writes keep changing.
        """
        key = self._writer.key_for("AwardPoints", request)
        params = {"kind": scoring.subject.kind, "subject_id": scoring.subject.id,
                  "scheme_id": scheme_id, "code": scoring.item_code, "day": scoring.occurred_on}
        async with DriverPool.of(self._engine).acquire() as raw:
            for _ in range(UNLOCKED_ATTEMPTS):
                row = await read_for_scoring().fetchrow_on(raw, params)
                if row is None:
                    return None
                rule = rule_of(row)
                account = AccountState(*[row._mapping[f"a_{f}"] for f in ACCOUNT_FIELDS])
                try:
                    scheme, item, state = _award_checks(rule, account, scoring, caller)
                except ServiceError:
                    return None
                if item.limits.any or signed(item, scoring.quantity) <= 0:
                    return None
                read = replace(state)
                plan = LedgerPlan(self._events(), caller.subject, self._clock.now(), self._clock.today())
                response = _post_award(plan, key, rule, scheme, item, state, scoring)
                sql, args = plan.guarded_credit(state, read)
                try:
                    applied = await raw.fetchval(sql, *args)
                except asyncpg.UniqueViolationError:
                    return None
                if applied:
                    self._writer.committed()
                    return response
        return None

    # -- batch scoring (批量评分) ----------------------------------------------------------

    async def ScoreBatch(
        self, request: points_pb2.ScoreBatchRequest, context: grpc.aio.ServicerContext
    ) -> points_pb2.ScoreBatchResponse:
        caller = self._caller()
        batch = domain.check_batch(request, self._clock.today())
        caller.require_role(*domain.MANAGER_ROLES)
        digest = batch_hash(request)

        async def work(session: AsyncSession) -> points_pb2.ScoreBatchResponse:
            repo = PointsRepository(session)
            scheme = check_scheme(await repo.scheme(batch.scheme_id), caller)
            existing = await repo.batch_by_key(scheme.region_code, batch.batch_key)
            if existing is not None:
                if existing.request_hash != digest:
                    raise refused("batch_key", "was already used for a batch with other lines")
                return points_pb2.ScoreBatchResponse(batch=batch_message(existing))
            if await repo.closed_schemes([scheme.id]):
                raise refused("scheme_id", f"the scheme's {scheme.year} cycle is closed (年度已结算)")
            versions = (await repo.versions_of([scheme.id])).get(scheme.id, [])
            days = sorted({line.occurred_on for line in batch.lines})
            version_on = {d: in_force(versions, d) for d in days}
            items = await repo.items_of(list({v.id for v in version_on.values() if v is not None}))
            by_code = {vid: {i.code: i for i in rows} for vid, rows in items.items()}
            v = Validator()
            resolved = []
            checked: dict[tuple[str, date], Any] = {}
            for i, line in enumerate(batch.lines):
                at = f"lines[{i}]."
                known = checked.get((line.item_code, line.occurred_on))
                if known is not None and line.subject.kind == scheme.subject_kind:
                    resolved.append((line, *known))
                    continue
                try:
                    check_day(scheme, line.occurred_on, f"{at}occurred_on")
                    version = version_on[line.occurred_on]
                    item = check_item(version, by_code.get(version.id, {}).get(line.item_code)
                                      if version is not None else None, line.item_code,
                                      line.occurred_on, code_field=f"{at}item_code",
                                      day_field=f"{at}occurred_on")
                    if line.subject.kind != scheme.subject_kind:
                        raise InvalidArgument.field(f"{at}subject.kind", "the scheme scores another "
                                                    "kind of subject")
                except InvalidArgument as exc:
                    if exc.code != grpc.StatusCode.INVALID_ARGUMENT:
                        raise
                    v.violations.extend(exc.violations)
                    if len(v.violations) >= 50:
                        break
                    continue
                assert version is not None
                checked[(line.item_code, line.occurred_on)] = (item, version.points_valid_months)
                resolved.append((line, item, version.points_valid_months))
            v.raise_if_any()
            writer = self._ledger(session, caller)
            batch_id = new_id()
            total = sum(signed(item, line.quantity) for line, item, _ in resolved)
            try:
                async with session.begin_nested():
                    await repo.add_batch(id=batch_id, region_code=scheme.region_code,
                                         batch_key=batch.batch_key, request_hash=digest,
                                         scheme_id=scheme.id, title=batch.title,
                                         entry_count=len(resolved), total_score=total,
                                         created_at=writer.now, created_by=caller.subject)
            except IntegrityError:
                raise Aborted("a batch with this key is being written right now; retry") from None
            by_subject = await writer.lock_subjects_of_kind(
                scheme.subject_kind, {line.subject.id for line, _, _ in resolved})
            # The lines were checked under the versions read before the locks; an adoption
            # that took effect meanwhile (it locks the same accounts) changes what governs.
            now_in_force = (await repo.versions_of([scheme.id])).get(scheme.id, [])
            if any(_version_id(in_force(now_in_force, d)) != _version_id(version_on[d]) for d in days):
                raise Aborted("the scheme's rules changed (方案修订) while the batch was checked; retry")
            for i, (line, _, _) in enumerate(resolved):
                check_subject_fits(by_subject.get(line.subject.id), line.subject.kind, scheme,
                                   line.occurred_on, caller, f"lines[{i}].subject")
            limited = [(line, item) for line, item, _ in resolved if item.limits.any]
            if limited:
                limits = LimitLedger()
                await limits.load(repo, list({by_subject[line.subject.id].id for line, _ in limited}),
                                  list({item.code for _, item in limited}),
                                  list({line.occurred_on for line, _ in limited}))
                for i, (line, item, _) in enumerate(resolved):
                    if item.limits.any:
                        limits.take(by_subject[line.subject.id].id, item, line.occurred_on,
                                    line.quantity, f"lines[{i}].item_code")
            losing = {by_subject[line.subject.id].id: by_subject[line.subject.id]
                      for line, item, _ in resolved if item.sign == points_pb2.ITEM_SIGN_NEGATIVE}
            if losing:
                await writer.expire_due(losing.values())

            def post_line(resolved_line: tuple[Any, rules.Item, int]) -> None:
                line, item, valid_months = resolved_line
                post_scored(writer, by_subject[line.subject.id], points_pb2.ENTRY_KIND_BATCH,
                            signed(item, line.quantity), scheme=scheme, item=item,
                            quantity=line.quantity, day=line.occurred_on, valid_months=valid_months,
                            reason=line.note or batch.title, source_id=batch_id, batch_id=batch_id)

            if losing:
                for resolved_line in resolved:
                    post_line(resolved_line)
                await writer.flush()
            else:
                await writer.post_all(resolved, post_line)
            row = await repo.batch(batch_id)
            return points_pb2.ScoreBatchResponse(batch=batch_message(row))

        return await self._write("ScoreBatch", request, points_pb2.ScoreBatchResponse, work)

    async def GetBatch(
        self, request: points_pb2.GetBatchRequest, context: grpc.aio.ServicerContext
    ) -> points_pb2.GetBatchResponse:
        batch_id = require_id(request.id)
        async with self._sessionmaker() as session:
            row = await PointsRepository(session).batch(batch_id)
        if row is None:
            raise NotFound("batch", batch_id, "id")
        require_scope(self._caller().scope, row.region_code, "id")
        return points_pb2.GetBatchResponse(batch=batch_message(row))

    # -- reversals (冲正) ------------------------------------------------------------------

    async def ReverseEntry(
        self, request: points_pb2.ReverseEntryRequest, context: grpc.aio.ServicerContext
    ) -> points_pb2.ReverseEntryResponse:
        caller = self._caller()
        v = Validator()
        entry_id = domain.check_uuid(v, "entry_id", request.entry_id)
        reason = domain.reason_text(v, "reason", request.reason)
        v.raise_if_any()
        caller.require_role(*domain.MANAGER_ROLES)

        async def work(session: AsyncSession) -> points_pb2.ReverseEntryResponse:
            repo = PointsRepository(session)
            entry = (await repo.entries_by_ids([entry_id])).get(entry_id)
            if entry is None:
                raise unknown("entry_id", "no entry has this id")
            require_scope(caller.scope, entry.region_code, "entry_id")
            if entry.kind not in REVERSIBLE:
                raise refused("entry_id", f"a {name_of(points_pb2.EntryKind, entry.kind)} entry is not "
                              "reversed: cancel a redemption; expiries and resets are final")
            if entry.scheme_id and await repo.closed_schemes([entry.scheme_id]):
                raise refused("entry_id", "the entry's scheme year is closed (年度已结算)")
            # A claim's entry: the claim shows the reversal (已冲正), in this transaction.
            claim = await posted_claim_of(repo, entry)
            writer = self._ledger(session, caller)
            state = (await writer.lock_accounts([entry.account_id]))[entry.account_id]
            # Read under the account's lock: a cycle close takes the same lock first.
            if state.closed_cycle_year is not None and entry.year <= state.closed_cycle_year:
                raise refused("entry_id", f"the entry's year {entry.year} is closed (年度已结算)")
            done = await repo.reversal_of(entry.id)
            if done is not None:
                raise refused("entry_id", f"was already reversed by entry {done.id}")
            if await writer.expire_due([state]):
                # Written now, so that what the credit's lot lost to expiry is counted below
                # whether this reversal or the expiry job expired it.
                await writer.flush()
            assert state.lots is not None
            if entry.score >= 0:
                lot = await repo.lot_made_by(entry.id)
                reserved = None if lot is None else await repo.reserved_from(entry.account_id, lot)
                if reserved is not None:
                    # Its cancellation would put the points back in the credit's lot.
                    raise refused("entry_id", f"redemption {reserved} took points from this credit and "
                                  "is still reserved: pick it up or cancel it first (兑换未完成)")
                expired = 0 if lot is None else await repo.expired_from(entry.account_id, lot)
                plan = plan_take_back(list(state.lots.values()), entry.amount, expired, writer.today,
                                      lot=lot, score=-entry.score)
            else:
                taken = await writer.moves_of(entry.id)
                await writer.load_lots_by_id(state, [lot_id for lot_id, _ in taken])
                plan = plan_restore(list(state.lots.values()), taken, writer.today, score=-entry.score)
            row = writer.post(state, points_pb2.ENTRY_KIND_REVERSAL, plan, entry_date=entry.entry_date,
                              year=entry.year, scheme_id=entry.scheme_id, item_code=entry.item_code,
                              item_name=entry.item_name, quantity=entry.quantity,
                              source_id=entry.source_id, reverses_entry_id=entry.id, reason=reason)
            if claim is not None:
                writer.events.add(claim_reversed_event(claim, row["id"]), subject=claim.id,
                                  region_code=claim.region_code)
            try:
                async with session.begin_nested():
                    await writer.flush()
            except IntegrityError:
                raise refused("entry_id", "was reversed by a concurrent request") from None
            if claim is not None:
                await mark_claim_reversed(repo, claim, row["id"], reason, caller.subject, writer.now)
            return points_pb2.ReverseEntryResponse(entry=entry_message(row, state.subject))

        return await self._write("ReverseEntry", request, points_pb2.ReverseEntryResponse, work)

    # -- statements (积分明细) -------------------------------------------------------------

    async def GetStatement(
        self, request: points_pb2.GetStatementRequest, context: grpc.aio.ServicerContext
    ) -> points_pb2.GetStatementResponse:
        page = page_of(request.page, key_types=(int,))
        start = parse_date(request.from_date, "from_date", required=False)
        end = parse_date(request.to_date, "to_date", required=False)
        if start and end and end < start:
            raise InvalidArgument.field("to_date", "must not be before from_date")
        async with self._sessionmaker() as session:
            row = await self._account_row(PointsRepository(session), request.account_id,
                                          request.subject, id_field="account_id")
        await self._finaliser.finalise_due(account_id=row.id)
        async with self._sessionmaker() as session:
            repo = PointsRepository(session)
            row = (await repo.accounts_by_ids([row.id]))[row.id]
            rows = await repo.statement(row.id, start, end, page)
        subject = subject_ref(row.subject_kind, row.subject_id)
        return points_pb2.GetStatementResponse(
            account=account_message(row),
            entries=[entry_message(r, subject) for r in rows[: page.size]],
            page_info=page.info(rows, lambda r: [r.seq]))

    async def BatchGetEntries(
        self, request: points_pb2.BatchGetEntriesRequest, context: grpc.aio.ServicerContext
    ) -> points_pb2.BatchGetEntriesResponse:
        ids = batch_ids(request.ids)
        scope = self._caller().scope
        async with self._sessionmaker() as session:
            rows = await PointsRepository(session).entries_by_ids(ids)
        return points_pb2.BatchGetEntriesResponse(entries=[
            entry_message(r, subject_ref(r.subject_kind, r.subject_id)) for r in scope.in_order(ids, rows)])


class _SchemeView:
    """The two facts of a scheme an entry records."""

    def __init__(self, scheme_id: str, year: int) -> None:
        self.id, self.year = scheme_id, year
