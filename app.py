"""Omnihub's Chalice app: routes and event handlers only; each body delegates to a use case."""

from __future__ import annotations

from typing import Any

from chalice import Chalice, Rate
from chalice.app import Request

from chalicelib.adapters import resources, runtime
from chalicelib.adapters.settings import get_settings
from chalicelib.api.care_routes import care_routes_blueprint
from chalicelib.api.docs_routes import docs_routes_blueprint
from chalicelib.api.privacy_routes import privacy_routes_blueprint
from chalicelib.api.rest_glue import authorized, json_body, rest
from chalicelib.api.web import WEBHOOK_CONTENT_TYPES, chalice_response, webhook_request
from chalicelib.handlers.wiring import crisis_config as _crisis_config
from chalicelib.handlers.wiring import crisis_ports as _crisis_ports
from chalicelib.handlers.wiring import instant_acknowledger as _instant_acknowledger
from chalicelib.handlers.wiring import outbound_ports as _outbound_ports
from chalicelib.handlers.wiring import ses_channel as _ses_channel
from chalicelib.handlers.wiring import worker_ports as _worker_ports
from chalicelib.ingest.webhook import ingest_webhook
from chalicelib.providers.registry import webhook_endpoints

app = Chalice(app_name="omnihub")
app.api.binary_types.append("multipart/form-data")
_STAGE = get_settings().stage
# Every webhook route below is one endpoint of the provider registry (tests/unit/providers/test_registry.py
# checks paths and methods); the registry says whether its answer carries the instant acknowledgment.
_WEBHOOKS = webhook_endpoints()


def _current_request() -> Request:
    request = app.current_request
    assert request is not None  # Chalice sets it before it calls any route handler
    return request


def _webhook(endpoint: str, spec: Any = None) -> Any:
    request = webhook_request(_current_request(), runtime.settings().public_base_url)
    if _WEBHOOKS[endpoint].answers_call:
        return _call_webhook(endpoint, request)
    result = ingest_webhook(
        endpoint, request, inbox=runtime.repositories().inbox, secrets=runtime.secrets(),
        acknowledger=_instant_acknowledger() if _WEBHOOKS[endpoint].instant_ack else None, spec=spec,
        claims=runtime.repositories().claims,
    )
    return chalice_response(result.response)


def _call_webhook(endpoint: str, request: Any) -> Any:
    """A call webhook answers with what the caller hears, decided from stored data (never silence)."""
    from chalicelib.ingest.call_answer import CallSettings, answer_call, ingest_call
    from chalicelib.sla import load_service_levels

    repos, settings = runtime.repositories(), CallSettings.from_environ(runtime.settings().environ)
    result = ingest_call(
        endpoint, request, inbox=repos.inbox, secrets=runtime.secrets(),
        answerer=lambda events: answer_call(repos, events, settings, lambda: load_service_levels().calendar),
    )
    return chalice_response(result.response)


def _authorized(scope: str) -> None:
    authorized(_current_request(), scope)


def _rest(scope: str, use_case: Any, *args: Any, status: int = 200, **kwargs: Any) -> Any:
    return rest(_current_request(), scope, use_case, *args, status=status, **kwargs)


def _json_body() -> Any:
    return json_body(_current_request())


# ---------------------------------------------------------------- webhooks
@app.route("/webhooks/api", methods=["POST"], content_types=WEBHOOK_CONTENT_TYPES)
def webhook_api() -> Any:
    return _webhook("api")


@app.route("/webhooks/twilio/messaging", methods=["POST"], content_types=WEBHOOK_CONTENT_TYPES)
def webhook_twilio_messaging() -> Any:
    return _webhook("twilio_messaging")


@app.route("/webhooks/twilio/status", methods=["POST"], content_types=WEBHOOK_CONTENT_TYPES)
def webhook_twilio_status() -> Any:
    return _webhook("twilio_status")


