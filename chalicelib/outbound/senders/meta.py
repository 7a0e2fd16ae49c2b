"""Meta Graph API senders: WhatsApp Cloud API, Messenger and Instagram (one access token).

- WhatsApp: ``POST /{version}/{phone_number_id}/messages`` with ``messaging_product: whatsapp``,
  a ``text`` message inside the 24 h window or a ``template`` outside it.
- Messenger / Instagram: ``POST /{version}/me/messages`` with ``recipient.id`` (the PSID / IGSID)
  and ``messaging_type`` ``RESPONSE``, or ``MESSAGE_TAG`` + ``tag: HUMAN_AGENT`` after 24 h.
- Replies to a comment (``job.reply_to``): in public, ``POST /{comment-id}/comments`` (Page feed) or
  ``POST /{ig-comment-id}/replies`` (Instagram) with ``{"message"}``, answered ``{"id"}``; in private,
  ``POST /{page-id}/messages`` with ``recipient: {"comment_id"}`` (Messenger and Instagram Private
  Replies: one per comment, within 7 days), answered like any message.

Errors are ``{"error": {"code", "message", "error_subcode", ...}}``; Meta answers some rate limits
with HTTP 400, so the class comes from ``code``, not from the status.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from chalicelib.core.model import Channel, DeliveryStatus
from chalicelib.outbound.errors import PermanentSendError
from chalicelib.outbound.http import HttpClient, HttpResponse, ProviderErrorDetail, bearer_auth
from chalicelib.outbound.job import OutboundJob, ReplyKind
from chalicelib.outbound.senders.base import SenderContext, SendResult, digits_only, text_with_links

PROVIDER = "meta"
DEFAULT_GRAPH_VERSION = "v21.0"

# Throttling and temporary failures (Graph API, WhatsApp Cloud API and Messenger error codes).
_TRANSIENT_CODES = frozenset({"1", "2", "4", "17", "32", "341", "613", "1200", "80007", "130429", "131000",
                              "131016", "131056"})
# 131047: more than 24 h since the customer's last message; 10/2018278: outside the allowed window.
_WINDOW_CODES = frozenset({"131047"})
_WINDOW_SUBCODES = frozenset({"2018278", "2534022"})
_WHATSAPP_MEDIA_KINDS = frozenset({"image", "video", "audio", "document", "sticker"})
_WHATSAPP_LIST_ROWS = 10  # an interactive list's limit (an NPS scale of 11 goes as text)
_LIST_BUTTON = "Rate"  # the list's button label (at most 20 characters)
_QUICK_REPLIES = 13  # Messenger's and Instagram's limit


def read_meta_error(response: HttpResponse) -> ProviderErrorDetail:
    body = response.json()
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return ProviderErrorDetail()
    code = None if error.get("code") is None else str(error["code"])
    subcode = None if error.get("error_subcode") is None else str(error["error_subcode"])
    details = error.get("error_data", {}).get("details") if isinstance(error.get("error_data"), dict) else None
    message = str(error.get("message") or "")
    if details:
        message = f"{message}: {details}" if message else str(details)
    window = code in _WINDOW_CODES or subcode in _WINDOW_SUBCODES
    return ProviderErrorDetail(
        code=f"{code}/{subcode}" if code and subcode else code,
        message=message or None,
        transient=True if code in _TRANSIENT_CODES or error.get("is_transient") is True else None,
        refusal="window_closed" if window else None,
    )


class MetaSender:
    provider = PROVIDER

    def __init__(
        self,
        *,
        access_token: str,
        base_url: str,
        graph_version: str = DEFAULT_GRAPH_VERSION,
        default_phone_number_id: str | None = None,
        http: HttpClient | None = None,
    ) -> None:
        self._authorization = bearer_auth(access_token)
        self._root = f"{base_url.rstrip('/')}/{graph_version}"
        self._default_phone_number_id = default_phone_number_id
        self._http = http or HttpClient()

    def build_request(self, job: OutboundJob) -> tuple[str, dict[str, Any]]:
        """(URL, JSON body) for the job."""
        if job.channel is Channel.WHATSAPP:
            phone_number_id = job.hint("phone_number_id") or self._default_phone_number_id
            if not phone_number_id:
                raise PermanentSendError("no WhatsApp phone_number_id to send from",
                                         provider=PROVIDER, error_code="sender_not_configured")
            return f"{self._root}/{quote(phone_number_id, safe='')}/messages", whatsapp_body(job)
        if job.channel in (Channel.MESSENGER, Channel.INSTAGRAM):
            if job.reply_to is not None:
                return comment_reply_request(self._root, job)
            return f"{self._root}/me/messages", messenger_body(job)
        raise PermanentSendError(f"Meta does not send on {job.channel.value}",
                                 provider=PROVIDER, error_code="unsupported_channel")

    def send(self, job: OutboundJob) -> SendResult:
        url, body = self.build_request(job)
        response = self._http.request("POST", url, provider=PROVIDER, json_body=body,
                                      authorization=self._authorization, error_reader=read_meta_error)
        answer = response.json() or {}
        if job.channel is Channel.WHATSAPP:
            messages = answer.get("messages") or [{}]
            message_id = messages[0].get("id")
            # "accepted": the "sent" / "delivered" / "read" statuses follow as webhooks.
            status = DeliveryStatus.QUEUED
        else:
            message_id = answer.get("message_id") or answer.get("id")  # a comment reply answers its comment id
            status = DeliveryStatus.SENT
        if not message_id:
            raise PermanentSendError("Meta answered without a message id", provider=PROVIDER, error_code="no_id")
        return SendResult(PROVIDER, str(message_id), status)


def whatsapp_body(job: OutboundJob) -> dict[str, Any]:
    body: dict[str, Any] = {"messaging_product": "whatsapp", "recipient_type": "individual",
                            "to": digits_only(job.to)}
    if job.template is not None:
        template: dict[str, Any] = {"name": job.template.name, "language": {"code": job.template.language}}
        if job.template.params:
            template["components"] = [{
                "type": "body",
                "parameters": [{"type": "text", "text": value} for value in job.template.params],
            }]
        body.update(type="template", template=template)
        return body
    media = next((a for a in job.attachments if a.kind in _WHATSAPP_MEDIA_KINDS and a.url), None)
    if media is not None and len(job.attachments) == 1:
        payload: dict[str, Any] = {"link": media.url}
        caption = job.text or media.caption
        if caption and media.kind in ("image", "video", "document"):
            payload["caption"] = caption
        if media.kind == "document" and media.name:
            payload["filename"] = media.name
        body.update(type=media.kind, **{media.kind: payload})
        return body
    if job.choices and len(job.choices) <= _WHATSAPP_LIST_ROWS:
        # At most 3 reply buttons, so a scale is a list (up to 10 rows); a tap comes back as list_reply.id.
        rows = [{"id": c.payload, "title": c.title} for c in job.choices]
        body.update(type="interactive", interactive={
            "type": "list", "body": {"text": text_with_links(job)[:1024]},
            "action": {"button": _LIST_BUTTON, "sections": [{"title": _LIST_BUTTON, "rows": rows}]},
        })
        return body
    body.update(type="text", text={"preview_url": False, "body": text_with_links(job)})
    return body


def messenger_body(job: OutboundJob) -> dict[str, Any]:
    body: dict[str, Any] = {"recipient": {"id": job.to}}
    if job.messaging_tag:
        body.update(messaging_type="MESSAGE_TAG", tag=job.messaging_tag)
    else:
        body["messaging_type"] = "RESPONSE"
    body["message"] = {"text": text_with_links(job)}
    if job.choices and len(job.choices) <= _QUICK_REPLIES:  # a tap comes back as quick_reply.payload
        body["message"]["quick_replies"] = [{"content_type": "text", "title": c.title, "payload": c.payload}
                                            for c in job.choices]
    return body


def comment_reply_request(root: str, job: OutboundJob) -> tuple[str, dict[str, Any]]:
    """(URL, JSON body) of a public or private reply to the comment ``job.reply_to`` names."""
    assert job.reply_to is not None
    comment = quote(job.reply_to.id, safe="")
    if job.reply_to.kind is ReplyKind.PRIVATE:
        # Facebook Login (graph.facebook.com, a Page access token): the Page that received the comment,
        # or "me", the Page of the token. An Instagram event names the Instagram account, not its Page:
        # "me" there (the account's linked Page).
        hinted = job.hint("page_id") if job.channel is Channel.MESSENGER else None
        page = quote(hinted or "me", safe="")
        return f"{root}/{page}/messages", {"recipient": {"comment_id": job.reply_to.id},
                                           "message": {"text": text_with_links(job)}}
    edge = "replies" if job.channel is Channel.INSTAGRAM else "comments"
    return f"{root}/{comment}/{edge}", {"message": text_with_links(job)}


def build_sender(context: SenderContext) -> MetaSender:
    (token,) = context.require("META_ACCESS_TOKEN")
    return MetaSender(
        access_token=token, base_url=context.api_base,
        graph_version=context.setting("OMNIHUB_META_GRAPH_VERSION") or DEFAULT_GRAPH_VERSION,
        default_phone_number_id=context.setting("OMNIHUB_META_PHONE_NUMBER_ID"), http=context.http,
    )
