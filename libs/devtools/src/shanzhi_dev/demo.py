"""Demo data for one sample county (示范县, division code 130123).

Three townships, a few villages each, people in posts, households with a points
scheme, awards and a points supermarket, list items and an inspection round. Every
write uses a request id derived from its content, so loading twice changes nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

import grpc
from shanzhi.audit.v1 import audit_pb2, audit_pb2_grpc
from shanzhi.lists.v1 import lists_pb2, lists_pb2_grpc
from shanzhi.points.v1 import points_pb2, points_pb2_grpc
from shanzhi.talent.v1 import talent_pb2, talent_pb2_grpc

COUNTY = "130123"
COUNTY_CODE = f"{COUNTY}000000"
TOWNSHIPS = {"101": "城关镇", "102": "河东乡", "103": "柳林镇"}
VILLAGES = {
    "101": {"201": "东关村", "202": "西关村", "203": "南街社区"},
    "102": {"201": "河东村", "202": "李家庄村"},
    "103": {"201": "柳林村", "202": "前进村", "203": "新民村"},
}
SURNAMES = "王李张刘陈杨赵黄周吴"
GIVEN = ["建国", "秀英", "志强", "桂兰", "海燕", "文博", "丽娟", "国庆", "春梅", "晓东"]
NAMESPACE = uuid.UUID("6f1c2f0e-5b7e-4a4e-9a51-2d1d7f3c9a10")
#: China Standard Time: the points service counts business days in it.
CHINA = timezone(timedelta(hours=8))

P = points_pb2
#: The household scheme's positive and negative list (正负积分清单).
HOUSEHOLD_ITEMS = [
    P.CatalogItem(code="HJ-01", name="庭院整洁、门前三包落实到位", category=P.ITEM_CATEGORY_BEAUTIFUL_VILLAGE,
                  sign=P.ITEM_SIGN_POSITIVE, points=5, limits=P.ItemLimits(per_month=1)),
    P.CatalogItem(code="ZY-01", name="参加村志愿服务活动", category=P.ITEM_CATEGORY_VOLUNTEERING,
                  sign=P.ITEM_SIGN_POSITIVE, points=3, evidence_required="活动签到表或照片",
                  limits=P.ItemLimits(per_month=4)),
    P.CatalogItem(code="XL-01", name="孝老爱亲事迹经村评议认定", category=P.ITEM_CATEGORY_FILIAL_PIETY,
                  sign=P.ITEM_SIGN_POSITIVE, points=10, evidence_required="评议会记录",
                  limits=P.ItemLimits(per_year=2)),
    P.CatalogItem(code="PA-01", name="参与治安巡逻、矛盾调解", category=P.ITEM_CATEGORY_SAFETY,
                  sign=P.ITEM_SIGN_POSITIVE, points=4, limits=P.ItemLimits(per_month=2)),
    P.CatalogItem(code="GY-01", name="乱堆乱放、私搭乱建经劝阻不改", category=P.ITEM_CATEGORY_VILLAGE_RULES,
                  sign=P.ITEM_SIGN_NEGATIVE, points=5),
    P.CatalogItem(code="YF-01", name="红白事大操大办、索要高价彩礼", category=P.ITEM_CATEGORY_CIVILITY,
                  sign=P.ITEM_SIGN_NEGATIVE, points=10, limits=P.ItemLimits(per_year=1)),
]
#: Awards per household number once the scheme is in force: (item code, times).
HOUSEHOLD_AWARDS = {
    1: [("HJ-01", 1), ("XL-01", 1)],
    2: [("HJ-01", 1), ("PA-01", 1)],
    3: [("HJ-01", 1), ("ZY-01", 2)],
    4: [("ZY-01", 1)],
    5: [("HJ-01", 1), ("ZY-01", 2), ("GY-01", 1)],
}
#: Goods on each village's shelf (积分超市): name, points price, stock.
GOODS = [("洗衣液(2千克)", 20, 30), ("食用油(5升)", 50, 20)]


#: Departments of a qualification review (任职资格审查联审部门).
REVIEW_DEPARTMENTS = [
    (talent_pb2.REVIEW_CHECK_KIND_CRIMINAL_RECORD, "县公安局"),
    (talent_pb2.REVIEW_CHECK_KIND_DISCIPLINE, "县纪委监委"),
    (talent_pb2.REVIEW_CHECK_KIND_DISHONEST_DEBTOR, "县人民法院"),
    (talent_pb2.REVIEW_CHECK_KIND_ORGANIZED_CRIME, "县委政法委"),
]
TWO_COMMITTEE_ROLES = {
    talent_pb2.POST_ROLE_PARTY_SECRETARY,
    talent_pb2.POST_ROLE_COMMITTEE_DIRECTOR,
    talent_pb2.POST_ROLE_TWO_COMMITTEE_MEMBER,
}


def demo_id_number(village: str, birth: str, sequence: int) -> str:
    """A well-formed resident ID number (GB 11643) for demo people: county address code,
    birth date, sequence (odd for men) and the ISO 7064 MOD 11-2 check character."""
    first17 = f"{village[:6]}{birth.replace('-', '')}{sequence % 1000:03d}"
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return first17 + "10X98765432"[sum(int(d) * w for d, w in zip(first17, weights, strict=True)) % 11]


def request_id(*parts: object) -> str:
    return str(uuid.uuid5(NAMESPACE, "/".join(str(p) for p in parts)))


def village_codes() -> list[str]:
    return [f"{COUNTY}{t}{v}" for t, vs in VILLAGES.items() for v in vs]


def village_name(code: str) -> str:
    return VILLAGES[code[6:9]][code[9:12]]


@dataclass
class Clients:
    talent: talent_pb2_grpc.TalentServiceStub
    audit: audit_pb2_grpc.AuditServiceStub
    points: points_pb2_grpc.PointsServiceStub
    lists: lists_pb2_grpc.ListsServiceStub


def load(clients: Clients, token: str) -> dict[str, int]:
    """Load the sample county; returns how many records of each kind it asked for."""
    md = (("authorization", f"Bearer {token}"),)
    counts = {"people": 0, "posts": 0, "households": 0, "schemes": 0, "catalog_items": 0,
              "awards": 0, "goods": 0, "list_items": 0, "rounds": 0}
    roles = [
        (talent_pb2.POST_ROLE_PARTY_SECRETARY, talent_pb2.GENDER_MALE, "1972"),
        (talent_pb2.POST_ROLE_COMMITTEE_DIRECTOR, talent_pb2.GENDER_FEMALE, "1980"),
        (talent_pb2.POST_ROLE_TWO_COMMITTEE_MEMBER, talent_pb2.GENDER_FEMALE, "1994"),
        (talent_pb2.POST_ROLE_VILLAGER_REPRESENTATIVE, talent_pb2.GENDER_MALE, "1965"),
        (talent_pb2.POST_ROLE_GRID_WORKER, talent_pb2.GENDER_MALE, "1990"),
    ]
    county_course = clients.talent.CreateTrainingCourse(talent_pb2.CreateTrainingCourseRequest(
        request_id=request_id("course", 2026, 1), region_code=COUNTY_CODE,
        title="2026年村两委干部乡村治理轮训班", organizer="县委组织部",
        start_date="2026-03-10", end_date="2026-03-12", hours=16), metadata=md).course
    for vi, code in enumerate(village_codes()):
        cadres: dict[int, talent_pb2.Person] = {}
        for ri, (role, gender, year) in enumerate(roles):
            name = SURNAMES[(vi + ri) % len(SURNAMES)] + GIVEN[(vi * 3 + ri) % len(GIVEN)]
            birth = f"{year}-0{1 + ri}-1{ri}"
            sequence = (vi * 10 + ri) * 2 + (gender == talent_pb2.GENDER_MALE)
            person = clients.talent.RegisterPerson(talent_pb2.RegisterPersonRequest(
                request_id=request_id("person", code, ri), region_code=code, name=name,
                gender=gender, birth_date=birth, party_member=ri < 3,
                id_number=demo_id_number(code, birth, sequence),
                education=talent_pb2.EDUCATION_JUNIOR_COLLEGE if ri % 2 else
                talent_pb2.EDUCATION_SENIOR_SECONDARY), metadata=md).person
            counts["people"] += 1
            review_id = ""
            if role in TWO_COMMITTEE_ROLES:
                review_id = clients.talent.StartQualificationReview(
                    talent_pb2.StartQualificationReviewRequest(
                        request_id=request_id("review", code, ri), person_id=person.id,
                        region_code=code, role=role, checks=[
                            talent_pb2.ReviewCheckInput(kind=kind, department=department,
                                                        result=talent_pb2.REVIEW_RESULT_PASSED,
                                                        checked_date="2024-01-05")
                            for kind, department in REVIEW_DEPARTMENTS]),
                    metadata=md).review.id
                cadres[role] = person
            clients.talent.AppointPerson(talent_pb2.AppointPersonRequest(
                request_id=request_id("post", code, ri), person_id=person.id, region_code=code,
                role=role, method=talent_pb2.APPOINTMENT_METHOD_ELECTION,
                start_date="2024-01-15", review_id=review_id), metadata=md)
            counts["posts"] += 1
            if role == talent_pb2.POST_ROLE_GRID_WORKER:
                clients.talent.AddReserveCandidate(talent_pb2.AddReserveCandidateRequest(
                    request_id=request_id("reserve", code, ri), person_id=person.id,
                    source=talent_pb2.RESERVE_SOURCE_YOUNG_PARTY_MEMBER,
                    mentor_person_id=cadres[talent_pb2.POST_ROLE_PARTY_SECRETARY].id,
                    note="培养方向: 村委会委员"), metadata=md)
        # Every third village has one member still to train (轮训未覆盖), for the coverage view.
        trained = [p.id for r, p in cadres.items()
                   if vi % 3 or r != talent_pb2.POST_ROLE_TWO_COMMITTEE_MEMBER]
        clients.talent.RecordTraining(talent_pb2.RecordTrainingRequest(
            request_id=request_id("training", code, county_course.id), course_id=county_course.id,
            person_ids=trained), metadata=md)
        households: dict[int, str] = {}
        for h in range(1, 6):
            head = SURNAMES[(vi + h) % len(SURNAMES)] + GIVEN[(vi + 2 * h) % len(GIVEN)]
            households[h] = clients.points.CreateHousehold(points_pb2.CreateHouseholdRequest(
                request_id=request_id("household", code, h), region_code=code,
                household_number=f"{h:04d}", head_name=head, member_count=2 + h % 4,
                villager_group=f"第{(h + 1) // 2}组"), metadata=md).household.id
            counts["households"] += 1
        load_points(clients, md, code, households, counts)
    items = [
        (lists_pb2.LIST_KIND_MAIN_RESPONSIBILITY, "ZR-001", "组织召开村民代表会议",
         ["提出议题", "两委商议", "代表会议表决", "结果公开"]),
        (lists_pb2.LIST_KIND_ASSISTED_ADMISSION, "XB-001", "协助开展城乡居民医保参保动员",
         ["接收部门通知", "入户宣传", "汇总上报"]),
        (lists_pb2.LIST_KIND_NEGATIVE, "FM-001", "不得要求村级组织出具超出职责范围的证明", []),
        (lists_pb2.LIST_KIND_DISCLOSURE, "GK-001", "村级财务收支每季度公开",
         ["村务监督委员会审核", "公开栏张贴", "三资平台发布"]),
        (lists_pb2.LIST_KIND_PUBLIC_SERVICE, "FW-001", "老年人高龄津贴申请帮办代办",
         ["受理登记", "材料代办", "办结回访"]),
    ]
    for kind, code, title, steps in items:
        clients.lists.CreateListItem(lists_pb2.CreateListItemRequest(
            request_id=request_id("list-item", code), region_code=COUNTY_CODE, kind=kind,
            code=code, title=title, steps=steps, time_limit_days=15 if steps else 0,
            responsible_body="村党组织", supervisor="乡镇党委", legal_basis="县五项清单(试行)"),
            metadata=md)
        counts["list_items"] += 1
    clients.audit.CreateInspectionRound(audit_pb2.CreateInspectionRoundRequest(
        request_id=request_id("round", 2026, 1), region_code=COUNTY_CODE,
        name="2026年第一轮村级巡察", kind=audit_pb2.INSPECTION_KIND_POLITICAL,
        target_region_codes=village_codes()[:4], start_date="2026-03-01",
        end_date="2026-04-30", team_leader="县委第一巡察组"), metadata=md)
    counts["rounds"] += 1
    return counts


def load_points(clients: Clients, md: tuple[tuple[str, str], ...], code: str,
                households: dict[int, str], counts: dict[str, int]) -> None:
    """A village's household scheme (家庭积分制), its awards and its points supermarket.

    The scheme goes the real way: drafted, publicised for comment (方案公示), then adopted
    by the villagers' representative meeting (村民代表会议决议). The service accepts the
    meeting only after the comment period and not in the future, and has no early
    adoption, so on the day the demo is first loaded the scheme stays publicised (it shows
    on the publicity board) and no points can be awarded yet. The data in var/ outlives
    `make run`: a load on a later day, once the comment period (1 day, the shortest the
    service allows) has passed, records the meeting on the day after it and awards the
    households their points on the day the scheme took effect.
    """
    today = datetime.now(CHINA).date()
    year = today.year
    points = clients.points
    created = points.CreateScheme(P.CreateSchemeRequest(
        request_id=request_id("points-scheme", code, year), region_code=code, year=year,
        subject_kind=P.SUBJECT_KIND_HOUSEHOLD, title=f"{village_name(code)}{year}年度家庭积分制管理实施方案",
        settings=P.SchemeSettings(claim_publicity_days=7, comment_days=1,
                                  cycle_policy=P.CYCLE_POLICY_CARRY_OVER, red_list_size=5,
                                  black_list_size=3, star_thresholds=[10, 20, 50]),
        items=HOUSEHOLD_ITEMS), metadata=md)
    counts["schemes"] += 1
    counts["catalog_items"] += len(HOUSEHOLD_ITEMS)
    publicized = points.PublicizeSchemeVersion(P.PublicizeSchemeVersionRequest(
        request_id=request_id("points-scheme-publicize", created.draft.id),
        version_id=created.draft.id), metadata=md).version
    for i, (name, price, stock) in enumerate(GOODS):
        points.AddGoods(P.AddGoodsRequest(request_id=request_id("points-goods", code, i),
                                          region_code=code, name=name, price=price, stock=stock),
                        metadata=md)
        counts["goods"] += 1
    meeting = date.fromisoformat(publicized.comment_ends_on) + timedelta(days=1)
    if meeting > today or meeting.year != year:
        return
    adopted = points.AdoptSchemeVersion(P.AdoptSchemeVersionRequest(
        request_id=request_id("points-scheme-adopt", publicized.id), version_id=publicized.id,
        resolution=P.Resolution(meeting_date=meeting.isoformat(), representatives_total=25,
                                attendees=22, votes_for=21, votes_against=0, votes_abstain=1,
                                number=f"{village_name(code)}村民代表会议决议〔{year}〕1号")),
        metadata=md).version
    for h, awards in HOUSEHOLD_AWARDS.items():
        for item_code, quantity in awards:
            points.AwardPoints(P.AwardPointsRequest(
                request_id=request_id("points-award", adopted.id, h, item_code),
                subject=P.SubjectRef(kind=P.SUBJECT_KIND_HOUSEHOLD, id=households[h]),
                scheme_id=created.scheme.id, item_code=item_code,
                occurred_on=adopted.effective_from, quantity=quantity, reason="月度评议会"),
                metadata=md)
            counts["awards"] += 1


def clients_for(ports: dict[str, int]) -> tuple[Clients, list[grpc.Channel]]:
    channels = {s: grpc.insecure_channel(f"127.0.0.1:{ports[s]}")
                for s in ("talent", "audit", "points", "lists")}
    return (
        Clients(
            talent=talent_pb2_grpc.TalentServiceStub(channels["talent"]),
            audit=audit_pb2_grpc.AuditServiceStub(channels["audit"]),
            points=points_pb2_grpc.PointsServiceStub(channels["points"]),
            lists=lists_pb2_grpc.ListsServiceStub(channels["lists"]),
        ),
        list(channels.values()),
    )
