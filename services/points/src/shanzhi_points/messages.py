"""Rows to protobuf messages."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from shanzhi.points.v1 import points_pb2
from shanzhi_kit.values import format_date, to_timestamp

from shanzhi_points import rules


def subject_ref(kind: int, subject_id: str) -> points_pb2.SubjectRef:
    return points_pb2.SubjectRef(kind=kind, id=subject_id)  # type: ignore[arg-type]


def member_message(row: Any) -> points_pb2.HouseholdMember:
    return points_pb2.HouseholdMember(
        id=row.id, household_id=row.household_id, name=row.name, relation=row.relation,
        talent_person_id=row.talent_person_id or "", joined_on=format_date(row.joined_on),
        left_on=format_date(row.left_on), left_reason=row.left_reason,
        create_time=to_timestamp(row.created_at), created_by=row.created_by,
    )


def head_change_message(row: Any) -> points_pb2.HouseholdHeadChange:
    return points_pb2.HouseholdHeadChange(
        id=row.id, household_id=row.household_id, previous_head_name=row.previous_head_name,
        previous_member_id=row.previous_member_id or "", head_name=row.head_name,
        member_id=row.member_id or "", changed_on=format_date(row.changed_on), reason=row.reason,
        create_time=to_timestamp(row.created_at), created_by=row.created_by,
    )


def household_message(row: Any, members: Iterable[Any] = (), account_id: str = "",
                      head_changes: Iterable[Any] = ()) -> points_pb2.Household:
    return points_pb2.Household(
        id=row.id,
        region_code=row.region_code,
        household_number=row.household_number,
        head_name=row.head_name,
        member_count=row.member_count,
        villager_group=row.villager_group,
        create_time=to_timestamp(row.created_at),
        created_by=row.created_by,
        status=row.status,
        moved_out_on=format_date(row.moved_out_on),
        move_out_reason=row.move_out_reason or "",
        members=[member_message(m) for m in members],
        account_id=account_id,
        head_member_id=row.head_member_id or "",
        head_changes=[head_change_message(c) for c in head_changes],
    )


def account_message(row: Any) -> points_pb2.Account:
    return points_pb2.Account(
        id=row.id, subject=subject_ref(row.subject_kind, row.subject_id),
        region_code=row.region_code, display_name=row.display_name, balance=row.balance,
        create_time=to_timestamp(row.created_at), created_by=row.created_by,
        closed_on=format_date(row.closed_on),
    )


def name_of(enum: Any, value: int) -> str:
    """The name of an enum value, e.g. ``CLAIM_STATUS_POSTED``."""
    return str(enum.Name(value))


def entry_message(row: Mapping[str, Any] | Any, subject: points_pb2.SubjectRef) -> points_pb2.Entry:
    get: Any = row.__getitem__ if isinstance(row, Mapping) else row._mapping.__getitem__

    return points_pb2.Entry(
        id=get("id"), account_id=get("account_id"), subject=subject, region_code=get("region_code"),
        kind=get("kind"), amount=get("amount"), score=get("score"),
        balance_after=get("balance_after"), entry_date=format_date(get("entry_date")),
        year=get("year"), scheme_id=get("scheme_id") or "", item_code=get("item_code") or "",
        item_name=get("item_name") or "", quantity=get("quantity"),
        source_id=get("source_id") or "", reverses_entry_id=get("reverses_entry_id") or "",
        reason=get("reason"), create_time=to_timestamp(get("created_at")),
        created_by=get("created_by"),
    )


def lot_message(row: Any) -> points_pb2.Lot:
    return points_pb2.Lot(
        id=row.id, account_id=row.account_id, entry_id=row.entry_id,
        lot_date=format_date(row.lot_date), amount=row.amount, available=row.available,
        expires_on=format_date(row.expires_on), closed=row.closed,
    )


def item_message(row: Any) -> points_pb2.CatalogItem:
    return points_pb2.CatalogItem(
        id=row.id, code=row.code, name=row.name, category=row.category, sign=row.sign,
        points=row.points, evidence_required=row.evidence_required,
        limits=points_pb2.ItemLimits(per_day=row.limit_per_day, per_week=row.limit_per_week,
                                     per_month=row.limit_per_month, per_year=row.limit_per_year),
        effective_from=format_date(row.effective_from), effective_to=format_date(row.effective_to),
        template_item_id=row.template_item_id or "",
    )


def item_rule(row: Any) -> rules.Item:
    return rules.Item(
        code=row.code, name=row.name, category=row.category, sign=row.sign, points=row.points,
        evidence_required=row.evidence_required,
        limits=rules.Limits(row.limit_per_day, row.limit_per_week, row.limit_per_month,
                            row.limit_per_year),
        effective_from=row.effective_from, effective_to=row.effective_to,
    )


def rule_message(item: rules.Item) -> points_pb2.CatalogItem:
    return points_pb2.CatalogItem(
        code=item.code, name=item.name, category=item.category, sign=item.sign,  # type: ignore[arg-type]
        points=item.points, evidence_required=item.evidence_required,
        limits=points_pb2.ItemLimits(per_day=item.limits.per_day, per_week=item.limits.per_week,
                                     per_month=item.limits.per_month,
                                     per_year=item.limits.per_year),
        effective_from=format_date(item.effective_from), effective_to=format_date(item.effective_to),
    )


def settings_message(row: Any) -> points_pb2.SchemeSettings:
    return points_pb2.SchemeSettings(
        claim_publicity_days=row.claim_publicity_days, comment_days=row.comment_days,
        cycle_policy=row.cycle_policy, base_score=row.base_score,
        points_valid_months=row.points_valid_months, red_list_size=row.red_list_size,
        black_list_size=row.black_list_size, star_thresholds=list(row.star_thresholds or []),
        black_list_below=row.black_list_below,
    )


def version_message(row: Any, items: Sequence[Any] = ()) -> points_pb2.SchemeVersion:
    msg = points_pb2.SchemeVersion(
        id=row.id, scheme_id=row.scheme_id, version=row.version, status=row.status,
        settings=settings_message(row), items=[item_message(i) for i in items],
        change_note=row.change_note, comment_ends_on=format_date(row.comment_ends_on),
        effective_from=format_date(row.effective_from), effective_to=format_date(row.effective_to),
        adopted_by=row.adopted_by or "", create_time=to_timestamp(row.created_at),
        created_by=row.created_by,
    )
    if row.publicized_at is not None:
        msg.publicize_time.CopyFrom(to_timestamp(row.publicized_at))
    if row.adopted_at is not None:
        msg.adopt_time.CopyFrom(to_timestamp(row.adopted_at))
    if row.meeting_date is not None:
        msg.resolution.CopyFrom(points_pb2.Resolution(
            meeting_date=format_date(row.meeting_date),
            representatives_total=row.representatives_total, attendees=row.attendees,
            votes_for=row.votes_for, votes_against=row.votes_against,
            votes_abstain=row.votes_abstain, number=row.resolution_number or "",
            note=row.resolution_note or ""))
    return msg


def scheme_message(row: Any, current: points_pb2.SchemeVersion | None, latest: int,
                   closed: bool) -> points_pb2.Scheme:
    msg = points_pb2.Scheme(
        id=row.id, region_code=row.region_code, year=row.year, subject_kind=row.subject_kind,
        title=row.title, is_template=row.is_template,
        template_scheme_id=row.template_scheme_id or "", latest_version=latest,
        cycle_closed=closed, create_time=to_timestamp(row.created_at), created_by=row.created_by,
    )
    if current is not None:
        msg.current_version.CopyFrom(current)
    return msg


def batch_message(row: Any) -> points_pb2.Batch:
    return points_pb2.Batch(
        id=row.id, batch_key=row.batch_key, scheme_id=row.scheme_id, region_code=row.region_code,
        title=row.title, entry_count=row.entry_count, total_score=row.total_score,
        create_time=to_timestamp(row.created_at), created_by=row.created_by,
    )


def claim_message(row: Any, subject: points_pb2.SubjectRef, reviews: Sequence[Any] = (),
                  objections: Sequence[Any] = ()) -> points_pb2.Claim:
    msg = points_pb2.Claim(
        id=row.id, account_id=row.account_id, subject=subject, region_code=row.region_code,
        scheme_id=row.scheme_id, version_id=row.version_id, item_code=row.item_code,
        item_name=row.item_name, points=row.points, quantity=row.quantity,
        occurred_on=format_date(row.occurred_on), source=row.source,
        evidence=points_pb2.Evidence(description=row.evidence,
                                     attachment_urls=list(row.evidence_urls or [])),
        status=row.status, entry_id=row.entry_id or "",
        reversal_entry_id=row.reversal_entry_id or "",
        reviews=[points_pb2.ClaimReview(decision=r.decision, reason=r.reason, reviewer=r.reviewer,
                                        review_time=to_timestamp(r.reviewed_at)) for r in reviews],
        objections=[objection_message(o) for o in objections],
        create_time=to_timestamp(row.created_at), created_by=row.created_by,
        update_time=to_timestamp(row.updated_at),
    )
    if row.publicity_ends_at is not None and row.status == points_pb2.CLAIM_STATUS_IN_PUBLICITY:
        msg.publicity_end_time.CopyFrom(to_timestamp(row.publicity_ends_at))
    return msg


def objection_message(row: Any) -> points_pb2.Objection:
    msg = points_pb2.Objection(id=row.id, reason=row.reason, raised_by=row.raised_by,
                               raise_time=to_timestamp(row.raised_at), status=row.status)
    if row.resolved_at is not None:
        msg.resolve_time.CopyFrom(to_timestamp(row.resolved_at))
    return msg


def goods_message(row: Any) -> points_pb2.Goods:
    return points_pb2.Goods(
        id=row.id, region_code=row.region_code, name=row.name, price=row.price, stock=row.stock,
        active=row.active, create_time=to_timestamp(row.created_at), created_by=row.created_by,
        update_time=to_timestamp(row.updated_at), updated_by=row.updated_by,
    )


def redemption_message(row: Any, subject: points_pb2.SubjectRef) -> points_pb2.Redemption:
    msg = points_pb2.Redemption(
        id=row.id, account_id=row.account_id, subject=subject, region_code=row.region_code,
        goods_id=row.goods_id, goods_name=row.goods_name, quantity=row.quantity,
        points=row.points, status=row.status, entry_id=row.entry_id,
        cancel_entry_id=row.cancel_entry_id or "", cancel_reason=row.cancel_reason or "",
        reserve_time=to_timestamp(row.reserved_at), reserved_by=row.reserved_by,
        completed_by=row.completed_by or "",
    )
    if row.completed_at is not None:
        msg.complete_time.CopyFrom(to_timestamp(row.completed_at))
    return msg


def cycle_close_message(row: Any) -> points_pb2.CycleClose:
    return points_pb2.CycleClose(
        id=row.id, scheme_id=row.scheme_id, year=row.year, policy=row.policy,
        accounts=row.accounts, points_reset=row.points_reset,
        base_scores_opened=row.base_scores_opened, close_time=to_timestamp(row.closed_at),
        closed_by=row.closed_by,
    )


def honour_message(row: Any) -> points_pb2.RepresentativeHonour:
    """An honour row joined with its account's ``display_name``."""
    return points_pb2.RepresentativeHonour(
        id=row.id, account_id=row.account_id,
        subject=subject_ref(points_pb2.SUBJECT_KIND_REPRESENTATIVE, row.person_id),
        region_code=row.region_code, display_name=row.display_name, year=row.year,
        resolution=points_pb2.Resolution(
            meeting_date=format_date(row.meeting_date),
            representatives_total=row.representatives_total, attendees=row.attendees,
            votes_for=row.votes_for, votes_against=row.votes_against,
            votes_abstain=row.votes_abstain, number=row.resolution_number,
            note=row.resolution_note),
        certificate_number=row.certificate_number, create_time=to_timestamp(row.created_at),
        created_by=row.created_by,
    )
