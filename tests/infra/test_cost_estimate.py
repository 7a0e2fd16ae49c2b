"""The cost note's arithmetic: measured call counts in, a monthly bill out."""

from __future__ import annotations

from infra.cost_estimate import calls_from_bench, estimate

BENCH = {
    "webhooks": 10,
    "webhook_calls": {"PutItem": 10},
    "async_per_message": {
        "first_message_new_customer": {"async_by_operation": {"PutItem": 7, "GetItem": 5, "SendMessageBatch": 2}},
        "follow_up_message": {"async_by_operation": {"PutItem": 1, "GetItem": 6, "SendMessageBatch": 2}},
    },
}


def test_bench_results_become_per_message_calls() -> None:
    sync, worker = calls_from_bench(BENCH, new_share=0.5)
    assert sync == {"dynamodb.PutItem": 1.0}
    assert worker == {"dynamodb.PutItem": 4.0, "dynamodb.GetItem": 5.5, "sqs.SendMessageBatch": 2.0}


def test_more_messages_cost_more_and_the_fixed_part_stays() -> None:
    sync, worker = calls_from_bench(BENCH, new_share=0.3)
    small = sum(usd for _, _, usd in estimate(1_000_000, 0, sync, worker))
    large = sum(usd for _, _, usd in estimate(2_000_000, 0, sync, worker))
    fixed = sum(usd for _, _, usd in estimate(0, 0, sync, worker))
    assert fixed > 0 and small > fixed
    assert abs((large - fixed) - 2 * (small - fixed)) < 0.5  # the variable part is linear
