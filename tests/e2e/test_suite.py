"""End to end, every process really started: GraphQL in, gRPC and Kafka across, GraphQL out."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import grpc
import pytest
from grpc_health.v1 import health_pb2
from shanzhi_dev import demo
from shanzhi_dev.suite import Suite
from shanzhi_kit.pytest_plugin import token_for, wait_until

from .conftest import GraphQL

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.broker]

REGISTER = """
mutation Register($rid: String!, $region: String!, $name: String!) {
  registerPerson(requestId: $rid, input: {regionCode: $region, name: $name, gender: FEMALE,
                 birthDate: "1988-08-08", partyMember: true, education: JUNIOR_COLLEGE})
  { id name regionCode }
}"""

REVIEW = """
mutation Review($rid: String!, $person: ID!, $region: String!, $role: PostRole!) {
  startQualificationReview(requestId: $rid, personId: $person, regionCode: $region, role: $role,
    checks: [
      {kind: CRIMINAL_RECORD, department: "县公安局", result: PASSED, checkedDate: "2026-01-05"},
      {kind: DISCIPLINE, department: "县纪委监委", result: PASSED, checkedDate: "2026-01-05"},
      {kind: DISHONEST_DEBTOR, department: "县人民法院", result: PASSED, checkedDate: "2026-01-05"},
      {kind: ORGANIZED_CRIME, department: "县委政法委", result: PASSED, checkedDate: "2026-01-05"}])
  { id result }
}"""

APPOINT = """
mutation Appoint($rid: String!, $person: ID!, $region: String!, $role: PostRole!, $review: ID) {
  appointPerson(requestId: $rid, input: {personId: $person, regionCode: $region, role: $role,
                method: ELECTION, startDate: "2026-01-10", reviewId: $review})
  { id role startDate person { name } }
}"""

SCHEDULE = """
query Schedule($id: ID!) {
  person(id: $id) {
    name
    auditSchedule { kind dueDate status cadre { name } post { role } }
  }
}"""


def village() -> str:
    return f"130123{uuid.uuid4().int % 900 + 100:03d}{uuid.uuid4().int % 900 + 100:03d}"


async def test_appointing_a_secretary_puts_the_cadre_on_the_audit_schedule(
    gql: GraphQL, county_token: str,
) -> None:
    region = village()
    person = (await gql(REGISTER, county_token, rid=str(uuid.uuid4()), region=region,
                        name="周海燕"))["data"]["registerPerson"]
    # A two-committee post needs a passed qualification review (任职资格审查) first.
    review = (await gql(REVIEW, county_token, rid=str(uuid.uuid4()), person=person["id"],
                        region=region, role="PARTY_SECRETARY"))["data"]["startQualificationReview"]
    assert review["result"] == "PASSED"
    post = await gql(APPOINT, county_token, rid=str(uuid.uuid4()), person=person["id"],
                     region=region, role="PARTY_SECRETARY", review=review["id"])
    assert post["data"]["appointPerson"]["person"]["name"] == "周海燕"

    async def scheduled() -> bool:
        reply = await gql(SCHEDULE, county_token, id=person["id"])
        return bool(reply["data"]["person"]["auditSchedule"])

    await wait_until(scheduled, within=30, interval=0.3)
    reply = await gql(SCHEDULE, county_token, id=person["id"])
    assert "errors" not in reply
    [entry] = reply["data"]["person"]["auditSchedule"]
    assert entry == {"kind": "IN_OFFICE", "dueDate": "2029-01-10", "status": "DUE",
                     "cadre": {"name": "周海燕"}, "post": {"role": "PARTY_SECRETARY"}}


async def test_a_retried_mutation_changes_nothing(gql: GraphQL, county_token: str) -> None:
    region, rid = village(), str(uuid.uuid4())
    first = await gql(REGISTER, county_token, rid=rid, region=region, name="吴国庆")
    again = await gql(REGISTER, county_token, rid=rid, region=region, name="吴国庆")
    assert first["data"] == again["data"]
    listed = await gql("query($p: String!) { people(regionCodePrefix: $p) { items { id } } }",
                       county_token, p=region)
    assert len(listed["data"]["people"]["items"]) == 1


async def test_bad_input_gets_a_clear_error_and_changes_nothing(
    gql: GraphQL, county_token: str,
) -> None:
    region = village()
    bad = await gql(REGISTER, county_token, rid=str(uuid.uuid4()), region="13012X", name="")
    [error] = bad["errors"]
    assert error["extensions"]["code"] == "INVALID_ARGUMENT"
    fields = {v["field"] for v in error["extensions"]["fieldViolations"]}
    assert {"regionCode", "name"} <= fields

    unknown = await gql(SCHEDULE, county_token, id=str(uuid.uuid4()))
    assert unknown["data"]["person"] is None

    clerk = token_for(region, roles=("village_clerk",), subject="clerk")
    outside = await gql(REGISTER, clerk, rid=str(uuid.uuid4()), region=village(), name="郑八")
    assert outside["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"

    missing = await gql(APPOINT, county_token, rid=str(uuid.uuid4()), person=str(uuid.uuid4()),
                        region=region, role="COMMITTEE_DIRECTOR")
    assert missing["errors"][0]["extensions"]["code"] == "NOT_FOUND"

    anonymous = await gql("{ people { items { id } } }")
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"

    listed = await gql("query($p: String!) { people(regionCodePrefix: $p) { items { id } } }",
                       county_token, p=region)
    assert listed["data"]["people"]["items"] == []


async def test_demo_data_loads_twice_without_duplicates(suite: Suite, gql: GraphQL,
                                                         county_token: str) -> None:
    clients, channels = demo.clients_for(suite.config.ports)
    token = token_for(demo.COUNTY, roles=("admin",), subject="demo")
    try:
        first = demo.load(clients, token)
        demo.load(clients, token)
    finally:
        for channel in channels:
            channel.close()
    prefix = f"{demo.COUNTY}101201"
    reply = await gql("query($p: String!) { households(regionCodePrefix: $p) { items { id } } }",
                      county_token, p=prefix)
    assert len(reply["data"]["households"]["items"]) == 5
    assert first["people"] == 5 * len(demo.village_codes())
    # The household scheme, publicised for comment on the day it is loaded, and the shelf.
    reply = await gql("query($p: String!) { pointsSchemes(regionCodePrefix: $p) { items {"
                      " versions { status items { code } } } }"
                      " goodsList(regionCodePrefix: $p) { items { name } } }", county_token, p=prefix)
    [scheme] = reply["data"]["pointsSchemes"]["items"]
    [version] = scheme["versions"]
    assert version["status"] == "PUBLICIZED"
    assert len(version["items"]) == len(demo.HOUSEHOLD_ITEMS)
    assert len(reply["data"]["goodsList"]["items"]) == len(demo.GOODS)


REPRESENTATIVE_ACCOUNT = """
query Account($person: ID!) {
  pointsAccountOf(subject: {kind: REPRESENTATIVE, id: $person}) { id balance regionCode }
}"""

HONOUR = """
mutation Honour($rid: String!, $account: ID!, $year: Int!, $day: Date!, $number: String!) {
  honourRepresentative(requestId: $rid, input: {accountId: $account, year: $year,
    certificateNumber: $number, resolution: {meetingDate: $day, representativesTotal: 28,
    attendees: 24, votesFor: 21, votesAgainst: 1, votesAbstain: 2}})
  { id year certificateNumber subject { person { name } } }
}"""

POOL = """
query Pool($region: String!) {
  reserveCandidates(regionCodePrefix: $region) {
    items { personId source status person { name } history { toStatus } }
  }
}"""


async def test_an_honoured_representative_appears_in_the_reserve_pool(
    gql: GraphQL, county_token: str,
) -> None:
    """优秀村民代表: points records the meeting's vote, talent puts the person into the pool."""
    region = village()
    person = (await gql(REGISTER, county_token, rid=str(uuid.uuid4()), region=region,
                        name="韩秀兰"))["data"]["registerPerson"]
    appointed = await gql(APPOINT, county_token, rid=str(uuid.uuid4()), person=person["id"],
                          region=region, role="VILLAGER_REPRESENTATIVE")
    assert "errors" not in appointed, appointed

    async def account_opened() -> bool:
        reply = await gql(REPRESENTATIVE_ACCOUNT, county_token, person=person["id"])
        return reply["data"]["pointsAccountOf"] is not None

    await wait_until(account_opened, within=30, interval=0.3)
    reply = await gql(REPRESENTATIVE_ACCOUNT, county_token, person=person["id"])
    account = reply["data"]["pointsAccountOf"]
    # The year's base score (年度基础分) is the account's one lot, linked to the entry that made it.
    lots = await gql("query($p: ID!) { pointsAccountOf(subject: {kind: REPRESENTATIVE, id: $p}) {"
                     " lots { available entry { kind amount account { id } } } } }", county_token,
                     p=person["id"])
    [lot] = lots["data"]["pointsAccountOf"]["lots"]
    assert lot["entry"] == {"kind": "BASE", "amount": lot["available"], "account": {"id": account["id"]}}
    assert lot["available"] == account["balance"] > 0
    today = datetime.now(timezone(timedelta(hours=8))).date()
    honoured = await gql(HONOUR, county_token, rid=str(uuid.uuid4()), account=account["id"],
                         year=today.year, day=today.isoformat(), number=f"{today.year}-{region[-3:]}")
    assert "errors" not in honoured, honoured
    assert honoured["data"]["honourRepresentative"]["subject"] == {"person": {"name": "韩秀兰"}}

    async def in_pool() -> bool:
        reply = await gql(POOL, county_token, region=region)
        return any(c["personId"] == person["id"] for c in reply["data"]["reserveCandidates"]["items"])

    await wait_until(in_pool, within=30, interval=0.3)
    [candidate] = (await gql(POOL, county_token, region=region))["data"]["reserveCandidates"]["items"]
    assert candidate == {"personId": person["id"], "source": "OUTSTANDING_REPRESENTATIVE",
                         "status": "IDENTIFIED", "person": {"name": "韩秀兰"},
                         "history": [{"toStatus": "IDENTIFIED"}]}
    listed = await gql("query($p: String!, $y: Int) { representativeHonours(regionCodePrefix: $p, year: $y)"
                       " { items { certificateNumber } } }", county_token, p=region, y=today.year)
    assert listed["data"]["representativeHonours"]["items"] == [
        {"certificateNumber": f"{today.year}-{region[-3:]}"}]


def test_every_service_is_serving(suite: Suite) -> None:
    for name in ("points", "lists", "audit", "talent"):
        assert suite.health(name) == health_pb2.HealthCheckResponse.SERVING


def test_a_service_stopping_reports_not_serving_then_drains(suite: Suite) -> None:
    port = suite.config.ports["lists"]
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        from grpc_health.v1 import health_pb2_grpc

        watch = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest(service=""))
        assert next(watch).status == health_pb2.HealthCheckResponse.SERVING
        suite.processes["lists"].terminate()
        assert next(watch).status == health_pb2.HealthCheckResponse.NOT_SERVING
    assert suite.stop_process("lists") == 0
    suite.start_service("lists")
    suite.wait_serving("lists")
