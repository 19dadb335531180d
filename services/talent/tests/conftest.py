from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
import pytest_asyncio
from pydantic import SecretStr
from shanzhi.talent.v1 import talent_pb2, talent_pb2_grpc
from shanzhi_kit.pytest_plugin import DatabaseFactory, auth_metadata
from shanzhi_kit.server import ServiceHost
from shanzhi_kit.testing import Broker
from shanzhi_talent.app import MIGRATIONS, build
from shanzhi_talent.domain import TWO_COMMITTEE_ROLES
from shanzhi_talent.settings import TalentSettings

TEST_HMAC_KEY = base64.b64encode(b"talent-tests-hmac-key-32-bytes!!").decode()
TEST_ENCRYPTION_KEY = base64.b64encode(b"talent-tests-aes-key-32-bytes-!!").decode()


@pytest_asyncio.fixture(scope="session")
async def talent_url(make_database: DatabaseFactory) -> str:
    return await make_database("talent", MIGRATIONS)


@pytest_asyncio.fixture(scope="session")
async def talent_host(talent_url: str, broker: Broker) -> AsyncIterator[ServiceHost]:
    settings = TalentSettings(
        database_url=talent_url, grpc_port=0, kafka_bootstrap_servers=broker.bootstrap,
        relay_poll_seconds=0.1, shutdown_grace_seconds=1,
        pii_hmac_key=SecretStr(TEST_HMAC_KEY), pii_encryption_key=SecretStr(TEST_ENCRYPTION_KEY),
    )
    host = build(settings)
    await host.start()
    await host.ready.wait()
    # Other services' tests may have left points events on the shared broker: let the
    # consumer apply that backlog first, so no test sees it arrive part-way.
    for consumer in host.consumers:
        assert await asyncio.to_thread(consumer.caught_up.wait, 60), "consumer never caught up"
    yield host
    await host.stop()


@pytest_asyncio.fixture(scope="session")
async def talent(talent_host: ServiceHost) -> AsyncIterator[talent_pb2_grpc.TalentServiceStub]:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{talent_host.port}") as channel:
        yield talent_pb2_grpc.TalentServiceStub(channel)


REQUIRED_CHECKS = (
    talent_pb2.REVIEW_CHECK_KIND_CRIMINAL_RECORD,
    talent_pb2.REVIEW_CHECK_KIND_DISCIPLINE,
    talent_pb2.REVIEW_CHECK_KIND_DISHONEST_DEBTOR,
    talent_pb2.REVIEW_CHECK_KIND_ORGANIZED_CRIME,
)


def rid() -> str:
    return str(uuid.uuid4())


class Ops:
    """Short calls for the tests: register, review, appoint, end."""

    def __init__(self, stub: talent_pb2_grpc.TalentServiceStub) -> None:
        self.stub = stub
        self.md = auth_metadata("13")

    async def register(self, region: str, name: str = "王芳", *, gender: int = talent_pb2.GENDER_FEMALE,
                       birth_date: str = "1990-03-04",
                       education: int = talent_pb2.EDUCATION_BACHELOR, **kw: Any) -> talent_pb2.Person:
        req = talent_pb2.RegisterPersonRequest(
            request_id=rid(), region_code=region, name=name, gender=gender,  # type: ignore[arg-type]
            birth_date=birth_date, party_member=True, education=education, **kw)  # type: ignore[arg-type]
        return (await self.stub.RegisterPerson(req, metadata=self.md)).person

    async def review(self, person: talent_pb2.Person, role: int, region: str | None = None,
                     result: int = talent_pb2.REVIEW_RESULT_PASSED) -> talent_pb2.QualificationReview:
        note = "有记录" if result == talent_pb2.REVIEW_RESULT_FAILED else ""
        checks = [talent_pb2.ReviewCheckInput(kind=k, department="县公安局", result=result,  # type: ignore[arg-type]
                                              note=note, checked_date="2026-01-02") for k in REQUIRED_CHECKS]
        return (await self.stub.StartQualificationReview(talent_pb2.StartQualificationReviewRequest(
            request_id=rid(), person_id=person.id, region_code=region or person.region_code,
            role=role, checks=checks), metadata=self.md)).review  # type: ignore[arg-type]

    async def appoint(self, person: talent_pb2.Person, role: int = talent_pb2.POST_ROLE_PARTY_SECRETARY,
                      start: str = "2026-01-05", region: str | None = None,
                      reviewed: bool = True) -> talent_pb2.Post:
        review_id = ""
        if reviewed and role in TWO_COMMITTEE_ROLES:
            review_id = (await self.review(person, role, region)).id
        return (await self.stub.AppointPerson(talent_pb2.AppointPersonRequest(
            request_id=rid(), person_id=person.id, region_code=region or person.region_code,
            role=role, method=talent_pb2.APPOINTMENT_METHOD_ELECTION,  # type: ignore[arg-type]
            start_date=start, review_id=review_id), metadata=self.md)).post

    async def end(self, post: talent_pb2.Post, end: str,
                  reason: int = talent_pb2.POST_END_REASON_TERM_EXPIRED) -> talent_pb2.Post:
        return (await self.stub.EndPost(talent_pb2.EndPostRequest(
            request_id=rid(), post_id=post.id, end_date=end, reason=reason),  # type: ignore[arg-type]
            metadata=self.md)).post


@pytest.fixture
def ops(talent: talent_pb2_grpc.TalentServiceStub) -> Ops:
    return Ops(talent)
