"""Amazon SES inbound: ``POST /webhooks/email/ses`` (SNS notifications), and the S3 object path.

Two ways SES hands the hub a mail (SES developer guide, "Contents of notifications for Amazon SES
email receiving" and "Deliver to S3 bucket action"):

- **S3 action (recommended)**: a receipt rule stores the raw message in the payload bucket (up to
  40 MB) and the object's creation triggers the hub's S3 event handler, which reads the object and
  calls :func:`ses_events_from_raw`. Large mail never passes through a webhook.
- **SNS action**: SNS posts a notification (``text/plain`` body with JSON) whose ``Message`` is the
  SES notification: ``notificationType: "Received"``, ``receipt`` (``recipients``, the spam, virus,
  SPF, DKIM and DMARC verdicts, ``action``) and ``mail``, with ``content`` = the raw MIME (UTF-8, or
  base64 when the action's ``encoding`` is ``BASE64``). SES publishes mail up to 150 KB this way;
  :data:`MAX_BODY_BYTES` bounds the request. A notification for an S3 action (``action.type: "S3"``,
  ``bucketName``, ``objectKey``) has no content: it yields a ``lifecycle`` event naming the object,
  for the worker to read (or to ignore when the S3 event handler already does).

The same endpoint reads SES's feedback for mail the hub *sent* (``notificationType`` or ``eventType``
``Bounce``, ``Complaint``, ``Delivery``): ``delivery_status`` events keyed by SES's message id (what
the SES sender stored as the provider message id); hard bounces (``Permanent``) and complaints are
marked in metadata so the consent step can act on them.

Every request is verified as SNS signed it (:mod:`chalicelib.providers.sns`); ``SubscriptionConfirmation``
and ``UnsubscribeConfirmation`` become ``lifecycle`` events carrying the validated ``SubscribeURL``,
which the worker visits to confirm (the webhook path makes no outbound call besides fetching the
signing certificate once per container). Forged → 403: SNS treats a 4xx as final.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Collection, Mapping
from typing import Any

from chalicelib.core.model import (
    Channel,
    DeliveryStatus,
    EventKind,
    InboundEvent,
    ModelError,
)
from chalicelib.core.timestamps import normalize_timestamp, utc_now
from chalicelib.email.events import EmailDelivery, email_events, email_media
from chalicelib.email.headers import normalize_address, one_line
from chalicelib.email.mime import parse_email
from chalicelib.providers.base import (
    ChannelSpec,
    PayloadError,
    Secrets,
    WebhookRequest,
    as_dict,
    as_list,
    json_string,
    load_json,
)
from chalicelib.providers.sns import (
    SNS_API_URL,
    CertificateCache,
    CertificateSource,
    CertificateUnavailable,
    SnsTrust,
    local_subscribe_url_allowed,
    verify_sns_message,
)

PROVIDER = "ses"
TOPICS_ENV = "OMNIHUB_SES_TOPIC_ARNS"
TRUSTED_CERT_PEM_ENV = "OMNIHUB_SNS_TRUSTED_CERT_PEM"
TRUSTED_CERT_URL_ENV = "OMNIHUB_SNS_TRUSTED_CERT_URL"
TRUSTED_SUBSCRIBE_URL_ENV = "OMNIHUB_SNS_TRUSTED_SUBSCRIBE_URL"
LOCAL_STAGE = "local"
MAX_BODY_BYTES = 512 * 1024  # SNS messages are at most 256 KB; JSON escaping may double the body
_VERDICTS = {"spfVerdict": "spf", "dkimVerdict": "dkim", "dmarcVerdict": "dmarc", "spamVerdict": "spam",
             "virusVerdict": "virus"}
_FEEDBACK = {"Bounce": "bounce", "Complaint": "complaint", "Delivery": "delivery"}


def sns_trust_from_environ(environ: Mapping[str, str], stage: str) -> SnsTrust:
    """The topics from ``OMNIHUB_SES_TOPIC_ARNS`` (comma-separated); on the ``local`` stage only, the
    simulator's certificate: ``OMNIHUB_SNS_TRUSTED_CERT_PEM`` (PEM text) for messages whose
    ``SigningCertURL`` is exactly ``OMNIHUB_SNS_TRUSTED_CERT_URL``, and ``OMNIHUB_SNS_TRUSTED_SUBSCRIBE_URL``
    (a loopback ``http://`` prefix) as a ``SubscribeURL`` the worker may visit. Elsewhere all are ignored."""
    topics = frozenset(arn.strip() for arn in environ.get(TOPICS_ENV, "").split(",") if arn.strip())
    if stage != LOCAL_STAGE:
        return SnsTrust(topic_arns=topics)
    pem = environ.get(TRUSTED_CERT_PEM_ENV, "")
    url = environ.get(TRUSTED_CERT_URL_ENV, "")
    subscribe = environ.get(TRUSTED_SUBSCRIBE_URL_ENV, "") or None
    if not pem or not url:
        return SnsTrust(topic_arns=topics, local_subscribe_url=subscribe)
    return SnsTrust(topic_arns=topics, local_certificate_url=url, local_certificate_pem=pem.encode("utf-8"),
                    local_subscribe_url=subscribe)


def local_subscribe_url(environ: Mapping[str, str], stage: str) -> str | None:
    """The local stage's trusted subscribe endpoint (see :func:`sns_trust_from_environ`), else None."""
    return sns_trust_from_environ(environ, stage).local_subscribe_url


def ses_channel(certificates: CertificateSource, trust: SnsTrust, *,
                max_body_bytes: int = MAX_BODY_BYTES) -> ChannelSpec:
    """The SNS endpoint's spec; ``certificates`` fetches a PEM by URL (the adapter's HTTPS GET), cached here."""
    cache = CertificateCache(certificates)

    def verify(request: WebhookRequest, secrets: Secrets, now: float) -> None:
        verify_sns_message(_envelope(request), trust=trust, certificates=cache, now=now)

    def parse(request: WebhookRequest) -> list[InboundEvent]:
        return parse_ses_events(request, trust)

    return ChannelSpec(provider=PROVIDER, secret_names=(), verify=verify, parse=parse,
                       max_body_bytes=max_body_bytes, forged_status=403, media=ses_media)


def _envelope(request: WebhookRequest) -> dict[str, Any]:
    envelope = load_json(request.body)
    if not isinstance(envelope, dict):
        raise PayloadError("the SNS body must be a JSON object")
    return envelope


def parse_ses_events(request: WebhookRequest, trust: SnsTrust | None = None) -> list[InboundEvent]:
    envelope = _envelope(request)
    kind = json_string(envelope.get("Type"))
    base: dict[str, Any] = {
        "provider": PROVIDER,
        "channel": Channel.EMAIL,
        "occurred_at": _timestamp(envelope.get("Timestamp"), request.received_at),
    }
    sns_id = (json_string(envelope.get("MessageId")) or "unknown")[:200]
    if kind in ("SubscriptionConfirmation", "UnsubscribeConfirmation"):
        url = json_string(envelope.get("SubscribeURL")) or ""
        metadata = {"lifecycle": "sns_subscription_confirmation" if kind == "SubscriptionConfirmation"
                    else "sns_unsubscribe_confirmation",
                    "topic_arn": one_line(json_string(envelope.get("TopicArn")) or "", limit=300)}
        local = trust.local_subscribe_url if trust else None
        if (SNS_API_URL.match(url) and len(url) <= 2_000 and url.isascii() and url.isprintable()) \
                or local_subscribe_url_allowed(url, local):
            metadata["subscribe_url"] = url  # only ever an SNS API URL (or the local fake's): the worker GETs it
        return [InboundEvent(event_id=f"sns#{sns_id}", kind=EventKind.LIFECYCLE, metadata=metadata, **base)]
    notification = load_json(json_string(envelope.get("Message")) or "")
    if not isinstance(notification, dict):
        raise PayloadError("the SNS Message is not an SES notification")
    received_at = request.received_at or utc_now()
    notification_type = json_string(notification.get("notificationType") or notification.get("eventType"))
    if notification_type == "Received":
        return _received(notification, received_at, base, sns_id)
    if notification_type in _FEEDBACK:
        return _feedback(notification, notification_type, base, sns_id)
    metadata = {"notification_type": one_line(notification_type or "", limit=100)}
    return [InboundEvent(event_id=f"sns#{sns_id}", kind=EventKind.UNKNOWN, metadata=metadata, **base)]


def _received(notification: dict[str, Any], received_at: str, base: dict[str, Any],
              sns_id: str) -> list[InboundEvent]:
    receipt, mail = as_dict(notification.get("receipt")), as_dict(notification.get("mail"))
    action = as_dict(receipt.get("action"))
    content = _content(notification)
    if content is None:
        bucket, key = json_string(action.get("bucketName")), json_string(action.get("objectKey"))
        metadata = {"lifecycle": "ses_received_in_s3", "bucket": bucket or "", "object_key": key or "",
                    "ses_message_id": json_string(mail.get("messageId")) or ""}
        metadata = {k: one_line(v, limit=1_000) for k, v in metadata.items() if v}
        return [InboundEvent(event_id=f"ses-s3#{metadata.get('ses_message_id') or sns_id}",
                             kind=EventKind.LIFECYCLE, metadata=metadata, **base)]
    return ses_events_from_raw(content, received_at=received_at, receipt=receipt, mail=mail)


def _content(notification: dict[str, Any]) -> bytes | None:
    """The raw mail a ``Received`` notification carries (SNS action), None when it names an S3 object."""
    content = json_string(notification.get("content"))
    if content is None:
        return None
    action = as_dict(as_dict(notification.get("receipt")).get("action"))
    if str(action.get("encoding", "")).upper() == "BASE64":
        try:
            return base64.b64decode(content, validate=False)
        except (binascii.Error, ValueError) as err:
            raise PayloadError("the SES content is not base64") from err
    return content.encode("utf-8", "surrogatepass")


def ses_media(request: WebhookRequest) -> dict[str, bytes]:
    """The bytes of the attachments of the mail an SNS ``Received`` notification carries."""
    notification = load_json(json_string(_envelope(request).get("Message")) or "")
    content = _content(notification) if isinstance(notification, dict) else None
    return email_media(parse_email(content)) if content is not None else {}


def ses_events_from_raw(raw: bytes, *, received_at: str, receipt: Mapping[str, Any] | None = None,
                        mail: Mapping[str, Any] | None = None, object_key: str | None = None,
                        served_mailboxes: Collection[str] = ()) -> list[InboundEvent]:
    """The events of one raw mail SES received: from an SNS notification, or from the S3 object the
    receipt rule wrote (``object_key``: its last path component is SES's message id)."""
    receipt, mail = dict(receipt or {}), dict(mail or {})
    recipients = [r for r in as_list(receipt.get("recipients")) if isinstance(r, str)]
    source = json_string(mail.get("source"))
    parsed = parse_email(raw, envelope_recipients=recipients, envelope_sender=source)
    ses_id = json_string(mail.get("messageId")) or (object_key.rsplit("/", 1)[-1] if object_key else None)
    verdicts = {name: json_string(as_dict(receipt.get(key)).get("status")) or ""
                for key, name in _VERDICTS.items()}
    delivery = EmailDelivery(
        provider=PROVIDER,
        parsed=parsed,
        received_at=received_at,
        provider_event_id=(ses_id or "")[:200] or None,
        mailbox=normalize_address(recipients[0]) if recipients else None,
        verdicts={k: v for k, v in verdicts.items() if v},
        served_mailboxes=served_mailboxes,
    )
    return email_events(delivery)


def _feedback(notification: dict[str, Any], notification_type: str, base: dict[str, Any],
              sns_id: str) -> list[InboundEvent]:
    mail = as_dict(notification.get("mail"))
    detail = as_dict(notification.get(_FEEDBACK[notification_type]))
    ses_id = json_string(mail.get("messageId"))
    if not ses_id:
        return [InboundEvent(event_id=f"sns#{sns_id}", kind=EventKind.UNKNOWN,
                             metadata={"notification_type": notification_type}, **base)]
    metadata: dict[str, str] = {"notification_type": notification_type, "provider_feedback": "true"}
    error_code = None
    if notification_type == "Bounce":
        bounce_type = json_string(detail.get("bounceType")) or ""
        metadata["bounce"] = "hard" if bounce_type == "Permanent" else "soft"
        metadata["bounce_type"] = bounce_type
        metadata["bounce_subtype"] = json_string(detail.get("bounceSubType")) or ""
        first = as_dict((as_list(detail.get("bouncedRecipients")) or [{}])[0])
        error_code = json_string(first.get("status")) or "bounce"
        metadata["bounce_recipient"] = normalize_address(json_string(first.get("emailAddress")) or "") or ""
        metadata["bounce_diagnostic"] = json_string(first.get("diagnosticCode")) or ""
        status = DeliveryStatus.FAILED
    elif notification_type == "Complaint":
        metadata["complaint"] = "true"
        metadata["complaint_type"] = json_string(detail.get("complaintFeedbackType")) or ""
        complained = as_dict((as_list(detail.get("complainedRecipients")) or [{}])[0])
        metadata["complaint_recipient"] = normalize_address(json_string(complained.get("emailAddress")) or "") or ""
        status = DeliveryStatus.DELIVERED  # it arrived; the recipient objected, consent acts on it
    else:
        status = DeliveryStatus.DELIVERED
    feedback_id = json_string(detail.get("feedbackId")) or sns_id
    return [InboundEvent(
        event_id=f"{_FEEDBACK[notification_type]}#{feedback_id}"[:512],
        kind=EventKind.DELIVERY_STATUS,
        provider_message_id=ses_id[:200],
        status=status,
        error_code=error_code,
        metadata={k: one_line(v, limit=500) for k, v in metadata.items() if v},
        **base,
    )]


def _timestamp(value: Any, fallback: str) -> str:
    text = json_string(value)
    try:
        return normalize_timestamp(text) if text else (fallback or utc_now())
    except ModelError:
        return fallback or utc_now()


def _no_certificate_source(url: str) -> bytes:
    raise CertificateUnavailable("no SNS certificate fetcher is bound to this endpoint")


# The registry's spec, bound to nothing: it refuses every message until a deployment binds its own
# (app.py: ``ses_channel(<HTTPS fetcher>, sns_trust_from_environ(...))``), as an unconfigured topic
# list refuses every message (misconfigured, 503: SNS keeps retrying until an operator fixes it).
CHANNEL = ses_channel(_no_certificate_source, SnsTrust(topic_arns=frozenset()))
