"""What an agent's reply may do on this conversation, decided before anything is stored.

- A public conversation (comments on a post, mentions, reply posts) is answered in public by
  default: a comment reply (Facebook ``/{comment-id}/comments``, Instagram ``/{ig-comment-id}/replies``)
  or a reply post on X, under the customer's latest comment or post. ``"private": true`` answers in
  private instead: Messenger's and Instagram's private reply to that comment (the customer receives it
  in their inbox, and their answer arrives as a direct message, in their direct conversation), or an
  X direct message to the post's author.
- Another app owning the Messenger/Instagram thread (Handover Protocol) refuses the reply (409).
- The channel rules are checked now, with the clock of the request: a reply the outbound worker would
  refuse (Messenger/Instagram after 7 days, HUMAN_AGENT not enabled for the Page, a private reply more
  than 7 days after the comment, WhatsApp without a template, STOP) is a 409 with the reason, not an
  accepted message that fails later.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from chalicelib.core.consent import ConsentState
from chalicelib.core.errors import BadRequest, Conflict, ModelError
from chalicelib.core.model import HANDOVER_CHANNELS, THREAD_OWNER_OTHER, Channel, Conversation, Customer
from chalicelib.outbound.errors import OptedOut, WindowClosed
from chalicelib.outbound.job import ReplyTarget, public_reply_target
from chalicelib.outbound.outbox import OutboundDraft
from chalicelib.outbound.registry import NoOutboundProvider, provider_for
from chalicelib.outbound.rules import ChannelRulesConfig, check_channel_rules


def refuse_if_thread_not_ours(conversation: Conversation, channel: Channel) -> None:
    if channel in HANDOVER_CHANNELS and conversation.thread_owner == THREAD_OWNER_OTHER:
        raise Conflict(f"another app of the Page owns this {channel.value} thread (Handover Protocol): the hub "
                       "sends nothing until control is passed back")


def refuse_if_consent_withdrawn(customer: Customer, channel: Channel) -> None:
    """STOP, an unfollow, an unsubscribe, a block (X, Telegram): the channel will not carry the reply."""
    if customer.consent.get(channel.value) == ConsentState.WITHDRAWN:
        raise Conflict(f"the customer withdrew consent on {channel.value} (blocked, unfollowed or STOP): "
                       "nothing may be sent there")


def reply_target(conversation: Conversation, channel: Channel, inbound_metadata: Mapping[str, str],
                 written_at: str | None, *, private: bool) -> ReplyTarget | None:
    """The comment or post the reply answers, or None for a direct reply."""
    if not conversation.public or channel is not conversation.channel:
        if private:
            raise BadRequest("private applies to a reply to a public conversation on its own channel")
        return None
    target = public_reply_target(inbound_metadata, written_at, private=private)
    if target is None:
        raise Conflict("the customer's comment or post this public conversation would answer is not known")
    return target


def refuse_if_rules_forbid(draft: OutboundDraft, customer: Customer, environ: Mapping[str, str],
                           now: datetime | None = None) -> None:
    """409 with the channel rule's reason when the outbound worker would refuse this reply."""
    try:
        provider = provider_for(draft.channel, environ, inbound_provider=draft.inbound_provider)
        config = ChannelRulesConfig.from_environ(environ)
        check_channel_rules(draft.job(provider), now or datetime.now(UTC), customer.consent, config)
    except (WindowClosed, OptedOut) as refused:
        raise Conflict(f"this reply can no longer be sent: {refused}") from refused
    except (ModelError, NoOutboundProvider):
        return  # a misconfiguration (templates) or an unsendable channel: place_outbound decides and says so
