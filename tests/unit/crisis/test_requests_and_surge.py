"""The crisis API's doors (hostile bodies refused before anything is stored), the audience rules,
the inbound surge's match, and the console's file server."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.console import console_asset
from chalicelib.core.consent import ConsentState
from chalicelib.core.errors import BadRequest, PayloadTooLarge
from chalicelib.core.incident import Audience, Incident, IncidentStatus, IncidentUpdate
from chalicelib.core.model import Channel, Customer, Identity
from chalicelib.crisis.audience import admits, message_language, recipient_channel
from chalicelib.crisis.config import CrisisConfigError, load_crisis_config, parse_crisis_config
from chalicelib.crisis.requests import validated_incident
from chalicelib.crisis.surge import match_surge

GOOD: dict[str, Any] = {"title": "Outage", "status": "investigating", "message": {"it": "Guasto"}}


@pytest.mark.parametrize("body", [
    None, [], {**GOOD, "title": ""}, {**GOOD, "status": "panic"}, {**GOOD, "message": {}},
    {**GOOD, "message": {"not a tag!": "x"}}, {**GOOD, "message": {"it": "\ud800"}},
    {**GOOD, "audience": {"tiers": "vip"}}, {**GOOD, "audience": {"channels": ["pigeon"]}},
    {**GOOD, "audience": {"active_within_days": 0}}, {**GOOD, "audience": {"open_conversations": "yes"}},
    {**GOOD, "audience": {"unknown": 1}}, {**GOOD, "dry_run": "true"}, {**GOOD, "keywords": [""]},
])
def test_malformed_bodies_are_refused(body: Any) -> None:
    with pytest.raises(BadRequest):
        validated_incident(body)


def test_oversized_lists_are_refused() -> None:
    with pytest.raises(PayloadTooLarge):
        validated_incident({**GOOD, "audience": {"customer_ids": [f"c{n}" for n in range(1001)]}})


def test_the_fingerprint_follows_the_body() -> None:
    assert validated_incident(GOOD).fingerprint == validated_incident(dict(GOOD)).fingerprint
    assert validated_incident(GOOD).fingerprint != validated_incident({**GOOD, "title": "Other"}).fingerprint


def _customer(**changes: Any) -> Customer:
    values: dict[str, Any] = {"id": "c1", "name": None, "language": "it", "tier": "vip",
                              "identities": (Identity(Channel.SMS, "+393331234567"),),
                              "created_at": "2027-01-01T00:00:00Z", "tags": ("loyal",),
                              "last_inbound_channel": Channel.SMS, "last_inbound_at": "2027-01-10T00:00:00Z"}
    return Customer(**{**values, **changes})


def test_every_criterion_given_must_hold() -> None:
    from datetime import UTC, datetime

    now = datetime(2027, 1, 12, tzinfo=UTC)
    assert admits(Audience(tiers=("vip",), tags=("loyal", "x"), active_within_days=5), _customer(), now)
    assert not admits(Audience(tiers=("standard",)), _customer(), now)
    assert not admits(Audience(active_within_days=1), _customer(), now)
    assert not admits(Audience(open_conversations=True), _customer(), now)
    assert not admits(Audience(customer_ids=("c2",)), _customer(), now)


def test_the_channel_is_the_last_inbound_one_when_consent_and_a_sender_allow() -> None:
    assert recipient_channel(Audience(), _customer(), lambda c: True) == (Channel.SMS, None)
    excluded = recipient_channel(Audience(channels=("whatsapp",)), _customer(), lambda c: True)
    assert excluded[1] == "channel_not_in_audience"
    stopped = _customer(consent={"sms": ConsentState.WITHDRAWN.value})
    assert recipient_channel(Audience(), stopped, lambda c: True)[1] == "opted_out"
    assert recipient_channel(Audience(), _customer(), lambda c: False)[1] == "no_sender"


def test_the_language_falls_back() -> None:
    assert message_language("pt-BR", ("en", "pt"), "en") == "pt"
    assert message_language("de", ("it", "en"), "en") == "en"
    assert message_language(None, ("it",), "en") == "it"


def test_a_message_naming_an_active_incidents_keyword_gets_its_latest_status_line() -> None:
    incident = Incident("inc-1", "Outage", IncidentStatus.IDENTIFIED, ("Rete",), Audience(), "t", "t")
    latest = IncidentUpdate("inc-1", "upd-2", IncidentStatus.IDENTIFIED, {"it": "Guasto trovato", "en": "Found"}, "t")
    match = match_surge([(incident, latest)], "la RETE non va", "it", "en")
    assert match is not None and match.tag == "incident:inc-1" and match.status_line == "Guasto trovato"
    assert match_surge([(incident, latest)], "la fattura", "it", "en") is None
    cancelled = Incident("inc-1", "Outage", IncidentStatus.IDENTIFIED, ("rete",), Audience(), "t", "t", "t")
    assert match_surge([(cancelled, latest)], "rete", "it", "en") is None


def test_the_shipped_configuration_is_valid_and_a_bad_one_is_refused() -> None:
    config = load_crisis_config()
    assert config.rate_for(Channel.LINE) == config.rates["default"]
    assert config.eta_seconds(110, "sms") == 10
    with pytest.raises(CrisisConfigError):
        parse_crisis_config({"version": 1, "rates": {"sms": {"per_second": 1}}})
    with pytest.raises(CrisisConfigError):
        parse_crisis_config({"version": 1, "rates": {"default": {"per_second": 0}}})
    assert (config.dry_run_page_size, config.dry_run_max_pages, config.dry_run_seconds) == (1000, 20, 3.0)
    for budget in ({"page_size": 0}, {"max_pages": True}, {"seconds": 60}, []):
        with pytest.raises(CrisisConfigError):
            parse_crisis_config({"version": 1, "rates": {"default": {"per_second": 1}}, "dry_run": budget})


@pytest.mark.parametrize("name", ["../app.py", "__init__.py", "index.html.bak", "", "x/../index.html"])
def test_the_console_serves_only_its_own_static_files(name: str) -> None:
    assert console_asset(name).status_code == 404


def test_the_console_page_loads_nothing_from_elsewhere() -> None:
    page = console_asset("index.html")
    assert page.status_code == 200 and "default-src 'self'" in page.headers["Content-Security-Policy"]
    assert "://" not in str(page.body) and "://" not in str(console_asset("crisis.js").body)  # no CDN
    assert console_asset("console.js").headers["Content-Type"].startswith("text/javascript")


def test_the_broadcast_jobs_match_their_published_schema() -> None:
    import json
    from pathlib import Path

    import jsonschema

    from chalicelib.crisis.incidents import plan_job
    from chalicelib.crisis.planner import recipient_job

    schema = json.loads((Path(__file__).resolve().parents[3] / "schemas" / "omnihub.broadcast.v1.json").read_text())
    jsonschema.validate(plan_job("inc-1", "upd-1").body, schema)
    jsonschema.validate(recipient_job("inc-1", "upd-1", _customer(), "sms").body, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**recipient_job("inc-1", "upd-1", _customer(), "sms").body, "customer_id": None}, schema)


def test_the_customers_index_size_is_dynamodbs_item_count_or_unknown() -> None:
    from chalicelib.adapters.dynamo.crisis import DynamoCrisis
    from chalicelib.core.errors import StoreUnavailable

    class DescribingTable:
        def __init__(self, answer: Any) -> None:
            self.answer = answer

        def call(self, operation: str, **_: Any) -> Any:
            assert operation == "describe_table"
            if isinstance(self.answer, Exception):
                raise self.answer
            return self.answer

    def size(answer: Any) -> int | None:
        return DynamoCrisis(DescribingTable(answer)).audience_size()  # type: ignore[arg-type]

    indexes = [{"IndexName": "gsi1", "ItemCount": 5}, {"IndexName": "gsi_customers", "ItemCount": 1_250_000}]
    assert size({"Table": {"GlobalSecondaryIndexes": indexes}}) == 1_250_000
    assert size({"Table": {"GlobalSecondaryIndexes": indexes[:1]}}) is None
    assert size({"Table": {"GlobalSecondaryIndexes": [{"IndexName": "gsi_customers", "ItemCount": 0}]}}) is None
    assert size(StoreUnavailable("no DescribeTable permission")) is None


@pytest.mark.parametrize(("old", "new", "moves"), [
    ("queued", "delivered", {"delivered": 1}), ("sent", "read", {"delivered": 1}), ("delivered", "read", {}),
    ("queued", "sent", {}), ("sent", "failed", {"failed": 1}), ("queued", "failed", {"failed": 1}),
    ("delivered", "failed", {"failed": 1, "delivered": -1}),
])
def test_a_broadcast_messages_status_change_moves_at_most_one_counter_to_it(old: str, new: str,
                                                                             moves: dict[str, int]) -> None:
    from chalicelib.core.incident import delivery_moves
    from chalicelib.core.model import DeliveryStatus

    assert DeliveryStatus(old).can_become(DeliveryStatus(new))
    assert delivery_moves(DeliveryStatus(old), DeliveryStatus(new)) == moves
