"""Resident ID numbers (公民身份号码, GB 11643-1999). Pure: no I/O.

An 18-character number is: a 6-digit address code (地址码), an 8-digit birth date
(出生日期码, YYYYMMDD), a 3-digit sequence code (顺序码, odd for men, even for
women) and a check character (校验码) computed with ISO 7064 MOD 11-2 over the
first 17 digits (0-9 or X for 10).

15-digit legacy numbers (first-generation cards, issued until 1999, birth years
1900-1999 written with two digits and no check character) are **accepted and
converted** to the 18-character form by inserting "19" before the year and
computing the check character, the same conversion the public security bureaus
applied when they reissued cards. Village archives still hold such numbers,
and refusing them would leave those people unregistrable; converting them means
one person has one normalised number, so a person first registered with the old
number cannot be registered again with the new one.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date

from shanzhi.talent.v1 import talent_pb2

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"

#: First two digits of the address code: the provinces (省级行政区划代码).
PROVINCES = frozenset(
    {"11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
     "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64",
     "65", "71", "81", "82"}
)

EARLIEST_BIRTH = date(1900, 1, 1)


class IdNumberError(ValueError):
    """Why a string is not a valid resident ID number (the message names no digits)."""


@dataclass(frozen=True)
class IdNumber:
    """A valid, normalised 18-character ID number and what it encodes."""

    value: str
    birth_date: date
    gender: talent_pb2.Gender.ValueType
    converted_from_15: bool = False

    @property
    def masked(self) -> str:
        return mask(self.value)


def check_character(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character of 17 digits.

    >>> check_character("11010519491231002")
    'X'
    """
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK[total % 11]


def mask(value: str) -> str:
    """The masked form shown to callers who may not see the number.

    >>> mask("11010519491231002X")
    '1101**********002X'
    """
    if len(value) <= 8:
        return "*" * len(value)
    return value[:4] + "*" * (len(value) - 8) + value[-4:]


def _birth(digits: str) -> date:
    try:
        return date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        raise IdNumberError("the birth date it encodes does not exist") from None


def parse(raw: str, today: date) -> IdNumber:
    """Validate and normalise ``raw`` (spaces dropped, x upper-cased, 15 digits converted)."""
    # Full-width digits and X (１１０１…Ｘ), as Chinese input methods type them, are the
    # same number: NFKC makes them ASCII, so both forms find the same person.
    value = "".join(unicodedata.normalize("NFKC", raw).split()).upper()
    converted = False
    if len(value) == 15:
        if not (value.isascii() and value.isdigit()):
            raise IdNumberError("a 15-character number must be all digits")
        first17 = value[:6] + "19" + value[6:]
        value = first17 + check_character(first17)
        converted = True
    if len(value) != 18:
        raise IdNumberError("must have 18 characters (or 15 digits for a legacy number)")
    if not (value.isascii() and value[:17].isdigit() and (value[17].isdigit() or value[17] == "X")):
        raise IdNumberError("must be 17 digits followed by a digit or X")
    if value[:2] not in PROVINCES:
        raise IdNumberError("the address code does not start with a province code")
    birth = _birth(value[6:14])
    if not EARLIEST_BIRTH <= birth <= today:
        raise IdNumberError("the birth date it encodes is not between 1900-01-01 and today")
    if value[17] != check_character(value[:17]):
        raise IdNumberError("the check character (校验码) is wrong: the number has a typo")
    gender = talent_pb2.GENDER_MALE if int(value[16]) % 2 else talent_pb2.GENDER_FEMALE
    return IdNumber(value=value, birth_date=birth, gender=gender, converted_from_15=converted)
