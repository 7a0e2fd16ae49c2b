"""Normalize the archived raw payloads again with today's parsers (``./hub renormalize``).

After a parser fix, the inbox items of a provider since a time are read back (their raw body, the
endpoint and path that received it, its content type), parsed again by the endpoint's current
parser, and where the event it gives for the same inbox key differs from what was stored, the item's
event is replaced (conditionally: only if nobody changed it meanwhile) and the message it became is
rewritten in place: same conversation, same message id, same position. Nothing is created, so a
second run changes nothing and nothing is duplicated; an item the worker has not threaded yet only
gets its event replaced, and the worker uses the new one.

A change that would move the event elsewhere (another sender, channel or kind) is reported and not
applied: re-threading a stored conversation is a decision for a person, not a parser.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from chalicelib.conversations.message_metadata import shown_metadata
from chalicelib.core.archive_ports import RawArchive, StoredWebhook
from chalicelib.core.errors import PermanentError
from chalicelib.core.ids import event_reference, message_id_for
from chalicelib.core.model import EventKind, InboundEvent
from chalicelib.providers import ChannelSpec, WebhookRequest, channel_spec
from chalicelib.providers.registry import webhook_endpoints


@dataclass
class RenormalizeReport:
    examined: int = 0
    unchanged: int = 0
    events_replaced: int = 0
    messages_revised: int = 0
    skipped: Counter[str] = field(default_factory=Counter)  # reason → how many

    def summary(self) -> str:
        skipped = ", ".join(f"{reason}: {n}" for reason, n in sorted(self.skipped.items())) or "none"
        return (f"examined {self.examined}, unchanged {self.unchanged}, events replaced {self.events_replaced}, "
                f"messages revised {self.messages_revised}; skipped {skipped}")


def renormalize(provider: str, since: str, archive: RawArchive, *, dry_run: bool = False,
                spec_for: Callable[[str], ChannelSpec] = channel_spec) -> RenormalizeReport:
    report = RenormalizeReport()
    for stored in archive.stored_since(provider, since):
        report.examined += 1
        outcome = _renormalize_one(stored, archive, spec_for, dry_run)
        if outcome in ("unchanged", "replaced", "revised"):
            report.unchanged += outcome == "unchanged"
            report.events_replaced += outcome in ("replaced", "revised")
            report.messages_revised += outcome == "revised"
        else:
            report.skipped[outcome] += 1
    return report


def _renormalize_one(stored: StoredWebhook, archive: RawArchive, spec_for: Callable[[str], ChannelSpec],
                     dry_run: bool) -> str:
    if stored.raw is None:
        return "raw payload gone"
    request = _request(stored)
    if request is None:
        return "path unknown"
    try:
        events = spec_for(stored.endpoint).parse(request)
    except (PermanentError, ValueError, TypeError, KeyError, OverflowError, RecursionError):
        return "no longer parses"
    event = next((e for e in events if e.inbox_key == stored.inbox_key), None)
    if event is None:
        return "event not found again"
    if event.to_dict() == stored.event.to_dict():
        return "unchanged"
    if not _same_place(stored.event, event):
        return "would move to another sender, channel or kind"
    if dry_run:
        return "replaced"
    if not archive.replace_event(stored.inbox_key, stored.event_json, event):
        return "changed meanwhile"
    if stored.thread is None or event.kind is not EventKind.MESSAGE:
        return "replaced"
    revised = archive.revise_inbound_message(
        stored.thread.conversation_id, stored.received_at, message_id_for(stored.inbox_key),
        text=event.text, metadata=shown_metadata(event.metadata),
    )
    return "revised" if revised else f"message of {event_reference(stored.inbox_key)} not found"


def _same_place(before: InboundEvent, after: InboundEvent) -> bool:
    return (before.kind, before.channel, before.sender and before.sender.identity) == (
        after.kind, after.channel, after.sender and after.sender.identity)


def _request(stored: StoredWebhook) -> WebhookRequest | None:
    """The request again, as far as the archive kept it: body, content type, path (with its parameters)."""
    endpoint = webhook_endpoints().get(stored.endpoint)
    if endpoint is None or (stored.path is None and "{" in endpoint.path):
        return None  # an item stored before paths were kept, of a route with parameters
    path, _, query = (stored.path or endpoint.path).partition("?")
    params = _path_params(endpoint.path, path)
    if params is None:
        return None
    headers = {"content-type": stored.content_type} if stored.content_type else {}
    return WebhookRequest(method="POST", path=path, headers=headers, body=stored.raw or b"",
                          query=dict(parse_qsl(query)), path_params=params, received_at=stored.received_at,
                          query_pairs=tuple(parse_qsl(query)), raw_query=query or None)


def _path_params(pattern: str, path: str) -> dict[str, str] | None:
    """``/webhooks/telegram/{bot}`` against the stored path; None when it does not match (or has no path)."""
    regex = "^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(pattern)) + "$"
    match = re.match(regex, path)
    return match.groupdict() if match else None
