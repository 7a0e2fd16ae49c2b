"""The routing a conversation records, on the twins and on DynamoDB: once per decision, only upwards."""

from __future__ import annotations

import threading

from chalicelib.core.model import Priority
from chalicelib.core.ports import Repositories
from chalicelib.core.routing_record import ConversationRouting
from tests.contract.test_repositories import conversation, customer

VIP_LEGAL = ConversationRouting("vip-legal", 'tier=vip and text matched "avvocat\\w*"', "msg_1", escalate=True)
DEFAULT = ConversationRouting(None, "no rule matched (3 tried): the default route", "msg_1")


def test_a_conversation_is_routed_once_and_read_back_whole(repos: Repositories) -> None:
    repos.conversations.create(conversation())
    routed = repos.conversations.record_routing(
        "cnv_1", route="vip", priority=Priority.URGENT, tags=("legal",), routing=VIP_LEGAL)
    assert routed is not None
    assert (routed.route, routed.priority, routed.tags, routed.routing) == ("vip", Priority.URGENT, ("legal",),
                                                                            VIP_LEGAL)
    assert repos.conversations.get("cnv_1", consistent=True) == routed
    assert routed.to_api()["routing"] == {"rule": "vip-legal", "reason": VIP_LEGAL.reason}
    # the same decision again (a redelivery) changes nothing
    assert repos.conversations.record_routing(
        "cnv_1", route="vip", priority=Priority.URGENT, tags=("legal",), routing=VIP_LEGAL) is None
    assert repos.conversations.get("cnv_1", consistent=True) == routed


def test_the_default_routing_without_tags_or_rule(repos: Repositories) -> None:
    repos.conversations.create(conversation(tags=("old",)))
    routed = repos.conversations.record_routing(
        "cnv_1", route="default", priority=Priority.NORMAL, tags=(), routing=DEFAULT)
    assert routed is not None and routed.tags == () and routed.routing == DEFAULT
    assert routed.to_api()["routing"] == {"rule": None, "reason": DEFAULT.reason}
    assert repos.conversations.get("cnv_1") == routed


def test_a_reroute_applies_only_to_a_higher_priority(repos: Repositories) -> None:
    repos.conversations.create(conversation())
    first = ConversationRouting("billing", 'text matched "invoice"', "msg_1")
    assert repos.conversations.record_routing(
        "cnv_1", route="billing", priority=Priority.HIGH, tags=(), routing=first) is not None
    for lower_or_equal in (Priority.LOW, Priority.NORMAL, Priority.HIGH):
        assert repos.conversations.record_routing(
            "cnv_1", route="sales", priority=lower_or_equal, tags=("x",),
            routing=ConversationRouting("sales", "why", "msg_2")) is None
    later = ConversationRouting("vip-legal", "why", "msg_3", escalate=True)
    moved = repos.conversations.record_routing(
        "cnv_1", route="vip", priority=Priority.URGENT, tags=("legal",), routing=later)
    assert moved is not None and (moved.route, moved.priority, moved.routing) == ("vip", Priority.URGENT, later)
    assert repos.conversations.get("cnv_1", consistent=True) == moved


def test_an_unknown_conversation_is_not_routed(repos: Repositories) -> None:
    assert repos.conversations.record_routing(
        "cnv_unknown", route="vip", priority=Priority.URGENT, tags=(), routing=VIP_LEGAL) is None
    assert repos.conversations.get("cnv_unknown") is None


def test_racing_first_routings_have_one_winner(repos: Repositories) -> None:
    repos.conversations.create(conversation())
    results: list[object] = []

    def route(number: int) -> None:
        routing = ConversationRouting(f"rule-{number}", "why", f"msg_{number}")
        results.append(repos.conversations.record_routing(
            "cnv_1", route="default", priority=Priority.NORMAL, tags=(), routing=routing))

    threads = [threading.Thread(target=route, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [r for r in results if r is not None]
    assert len(winners) == 1
    assert repos.conversations.get("cnv_1", consistent=True) == winners[0]


def test_a_customers_tags_are_read_back(repos: Repositories) -> None:
    repos.customers.create(customer(tier="vip", tags=("loyalty-gold", "press")))
    found = repos.customers.get("cus_1", consistent=True)
    assert found is not None and (found.tier, found.tags) == ("vip", ("loyalty-gold", "press"))


def test_an_incidents_keywords_move_a_routed_conversation_to_crisis_once(repos: Repositories) -> None:
    repos.conversations.create(conversation())
    first = ConversationRouting("billing", 'text matched "invoice"', "msg_1")
    assert repos.conversations.record_routing(
        "cnv_1", route="billing", priority=Priority.HIGH, tags=("invoice",), routing=first) is not None
    surge = ConversationRouting("incident:inc_1", "incident:inc_1: the message names the incident's keywords", "msg_2")
    tags = ("invoice", "incident:inc_1")
    assert repos.conversations.record_routing(  # without the surge: an equal priority moves nothing
        "cnv_1", route="crisis", priority=Priority.HIGH, tags=tags, routing=surge) is None
    moved = repos.conversations.record_routing(
        "cnv_1", route="crisis", priority=Priority.HIGH, tags=tags, routing=surge, surge_tag="incident:inc_1")
    assert moved is not None and (moved.route, moved.tags, moved.routing) == ("crisis", tags, surge)
    again = ConversationRouting("incident:inc_1", surge.reason, "msg_3")
    assert repos.conversations.record_routing(  # there with the tag: a second message (or a racer) moves nothing
        "cnv_1", route="crisis", priority=Priority.HIGH, tags=tags, routing=again, surge_tag="incident:inc_1") is None
    other = ConversationRouting("incident:inc_2", "incident:inc_2: the message names the incident's keywords", "msg_4")
    tagged = repos.conversations.record_routing(  # another incident's keywords: tagged too
        "cnv_1", route="crisis", priority=Priority.HIGH, tags=(*tags, "incident:inc_2"), routing=other,
        surge_tag="incident:inc_2")
    assert tagged is not None and "incident:inc_2" in tagged.tags
    assert repos.conversations.get("cnv_1", consistent=True) == tagged
