"""Twilio: one module per concern, every endpoint signed the same way.

- ``signature``: ``X-Twilio-Signature`` (HMAC over the URL Twilio called + the form), for every endpoint
- ``fields``: what every Twilio form carries (the channel prefix of an address, the reception time)
- ``messaging``: SMS, MMS and WhatsApp inbound, ``POST /webhooks/twilio/messaging`` (:data:`MESSAGING`)
- ``status``: message status callbacks, ``POST /webhooks/twilio/status`` (:data:`STATUS`)

Twilio Voice (``/webhooks/twilio/voice...``) belongs next to them as ``voice``. The names below are
re-exported so that ``chalicelib.providers.twilio:MESSAGING`` keeps resolving; new code imports the
module of its concern.
"""

from __future__ import annotations

from chalicelib.providers.twilio.messaging import (
    MESSAGING,
    parse_twilio_message,
    reply_in_twiml,
    respond_twilio_messaging,
    twiml_response,
)
from chalicelib.providers.twilio.signature import (
    SECRET_NAME,
    sign_twilio_json_request,
    sign_twilio_request,
    signed_url_candidates,
    twilio_signature,
    verify_twilio_signature,
)
from chalicelib.providers.twilio.status import STATUS, STATUS_MAP, parse_twilio_status, respond_twilio_status

__all__ = [
    "MESSAGING",
    "SECRET_NAME",
    "STATUS",
    "STATUS_MAP",
    "parse_twilio_message",
    "parse_twilio_status",
    "reply_in_twiml",
    "respond_twilio_messaging",
    "respond_twilio_status",
    "sign_twilio_json_request",
    "sign_twilio_request",
    "signed_url_candidates",
    "twilio_signature",
    "twiml_response",
    "verify_twilio_signature",
]
