"""What the lifecycle REST actions and PATCH /customers need from storage, on the twins and on DynamoDB:
a status change from the expected statuses only, recording its event; an assignment by support; a
profile update on the version read."""

from __future__ import annotations

import pytest

from chalicelib.core.errors import Conflict, NotFound
from chalicelib.core.model import ConversationStatus, Priority
from chalicelib.core.ports import Repositories
from chalicelib.core.routing_record import ConversationRouting, SupportAssignment
from tests.contract.test_repositories import conversation, customer, race

OPEN, PENDING, RESOLVED = ConversationStatus.OPEN, ConversationStatus.PENDING, ConversationStatus.RESOLVED


def test_a_status_change_from_an_expected_status_records_its_event(repos: Repositories) -> None:
    repos.conversations.create(conversation())
    pending = repos.conversations.set_status("cnv_1", PENDING, "2026-11-18T10:00:00.000Z", expected=(OPEN,),
                                             event_id="evt_pending")
    assert (pending.status, pending.status_event_id, pending.status_changed_at) == (
        PENDING, "evt_pending", "2026-11-18T10:00:00.000Z")
    assert repos.conversations.get("cnv_1", consistent=True) == pending
    with pytest.raises(Conflict):  # not open any more: nothing written
        repos.conversations.set_status("cnv_1", RESOLVED, "2026-11-18T11:00:00.000Z", expected=(OPEN,),
                                       event_id="evt_other")
    assert repos.conversations.get("cnv_1", consistent=True) == pending
    resolved = repos.conversations.set_status("cnv_1", RESOLVED, "2026-11-18T12:00:00.000Z",
                                              expected=(OPEN, PENDING), event_id="evt_resolved")
    assert (resolved.status, resolved.resolved_at, resolved.status_event_id) == (
        RESOLVED, "2026-11-18T12:00:00.000Z", "evt_resolved")
    with pytest.raises(NotFound):
        repos.conversations.set_status("cnv_unknown", OPEN, "2026-11-18T12:00:00.000Z", expected=(RESOLVED,))


def test_racing_status_changes_have_one_winner(repos: Repositories) -> None:
    repos.conversations.create(conversation())

    def attempt(index: int) -> str:
        try:
            repos.conversations.set_status("cnv_1", RESOLVED, f"2026-11-18T10:00:0{index}.000Z", expected=(OPEN,),
                                           event_id=f"evt_{index}")
        except Conflict:
            return "conflict"
        return "won"

    assert sorted(race(4, attempt)) == ["conflict", "conflict", "conflict", "won"]


def test_support_assigns_a_route_and_priority_whatever_was_decided(repos: Repositories) -> None:
    repos.conversations.create(conversation())
    decided = ConversationRouting("vip-legal", "tier=vip", "msg_1", escalate=True)
    repos.conversations.record_routing("cnv_1", route="vip", priority=Priority.URGENT, tags=("legal",),
                                       routing=decided)
    by_support = ConversationRouting(None, "assigned by support", "evt_assigned")
    assignment = SupportAssignment("2026-11-18T10:00:00.000Z", "vip", "urgent")
    assigned = repos.conversations.assign("cnv_1", route="billing", priority=Priority.LOW, routing=by_support,
                                          assignment=assignment)
    assert (assigned.route, assigned.priority, assigned.tags, assigned.routing, assigned.assignment) == (
        "billing", Priority.LOW, ("legal",), by_support, assignment)
    assert repos.conversations.get("cnv_1", consistent=True) == assigned
    # a later rule of a higher priority than support's moves it again; an equal one does not
    assert repos.conversations.record_routing("cnv_1", route="sales", priority=Priority.LOW, tags=(),
                                              routing=ConversationRouting("x", "y", "msg_2")) is None
    assert repos.conversations.record_routing("cnv_1", route="sales", priority=Priority.NORMAL, tags=(),
                                              routing=ConversationRouting("x", "y", "msg_2")) is not None
    with pytest.raises(NotFound):
        repos.conversations.assign("cnv_unknown", route="billing", priority=Priority.LOW, routing=by_support,
                                   assignment=assignment)


def test_a_profile_update_applies_on_the_version_read(repos: Repositories) -> None:
    repos.customers.create(customer(name="Maria", language="it"))
    updated = repos.customers.update_profile("cus_1", {"tier": "vip", "tags": ("press", "loyal")},
                                             expected_version=0)
    assert updated is not None
    assert (updated.tier, updated.tags, updated.name, updated.profile_version) == (
        "vip", ("press", "loyal"), "Maria", 1)
    assert repos.customers.get("cus_1", consistent=True) == updated
    # another update read version 0 too: refused, nothing written
    assert repos.customers.update_profile("cus_1", {"tier": "gold"}, expected_version=0) is None
    cleared = repos.customers.update_profile("cus_1", {"name": None, "tags": (), "language": "pt-br"},
                                             expected_version=1)
    assert cleared is not None
    assert (cleared.name, cleared.tags, cleared.language, cleared.tier, cleared.profile_version) == (
        None, (), "pt-br", "vip", 2)
    assert repos.customers.get("cus_1", consistent=True) == cleared
    with pytest.raises(NotFound):
        repos.customers.update_profile("cus_unknown", {"tier": "vip"}, expected_version=0)
