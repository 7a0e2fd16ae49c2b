"""Simulators of a whole phone call: every request a provider sends, signed as it signs them.

A call that nobody answers and that ends in a voicemail: the incoming call (ringing), the team's leg
unanswered, the recording, its transcription, the call completed. Pure request builders, in order; a
caller may shuffle or repeat them (the hub folds them into one message whatever the order).
Paths and secret names come from the provider modules: this module names no provider itself.
"""

from __future__ import annotations

import json
import secrets as random_tokens
import time
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from chalicelib.providers.twilio import voice as twilio_voice
from chalicelib.providers.twilio.signature import SECRET_NAME as TWILIO_SECRET
from chalicelib.providers.twilio.signature import sign_twilio_request
from chalicelib.providers.vonage import voice as vonage_voice
from chalicelib.providers.vonage.signature import SECRET_NAME as VONAGE_SECRET
from chalicelib.providers.vonage.signature import sign_vonage_webhook
from devstack.simulators.base import SimulatedRequest

DEFAULT_BUSINESS_NUMBER = "+15017122661"
DEFAULT_SUPPORT_NUMBER = "+15017122662"
DEFAULT_ACCOUNT_SID = "AC" + "0" * 32
_TRANSCRIPT = "Hello, I am calling about my last invoice, please call me back."


def _twilio_form(secrets: Mapping[str, str], base: str, path: str, params: list[tuple[str, str]]) -> SimulatedRequest:
    url = base.rstrip("/") + path
    return SimulatedRequest(
        method="POST", path=path,
        headers={"Content-Type": "application/x-www-form-urlencoded",
                 "X-Twilio-Signature": sign_twilio_request(secrets[TWILIO_SECRET], url, params),
                 "I-Twilio-Idempotency-Token": random_tokens.token_hex(16), "User-Agent": "TwilioProxy/1.1"},
        body=urlencode(params).encode(),
    )


def simulate_twilio_voice_call(
    secrets: Mapping[str, str],
    sender: str,
    text: str = _TRANSCRIPT,
    *,
    public_base_url: str = "http://127.0.0.1:8000",
    to: str = DEFAULT_BUSINESS_NUMBER,
    support_number: str = DEFAULT_SUPPORT_NUMBER,
    call_sid: str | None = None,
    account_sid: str = DEFAULT_ACCOUNT_SID,
    **_: Any,
) -> list[SimulatedRequest]:
    """Ringing, the team's ``<Dial>`` unanswered, the voicemail recorded and transcribed, completed.

    ``text`` is what the caller says on the voicemail (the transcription).
    """
    call_sid = call_sid or "CA" + random_tokens.token_hex(16)
    recording_sid = "RE" + random_tokens.token_hex(16)
    recording_url = f"https://{twilio_voice.RECORDING_HOSTS[0]}/2010-04-01/Accounts/{account_sid}/Recordings/{recording_sid}"
    call = [("AccountSid", account_sid), ("ApiVersion", "2010-04-01"), ("CallSid", call_sid), ("Direction", "inbound"),
            ("From", sender), ("Caller", sender), ("To", to), ("Called", to)]
    recording = [("RecordingSid", recording_sid), ("RecordingUrl", recording_url), ("RecordingDuration", "14")]

    def form(path: str, *extra: tuple[str, str], with_call: bool = True) -> SimulatedRequest:
        base = call if with_call else [("AccountSid", account_sid), ("CallSid", call_sid)]
        return _twilio_form(secrets, public_base_url, path, [*base, *extra])

    return [
        form(twilio_voice.VOICE_PATH, ("CallStatus", "ringing")),
        form(twilio_voice.ACTION_PATH, ("CallStatus", "in-progress"), ("DialCallStatus", "no-answer"),
             ("DialCallSid", "CA" + random_tokens.token_hex(16)), ("DialCallDuration", "0")),
        form(twilio_voice.ACTION_PATH, ("CallStatus", "in-progress"), *recording, ("Digits", "hangup")),
        form(twilio_voice.RECORDING_PATH, *recording, ("RecordingStatus", "completed"), ("RecordingChannels", "1"),
             ("RecordingSource", "RecordVerb"), with_call=False),
        form(twilio_voice.TRANSCRIPTION_PATH, ("CallStatus", "completed"), *recording,
             ("TranscriptionSid", "TR" + random_tokens.token_hex(16)), ("TranscriptionText", text),
             ("TranscriptionStatus", "completed"), ("TranscriptionType", "fast")),
        form(twilio_voice.STATUS_PATH, ("CallStatus", "completed"), ("CallDuration", "42"), ("Duration", "1")),
    ]


def _vonage_json(secrets: Mapping[str, str], path: str, payload: dict[str, Any], issued_at: int) -> SimulatedRequest:
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    authorization = sign_vonage_webhook(secrets[VONAGE_SECRET], body, issued_at=issued_at, jti=str(uuid.uuid4()))
    return SimulatedRequest(method="POST", path=path, body=body,
                            headers={"Content-Type": "application/json", "Authorization": authorization})


