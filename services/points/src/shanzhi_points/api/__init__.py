"""PointsService over gRPC: validates, checks the caller's role and scope, writes with its events.

Each part of the service lives in its own module; :class:`PointsApi` puts them together.
"""

from __future__ import annotations

from shanzhi.points.v1 import points_pb2_grpc

from shanzhi_points.api.claims import ClaimsApi
from shanzhi_points.api.honours import HonoursApi
from shanzhi_points.api.households import HouseholdsApi
from shanzhi_points.api.ledger import LedgerApi
from shanzhi_points.api.market import MarketApi
from shanzhi_points.api.schemes import SchemesApi
from shanzhi_points.api.standings import StandingsApi


class PointsApi(
    HouseholdsApi,
    SchemesApi,
    LedgerApi,
    ClaimsApi,
    MarketApi,
    StandingsApi,
    HonoursApi,
    points_pb2_grpc.PointsServiceServicer,
):
    """Every RPC of shanzhi.points.v1.PointsService."""


__all__ = ["PointsApi"]