@app.route("/webhooks/meta", methods=["GET", "POST"], content_types=WEBHOOK_CONTENT_TYPES)
def webhook_meta() -> Any:
    return _webhook("meta")


@app.route("/webhooks/telegram/{bot}", methods=["POST"], content_types=WEBHOOK_CONTENT_TYPES)
def webhook_telegram(bot: str) -> Any:
    return _webhook("telegram")


@app.route("/webhooks/line", methods=["POST"], content_types=WEBHOOK_CONTENT_TYPES)
def webhook_line() -> Any:
    return _webhook("line")


@app.route("/webhooks/viber", methods=["POST"], content_types=WEBHOOK_CONTENT_TYPES)
def webhook_viber() -> Any:
    return _webhook("viber")


@app.route("/webhooks/x", methods=["GET", "POST"], content_types=WEBHOOK_CONTENT_TYPES)
def webhook_x() -> Any:
    return _webhook("x")


@app.route("/webhooks/vonage/messages", methods=["POST"], content_types=WEBHOOK_CONTENT_TYPES)
def webhook_vonage_messages() -> Any:
    return _webhook("vonage_messages")


# Telephony: Twilio Voice (TwiML answers and callbacks) and Vonage Voice (the NCCO answer, GET by default).
@app.route("/webhooks/twilio/voice", methods=["POST"], content_types=WEBHOOK_CONTENT_TYPES)
def webhook_twilio_voice() -> Any:
    return _webhook("twilio_voice")


@app.route("/webhooks/twilio/voice/status", methods=["POST"], content_types=WEBHOOK_CONTENT_TYPES)
def webhook_twilio_voice_status() -> Any:
    return _webhook("twilio_voice_status")


@app.route("/webhooks/twilio/voice/action", methods=["POST"], content_types=WEBHOOK_CONTENT_TYPES)
def webhook_twilio_voice_action() -> Any:
    return _webhook("twilio_voice_action")


@app.route("/webhooks/twilio/voice/recording", methods=["POST"], content_types=WEBHOOK_CONTENT_TYPES)
def webhook_twilio_voice_recording() -> Any:
    return _webhook("twilio_voice_recording")


@app.route("/webhooks/twilio/voice/transcription", methods=["POST"], content_types=WEBHOOK_CONTENT_TYPES)
def webhook_twilio_voice_transcription() -> Any:
    return _webhook("twilio_voice_transcription")


@app.route("/webhooks/vonage/voice/answer", methods=["GET", "POST"], content_types=WEBHOOK_CONTENT_TYPES)
def webhook_vonage_voice_answer() -> Any:
    return _webhook("vonage_voice_answer")


@app.route("/webhooks/vonage/voice/event", methods=["POST"], content_types=WEBHOOK_CONTENT_TYPES)
def webhook_vonage_voice_event() -> Any:
    return _webhook("vonage_voice_event")


# Email: SendGrid posts multipart/form-data, Mailgun a form (multipart with attachments), Postmark JSON,
# SNS text/plain; multipart is a binary type, so Chalice hands over its bytes untouched.
@app.route("/webhooks/email/sendgrid", methods=["POST"], content_types=WEBHOOK_CONTENT_TYPES)
def webhook_email_sendgrid() -> Any:
    return _webhook("sendgrid")


@app.route("/webhooks/email/sendgrid/events", methods=["POST"], content_types=WEBHOOK_CONTENT_TYPES)
def webhook_email_sendgrid_events() -> Any:
    return _webhook("sendgrid_events")


@app.route("/webhooks/email/mailgun", methods=["POST"], content_types=WEBHOOK_CONTENT_TYPES)
def webhook_email_mailgun() -> Any:
    return _webhook("mailgun")


@app.route("/webhooks/email/mailgun/events", methods=["POST"], content_types=WEBHOOK_CONTENT_TYPES)
def webhook_email_mailgun_events() -> Any:
    return _webhook("mailgun_events")


