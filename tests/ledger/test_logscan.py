"""The log scan finds what it looks for (else the ledger's privacy check could never fail)."""

from __future__ import annotations

import logging
import sys

from tests.ledger.logscan import captured_logs


def test_the_scan_finds_a_phone_an_email_and_a_text_in_any_of_the_three_outputs() -> None:
    from chalicelib.adapters.observability import logger

    with captured_logs() as logs:
        logger.info("routed", extra={"to": "+393371234567"})
        logging.getLogger("somelibrary").warning("mail from Ledger.Customer1@Example.org")
        print("Order LDG000001Qabcdef has not arrived yet", file=sys.stderr)
        logger.info("clean line", extra={"event_ref": "ev_0123"})
    leaks = logs.leaks({"+393371234567"}, {"ledger.customer1@example.org"}, {"LDG000001Qabcdef"})
    assert leaks == ["phone 393371234567", "email ledger.customer1@example.org", "text 'LDG000001Qabcdef'"]
    with captured_logs() as clean:
        logger.info("clean line", extra={"event_ref": "ev_0123"})
    assert clean.leaks({"+393371234567"}, {"ledger.customer1@example.org"}, {"LDG000001Qabcdef"}) == []
