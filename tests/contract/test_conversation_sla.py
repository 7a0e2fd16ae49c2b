"""The SLA timers a conversation stores, on the twins and on DynamoDB: conditional on the revision, and
on the sweeper's sparse index only while a level can fall due."""

from __future__ import annotations

import threading

from chalicelib.core.model import Priority
from chalicelib.core.ports import Repositories
from chalicelib.core.sla_record import StoredSla
from tests.contract.test_repositories import conversation

RECORD = {"clocks": [{"kind": "first_response", "started_at": "2026-03-02T09:00:00.000Z",
                      "deadline": "2026-03-02T13:00:00.000Z", "levels_done": 0, "paused_ms": 0}],
          "paused_since": None, "last_agent_reply_at": None}


def timers(revision: int, attention_at: str | None = "2026-03-02T13:00:00.000Z", **record: object) -> StoredSla:
    return StoredSla({**RECORD, **record}, revision, {"first_response": "2026-03-02T13:00:00.000Z"},
                     attention_at=attention_at)


def test_timers_are_written_once_per_revision_and_read_back_whole(repos: Repositories) -> None:
    repos.conversations.create(conversation())
    first = repos.conversations.record_sla("cnv_1", timers(1))
    assert first is not None and first.sla == timers(1)
    assert repos.conversations.get("cnv_1", consistent=True) == first
    assert first.to_api()["sla"] == {"first_response_due_at": "2026-03-02T13:00:00.000Z",
                                     "next_response_due_at": None, "resolution_due_at": None, "paused": False}
    # a second writer that read nothing, or an old revision, loses
    assert repos.conversations.record_sla("cnv_1", timers(1, seen="late")) is None
    assert repos.conversations.record_sla("cnv_1", timers(3)) is None
    assert repos.conversations.get("cnv_1", consistent=True) == first
    second = repos.conversations.record_sla("cnv_1", timers(2, attention_at=None))
    assert second is not None and second.sla is not None and second.sla.attention_at is None
    assert repos.conversations.get("cnv_1", consistent=True) == second


def test_an_unknown_conversation_gets_no_timers(repos: Repositories) -> None:
    assert repos.conversations.record_sla("cnv_missing", timers(1)) is None
    assert repos.conversations.get("cnv_missing") is None


def test_a_ladder_reroute_moves_route_and_priority_in_the_same_write(repos: Repositories) -> None:
    repos.conversations.create(conversation())
    repos.conversations.record_sla("cnv_1", timers(1))
    moved = repos.conversations.record_sla("cnv_1", timers(2), route="vip", priority=Priority.URGENT)
    assert moved is not None and (moved.route, moved.priority) == ("vip", Priority.URGENT)
    assert repos.conversations.get("cnv_1", consistent=True) == moved


def test_the_sparse_index_holds_only_what_falls_due_earliest_first(repos: Repositories) -> None:
    for number, attention_at in ((1, "2026-03-02T13:00:00.000Z"), (2, "2026-03-02T12:00:00.000Z"),
                                 (3, "2026-03-02T15:00:00.000Z"), (4, None)):
        repos.conversations.create(conversation(f"cnv_{number}"))
        repos.conversations.record_sla(f"cnv_{number}", timers(1, attention_at=attention_at))
    repos.conversations.create(conversation("cnv_5"))  # never timed
    assert repos.conversations.sla_attention_due("2026-03-02T13:00:00.000Z", 10) == ["cnv_2", "cnv_1"]
    assert repos.conversations.sla_attention_due("2026-03-02T13:00:00.000Z", 1) == ["cnv_2"]
    assert repos.conversations.sla_attention_due("2026-03-02T11:59:59.999Z", 10) == []
    # taken off the index once nothing more can fall due
    repos.conversations.record_sla("cnv_2", timers(2, attention_at=None))
    assert repos.conversations.sla_attention_due("2026-03-03T00:00:00.000Z", 10) == ["cnv_1", "cnv_3"]


def test_racing_writers_of_the_same_revision_have_one_winner(repos: Repositories) -> None:
    repos.conversations.create(conversation())
    repos.conversations.record_sla("cnv_1", timers(1))
    results: list[object] = []
    barrier = threading.Barrier(4)

    def write(number: int) -> None:
        barrier.wait()
        results.append(repos.conversations.record_sla("cnv_1", timers(2, writer=number)))

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(result is not None for result in results) == 1
