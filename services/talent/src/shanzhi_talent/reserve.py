"""Entering the reserve talent pool (后备人才入库): one way for the API and the event consumers.

A person enters as RESERVE_STATUS_IDENTIFIED with the first step of the history
(培养记录) and a ``ReserveStatusChangedEvent`` from RESERVE_STATUS_UNSPECIFIED, all in
the caller's transaction. The database keeps a person an active candidate at most
once, and a source reference (what another service's event put there) on one
candidate at most; either makes :func:`enter_pool` write nothing.
"""

from __future__ import annotations

from typing import Any

from shanzhi.talent.v1 import events_pb2, talent_pb2
from shanzhi_kit.events import Outbox
from shanzhi_kit.values import new_id, utcnow
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from shanzhi_talent.repository import TalentRepository
from shanzhi_talent.tables import reserve_candidates, reserve_changes

IDENTIFIED = talent_pb2.RESERVE_STATUS_IDENTIFIED
UNSPECIFIED = talent_pb2.RESERVE_STATUS_UNSPECIFIED


async def enter_pool(
    session: AsyncSession,
    outbox: Outbox,
    person: Any,
    *,
    source: int,
    actor: str,
    note: str = "",
    mentor_person_id: str = "",
    source_reference: str | None = None,
) -> str | None:
    """Put ``person`` (a people row) into the pool; the new candidate's id.

    None, with nothing written, when the person is already an active candidate or
    ``source_reference`` already put someone into the pool.
    """
    repo = TalentRepository(session)
    candidate_id, now = new_id(), utcnow()
    try:
        async with session.begin_nested():
            await repo.insert(
                reserve_candidates, id=candidate_id, person_id=person.id,
                region_code=person.region_code, source=source,
                mentor_person_id=mentor_person_id or None, status=IDENTIFIED, note=note,
                created_at=now, created_by=actor, source_reference=source_reference)
    except IntegrityError:
        return None
    await repo.insert(reserve_changes, candidate_id=candidate_id, from_status=UNSPECIFIED,
                      to_status=IDENTIFIED, reason="", changed_at=now, changed_by=actor)
    await outbox.add(session, events_pb2.ReserveStatusChangedEvent(
        candidate_id=candidate_id, person_id=person.id, region_code=person.region_code,
        from_status=UNSPECIFIED, to_status=IDENTIFIED), subject=person.id,
        region_code=person.region_code)
    return candidate_id
