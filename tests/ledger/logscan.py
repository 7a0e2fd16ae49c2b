"""Every log line of the ledger run, captured as the handlers wrote it, and scanned for personal data.

The hub logs through Powertools' JSON logger (with its extra keys), other libraries through
``logging``, and anything printed goes to stdout/stderr: all three are captured, formatted as they
would reach CloudWatch, and searched for the traffic's phone numbers (with or without ``+``, as
digits), email addresses and message texts (found by the unique token each text carries).
"""

from __future__ import annotations

import io
import logging
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

DIGITS = re.compile(r"\d{8,}")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


class _Tee(io.TextIOBase):
    def __init__(self, original: Any, sink: list[str]) -> None:
        self._original, self._sink = original, sink

    def write(self, text: str) -> int:
        self._sink.append(text)
        return len(text)

    def flush(self) -> None:
        pass


@dataclass
class CapturedLogs:
    chunks: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(self.chunks)

    def lines(self) -> int:
        return self.text.count("\n")

    def leaks(self, phones: set[str], emails: set[str], texts: set[str]) -> list[str]:
        """What of the traffic's personal data appears in the logs (a sample of each kind)."""
        text = self.text
        digits = {p.lstrip("+") for p in phones}
        found: list[str] = []
        numbers = set(DIGITS.findall(text)) & digits
        found += [f"phone {n}" for n in sorted(numbers)[:5]]
        addresses = {m.lower() for m in EMAIL.findall(text)} & {e.lower() for e in emails}
        found += [f"email {a}" for a in sorted(addresses)[:5]]
        from tests.ledger.books import TOKEN

        found += [f"text {t!r}" for t in sorted(set(TOKEN.findall(text)) & texts)[:5]]
        return found


@contextmanager
def captured_logs() -> Iterator[CapturedLogs]:
    """Capture the hub's logger, the root logger and stdout/stderr while the block runs."""
    from chalicelib.adapters.observability import logger

    captured = CapturedLogs()
    stream = _Tee(None, captured.chunks)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logger.registered_formatter)  # the JSON lines CloudWatch receives, extras included
    hub_logger = logging.getLogger(logger.name)
    root = logging.getLogger()
    hub_logger.addHandler(handler)
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.INFO)
    original_out, original_err = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _Tee(original_out, captured.chunks), _Tee(original_err, captured.chunks)  # type: ignore[assignment]
    try:
        yield captured
    finally:
        sys.stdout, sys.stderr = original_out, original_err
        hub_logger.removeHandler(handler)
        root.removeHandler(handler)
        root.setLevel(old_level)