@app.route("/webhooks/email/postmark", methods=["POST"], content_types=WEBHOOK_CONTENT_TYPES)
def webhook_email_postmark() -> Any:
    return _webhook("postmark")


@app.route("/webhooks/email/postmark/events", methods=["POST"], content_types=WEBHOOK_CONTENT_TYPES)
def webhook_email_postmark_events() -> Any:
    return _webhook("postmark_events")


@app.route("/webhooks/email/ses", methods=["POST"], content_types=WEBHOOK_CONTENT_TYPES)
def webhook_email_ses() -> Any:
    return _webhook("ses", _ses_channel())


# ---------------------------------------------------------------- REST API for support tools
@app.route("/health", methods=["GET"])
def health() -> Any:
    return {"status": "ok", "service": "omnihub", "stage": _STAGE}


@app.route("/customers/lookup", methods=["GET"])
def customers_lookup() -> Any:
    from chalicelib.api.queries import lookup_customer

    return _rest("support", lookup_customer, _current_request().query_params or {})


@app.route("/conversations/{conversation_id}", methods=["GET"])
def conversation_get(conversation_id: str) -> Any:
    from chalicelib.api.queries import conversation_detail

    return _rest("support", conversation_detail, conversation_id)


@app.route("/conversations", methods=["GET"])
def conversations_list() -> Any:
    from chalicelib.api.queries import conversation_list

    return _rest("support", conversation_list, _current_request().query_params or {})


@app.route("/conversations/{conversation_id}/messages", methods=["POST"])
def conversation_reply(conversation_id: str) -> Any:
    from chalicelib.api.replies import reply_to_conversation

    return _rest(
        "support", reply_to_conversation, conversation_id, _json_body(), status=202,
        environ=runtime.settings().environ, idempotency_key=_current_request().headers.get("idempotency-key"),
        bus=runtime.bus(),
    )


@app.route("/conversations/{conversation_id}/resolve", methods=["POST"])
def conversation_resolve(conversation_id: str) -> Any:
    from chalicelib.api.lifecycle import resolve_conversation

    return _rest("support", resolve_conversation, conversation_id, bus=runtime.bus(),
                 environ=runtime.settings().environ)


@app.route("/conversations/{conversation_id}/reopen", methods=["POST"])
def conversation_reopen(conversation_id: str) -> Any:
    from chalicelib.api.lifecycle import reopen_conversation

    return _rest("support", reopen_conversation, conversation_id, bus=runtime.bus())


@app.route("/conversations/{conversation_id}/pending", methods=["POST"])
def conversation_pending(conversation_id: str) -> Any:
    from chalicelib.api.lifecycle import set_pending

    return _rest("support", set_pending, conversation_id, bus=runtime.bus())


@app.route("/conversations/{conversation_id}/assign", methods=["POST"])
def conversation_assign(conversation_id: str) -> Any:
    from chalicelib.api.lifecycle import assign_conversation

    return _rest("support", assign_conversation, conversation_id, _json_body(), bus=runtime.bus())


@app.route("/customers/{customer_id}", methods=["PATCH"])
def customer_update(customer_id: str) -> Any:
    from chalicelib.api.customers import update_customer

    return _rest("support", update_customer, customer_id, _json_body(), bus=runtime.bus())


# Crisis communication (scope crisis), its console and the KPI reports: chalicelib/api/care_routes.py.
app.register_blueprint(care_routes_blueprint())
# A customer's export and erasure (scope admin): chalicelib/api/privacy_routes.py.
app.register_blueprint(privacy_routes_blueprint())
app.register_blueprint(docs_routes_blueprint())  # GET /openapi.json: chalicelib/api/openapi.py


