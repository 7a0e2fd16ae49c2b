"""Crisis broadcasts on the in-memory twins: exactly once per recipient and update, through
redeliveries and a planner that dies half-way; opt-outs; the rate per channel; cancel; templates."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from chalicelib.adapters.resources import BROADCAST_QUEUE
from chalicelib.core.consent import ConsentState
from chalicelib.core.errors import IdempotencyKeyReused
from chalicelib.core.model import Channel
from chalicelib.crisis.config import load_crisis_config
from chalicelib.crisis.delivery import broadcast_id_for
from chalicelib.crisis.incidents import cancel_incident, create_incident, post_update
from chalicelib.crisis.planner import plan_update
from chalicelib.handlers.broadcast import handle_broadcast_message
from tests.unit.crisis.world import World

CHANNELS = (Channel.SMS, Channel.WHATSAPP, Channel.MESSENGER)
BODY: dict[str, Any] = {"title": "Rete mobile non disponibile", "status": "investigating",
                        "message": {"it": "Stiamo lavorando al guasto.", "en": "We are fixing the outage."},
                        "keywords": ["rete", "network"], "audience": {}}


def _populate(world: World, count: int) -> dict[str, Any]:
    """``count`` customers over three channels; every 20th opted out, every 7th outside the 24 h window."""
    customers = {}
    for number in range(count):
        channel = CHANNELS[number % 3]
        customers[f"cus{number:06d}"] = world.customer(
            number, channel, language=("it", "en", "de")[number % 3 == 0 and number % 2],
            hours_since_inbound=30 if number % 7 == 0 else 2, opted_out=number % 20 == 0)
    return customers


def _sends_per_window(times: list[float], window: float) -> int:
    """The most sends in any window of ``window`` seconds."""
    most, start = 0, 0
    for end, moment in enumerate(times):
        while times[start] < moment - window:
            start += 1
        most = max(most, end - start + 1)
    return most


def test_ten_thousand_recipients_each_get_the_update_exactly_once_within_each_channels_rate() -> None:
    world = World()
    customers = _populate(world, 10_000)
    _body, status = create_incident(world.ports, BODY, idempotency_key="outage-1")
    assert status == 201
    (plan,) = [q.body for q in world.bus.take(BROADCAST_QUEUE)]

    # The planner dies after queueing its 31st page but before moving the cursor past it ...
    real_advance, calls = world.crisis.advance_plan, {"n": 0}

    def dying_advance(*args: Any, **kwargs: Any) -> bool:
        calls["n"] += 1
        if calls["n"] == 31:
            raise RuntimeError("the planner's Lambda timed out")
        return real_advance(*args, **kwargs)

    world.crisis.advance_plan = dying_advance  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        plan_update(world.ports, plan["incident_id"], plan["update_id"])
    world.crisis.advance_plan = real_advance  # type: ignore[method-assign]
    # ... and runs again from the stored cursor: that page is queued twice, counted once.
    plan_update(world.ports, plan["incident_id"], plan["update_id"])
    world.drain(redeliver=0.05)

    incident, (update,) = world.only_incident()
    eligible = {cid for cid, c in customers.items() if int(cid[3:]) % 20 != 0}
    per_recipient = Counter(message_id for _, _, message_id in world.messages.sent)
    expected_ids = {broadcast_id_for(incident.id, update.id, cid) for cid in eligible}
    # Messenger outside the window goes with the configured tag, so every eligible customer is reached.
    assert set(per_recipient) == expected_ids
    assert set(per_recipient.values()) == {1}
    opted_out_ids = {broadcast_id_for(incident.id, update.id, cid) for cid in set(customers) - eligible}
    assert not opted_out_ids & set(per_recipient)

    progress = update.progress.to_api()
    assert progress["planned"] == len(eligible) == progress["sent"]
    assert progress["skipped"] == len(customers) - len(eligible)
    assert {c: f["skipped_reasons"] for c, f in progress["per_channel"].items()} == {
        c.value: {"opted_out": sum(1 for n in range(0, 10_000, 20) if CHANNELS[n % 3] is c)} for c in CHANNELS
    }
    assert progress["last_sent_at"] is not None

    config = load_crisis_config()
    for channel in CHANNELS:
        times = sorted(t for t, c, _ in world.messages.sent if c == channel.value)
        rate = config.rate_for(channel)
        for window in (1.0, 10.0):
            assert _sends_per_window(times, window) <= rate.burst + rate.per_second * window


def test_a_retried_create_with_the_same_idempotency_key_sends_nothing_new() -> None:
    world = World()
    _populate(world, 30)
    first, _ = create_incident(world.ports, BODY, idempotency_key="k-1")
    world.drain()
    sent = len(world.messages.sent)
    again, status = create_incident(world.ports, BODY, idempotency_key="k-1")
    world.drain()
    assert status == 201 and again["id"] == first["id"]
    assert len(world.messages.sent) == sent and sent > 0
    assert len(world.crisis.incidents) == 1
    with pytest.raises(IdempotencyKeyReused):
        create_incident(world.ports, {**BODY, "title": "another"}, idempotency_key="k-1")


def test_cancel_at_thirty_percent_stops_within_one_batch() -> None:
    world = World()
    _populate(world, 1000)
    created, _ = create_incident(world.ports, BODY)
    world.drain(stop_after=300)
    sent_before = len(world.messages.sent)
    assert 280 <= sent_before <= 300  # about 30 %: the rest is still on the queue
    update_id = world.leftover[0]["update_id"]
    # A worker read the incident for its batch just before the cancellation landed ...
    stale_cache: dict[Any, Any] = {(created["id"], update_id): (
        world.crisis.get_incident(created["id"]), world.crisis.get_update(created["id"], update_id))}
    cancel_incident(world.ports, created["id"])
    in_flight, rest = world.leftover[:10], world.leftover[10:]
    for body in in_flight:
        handle_broadcast_message(body, world.ports, stale_cache)
    # ... every later batch reads it again and sends nothing.
    world.requeue(rest)
    world.drain()
    assert len(world.messages.sent) - sent_before <= 10
    _, (update,) = world.only_incident()
    progress = update.progress.to_api()
    assert progress["cancelled"] >= 1000 - sent_before - 10 - progress["skipped"]
    assert progress["sent"] + progress["cancelled"] == progress["planned"]


@pytest.mark.parametrize(("language", "template"), [("it", "service_update_it"), ("en", "service_update_en"),
                                                     ("de", "service_update_en"), ("it-CH", "service_update_it")])
def test_whatsapp_outside_the_window_uses_the_template_of_the_language_with_fallback(
    language: str, template: str
) -> None:
    world = World()
    world.customer(1, Channel.WHATSAPP, language=language, hours_since_inbound=48)
    create_incident(world.ports, BODY)
    world.drain()
    (job,) = world.store.jobs()
    assert job["template"]["name"] == template
    expected_text = BODY["message"]["it" if language.startswith("it") else "en"]
    assert job["template"]["params"] == [expected_text]


def test_whatsapp_inside_the_window_sends_text_in_the_customers_language() -> None:
    world = World()
    world.customer(1, Channel.WHATSAPP, language="en", hours_since_inbound=2)
    create_incident(world.ports, BODY)
    world.drain()
    (job,) = world.store.jobs()
    assert job.get("template") is None and job["text"] == BODY["message"]["en"] and job["kind"] == "broadcast"


def test_messenger_outside_the_window_uses_the_configured_tag_or_is_skipped() -> None:
    tagged = World()
    tagged.customer(1, Channel.MESSENGER, hours_since_inbound=48)
    create_incident(tagged.ports, BODY)
    tagged.drain()
    (job,) = tagged.store.jobs()
    assert job["messaging_tag"] == "ACCOUNT_UPDATE"

    untagged = World(config_overrides={"messenger_tag": None})
    untagged.customer(1, Channel.MESSENGER, hours_since_inbound=48)
    create_incident(untagged.ports, BODY)
    untagged.drain()
    assert untagged.store.jobs() == []
    _, (update,) = untagged.only_incident()
    assert update.progress.to_api()["per_channel"]["messenger"]["skipped_reasons"] == {"messenger_window_closed": 1}


def test_a_customer_who_opts_out_after_planning_is_skipped() -> None:
    world = World()
    world.customer(1, Channel.SMS)
    create_incident(world.ports, BODY)
    world.drain(stop_after=1)
    world.repos.customers.set_consent("cus000001", Channel.SMS, ConsentState.WITHDRAWN, "2030-01-01T00:00:00Z")
    world.requeue(world.leftover)
    world.drain()
    assert world.store.jobs() == []


def test_the_dry_run_counts_per_channel_with_an_eta_and_stores_nothing() -> None:
    world = World()
    _populate(world, 60)
    body = {**BODY, "dry_run": True, "audience": {"channels": ["sms", "whatsapp"]}}
    answer, status = create_incident(world.ports, body)
    assert status == 200 and answer["dry_run"] is True
    assert answer["audience"]["per_channel"] == {"sms": 19, "whatsapp": 19}
    assert answer["audience"]["total"] == 38
    assert answer["eta_seconds"] == {"sms": 1, "whatsapp": 0}
    assert world.crisis.incidents == {} and world.bus.take(BROADCAST_QUEUE) == []


def test_the_dry_run_is_exact_within_its_budget_and_flagged_estimated_beyond_it() -> None:
    world = World(config_overrides={"dry_run_page_size": 25, "dry_run_max_pages": 10})
    _populate(world, 240)
    body = {**BODY, "dry_run": True, "audience": {"channels": ["sms", "whatsapp"]}}
    exact, _ = create_incident(world.ports, body)  # 240 customers: 10 pages of 25 read it all
    assert exact["estimated"] is False and exact["audience"]["examined"] == 240
    truth = exact["audience"]["per_channel"]
    assert truth == {"sms": 76, "whatsapp": 76}

    # The page budget: 2 pages of 25 are a sample of the 240, scaled by the index's size.
    small = World(config_overrides={"dry_run_page_size": 25, "dry_run_max_pages": 2})
    _populate(small, 240)
    small.crisis.size_estimate = 240
    estimate, status = create_incident(small.ports, body)
    assert status == 200 and estimate["dry_run"] is True and estimate["estimated"] is True
    assert estimate["audience"]["examined"] == 50
    for channel, number in truth.items():
        assert abs(estimate["audience"]["per_channel"][channel] - number) <= 0.15 * number
    assert estimate["audience"]["total"] == sum(estimate["audience"]["per_channel"].values())
    assert set(estimate["eta_seconds"]) == {"sms", "whatsapp"}
    assert small.crisis.incidents == {} and small.bus.take(BROADCAST_QUEUE) == []

    # Without the index's size (moto; a stale figure): what was counted, flagged a lower bound.
    for unknown in (None, 30):
        small.crisis.size_estimate = unknown
        counted, _ = create_incident(small.ports, body)
        assert counted["estimated"] is True and counted["audience"]["lower_bound"] is True
        assert sum(counted["audience"]["per_channel"].values()) == counted["audience"]["total"] < 50
    assert exact["audience"]["lower_bound"] is False and estimate["audience"]["lower_bound"] is False


def test_the_dry_run_stops_at_its_time_budget() -> None:
    from chalicelib.crisis.dry_run import dry_run
    from chalicelib.crisis.requests import validated_audience

    world = World(config_overrides={"dry_run_page_size": 10, "dry_run_max_pages": 100, "dry_run_seconds": 1.0})
    _populate(world, 100)
    ticks = iter(float(n) for n in range(1000))  # each page takes a second of the clock the dry run reads
    answer = dry_run(world.ports, validated_audience({}), monotonic=lambda: next(ticks))
    assert answer["estimated"] is True and answer["audience"]["examined"] == 10


def test_an_update_reaches_the_audience_again_plus_who_wrote_in_with_the_keywords() -> None:
    world = World()
    world.customer(1, Channel.SMS, tier="vip")
    world.customer(2, Channel.SMS, tier="standard")
    created, _ = create_incident(world.ports, {**BODY, "audience": {"tiers": ["vip"]}})
    world.drain()
    world.crisis.record_keyword_contact(created["id"], "cus000002", "2027-01-15T00:00:00Z")
    update, status = post_update(world.ports, created["id"], {"status": "identified", "message": {"en": "Found it."}},
                                 idempotency_key="u-1")
    again, _ = post_update(world.ports, created["id"], {"status": "identified", "message": {"en": "Found it."}},
                           idempotency_key="u-1")
    world.drain()
    assert status == 202 and again["id"] == update["id"]
    recipients = Counter(m.split("_")[0] for _, _, m in world.messages.sent)
    assert sum(recipients.values()) == 3  # the vip twice (create, update), the keyword writer once
    assert world.crisis.incidents[created["id"]].status.value == "identified"


def test_delivery_callbacks_and_permanent_send_errors_move_the_progress_once_per_message() -> None:
    """The broadcast's outbound job names its incident update; the sender's answer, the provider's status
    callbacks (redelivered) and a permanent send error then count delivered / failed per channel."""
    from chalicelib.conversations.inbound import apply_status
    from chalicelib.core.model import DeliveryStatus, EventKind, InboundEvent
    from chalicelib.outbound.delivery import RepositoryDeliveryLedger
    from chalicelib.outbound.job import OutboundJob

    world = World()
    for number in range(4):
        world.customer(number, (Channel.SMS, Channel.WHATSAPP)[number % 2])
    created, _ = create_incident(world.ports, BODY)
    world.drain()
    jobs = [OutboundJob.from_dict(job) for job in world.store.jobs()]
    assert len(jobs) == 4
    first_update = created["updates"][0]["id"]
    assert all(job.broadcast is not None and (job.broadcast.incident_id, job.broadcast.update_id) == (
        created["id"], first_update) for job in jobs)
    expected: Counter[tuple[str, str]] = Counter()
    for number, job in enumerate(jobs):
        ledger = RepositoryDeliveryLedger(world.repos, job)
        expected[(job.channel.value, "failed" if number >= 2 else "delivered")] += 1
        if number == 3:
            ledger.record_failed(job.outbound_id, "131026", "the number is not on WhatsApp")
            ledger.record_failed(job.outbound_id, "131026", "the number is not on WhatsApp")  # a retried job
            continue
        ledger.record_sent(job.outbound_id, f"pm-{number}", DeliveryStatus.SENT)
        outcome = DeliveryStatus.FAILED if number == 2 else DeliveryStatus.DELIVERED
        for status in (outcome, outcome, DeliveryStatus.READ):  # a redelivered callback, then read
            event = InboundEvent(provider=job.provider, event_id=f"st-{number}-{status}", channel=job.channel,
                                 kind=EventKind.DELIVERY_STATUS, occurred_at="2027-01-15T00:00:00.000Z",
                                 provider_message_id=f"pm-{number}", status=status)
            apply_status(world.repos, event)
    (update,) = world.crisis.updates(created["id"])
    progress = update.progress.to_api()
    assert (progress["sent"], progress["delivered"], progress["failed"]) == (4, 2, 2)
    by_channel = {channel: (f["delivered"], f["failed"]) for channel, f in progress["per_channel"].items()}
    assert by_channel == {c: (expected[(c, "delivered")], expected[(c, "failed")]) for c in ("sms", "whatsapp")}
