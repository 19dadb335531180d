"""one current household per person

A person known to talent (``household_members.talent_person_id``) is a current member
(在册成员) of at most one household: a partial unique index over the members who have not
left. Members of households that moved out (整户迁出) leave with them, on the day the
household moved out, so that they can join a household elsewhere; rows already in that
state are brought to it here.

Should a person be a current member of two households already, the upgrade stops and
names them: record the member leaving one of the households (成员迁出) and upgrade again.
Downgrading drops the index; members of moved-out households stay recorded as left.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-23 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: HouseholdStatus HOUSEHOLD_STATUS_MOVED_OUT (points.proto).
MOVED_OUT = 2

INDEX = 'uq_household_members_current_person'
CURRENT = sa.text('talent_person_id IS NOT NULL AND left_on IS NULL')


def upgrade() -> None:
    op.execute(
        "UPDATE household_members SET left_on = (SELECT h.moved_out_on FROM households h"
        " WHERE h.id = household_members.household_id),"
        " left_reason = 'household moved out (整户迁出)'"
        " WHERE left_on IS NULL AND household_id IN"
        f" (SELECT id FROM households WHERE status = {MOVED_OUT} AND moved_out_on IS NOT NULL)")
    twice = op.get_bind().execute(sa.text(
        "SELECT talent_person_id, count(*) FROM household_members"
        " WHERE talent_person_id IS NOT NULL AND left_on IS NULL"
        " GROUP BY talent_person_id HAVING count(*) > 1 ORDER BY talent_person_id")).all()
    if twice:
        people = ", ".join(f"{person} ({count} households)" for person, count in twice[:20])
        raise RuntimeError(
            f"talent persons who are current members of more than one household: {people}"
            f"{' …' if len(twice) > 20 else ''}. Record each leaving all but one (成员迁出),"
            " then upgrade again.")
    op.create_index(INDEX, 'household_members', ['talent_person_id'], unique=True,
                    postgresql_where=CURRENT, sqlite_where=CURRENT)


def downgrade() -> None:
    op.drop_index(INDEX, table_name='household_members')