def simulate_vonage_voice_call(
    secrets: Mapping[str, str],
    sender: str,
    text: str = _TRANSCRIPT,
    *,
    public_base_url: str = "http://127.0.0.1:8000",
    to: str = DEFAULT_BUSINESS_NUMBER,
    support_number: str = DEFAULT_SUPPORT_NUMBER,
    conversation_uuid: str | None = None,
    issued_at: int | None = None,
    **_: Any,
) -> list[SimulatedRequest]:
    """The answer GET (Vonage's default), ringing, the team's leg timing out, recording, transcription,
    completed. Vonage keeps the transcript behind ``transcription_url``: ``text`` is not sent."""
    now = int(time.time()) if issued_at is None else issued_at
    conversation = conversation_uuid or f"CON-{uuid.uuid4()}"
    caller_leg, team_leg, recording = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    caller, called, team = sender.lstrip("+"), to.lstrip("+"), support_number.lstrip("+")
    query = urlencode([("to", called), ("from", caller), ("conversation_uuid", conversation), ("uuid", caller_leg)])
    answer = SimulatedRequest(
        method="GET", path=f"{vonage_voice.ANSWER_PATH}?{query}",
        headers={"Authorization": sign_vonage_webhook(secrets[VONAGE_SECRET], b"", issued_at=now,
                                                      jti=str(uuid.uuid4()))},
    )
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(now))

    def leg(uuid_: str, status: str, direction: str, frm: str, dest: str, **extra: Any) -> SimulatedRequest:
        payload = {"from": frm, "to": dest, "uuid": uuid_, "conversation_uuid": conversation, "status": status,
                   "direction": direction, "timestamp": stamp, **extra}
        return _vonage_json(secrets, vonage_voice.EVENT_PATH, payload, now)

    files = "https://api.nexmo.com/v1/files/"
    return [
        answer,
        leg(caller_leg, "ringing", "inbound", caller, called),
        leg(team_leg, "timeout", "outbound", called, team),
        _vonage_json(secrets, vonage_voice.EVENT_PATH, {
            "start_time": stamp, "end_time": stamp, "size": 23456, "recording_uuid": recording,
            "recording_url": files + str(uuid.uuid4()), "conversation_uuid": conversation, "timestamp": stamp}, now),
        _vonage_json(secrets, vonage_voice.EVENT_PATH, {
            "conversation_uuid": conversation, "type": "transcription", "recording_uuid": recording,
            "status": "completed", "transcription_url": files + str(uuid.uuid4())}, now),
        leg(caller_leg, "completed", "inbound", caller, called, duration="42", start_time=stamp, end_time=stamp),
    ]


def simulate_connect_invocation(
    secrets: Mapping[str, str] | None,
    sender: str,
    text: str = "",
    *,
    contact_id: str | None = None,
    system_number: str = DEFAULT_BUSINESS_NUMBER,
    region: str = "eu-west-1",
    account: str = "123456789012",
    **_: Any,
) -> dict[str, Any]:
    """The event a contact flow's "Invoke AWS Lambda function" block sends (no signature: IAM)."""
    contact = contact_id or str(uuid.uuid4())
    instance = f"arn:aws:connect:{region}:{account}:instance/{uuid.uuid4()}"
    return {
        "Details": {
            "ContactData": {
                "Attributes": {}, "Channel": "VOICE", "ContactId": contact,
                "CustomerEndpoint": {"Address": sender, "Type": "TELEPHONE_NUMBER"},
                "InitialContactId": contact, "InitiationMethod": "INBOUND", "InstanceARN": instance,
                "PreviousContactId": contact,
                "Queue": {"ARN": f"{instance}/queue/{uuid.uuid4()}", "Name": "BasicQueue"},
                "SystemEndpoint": {"Address": system_number, "Type": "TELEPHONE_NUMBER"},
            },
            "Parameters": {},
        },
        "Name": "ContactFlowEvent",
    }


def simulate_connect_contact_event(contact_id: str, event_type: str = "DISCONNECTED", *,
                                   region: str = "eu-west-1", account: str = "123456789012",
                                   agent: bool = False) -> dict[str, Any]:
    """The EventBridge ``Amazon Connect Contact Event`` of a contact (what the rule delivers)."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    instance = f"arn:aws:connect:{region}:{account}:instance/{uuid.uuid4()}"
    detail: dict[str, Any] = {"eventType": event_type, "contactId": contact_id, "initialContactId": contact_id,
                              "channel": "VOICE", "instanceArn": instance, "initiationMethod": "INBOUND",
                              "initiationTimestamp": stamp}
    if agent:
        detail["agentInfo"] = {"agentArn": f"{instance}/agent/{uuid.uuid4()}", "connectedToAgentTimestamp": stamp}
    return {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Amazon Connect Contact Event",
            "source": "aws.connect", "account": account, "time": stamp, "region": region,
            "resources": [f"{instance}/contact/{contact_id}", instance], "detail": detail}
