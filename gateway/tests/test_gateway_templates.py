"""Where village schemes depart from the county template (与模板的差异): one batch call
however many schemes a query lists."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

from google.protobuf.timestamp_pb2 import Timestamp
from shanzhi.common.v1.paging_pb2 import PageInfo
from shanzhi.points.v1 import points_pb2 as P
from shanzhi_gateway.context import GatewayContext
from shanzhi_gateway.schema import schema

if TYPE_CHECKING:
    from conftest import Fakes

STAMP = Timestamp(seconds=1_767_225_600)


def new_id() -> str:
    return str(uuid.uuid4())


async def test_a_countys_villages_and_their_departures_take_one_comparison_call(
    fakes: Fakes, context_for: Callable[[str | None], GatewayContext], token: str
) -> None:
    template = new_id()
    villages = [P.Scheme(id=new_id(), region_code=f"130123101{n:03d}", year=2026,
                         subject_kind=P.SUBJECT_KIND_PARTY_MEMBER, title=f"村{n}党员积分方案",
                         template_scheme_id=template, latest_version=1, create_time=STAMP,
                         created_by="clerk") for n in (201, 202)]
    own = P.Scheme(id=new_id(), region_code="130123101203", year=2026, subject_kind=P.SUBJECT_KIND_HOUSEHOLD,
                   title="自订方案", latest_version=1, create_time=STAMP, created_by="clerk")
    fakes.points.answer("ListSchemes", lambda r: P.ListSchemesResponse(
        schemes=[*villages, own], page_info=PageInfo()))
    changed = P.TemplateDeparture(
        code="DY-02", kind=P.DEPARTURE_KIND_CHANGED, fields=["points"],
        template_item=P.CatalogItem(code="DY-02", name="带头志愿服务", sign=P.ITEM_SIGN_POSITIVE, points=10,
                                    category=P.ITEM_CATEGORY_PARTY_DUTY),
        village_item=P.CatalogItem(code="DY-02", name="带头志愿服务", sign=P.ITEM_SIGN_POSITIVE, points=12,
                                   category=P.ITEM_CATEGORY_PARTY_DUTY))
    answer = P.BatchCompareSchemesWithTemplateResponse(
        comparisons=[P.SchemeTemplateComparison(scheme_id=villages[1].id, template_scheme_id=template,
                                                departures=[changed]),
                     P.SchemeTemplateComparison(scheme_id=villages[0].id, template_scheme_id=template)])
    fakes.points.answer("BatchCompareSchemesWithTemplate", lambda r: answer)
    result = await schema.execute(
        """{ pointsSchemes(regionCodePrefix: "130123") { items { id templateDepartures {
               code kind fields templateItem { points } villageItem { points } } } } }""",
        context_value=context_for(f"Bearer {token}"))
    assert result.errors is None and result.data is not None
    assert [s["templateDepartures"] for s in result.data["pointsSchemes"]["items"]] == [
        [], [{"code": "DY-02", "kind": "CHANGED", "fields": ["points"], "templateItem": {"points": 10},
              "villageItem": {"points": 12}}], []]
    # The scheme made without a template is not asked about; the two copies in one call.
    (call,) = fakes.points.BatchCompareSchemesWithTemplate.calls
    assert list(call.request.scheme_ids) == [villages[0].id, villages[1].id]
    assert not fakes.points.CompareSchemeWithTemplate.calls