# ---------------------------------------------------------------- event handlers (the pump calls these locally)
@app.on_dynamodb_record(
    stream_arn=get_settings().table_stream_arn or "arn:aws:dynamodb:us-east-1:000000000000:table/omnihub/stream/x",
    batch_size=100,
    starting_position="TRIM_HORIZON",
    name=resources.STREAM_CONSUMER,
)
def relay_inbox_stream(event: Any) -> Any:
    from chalicelib.handlers.relay import relay_stream_batch

    return relay_stream_batch(event.to_dict(), runtime.bus(), event.context)


@app.on_sqs_message(
    queue=resources.queue_name(_STAGE, resources.INBOUND_QUEUE),
    batch_size=resources.INBOUND_QUEUE.batch_size,
    name=resources.INBOUND_QUEUE.consumer,
)
def handle_inbound(event: Any) -> Any:
    from chalicelib.handlers.inbound import handle_inbound_batch

    return handle_inbound_batch(event.to_dict(), _worker_ports(), event.context)


@app.on_sqs_message(
    queue=resources.queue_name(_STAGE, resources.OUTBOUND_QUEUE),
    batch_size=resources.OUTBOUND_QUEUE.batch_size,
    name=resources.OUTBOUND_QUEUE.consumer,
)
def handle_outbound(event: Any) -> Any:
    from chalicelib.handlers.outbound import handle_outbound_batch

    return handle_outbound_batch(event.to_dict(), _outbound_ports(), runtime.bus(), event.context)


# Amazon Connect: a contact flow invokes this function (IAM: infra/ grants connect.amazonaws.com) and
# gets a flat map of strings back; EventBridge contact events complete the call's message.
@app.lambda_function(name=resources.CONTACT_FLOW_FUNCTION)
def connect_contact_flow(event: Any, context: Any) -> Any:
    from chalicelib.ingest.contact_flow import answer_contact_flow
    from chalicelib.routing import load_routing_config
    from chalicelib.sla import load_service_levels

    return answer_contact_flow(event, runtime.repositories(), load_routing_config,
                               lambda: load_service_levels().calendar,
                               crisis=lambda: (runtime.crisis_store(), _crisis_config().fallback_language))


@app.on_cw_event(resources.CONTACT_EVENT_PATTERN, name=resources.CONTACT_EVENTS_CONSUMER)
def connect_contact_events(event: Any) -> Any:
    from chalicelib.ingest.contact_flow import store_contact_event

    return {"stored": store_contact_event(event.to_dict(), runtime.repositories())}
@app.on_sqs_message(
    queue=resources.queue_name(_STAGE, resources.MAIL_OBJECTS_QUEUE),
    batch_size=resources.MAIL_OBJECTS_QUEUE.batch_size,
    name=resources.MAIL_OBJECTS_QUEUE.consumer,
)
def receive_mail_objects(event: Any) -> Any:
    """Amazon SES → S3: the payload bucket's notifications of new mail objects (through an SQS queue:
    ``@app.on_s3_event`` cannot be packaged by ``chalice package``, and the queue adds retries and a DLQ)."""
    from chalicelib.handlers.mail_objects import handle_mail_object_batch

    return handle_mail_object_batch(event.to_dict(), inbox=runtime.repositories().inbox, objects=runtime.mail_objects(),
                                    bucket_name=runtime.settings().bucket_name, context=event.context)


@app.schedule(Rate(1, unit=Rate.MINUTES), name="sweep_sla")
def sweep_sla(event: Any) -> Any:
    from chalicelib.handlers.schedules import sweep_sla as sweep

    return sweep(event.to_dict())


@app.on_sqs_message(
    queue=resources.queue_name(_STAGE, resources.BROADCAST_QUEUE),
    batch_size=resources.BROADCAST_QUEUE.batch_size,
    name=resources.BROADCAST_QUEUE.consumer,
)
def handle_broadcast(event: Any) -> Any:
    from chalicelib.handlers.broadcast import handle_broadcast_batch

    return handle_broadcast_batch(event.to_dict(), _crisis_ports(), runtime.bus(), event.context)
