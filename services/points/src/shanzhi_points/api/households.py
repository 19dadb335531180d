"""Households (农户) of the village rosters (一户一档): members, moves out and back
(整户迁出, 回迁), changes of head (户主变更), and their accounts."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import grpc
from shanzhi.points.v1 import events_pb2, points_pb2
from shanzhi_kit.errors import AlreadyExists, NotFound
from shanzhi_kit.paging import page_of
from shanzhi_kit.values import batch_ids, format_date, new_id, require_id
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from shanzhi_points import domain
from shanzhi_points.accounts import credit_base, open_account, set_closed_on
from shanzhi_points.api.base import ApiBase
from shanzhi_points.errors import refused, require_scope, unknown
from shanzhi_points.messages import head_change_message, household_message, member_message
from shanzhi_points.repository import PointsRepository

ACTIVE = points_pb2.HOUSEHOLD_STATUS_ACTIVE
MOVED_OUT = points_pb2.HOUSEHOLD_STATUS_MOVED_OUT


def _number_taken(new: domain.NewHousehold) -> AlreadyExists:
    return AlreadyExists.about(
        "household_number", f"{new.household_number!r} already exists in village {new.region_code}")


async def _not_in_another_household(repo: PointsRepository, talent_person_id: str) -> None:
    """A person is a current member (在册成员) of one household at most."""
    home = (await repo.current_households_of([talent_person_id])).get(talent_person_id)
    if home is not None:
        raise AlreadyExists.about(
            "talent_person_id", f"the person is a current member of household {home.household_number} "
            f"in village {home.region_code}: record them leaving it first (成员迁出)")


async def _members_not_elsewhere(repo: PointsRepository, members: list[Any]) -> None:
    """Members coming back with their household (回迁) are not current members of another
    household meanwhile: the first who is one refuses the whole return."""
    homes = await repo.current_households_of([m.talent_person_id for m in members if m.talent_person_id])
    for member in members:
        home = homes.get(member.talent_person_id) if member.talent_person_id else None
        if home is not None:
            raise AlreadyExists.about(
                "household_id", f"member {member.name} ({member.id}) is now a current member of "
                f"household {home.household_number} ({home.id}) in village {home.region_code}: "
                "record them leaving it first (成员迁出)")


def household_display_name(number: str, head: str) -> str:
    return f"{number} {head}"[:100]


class HouseholdsApi(ApiBase):
    async def _household(self, repo: PointsRepository, household_id: str) -> points_pb2.Household:
        row = (await repo.households_by_ids([household_id]))[household_id]
        members = await repo.members_of([household_id])
        account = await repo.household_account_ids([household_id])
        changes = await repo.head_changes_of([household_id])
        return household_message(row, members.get(household_id, []), account.get(household_id, ""),
                                 changes.get(household_id, []))

    async def CreateHousehold(
        self, request: points_pb2.CreateHouseholdRequest, context: grpc.aio.ServicerContext
    ) -> points_pb2.CreateHouseholdResponse:
        caller = self._caller()
        new = domain.check_new_household(request)
        require_scope(caller.scope, new.region_code, "region_code")
        caller.require_role(*domain.MANAGER_ROLES)

        async def work(session: AsyncSession) -> points_pb2.CreateHouseholdResponse:
            repo = PointsRepository(session)
            if await repo.household_number_taken(new.region_code, new.household_number):
                raise _number_taken(new)
            household_id, now = new_id(), self._clock.now()
            row = dict(
                id=household_id, region_code=new.region_code,
                household_number=new.household_number, head_name=new.head_name,
                member_count=new.member_count, villager_group=new.villager_group,
                created_at=now, created_by=caller.subject, status=ACTIVE, moved_out_on=None,
                move_out_reason="", head_member_id=None,
            )
            try:
                async with session.begin_nested():
                    await repo.add_household(**row)
            except IntegrityError:
                # A concurrent creation with the same number committed first.
                raise _number_taken(new) from None
            writer = self._ledger(session, caller)
            writer.events.add(
                events_pb2.HouseholdCreatedEvent(
                    household_id=household_id, region_code=new.region_code,
                    household_number=new.household_number,
                ),
                subject=household_id, region_code=new.region_code,
            )
            state = await open_account(
                session, writer.events, kind=points_pb2.SUBJECT_KIND_HOUSEHOLD, subject_id=household_id,
                region_code=new.region_code,
                display_name=household_display_name(new.household_number, new.head_name),
                now=now, actor=caller.subject)
            # The year's base score (年度基础分), if the village's household scheme sets one, as
            # every household already on the roster got it when the year opened.
            state.lots = {}
            await credit_base(writer, state, writer.today.year, writer.today, source_id=None)
            await writer.flush()
            return points_pb2.CreateHouseholdResponse(
                household=household_message(SimpleNamespace(**row), account_id=state.id))

        return await self._write("CreateHousehold", request, points_pb2.CreateHouseholdResponse, work)

    async def GetHousehold(
        self, request: points_pb2.GetHouseholdRequest, context: grpc.aio.ServicerContext
    ) -> points_pb2.GetHouseholdResponse:
        household_id = require_id(request.id)
        async with self._sessionmaker() as session:
            repo = PointsRepository(session)
            row = (await repo.households_by_ids([household_id])).get(household_id)
            if row is None:
                raise NotFound("household", household_id, "id")
            require_scope(self._caller().scope, row.region_code, "id")
            return points_pb2.GetHouseholdResponse(household=await self._household(repo, household_id))

    async def BatchGetHouseholds(
        self, request: points_pb2.BatchGetHouseholdsRequest, context: grpc.aio.ServicerContext
    ) -> points_pb2.BatchGetHouseholdsResponse:
        ids = batch_ids(request.ids)
        scope = self._caller().scope
        async with self._sessionmaker() as session:
            repo = PointsRepository(session)
            rows = await repo.households_by_ids(ids)
            found = [r.id for r in scope.in_order(ids, rows)]
            members = await repo.members_of(found)
            account_ids = await repo.household_account_ids(found)
            changes = await repo.head_changes_of(found)
        return points_pb2.BatchGetHouseholdsResponse(
            households=[household_message(rows[i], members.get(i, []), account_ids.get(i, ""),
                                          changes.get(i, []))
                        for i in found]
        )

    async def ListHouseholds(
        self, request: points_pb2.ListHouseholdsRequest, context: grpc.aio.ServicerContext
    ) -> points_pb2.ListHouseholdsResponse:
        page = page_of(request.page)
        prefix = self._caller().scope.narrow(request.region_code_prefix)
        if prefix is None:
            return points_pb2.ListHouseholdsResponse()
        async with self._sessionmaker() as session:
            repo = PointsRepository(session)
            rows = (await repo.list_households(prefix, page))
            shown = rows[: page.size]
            members = await repo.members_of([r.id for r in shown])
            account_ids = await repo.household_account_ids([r.id for r in shown])
            changes = await repo.head_changes_of([r.id for r in shown])
        return points_pb2.ListHouseholdsResponse(
            households=[household_message(r, members.get(r.id, []), account_ids.get(r.id, ""),
                                          changes.get(r.id, []))
                        for r in shown],
            page_info=page.info(rows, lambda r: [r.id]),
        )

    async def _locked_household(self, repo: PointsRepository, household_id: str, field: str, *,
                                moved_out: bool = False) -> Any:
        """The household, locked: on the roster (在册), or moved out when ``moved_out``."""
        row = (await repo.households_by_ids([household_id], lock=True)).get(household_id)
        if row is None:
            raise NotFound.about(field, f"household {household_id!r} not found")
        caller = self._caller()
        require_scope(caller.scope, row.region_code, field)
        if moved_out:
            if row.status != MOVED_OUT:
                raise refused(field, "the household is on the roster (在册): only a household that "
                                     "moved out (整户迁出) returns")
        elif row.status != ACTIVE:
            raise refused(field, f"the household moved out on {format_date(row.moved_out_on)}")
        return row

    async def AddHouseholdMember(
        self, request: points_pb2.AddHouseholdMemberRequest, context: grpc.aio.ServicerContext
    ) -> points_pb2.AddHouseholdMemberResponse:
        caller = self._caller()
        caller.require_role(*domain.MANAGER_ROLES)
        new = domain.check_new_member(request, self._clock.today())

        async def work(session: AsyncSession) -> points_pb2.AddHouseholdMemberResponse:
            repo = PointsRepository(session)
            row = await self._locked_household(repo, new.household_id, "household_id")
            if new.moved_in and row.member_count >= domain.MAX_MEMBERS:
                raise refused("moved_in", f"a household has at most {domain.MAX_MEMBERS} members")
            named = await repo.current_member_count(row.id)
            if not new.moved_in and named >= row.member_count:
                raise refused("moved_in", f"the household counts {row.member_count} members and all are "
                              "named: a member not counted yet joins with moved_in")
            if new.talent_person_id:
                await _not_in_another_household(repo, new.talent_person_id)
            member_id, now = new_id(), self._clock.now()
            member = dict(id=member_id, household_id=row.id, name=new.name, relation=new.relation,
                          talent_person_id=new.talent_person_id or None, joined_on=new.joined_on,
                          left_on=None, left_reason="", created_at=now, created_by=caller.subject,
                          left_recorded_by=None)
            try:
                async with session.begin_nested():
                    await repo.add_member(**member)
            except IntegrityError:
                # The same person joined another household in a call that committed first.
                await _not_in_another_household(repo, new.talent_person_id)
                raise
            if new.moved_in:
                await repo.update_household(row.id, member_count=row.member_count + 1,
                                            updated_at=now, updated_by=caller.subject)
            await self._outbox.add(session, events_pb2.HouseholdMemberAddedEvent(
                household_id=row.id, member_id=member_id, region_code=row.region_code,
                moved_in=new.moved_in), subject=row.id, region_code=row.region_code)
            return points_pb2.AddHouseholdMemberResponse(
                household=await self._household(repo, row.id),
                member=member_message(SimpleNamespace(**member)))

        return await self._write("AddHouseholdMember", request,
                                 points_pb2.AddHouseholdMemberResponse, work)

    async def RecordMemberLeft(
        self, request: points_pb2.RecordMemberLeftRequest, context: grpc.aio.ServicerContext
    ) -> points_pb2.RecordMemberLeftResponse:
        caller = self._caller()
        caller.require_role(*domain.MANAGER_ROLES)
        leaving = domain.check_member_left(request, self._clock.today())

        async def work(session: AsyncSession) -> points_pb2.RecordMemberLeftResponse:
            repo = PointsRepository(session)
            member = await repo.member(leaving.id)
            if member is None:
                raise NotFound("household member", leaving.id, "member_id")
            row = await self._locked_household(repo, member.household_id, "member_id")
            member = await repo.member(leaving.id)
            assert member is not None
            if member.left_on is not None:
                raise refused("member_id", f"the member already left on {format_date(member.left_on)}")
            if member.joined_on is not None and leaving.on < member.joined_on:
                raise refused("left_on", "is before the day the member joined")
            if member.id == row.head_member_id:
                raise refused("member_id", "is the head of household: record the new head first (户主变更)")
            if row.member_count <= domain.MIN_MEMBERS:
                raise refused("member_id", "is the last member: record the household moving out")
            now = self._clock.now()
            await repo.update_member(member.id, left_on=leaving.on, left_reason=leaving.reason,
                                     left_recorded_by=caller.subject)
            await repo.update_household(row.id, member_count=row.member_count - 1, updated_at=now,
                                        updated_by=caller.subject)
            await self._outbox.add(session, events_pb2.HouseholdMemberLeftEvent(
                household_id=row.id, member_id=member.id, region_code=row.region_code,
                left_on=leaving.on.isoformat()), subject=row.id, region_code=row.region_code)
            return points_pb2.RecordMemberLeftResponse(household=await self._household(repo, row.id))

        return await self._write("RecordMemberLeft", request, points_pb2.RecordMemberLeftResponse, work)

    async def MoveHouseholdOut(
        self, request: points_pb2.MoveHouseholdOutRequest, context: grpc.aio.ServicerContext
    ) -> points_pb2.MoveHouseholdOutResponse:
        caller = self._caller()
        caller.require_role(*domain.MANAGER_ROLES)
        leaving = domain.check_move_out(request, self._clock.today())

        async def work(session: AsyncSession) -> points_pb2.MoveHouseholdOutResponse:
            repo = PointsRepository(session)
            row = await self._locked_household(repo, leaving.id, "household_id")
            # The account earns nothing after the day it moved out: points already scored for
            # a later day are reversed first (冲正), or the move-out dated after them.
            last_recorded = await repo.last_roster_day(row.id)
            if last_recorded is not None and leaving.on < last_recorded:
                raise refused("moved_out_on", f"is before {format_date(last_recorded)}, when the roster "
                              "records the household in the village (a member joining or leaving, "
                              "a new head, its return)")
            later = await repo.last_scored_after(points_pb2.SUBJECT_KIND_HOUSEHOLD, row.id, leaving.on,
                                                 lock=True)
            if later is not None:
                raise refused("moved_out_on", f"points are scored for {format_date(later)}, after "
                              "that day: reverse them first (冲正), or give that day or a later one")
            now = self._clock.now()
            await repo.update_household(row.id, status=MOVED_OUT, moved_out_on=leaving.on,
                                        move_out_reason=leaving.reason, updated_at=now,
                                        updated_by=caller.subject)
            await repo.members_leave_with_household(row.id, leaving.on)
            writer = self._ledger(session, caller)
            account = await writer.lock_subject(points_pb2.SUBJECT_KIND_HOUSEHOLD, row.id)
            if account is not None and account.closed_on is None:
                await set_closed_on(session, writer.events, account, leaving.on)
                await writer.flush()
            await self._outbox.add(session, events_pb2.HouseholdMovedOutEvent(
                household_id=row.id, region_code=row.region_code,
                moved_out_on=leaving.on.isoformat()), subject=row.id, region_code=row.region_code)
            return points_pb2.MoveHouseholdOutResponse(household=await self._household(repo, row.id))

        return await self._write("MoveHouseholdOut", request, points_pb2.MoveHouseholdOutResponse, work)

    async def ReturnHousehold(
        self, request: points_pb2.ReturnHouseholdRequest, context: grpc.aio.ServicerContext
    ) -> points_pb2.ReturnHouseholdResponse:
        """Put a household that moved out back on the roster (回迁, or 撤销迁出 for a move-out
        recorded by mistake): the household, the members who left with it, its account and a
        HouseholdReturnedEvent change together, in one transaction under its lock."""
        caller = self._caller()
        caller.require_role(*domain.MANAGER_ROLES)
        returning = domain.check_return(request, self._clock.today())

        async def work(session: AsyncSession) -> points_pb2.ReturnHouseholdResponse:
            repo = PointsRepository(session)
            row = await self._locked_household(repo, returning.household_id, "household_id",
                                               moved_out=True)
            moved_out_on = row.moved_out_on
            if returning.on < moved_out_on:
                raise refused("returned_on", f"is before {format_date(moved_out_on)}, the day the "
                              "household moved out")
            # Its household number (户号) is still its own: numbers are unique within the
            # village over every household, moved out or not, so none took it meanwhile.
            members = await repo.members_moved_out_with(row.id, moved_out_on)
            await _members_not_elsewhere(repo, members)
            now = self._clock.now()
            await repo.update_household(row.id, status=ACTIVE, moved_out_on=None, move_out_reason="",
                                        returned_on=returning.on, updated_at=now,
                                        updated_by=caller.subject)
            try:
                async with session.begin_nested():
                    await repo.members_return_with_household([m.id for m in members])
            except IntegrityError:
                # A member joined another household in a call that committed first.
                await _members_not_elsewhere(repo, members)
                raise
            writer = self._ledger(session, caller)
            account = await writer.lock_subject(points_pb2.SUBJECT_KIND_HOUSEHOLD, row.id)
            if account is not None:
                await set_closed_on(session, writer.events, account, None)
                # Back on the roster, it has the year's base score (年度基础分) as every
                # household on it: a year's cycle close passed it by while it was away.
                await credit_base(writer, account, writer.today.year, writer.today, source_id=None)
                await writer.flush()
            await self._outbox.add(session, events_pb2.HouseholdReturnedEvent(
                household_id=row.id, region_code=row.region_code, returned_on=returning.on.isoformat(),
                moved_out_on=moved_out_on.isoformat(), reason=returning.reason,
                move_out_reason=row.move_out_reason, member_ids=[m.id for m in members]),
                subject=row.id, region_code=row.region_code)
            return points_pb2.ReturnHouseholdResponse(household=await self._household(repo, row.id))

        return await self._write("ReturnHousehold", request, points_pb2.ReturnHouseholdResponse, work)

    async def ChangeHouseholdHead(
        self, request: points_pb2.ChangeHouseholdHeadRequest, context: grpc.aio.ServicerContext
    ) -> points_pb2.ChangeHouseholdHeadResponse:
        """Record a new head of household (户主变更): the household's head name, the member
        who is head and the account's display name change in one transaction, with a row in
        the head history (户主变更记录) and a HouseholdHeadChangedEvent."""
        caller = self._caller()
        caller.require_role(*domain.MANAGER_ROLES)
        change = domain.check_head_change(request, self._clock.today())

        async def work(session: AsyncSession) -> points_pb2.ChangeHouseholdHeadResponse:
            repo = PointsRepository(session)
            row = await self._locked_household(repo, change.household_id, "household_id")
            head_name, member_id = change.head_name, change.member_id or None
            if member_id is not None:
                member = await repo.member(member_id)
                if member is None or member.household_id != row.id:
                    raise unknown("member_id", "is not a member of this household")
                if member.left_on is not None:
                    raise refused("member_id", f"the member left on {format_date(member.left_on)}")
                if member_id == row.head_member_id:
                    raise refused("member_id", "is already the head of household")
                if member.joined_on is not None and change.on < member.joined_on:
                    raise refused("changed_on", "is before the day the member joined")
                head_name = head_name or member.name
                if head_name != member.name:
                    raise refused("head_name", f"must be the member's name ({member.name}) or empty")
            elif head_name == row.head_name:
                raise refused("head_name", "is already the head of household")
            last = await repo.last_head_change_on(row.id)
            if last is not None and change.on < last:
                raise refused("changed_on", "is before the household's last change of head, "
                                            f"on {format_date(last)}")
            change_id, now = new_id(), self._clock.now()
            record = dict(id=change_id, household_id=row.id, previous_head_name=row.head_name,
                          previous_member_id=row.head_member_id, head_name=head_name,
                          member_id=member_id, changed_on=change.on, reason=change.reason,
                          created_at=now, created_by=caller.subject)
            await repo.add_head_change(**record)
            await repo.update_household(row.id, head_name=head_name, head_member_id=member_id,
                                        updated_at=now, updated_by=caller.subject)
            await repo.rename_household_account(
                row.id, household_display_name(row.household_number, head_name))
            await self._outbox.add(session, events_pb2.HouseholdHeadChangedEvent(
                household_id=row.id, region_code=row.region_code, change_id=change_id,
                head_name=head_name, member_id=member_id or "", changed_on=change.on.isoformat()),
                subject=row.id, region_code=row.region_code)
            return points_pb2.ChangeHouseholdHeadResponse(
                household=await self._household(repo, row.id),
                change=head_change_message(SimpleNamespace(**record)))

        return await self._write("ChangeHouseholdHead", request,
                                 points_pb2.ChangeHouseholdHeadResponse, work)
