"""Resident ID numbers (GB 11643-1999): check character, dates, gender, legacy numbers."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from shanzhi.talent.v1 import talent_pb2
from shanzhi_kit.errors import InvalidArgument
from shanzhi_talent import domain, idnumbers

TODAY = date(2026, 11, 22)
# The standard's own example: born 1949-12-31 in 110105, sequence 002 (a woman), check X.
EXAMPLE = "11010519491231002X"


def make(birth: date, sequence: int, address: str = "130123") -> str:
    first17 = f"{address}{birth:%Y%m%d}{sequence:03d}"
    return first17 + idnumbers.check_character(first17)


def test_the_standard_example_is_valid() -> None:
    n = idnumbers.parse(EXAMPLE, TODAY)
    assert n.value == EXAMPLE
    assert n.birth_date == date(1949, 12, 31)
    assert n.gender == talent_pb2.GENDER_FEMALE
    assert n.masked == "1101**********002X"
    assert not n.converted_from_15


def test_spaces_and_a_lower_case_x_are_normalised() -> None:
    assert idnumbers.parse(" 110105 19491231 002x ", TODAY).value == EXAMPLE


def test_full_width_digits_from_a_chinese_input_method_are_the_same_number() -> None:
    full_width = EXAMPLE.translate(str.maketrans("0123456789X", "０１２３４５６７８９Ｘ"))
    assert idnumbers.parse(full_width, TODAY).value == EXAMPLE
    assert idnumbers.parse(full_width[:6] + full_width[8:17], TODAY).value == EXAMPLE  # 15 digits


@pytest.mark.parametrize("digit", ["\u0661", "\u096b"])  # Arabic-Indic one, Devanagari five
def test_digits_of_other_scripts_are_refused(digit: str) -> None:
    with pytest.raises(idnumbers.IdNumberError):
        idnumbers.parse(digit + EXAMPLE[1:], TODAY)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("110105194912310021", "check character"),  # one typo in the check character
        ("110105194912310120", "check character"),  # two digits swapped
        (make(date(1990, 1, 1), 11)[:17] + "Y", "17 digits followed"),
        ("11010519490230002X"[:17] + idnumbers.check_character("11010519490230002"), "does not exist"),
        ("11010520991231002" + idnumbers.check_character("11010520991231002"), "between 1900"),
        ("11010518991231002" + idnumbers.check_character("11010518991231002"), "between 1900"),
        ("00010519491231002" + idnumbers.check_character("00010519491231002"), "province"),
        ("1101051949123100", "18 characters"),
        ("11010549123100A", "all digits"),
        ("", "18 characters"),
    ],
)
def test_invalid_numbers_are_refused_with_the_reason(raw: str, reason: str) -> None:
    with pytest.raises(idnumbers.IdNumberError, match=reason) as err:
        idnumbers.parse(raw, TODAY)
    assert raw.strip() == "" or raw[:10] not in str(err.value)  # the reason names no digits


def test_a_15_digit_legacy_number_is_converted_to_18() -> None:
    n = idnumbers.parse("110105491231002", TODAY)
    assert n.value == EXAMPLE
    assert n.converted_from_15
    assert n.birth_date == date(1949, 12, 31)


def test_a_15_digit_number_with_an_impossible_date_is_refused() -> None:
    with pytest.raises(idnumbers.IdNumberError, match="does not exist"):
        idnumbers.parse("110105490231002", TODAY)


@given(st.dates(min_value=date(1900, 1, 1), max_value=TODAY), st.integers(0, 999))
def test_every_well_formed_number_parses_back_to_its_parts(birth: date, sequence: int) -> None:
    n = idnumbers.parse(make(birth, sequence), TODAY)
    assert n.birth_date == birth
    assert n.gender == (talent_pb2.GENDER_MALE if sequence % 2 else talent_pb2.GENDER_FEMALE)


@given(st.dates(min_value=date(1900, 1, 1), max_value=TODAY), st.integers(0, 999),
       st.integers(0, 16), st.integers(1, 9))
def test_any_single_digit_typo_is_caught(birth: date, sequence: int, position: int, delta: int) -> None:
    good = make(birth, sequence)
    typo = good[:position] + str((int(good[position]) + delta) % 10) + good[position + 1:]
    with pytest.raises(idnumbers.IdNumberError):
        idnumbers.parse(typo, TODAY)


def registration(**kw: object) -> talent_pb2.RegisterPersonRequest:
    base: dict[str, object] = dict(request_id="r", region_code="130123101201", name="张三")
    base.update(kw)
    return talent_pb2.RegisterPersonRequest(**base)  # type: ignore[arg-type]


def test_gender_and_birth_date_come_from_the_number_when_left_out() -> None:
    new = domain.check_new_person(registration(id_number=EXAMPLE), TODAY)
    assert new.gender == talent_pb2.GENDER_FEMALE
    assert new.birth_date == date(1949, 12, 31)
    assert new.id_number is not None and new.id_number.value == EXAMPLE


def test_given_gender_and_birth_date_must_agree_with_the_number() -> None:
    with pytest.raises(InvalidArgument) as err:
        domain.check_new_person(registration(id_number=EXAMPLE, gender=talent_pb2.GENDER_MALE,
                                             birth_date="1949-12-30"), TODAY)
    assert {v.field for v in err.value.violations} == {"gender", "birth_date"}
    assert EXAMPLE not in err.value.message


def test_agreeing_gender_and_birth_date_are_accepted() -> None:
    new = domain.check_new_person(registration(id_number=EXAMPLE, gender=talent_pb2.GENDER_FEMALE,
                                               birth_date="1949-12-31"), TODAY)
    assert new.birth_date == date(1949, 12, 31)


def test_a_wrong_number_is_named_without_echoing_it() -> None:
    bad = EXAMPLE[:-1] + "1"
    with pytest.raises(InvalidArgument) as err:
        domain.check_new_person(registration(id_number=bad), TODAY)
    assert "id_number" in {v.field for v in err.value.violations}
    assert bad not in err.value.message


def test_party_join_date_needs_membership_and_an_adult() -> None:
    with pytest.raises(InvalidArgument) as err:
        domain.check_new_person(registration(id_number=EXAMPLE, party_join_date="1960-01-01"), TODAY)
    assert "party_join_date" in {v.field for v in err.value.violations}
    new = domain.check_new_person(registration(id_number=EXAMPLE, party_member=True,
                                               party_join_date="1975-07-01", phone="13812345678"), TODAY)
    assert new.party_join_date == date(1975, 7, 1) and new.phone == "13812345678"
    future = (TODAY + timedelta(days=1)).isoformat()
    with pytest.raises(InvalidArgument):
        domain.check_new_person(registration(id_number=EXAMPLE, party_member=True,
                                             party_join_date=future), TODAY)


def test_masks() -> None:
    assert idnumbers.mask(EXAMPLE) == "1101**********002X"
    assert domain.mask_phone("13812345678") == "138****5678"
