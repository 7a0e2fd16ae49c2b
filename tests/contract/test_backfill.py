"""``./hub backfill customers`` on DynamoDB (moto): profiles written before gsi_customers existed get
its attributes once, a run that stops is continued from its saved cursor, and the planner then sees them."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from chalicelib.adapters.dynamo import keys
from chalicelib.adapters.dynamo.backfill import backfill_customers_index
from chalicelib.adapters.dynamo.crisis import DynamoCrisis
from chalicelib.adapters.dynamo.customers import DynamoCustomers
from chalicelib.adapters.dynamo.table import Table, to_item
from chalicelib.core.model import Channel, Customer, Identity
from tests.contract.conftest import create_table

_NUMBERS = itertools.count()


@pytest.fixture
def table(moto_clients: tuple[Any, Any]) -> Table:
    dynamodb, _ = moto_clients
    name = f"omnihub-backfill-{next(_NUMBERS)}"
    create_table(dynamodb, name)
    return Table(dynamodb, name)


def _old_profile(table: Table, number: int, *, created_at: str | None = None) -> None:
    """A profile as the hub wrote it before the index: no cust_pk / cust_sk."""
    table.call("put_item", Item=to_item({
        **keys.customer(f"old{number}"), "type": "customer", "id": f"old{number}", "tier": "standard",
        "identities": [f"sms#+3933300000{number:02d}"],
        "created_at": created_at or f"2026-01-01T00:00:{number:02d}.000Z"}))


def _everyone(crisis: DynamoCrisis) -> list[str]:
    seen, cursor = [], None
    while True:
        page, cursor = crisis.audience_page(cursor, 4)
        seen += [c.id for c in page]
        if cursor is None:
            return seen


def test_old_profiles_get_the_index_once_and_a_stopped_run_continues(table: Table) -> None:
    for number in range(9):
        _old_profile(table, number)
    customers = DynamoCustomers(table)
    customers.create(Customer(id="new1", name=None, language="it", tier="vip",
                              identities=(Identity(Channel.SMS, "+393339999999"),),
                              created_at="2026-06-01T00:00:00.000Z"))
    table.call("put_item", Item=to_item({"pk": "CONV#c1", "sk": "META", "type": "conversation"}))  # not a profile
    crisis = DynamoCrisis(table)
    assert _everyone(crisis) == ["new1"]  # the planner misses the old ones

    first = backfill_customers_index(table, page_size=3, max_pages=2)
    assert not first.finished and first.cursor and first.fixed == first.scanned > 0
    rest = backfill_customers_index(table, page_size=3)  # continues from the saved cursor
    assert rest.finished and rest.cursor is None
    assert first.fixed + rest.fixed == 9  # each old profile fixed once, none scanned twice
    assert _everyone(crisis) == [f"old{n}" for n in range(9)] + ["new1"]  # oldest first, once each
    assert crisis.customers_by_id(["old3"])[0].tier == "standard"  # the profile is otherwise untouched

    again = backfill_customers_index(table, page_size=50)  # a finished run starts again from the top
    assert again.finished and again.fixed == 0 and again.scanned == 0  # idempotent: nothing left to do


def test_a_profile_without_created_at_is_reported_and_left_alone(table: Table) -> None:
    _old_profile(table, 1)
    table.call("put_item", Item=to_item({**keys.customer("broken"), "type": "customer", "id": "broken"}))
    report = backfill_customers_index(table, page_size=10, restart=True)
    assert (report.fixed, report.unfixable, report.finished) == (1, 1, True)
    assert table.get(keys.customer("broken"), consistent=True).get("cust_pk") is None


def test_the_hub_command_runs_it_against_the_table(table: Table, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    from devstack.cli import main

    for number in range(3):
        _old_profile(table, number)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "")  # AWS itself: here moto's in-process mock
    assert main(["backfill", "customers", "--table", table.name, "--page-size", "2"]) == 0
    assert "3 profiles given the index" in capsys.readouterr().out
    assert main(["backfill", "customers", "--table", table.name, "--page-size", "0"]) == 2
    assert _everyone(DynamoCrisis(table)) == ["old0", "old1", "old2"]
