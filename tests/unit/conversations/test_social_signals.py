"""Watermarks, edits and unsends, thread control, echoes: what Messenger and Instagram signals do to what
is stored. Events come from Meta's documented payloads (tests/fixtures/meta) through the real parser."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from chalicelib.acknowledgments import load_policy
from chalicelib.adapters.memory import MemoryBus, MemoryStore, memory_repositories
from chalicelib.conversations.inbound import WorkerPorts
from chalicelib.core.model import (
    Channel,
    DeliveryStatus,
    Direction,
    EventKind,
    Identity,
    InboundEvent,
    Message,
    Sender,
)
from chalicelib.core.ports import Repositories
from chalicelib.core.timestamps import utc_now
from tests.unit.conftest import test_id_key
from tests.unit.conversations.test_public_conversations import conversation_of, handled, parsed

PSID = "6543210987654321"
EDITED_MID = "m_AG5Hz2Uq7tuwNEhXfYYKj8mJEM_QPpz5jdCK48PnKAjSdjfipqxqMvK8ma6AC8fplwlqLP_5cgXIbu7I3rBN0P"


@pytest.fixture
def repos() -> Repositories:
    return memory_repositories(MemoryStore())


@pytest.fixture
def ports(repos: Repositories) -> WorkerPorts:
    return WorkerPorts(repos=repos, bus=MemoryBus(), id_key=test_id_key)  # type: ignore[arg-type]


def direct_message(mid: str = "m_first", text: str = "hello, world!", *, psid: str = PSID,
                   channel: Channel = Channel.MESSENGER, occurred_at: str = "2025-06-08T20:59:00.000Z",
                   **metadata: str) -> InboundEvent:
    return InboundEvent(provider="meta", event_id=mid, kind=EventKind.MESSAGE, channel=channel,
                        occurred_at=occurred_at, sender=Sender(Identity(channel, psid)), text=text,
                        provider_message_id=mid, metadata={"page_id": "106445795700891", **metadata})


def sent(repos: Repositories, conversation_id: str, mid: str, at: str,
         status: DeliveryStatus = DeliveryStatus.SENT) -> None:
    repos.messages.put(Message(id=f"out_{mid}", conversation_id=conversation_id, direction=Direction.OUTBOUND,
                               channel=Channel.MESSENGER, created_at=at, text="We are on it", status=status,
                               provider="meta", provider_message_id=mid))


def statuses(repos: Repositories, conversation_id: str) -> dict[str, str]:
    found = repos.conversations.get_with_messages(conversation_id)
    assert found is not None
    return {m.provider_message_id or m.id: m.status.value for m in found[1] if m.direction is Direction.OUTBOUND}


# --- watermarks ----------------------------------------------------------------------------------------------
def test_a_read_watermark_reads_what_was_sent_before_it_and_nothing_after(
    repos: Repositories, ports: WorkerPorts
) -> None:
    first = direct_message()
    handled(repos, ports, first)
    conversation_id = conversation_of(repos, first)
    sent(repos, conversation_id, "m_OUT1", "2025-06-08T20:59:10.000Z")
    sent(repos, conversation_id, "m_OUT2", "2025-06-08T20:59:20.000Z", DeliveryStatus.DELIVERED)
    sent(repos, conversation_id, "m_LATER", "2025-06-08T20:59:52.000Z")  # after the watermark (…51.500)
    read, *deliveries = parsed("meta", "messenger_reads_and_deliveries.json")
    assert read.metadata["lifecycle"] == "read_watermark"
    assert handled(repos, ports, read) == "watermark_read:2"
    assert statuses(repos, conversation_id) == {"m_OUT1": "read", "m_OUT2": "read", "m_LATER": "sent"}
    # The older delivery watermark (and the per-message receipts it came with) move nothing back.
    for event in deliveries:
        handled(repos, ports, event)
    assert statuses(repos, conversation_id) == {"m_OUT1": "read", "m_OUT2": "read", "m_LATER": "delivered"}
    assert handled(repos, ports, read) == "watermark_read:0"  # a redelivered watermark changes nothing


def test_a_watermark_of_a_stranger_changes_nothing(repos: Repositories, ports: WorkerPorts) -> None:
    read, *_ = parsed("meta", "messenger_reads_and_deliveries.json")
    assert handled(repos, ports, read) == "watermark_ignored"
    assert repos.customers.identity_owner(Identity(Channel.MESSENGER, PSID)) is None  # nobody created


# --- edits and unsends ---------------------------------------------------------------------------------------
def test_edits_replace_the_text_and_keep_the_history(repos: Repositories, ports: WorkerPorts) -> None:
    original = direct_message(EDITED_MID, "hello, world! (order 1234)")
    handled(repos, ports, original)
    first_edit, second_edit = parsed("meta", "messenger_message_edits.json")
    assert handled(repos, ports, second_edit) == "message_edited_applied"
    assert handled(repos, ports, first_edit) == "message_edited_ignored"  # older, arriving late
    found = repos.conversations.get_with_messages(conversation_of(repos, original))
    assert found is not None
    [stored] = found[1]
    api = stored.to_api()
    assert api["text"] == "hello, world! (order 12346)"
    assert json.loads(api["metadata"]["edit_history"]) == [
        {"text": "hello, world! (order 1234)", "until": second_edit.occurred_at}]
    assert api["metadata"]["edited_at"] == second_edit.occurred_at


def test_an_unsend_removes_the_text_and_stays_removed(repos: Repositories, ports: WorkerPorts) -> None:
    [unsend] = parsed("meta", "instagram_unsend.json")
    original = direct_message(unsend.metadata["deletes_mid"], "my address is ...", psid="1254459154682919",
                              channel=Channel.INSTAGRAM)
    handled(repos, ports, original)
    assert handled(repos, ports, unsend) == "message_deleted_applied"
    found = repos.conversations.get_with_messages(conversation_of(repos, original))
    assert found is not None
    [stored] = found[1]
    assert stored.text is None and stored.metadata["deleted_at"] == unsend.occurred_at
    assert repos.messages.revise_message("meta", original.event_id, text="again", deleted=False,
                                         at=utc_now()) is False


def test_an_edited_then_removed_page_comment(repos: Repositories, ports: WorkerPorts) -> None:
    [comment] = parsed("meta", "page_feed_comment_add.json")
    [edited] = parsed("meta", "page_feed_comment_edited.json")
    [removed] = parsed("meta", "page_feed_comment_remove.json")
    handled(repos, ports, comment)
    assert handled(repos, ports, edited) == "message_edited_applied"
    assert handled(repos, ports, removed) == "message_deleted_applied"
    found = repos.conversations.get_with_messages(conversation_of(repos, comment))
    assert found is not None and found[1][0].metadata.keys() >= {"edited_at", "edit_history", "deleted_at"}


def test_an_edit_of_a_message_never_stored_is_ignored(repos: Repositories, ports: WorkerPorts) -> None:
    first_edit, _ = parsed("meta", "messenger_message_edits.json")
    assert handled(repos, ports, first_edit) == "message_edited_ignored"


# --- echoes and thread control -------------------------------------------------------------------------------
def test_echoes_never_reach_the_worker() -> None:
    events = parsed("meta", "messenger_standby.json")
    assert all(event.event_id != "m_SB3ECHO" for event in events)


def test_thread_control_is_recorded_and_silences_acknowledgments(repos: Repositories) -> None:
    ports = WorkerPorts(repos=repos, bus=MemoryBus(), ack_policy=load_policy(), id_key=test_id_key)  # type: ignore[arg-type]
    first = direct_message(occurred_at=utc_now())
    assert handled(repos, ports, first, first.occurred_at) == "routed+acknowledgment_queued"
    conversation_id = conversation_of(repos, first)
    passed, taken, requested, roles = parsed("meta", "messenger_handover.json")
    assert handled(repos, ports, passed) == "thread_owner_us"
    assert handled(repos, ports, taken) == "thread_owner_other"
    assert handled(repos, ports, replace(passed, event_id="late-pass")) == "thread_owner_unchanged"  # older
    assert handled(repos, ports, requested) == "ignored"  # another app asks us: we still own it, nothing changes
    assert handled(repos, ports, roles) == "ignored"
    conversation = repos.conversations.get(conversation_id)
    assert conversation is not None and conversation.to_api()["thread_owner"] == "other"
    later = direct_message("m_second", "anyone?", occurred_at=utc_now())
    assert handled(repos, ports, later, later.occurred_at) == "routed+not_acknowledged:reply_not_ours"
    back = replace(passed, event_id="pass-back", occurred_at=utc_now())
    assert handled(repos, ports, back) == "thread_owner_us"
    again = direct_message("m_third", "hello?", occurred_at=utc_now())
    assert handled(repos, ports, again, again.occurred_at) != "routed+not_acknowledged:reply_not_ours"


def test_a_standby_message_records_that_another_app_owns_the_thread(repos: Repositories, ports: WorkerPorts) -> None:
    message, *_ = parsed("meta", "messenger_standby.json")
    assert message.metadata["mode"] == "standby"
    handled(repos, ports, message)
    conversation = repos.conversations.get(conversation_of(repos, message))
    assert conversation is not None and conversation.thread_owner == "other"


# --- X: a read DM reads the earlier ones ----------------------------------------------------------------------
def test_an_x_mark_read_reads_our_earlier_dms_and_not_later_ones(repos: Repositories, ports: WorkerPorts) -> None:
    [dm] = parsed("x", "dm.json")
    handled(repos, ports, dm)
    conversation_id = conversation_of(repos, dm)
    for dm_id, at in (("1931773950137434500", "2025-06-08T21:05:00.000Z"),
                      ("1931773950137434999", "2025-06-08T21:10:00.000Z"),
                      ("1931773950137435500", "2025-06-08T21:20:00.000Z")):
        repos.messages.put(Message(id=f"out_{dm_id}", conversation_id=conversation_id, direction=Direction.OUTBOUND,
                                   channel=Channel.X, created_at=at, text="On it", status=DeliveryStatus.SENT,
                                   provider="x", provider_message_id=dm_id))
    reads = [e for e in parsed("x", "typing_and_read.json") if e.kind is EventKind.DELIVERY_STATUS]
    assert [e.provider_message_id for e in reads] == ["1931773950137434999"]  # the account's own read: unknown
    assert handled(repos, ports, reads[0]) == "status_applied"
    found = repos.conversations.get_with_messages(conversation_id)
    assert found is not None
    assert {m.provider_message_id: m.status.value for m in found[1] if m.direction is Direction.OUTBOUND} == {
        "1931773950137434500": "read", "1931773950137434999": "read", "1931773950137435500": "sent"}


def test_a_watermark_leaves_comment_replies_alone(repos: Repositories, ports: WorkerPorts) -> None:
    comment = direct_message("comment:c1", "Where is my refund?", public="true", post_id="p1", comment_id="c1")
    handled(repos, ports, comment)
    public_id = conversation_of(repos, comment)
    sent(repos, public_id, "c1_reply", "2025-06-08T20:59:10.000Z")
    read, *_ = parsed("meta", "messenger_reads_and_deliveries.json")
    assert handled(repos, ports, read) == "watermark_read:0"
    assert statuses(repos, public_id) == {"c1_reply": "sent"}


def test_a_reaction_lands_on_our_message_and_an_unreact_removes_it(repos: Repositories, ports: WorkerPorts) -> None:
    first = direct_message()
    handled(repos, ports, first)
    conversation_id = conversation_of(repos, first)
    sent(repos, conversation_id, "m_OUT1dA2Uq7tuwNEhXfYYKj8mJEM_QPpz5jdCK48PnKAjSdjfipq", "2025-06-08T20:59:10.000Z")
    react, unreact = parsed("meta", "messenger_reactions.json")
    assert handled(repos, ports, react) == "reaction_recorded"
    ours = repos.messages.find(conversation_id, "out_m_OUT1dA2Uq7tuwNEhXfYYKj8mJEM_QPpz5jdCK48PnKAjSdjfipq")
    assert ours is not None and ours.metadata["reaction"] == "\u2764\ufe0f"
    assert handled(repos, ports, unreact) == "reaction_recorded"
    assert handled(repos, ports, replace(react, event_id="late")) == "reaction_ignored"  # older than the unreact
    ours = repos.messages.find(conversation_id, ours.id)
    assert ours is not None and "reaction" not in ours.metadata and ours.metadata["reacted_at"] == unreact.occurred_at
    customer = repos.customers.identity_owner(Identity(Channel.MESSENGER, PSID))
    assert customer is not None and len(repos.conversations.customer_conversation_ids(customer)) == 1
