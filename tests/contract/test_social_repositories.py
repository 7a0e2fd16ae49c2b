"""Social care on both backends: public conversations and their post, thread ownership, revised messages."""

from __future__ import annotations

import json

from chalicelib.core.model import Channel, DeliveryStatus, Direction
from chalicelib.core.ports import Repositories
from tests.contract.test_repositories import conversation, message


def test_a_public_conversation_is_read_back_with_its_post(repos: Repositories) -> None:
    public = conversation("cnv_pub", public=True, post_id="106445795700891_122103456789012345",
                          permalink="https://www.facebook.com/acmecare/posts/pfbid02Xyz123")
    assert repos.conversations.create(public) is True
    assert repos.conversations.get("cnv_pub", consistent=True) == public
    found = repos.conversations.get_with_messages("cnv_pub")
    assert found is not None and found[0].to_api()["public"] is True


def test_a_direct_conversation_is_not_public(repos: Repositories) -> None:
    repos.conversations.create(conversation("cnv_direct"))
    stored = repos.conversations.get("cnv_direct", consistent=True)
    assert stored is not None and stored.public is False and stored.post_id is None
    assert stored.to_api()["public"] is False


def test_thread_ownership_only_moves_forward_in_time(repos: Repositories) -> None:
    repos.conversations.create(conversation("cnv_thread"))
    assert repos.conversations.record_thread_owner("cnv_thread", "other", "2026-11-18T09:05:00.000Z") is True
    assert repos.conversations.record_thread_owner("cnv_thread", "us", "2026-11-18T09:04:00.000Z") is False
    assert repos.conversations.record_thread_owner("cnv_thread", "us", "2026-11-18T09:05:00.000Z") is False
    stored = repos.conversations.get("cnv_thread", consistent=True)
    assert stored is not None and stored.thread_owner == "other"
    assert repos.conversations.record_thread_owner("cnv_thread", "us", "2026-11-18T09:06:00.000Z") is True
    stored = repos.conversations.get("cnv_thread", consistent=True)
    assert stored is not None and stored.thread_owner == "us"
    assert repos.conversations.record_thread_owner("cnv_nobody", "us", "2026-11-18T09:06:00.000Z") is False


def test_a_message_is_revised_by_its_provider_id_with_its_history(repos: Repositories) -> None:
    inbound = message("msg_in", direction=Direction.INBOUND, status=DeliveryStatus.RECEIVED, text="order 1234",
                      provider="meta", provider_message_id="m_1", channel=Channel.MESSENGER)
    repos.messages.put(inbound)
    assert repos.messages.revise_message("meta", "m_1", text="order 12346", deleted=False,
                                         at="2026-11-18T09:01:00.000Z") is True
    assert repos.messages.revise_message("meta", "m_1", text="order 1", deleted=False,
                                         at="2026-11-18T09:00:30.000Z") is False  # older than the one applied
    edited = repos.messages.find("cnv_1", "msg_in")
    assert edited is not None and edited.text == "order 12346"
    assert json.loads(edited.metadata["edit_history"]) == [{"text": "order 1234", "until": "2026-11-18T09:01:00.000Z"}]
    assert repos.messages.revise_message("meta", "m_1", text=None, deleted=True, at="2026-11-18T09:02:00.000Z")
    removed = repos.messages.find("cnv_1", "msg_in")
    assert removed is not None and removed.text is None and removed.metadata["deleted_at"] == "2026-11-18T09:02:00.000Z"
    assert removed.metadata["edit_history"] == edited.metadata["edit_history"]
    later = "2026-11-18T09:03:00.000Z"
    assert repos.messages.revise_message("meta", "m_1", text="back", deleted=False, at=later) is False
    assert repos.messages.revise_message("meta", "m_unknown", text="x", deleted=False, at=later) is False


def test_a_reaction_is_recorded_and_removed_in_time_order(repos: Repositories) -> None:
    repos.messages.put(message("msg_out", provider="meta", provider_message_id="m_out", status=DeliveryStatus.SENT,
                               channel=Channel.MESSENGER))
    assert repos.messages.record_reaction("meta", "m_out", emoji="❤️", at="2026-11-18T09:01:00.000Z") is True
    assert repos.messages.record_reaction("meta", "m_out", emoji="😡", at="2026-11-18T09:00:00.000Z") is False
    reacted = repos.messages.find("cnv_1", "msg_out")
    assert reacted is not None and reacted.metadata["reaction"] == "❤️" and reacted.status is DeliveryStatus.SENT
    assert repos.messages.record_reaction("meta", "m_out", emoji=None, at="2026-11-18T09:02:00.000Z") is True
    removed = repos.messages.find("cnv_1", "msg_out")
    assert removed is not None and "reaction" not in removed.metadata
    assert repos.messages.record_reaction("meta", "m_none", emoji="x", at="2026-11-18T09:02:00.000Z") is False
