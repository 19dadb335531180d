"""Logging set-up: one line per record, key facts first, no personal data.

Records never carry ID numbers or phone numbers: :func:`redact` masks anything
that looks like one, and a filter applies it to every message as a last wall.
"""

from __future__ import annotations

import logging
import re
import sys

_ID_NUMBER = re.compile(r"(?<!\d)(\d{6})(\d{8}|\d{5})(\d{3}[\dXx])(?!\d)")
_PHONE = re.compile(r"(?<!\d)(1[3-9]\d)(\d{4})(\d{4})(?!\d)")


def redact(text: str) -> str:
    """Mask resident ID numbers and mobile numbers in free text.

    >>> redact("id 11010519491231002X phone 13812345678")
    'id 110105********002X phone 138****5678'
    """
    text = _ID_NUMBER.sub(lambda m: m.group(1) + "*" * len(m.group(2)) + m.group(3), text)
    return _PHONE.sub(lambda m: m.group(1) + "****" + m.group(3), text)


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def configure_logging(level: str = "INFO", service: str = "") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter(f"%(asctime)s %(levelname)s {service} %(name)s: %(message)s")
    )
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("kafka").setLevel(logging.WARNING)
