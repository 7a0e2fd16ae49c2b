"""OutboundJob: the omnihub.outbound.v1 envelope, its round trip and its JSON Schema."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from chalicelib.core.model import Attachment, Channel, ModelError
from chalicelib.outbound import OUTBOUND_SCHEMA, EmailThreading, OutboundJob, Template

SCHEMA = json.loads((Path(__file__).resolve().parents[3] / "schemas" / "omnihub.outbound.v1.json").read_text())


def validate(document):
    jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker()).validate(document)


def test_schema_is_valid_draft_2020_12():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def test_minimal_job_validates_and_round_trips(make_job):
    job = make_job()
    document = job.to_dict()
    assert document["schema"] == OUTBOUND_SCHEMA
    validate(json.loads(json.dumps(document)))
    assert OutboundJob.from_dict(document) == job


def test_full_job_validates_and_round_trips(make_job):
    job = make_job(
        channel=Channel.EMAIL, provider="ses", to="Someone@Example.COM", language="it", reference="ABC-123",
        attachments=(Attachment(kind="document", url="https://x.example/a.pdf", name="a.pdf", size=10),),
        reply_token="rt", template=Template(name="t", language="it", params=("a",), content_sid="HX1"),
        messaging_tag="HUMAN_AGENT", email=EmailThreading(subject="S", in_reply_to="<a@b>", references=("<r@b>",)),
        sender_hints={"from": "care@acme.example"},
    )
    assert job.to == "someone@example.com"
    document = job.to_dict()
    validate(document)
    assert OutboundJob.from_dict(json.loads(json.dumps(document))) == job


def test_a_broadcast_job_names_its_incident_update_and_round_trips(make_job):
    from chalicelib.core.incident import BroadcastRef
    from chalicelib.outbound.job import OutboundKind
    from chalicelib.outbound.outbox import outbound_message

    job = make_job(kind=OutboundKind.BROADCAST, broadcast=BroadcastRef("inc-1", "upd-1"))
    document = job.to_dict()
    assert document["broadcast"] == {"incident_id": "inc-1", "update_id": "upd-1"}
    validate(document)
    assert OutboundJob.from_dict(json.loads(json.dumps(document))) == job
    assert outbound_message(job).broadcast == BroadcastRef("inc-1", "upd-1")  # the stored message carries it
    assert "broadcast" not in make_job().to_dict()
    with pytest.raises(ModelError):
        OutboundJob.from_dict({**document, "broadcast": {"incident_id": "", "update_id": "u"}})


def test_phone_addresses_are_normalized(make_job):
    assert make_job(to="whatsapp:+39 333 123 4567", channel=Channel.WHATSAPP).to == "+393331234567"


@pytest.mark.parametrize("change", [
    {"provider": "pigeon"}, {"kind": "spam"}, {"text": "", "attachments": ()}, {"outbound_id": ""},
    {"customer_last_inbound_at": "yesterday"}, {"to": "not-a-phone"},
])
def test_bad_jobs_are_refused(make_job, change):
    with pytest.raises((ModelError, ValueError)):
        make_job(**change)


def test_from_dict_refuses_other_schemas_and_missing_fields(make_job):
    document = make_job().to_dict()
    with pytest.raises(ModelError):
        OutboundJob.from_dict({**document, "schema": "omnihub.outbound.v2"})
    del document["to"]
    with pytest.raises(ModelError):
        OutboundJob.from_dict(document)


def test_schema_refuses_what_the_model_refuses(make_job):
    document = make_job().to_dict()
    with pytest.raises(jsonschema.ValidationError):
        validate({**document, "provider": "pigeon"})
    with pytest.raises(jsonschema.ValidationError):
        validate({**document, "text": None})
