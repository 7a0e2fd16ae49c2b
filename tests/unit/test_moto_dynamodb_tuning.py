"""The dev stack's DynamoDB tunings change what an operation costs, never what it answers."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from devstack import moto_dynamodb_tuning
from devstack.moto_tuning import tune_moto


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    tune_moto()
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName="t", BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                  {"AttributeName": "sk", "AttributeType": "S"}],
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
        yield client


def test_a_base_table_query_answers_as_before(dynamodb: Any) -> None:
    for index in range(30):
        dynamodb.put_item(TableName="t", Item={"pk": {"S": f"P{index % 3}"}, "sk": {"S": f"S{index:02d}"}})

    def sort_keys(**kwargs: Any) -> list[str]:
        response = dynamodb.query(TableName="t", KeyConditionExpression="pk = :p",
                                  ExpressionAttributeValues={":p": {"S": "P1"}}, **kwargs)
        return [item["sk"]["S"] for item in response["Items"]]

    expected = [f"S{index:02d}" for index in range(1, 30, 3)]
    assert sort_keys() == expected
    assert sort_keys(ScanIndexForward=False) == expected[::-1]
    assert sort_keys(Limit=4) == expected[:4]
    missing = dynamodb.query(TableName="t", KeyConditionExpression="pk = :p",
                             ExpressionAttributeValues={":p": {"S": "nobody"}})
    assert missing["Count"] == 0


def _items(client: Any) -> dict[str, dict[str, Any]]:
    return {item["pk"]["S"]: item for item in client.scan(TableName="t")["Items"]}


def _stream_records(client: Any) -> int:
    """How many records the table's stream holds (moto's own shard: what the relay would read)."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    return len(dynamodb_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].tables["t"].stream_shard.items)


def _counter_and_status(status: str, expected: str) -> list[dict[str, Any]]:
    return [
        {"Update": {"TableName": "t", "Key": {"pk": {"S": "counter"}, "sk": {"S": "c"}},
                    "UpdateExpression": "ADD n :one", "ExpressionAttributeValues": {":one": {"N": "1"}}}},
        {"Update": {"TableName": "t", "Key": {"pk": {"S": "message"}, "sk": {"S": "m"}},
                    "UpdateExpression": "SET #s = :new", "ConditionExpression": "#s = :old",
                    "ExpressionAttributeNames": {"#s": "status"},
                    "ExpressionAttributeValues": {":new": {"S": status}, ":old": {"S": expected}}}},
    ]


def test_a_transaction_applies_all_its_writes_or_none_and_copies_no_table(dynamodb: Any, monkeypatch: Any) -> None:
    from moto.dynamodb.models.table import Table

    dynamodb.put_item(TableName="t", Item={"pk": {"S": "message"}, "sk": {"S": "m"}, "status": {"S": "sent"}})
    for number in range(50):  # a table much larger than the transaction
        dynamodb.put_item(TableName="t", Item={"pk": {"S": f"other{number}"}, "sk": {"S": "x"}})
    copied: list[Any] = []
    import copy as real_copy

    original = real_copy.deepcopy
    monkeypatch.setattr(real_copy, "deepcopy", lambda value, memo=None: (copied.append(value) if isinstance(
        value, Table) else None) or original(value, memo))
    before = _stream_records(dynamodb)
    dynamodb.transact_write_items(TransactItems=_counter_and_status("delivered", "sent"))
    assert _items(dynamodb)["counter"]["n"] == {"N": "1"}
    assert _items(dynamodb)["message"]["status"] == {"S": "delivered"}
    records = _stream_records(dynamodb)
    assert records > before
    # The counter's write comes first and the message's condition fails: the counter is put back, and
    # the stream shows nothing of the cancelled transaction.
    with pytest.raises(dynamodb.exceptions.TransactionCanceledException):
        dynamodb.transact_write_items(TransactItems=_counter_and_status("delivered", "sent"))
    assert _items(dynamodb)["counter"]["n"] == {"N": "1"}
    assert _stream_records(dynamodb) == records
    # A cancelled transaction that would have created an item leaves no item behind.
    dynamodb.delete_item(TableName="t", Key={"pk": {"S": "counter"}, "sk": {"S": "c"}})
    with pytest.raises(dynamodb.exceptions.TransactionCanceledException):
        dynamodb.transact_write_items(TransactItems=_counter_and_status("read", "sent"))
    assert "counter" not in _items(dynamodb)
    assert copied == []


@pytest.fixture
def both_writers(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every answer written by the tuned writer and by moto's own serializer; they must be equal."""
    from moto.core.serialize import BaseJSONSerializer

    tuned = BaseJSONSerializer._serialize_result
    original = moto_dynamodb_tuning.moto_serialize_result
    assert original is not None and original is not tuned
    compared: list[str] = []

    def compare(serializer: Any, resp: Any, result: Any) -> Any:
        ours = tuned(serializer, copy.deepcopy(resp), copy.deepcopy(result))
        theirs = original(serializer, copy.deepcopy(resp), copy.deepcopy(result))
        assert ours["headers"] == theirs["headers"] and ours["status_code"] == theirs["status_code"]
        assert json.loads(ours["body"] or "{}") == json.loads(theirs["body"] or "{}"), serializer.operation_name
        compared.append(serializer.operation_name)
        return ours

    monkeypatch.setattr(BaseJSONSerializer, "_serialize_result", compare)
    return compared


EVERY_TYPE = {"pk": {"S": "p"}, "sk": {"S": "1"}, "n": {"N": "12.50"}, "b": {"B": b"\x00\xffraw"},
              "t": {"BOOL": True}, "nothing": {"NULL": True}, "ss": {"SS": ["a", "b"]}, "ns": {"NS": ["1", "2"]},
              "bs": {"BS": [b"x", b"\x01"]},
              "m": {"M": {"inner": {"S": "é😀"}, "bin": {"B": b"\x02"}, "l": {"L": [{"N": "1"}, {"S": "two"}]}}}}


def test_the_item_answers_are_written_as_moto_writes_them(dynamodb: Any, both_writers: list[str]) -> None:
    capacity = {"ReturnConsumedCapacity": "TOTAL"}
    dynamodb.put_item(TableName="t", Item=EVERY_TYPE, **capacity)
    dynamodb.put_item(TableName="t", Item={**EVERY_TYPE, "sk": {"S": "2"}}, ReturnValues="ALL_OLD")
    dynamodb.put_item(TableName="t", Item={**EVERY_TYPE, "sk": {"S": "2"}}, ReturnValues="ALL_OLD")
    found = dynamodb.get_item(TableName="t", Key={"pk": {"S": "p"}, "sk": {"S": "1"}})["Item"]
    assert found["b"]["B"] == b"\x00\xffraw"
    dynamodb.get_item(TableName="t", Key={"pk": {"S": "p"}, "sk": {"S": "absent"}}, **capacity)
    for returned in ("NONE", "ALL_NEW", "ALL_OLD", "UPDATED_NEW", "UPDATED_OLD"):
        dynamodb.update_item(TableName="t", Key={"pk": {"S": "p"}, "sk": {"S": "1"}}, ReturnValues=returned,
                             UpdateExpression="SET x = :x ADD c :one", **capacity,
                             ExpressionAttributeValues={":x": {"B": b"\x03"}, ":one": {"N": "1"}})
    query = {"TableName": "t", "KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "p"}}}
    assert dynamodb.query(**query, Limit=1)["LastEvaluatedKey"]
    dynamodb.query(**query, Select="COUNT")
    dynamodb.scan(TableName="t", **capacity)
    dynamodb.batch_get_item(RequestItems={"t": {"Keys": [{"pk": {"S": "p"}, "sk": {"S": "1"}},
                                                          {"pk": {"S": "p"}, "sk": {"S": "9"}}]}})
    dynamodb.batch_write_item(RequestItems={"t": [{"PutRequest": {"Item": {"pk": {"S": "q"}, "sk": {"S": "1"}}}}]})
    key = {"pk": {"S": "r"}, "sk": {"S": "1"}}
    dynamodb.transact_write_items(TransactItems=[{"Put": {"TableName": "t", "Item": key}}])
    dynamodb.transact_get_items(TransactItems=[{"Get": {"TableName": "t", "Key": key}}])
    dynamodb.delete_item(TableName="t", Key={"pk": {"S": "p"}, "sk": {"S": "2"}}, ReturnValues="ALL_OLD")
    with pytest.raises(ClientError) as failed:  # an error keeps moto's serializer and its code
        dynamodb.put_item(TableName="t", Item={"pk": {"S": "p"}, "sk": {"S": "1"}},
                          ConditionExpression="attribute_not_exists(pk)")
    assert failed.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    assert set(both_writers) >= {"PutItem", "GetItem", "UpdateItem", "Query", "Scan", "BatchGetItem",
                                 "BatchWriteItem", "TransactWriteItems", "TransactGetItems", "DeleteItem"}


def test_one_expression_parsed_once_still_applies_each_call_its_own_values(dynamodb: Any) -> None:
    for value in ("first", "second"):
        dynamodb.update_item(TableName="t", Key={"pk": {"S": value}, "sk": {"S": "1"}},
                             UpdateExpression="SET v = :v ADD n :one",
                             ExpressionAttributeValues={":v": {"S": value}, ":one": {"N": "1"}})
    items = {i["pk"]["S"]: (i["v"]["S"], i["n"]["N"]) for i in dynamodb.scan(TableName="t")["Items"]}
    assert items == {"first": ("first", "1"), "second": ("second", "1")}
    for _ in range(2):  # a bad expression is refused every time, not cached as a success
        with pytest.raises(ClientError) as refused:
            dynamodb.update_item(TableName="t", Key={"pk": {"S": "x"}, "sk": {"S": "1"}},
                                 UpdateExpression="SET = :v", ExpressionAttributeValues={":v": {"S": "v"}})
        assert refused.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(ClientError) as missing:  # a value the expression names but the call lacks
        dynamodb.update_item(TableName="t", Key={"pk": {"S": "x"}, "sk": {"S": "1"}},
                             UpdateExpression="SET v = :v ADD n :one", ExpressionAttributeValues={":v": {"S": "v"}})
    assert missing.value.response["Error"]["Code"] == "ValidationException"


def test_the_item_size_limit_holds_at_the_same_size(dynamodb: Any) -> None:
    def put(size: int) -> None:
        dynamodb.put_item(TableName="t", Item={"pk": {"S": "big"}, "sk": {"S": "1"}, "body": {"S": "x" * size}})

    put(400_000)
    with pytest.raises(ClientError) as refused:
        put(405_000)
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert "size" in refused.value.response["Error"]["Message"].lower()
    dynamodb.update_item(TableName="t", Key={"pk": {"S": "big"}, "sk": {"S": "1"}},  # later writes: still checked
                         UpdateExpression="SET more = :m", ExpressionAttributeValues={":m": {"S": "y" * 3_000}})
    with pytest.raises(ClientError):
        dynamodb.update_item(TableName="t", Key={"pk": {"S": "big"}, "sk": {"S": "1"}},
                             UpdateExpression="SET most = :m", ExpressionAttributeValues={":m": {"S": "z" * 9_000}})


def test_an_index_query_answers_in_the_indexs_order_page_by_page() -> None:
    tune_moto()
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        attributes = ("pk", "sk", "due_pk", "due_at")
        client.create_table(
            TableName="t", BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": name, "AttributeType": "S"} for name in attributes],
            GlobalSecondaryIndexes=[{"IndexName": "due", "Projection": {"ProjectionType": "ALL"},
                                     "KeySchema": [{"AttributeName": "due_pk", "KeyType": "HASH"},
                                                   {"AttributeName": "due_at", "KeyType": "RANGE"}]}])
        order = [17, 3, 29, 11, 5, 23, 2, 19, 13, 7]  # written out of order, some times shared
        for index, minute in enumerate(order):
            client.put_item(TableName="t", Item={"pk": {"S": f"C{index}"}, "sk": {"S": "CONV"},
                                                 "due_pk": {"S": "DUE"}, "due_at": {"S": f"T{minute % 6:02d}"}})
        client.put_item(TableName="t", Item={"pk": {"S": "other"}, "sk": {"S": "CONV"}})  # not in the index
        expected = sorted((f"T{minute % 6:02d}", f"C{index}") for index, minute in enumerate(order))

        def pages(forward: bool) -> list[tuple[str, str]]:
            found: list[tuple[str, str]] = []
            start: dict[str, Any] | None = None
            while True:
                page = client.query(TableName="t", IndexName="due", KeyConditionExpression="due_pk = :d",
                                    ExpressionAttributeValues={":d": {"S": "DUE"}}, Limit=3,
                                    ScanIndexForward=forward, **({"ExclusiveStartKey": start} if start else {}))
                found += [(item["due_at"]["S"], item["pk"]["S"]) for item in page["Items"]]
                start = page.get("LastEvaluatedKey")
                if not start:
                    return found

        assert pages(forward=True) == expected
        assert pages(forward=False) == expected[::-1]


# Each case: (the item before, the update's parameters). The walk's tuning must answer each as moto's
# own walks do: the same item after, the same answer, or the same refusal with the same message.
_BEFORE = {"a": {"N": "1"}, "s": {"SS": ["x", "y"]}, "l": {"L": [{"N": "1"}]}, "txt": {"S": "t"},
           "m": {"M": {"in1": {"M": {"deep": {"S": "d"}}}, "o2": {"N": "2"}}}}
_NAMES = {"#a": "a", "#also_a": "a", "#m": "m", "#day": "day", **{f"#n{i}": f"count_{i}" for i in range(8)}}
_VALUES = {":one": {"N": "1"}, ":zero": {"N": "0"}, ":l": {"L": [{"S": "2"}]}, ":empty": {"L": []},
           ":set": {"SS": ["z"]}, ":sub": {"SS": ["x"]}, ":v": {"S": "v"}, ":blank": {"S": ""}}
_UPDATES = [
    "SET a = a + :one, b = if_not_exists(b, :zero), l = list_append(if_not_exists(l, :empty), :l)",
    "SET #m.in1.deep = :v, #m.o2 = #m.o2 - :one, fresh = :v",
    "ADD a :one, s :set, created :one",
    "REMOVE txt, m.in1 DELETE s :sub",
    "SET l[0] = :v, l[3] = :v REMOVE m.o2",
    "SET #day = :v ADD " + ", ".join(f"#n{i} :one" for i in range(8)),  # the KPI counters' shape
    "SET nowhere.deep = :v",  # a path that does not exist
    "SET a = :v, a.b = :v",  # overlapping paths
    "SET #a = :one, #also_a = :zero",  # one attribute twice, through two names
    "ADD a :one ADD txt :one",  # two ADD clauses
    "ADD txt :one",  # a number added to a string
    "SET sk = :v",  # a key attribute
    "SET #a = :blank",
    "SET a = if_not_exists(nope, :v) + :one",  # arithmetic on a string
]


def _update(client: Any, partition: str, expression: str) -> dict[str, Any]:
    key = {"pk": {"S": partition}, "sk": {"S": "1"}}
    client.put_item(TableName="t", Item={**key, **_BEFORE})
    names = {name: value for name, value in _NAMES.items() if name in expression}
    values = {name: value for name, value in _VALUES.items() if name in expression}
    try:
        answer = client.update_item(TableName="t", Key=key, UpdateExpression=expression, ReturnValues="ALL_NEW",
                                    **({"ExpressionAttributeNames": names} if names else {}),
                                    ExpressionAttributeValues=values)
        outcome: dict[str, Any] = {"answer": {k: v for k, v in answer["Attributes"].items() if k != "pk"}}
    except ClientError as refused:
        outcome = {"refused": (refused.response["Error"]["Code"], refused.response["Error"]["Message"])}
    item = client.get_item(TableName="t", Key=key)["Item"]
    return {**outcome, "item": {name: value for name, value in item.items() if name != "pk"}}


@pytest.mark.parametrize("expression", _UPDATES)
def test_an_update_is_validated_and_applied_as_moto_does_it(dynamodb: Any, monkeypatch: Any, expression: str) -> None:
    from moto.dynamodb.parsing import ast_nodes

    from devstack import moto_expression_tuning

    ours = _update(dynamodb, "ours", expression)
    monkeypatch.setattr(ast_nodes.DepthFirstTraverser, "traverse_node_recursively",
                        moto_expression_tuning.moto_traverse)
    monkeypatch.setattr(ast_nodes.Node, "find_clauses", moto_expression_tuning.moto_find_clauses)
    assert ours == _update(dynamodb, "moto's", expression)


def test_the_cases_cover_updates_applied_and_refused(dynamodb: Any) -> None:
    outcomes = [_update(dynamodb, f"case-{index}", expression) for index, expression in enumerate(_UPDATES)]
    refusals = {outcome["refused"][1] for outcome in outcomes if "refused" in outcome}
    assert sum("answer" in outcome for outcome in outcomes) >= 6
    assert len(refusals) >= 6, refusals  # distinct refusals: each check of the walk is exercised


_CONDITIONS = [
    "attribute_not_exists(pk)",
    "attribute_exists(#m.in1.deep) AND attribute_type(a, :n)",
    "a < :two AND (txt IN (:t, :v) OR NOT begins_with(txt, :v))",
    "size(l) BETWEEN :zero AND :one",
    "#a <> :one",  # fails: the condition is false
    "a <>",  # not an expression (moto raises, as for the next one: its own parser's errors)
    "#undefined = :one",  # a name the call does not define
]
_CONDITION_VALUES = {":two": {"N": "2"}, ":t": {"S": "t"}, ":n": {"S": "N"}}


def _conditional_update(client: Any, partition: str, condition: str) -> dict[str, Any]:
    key = {"pk": {"S": partition}, "sk": {"S": "1"}}
    client.put_item(TableName="t", Item={**key, **_BEFORE})
    names = {name: value for name, value in _NAMES.items() if name in condition}
    values = {name: value for name, value in {**_VALUES, **_CONDITION_VALUES}.items() if name in condition}
    try:
        client.update_item(TableName="t", Key=key, UpdateExpression="SET done = :done", ConditionExpression=condition,
                           ExpressionAttributeValues={**values, ":done": {"BOOL": True}},
                           **({"ExpressionAttributeNames": names} if names else {}))
        return {"applied": "done" in client.get_item(TableName="t", Key=key)["Item"]}
    except ClientError as refused:
        return {"refused": (refused.response["Error"]["Code"], refused.response["Error"]["Message"])}
    except (ValueError, KeyError) as broken:  # moto 5.2 raises these itself on a malformed condition
        return {"raised": (type(broken).__name__, str(broken))}


@pytest.mark.parametrize("condition", _CONDITIONS)
def test_a_condition_is_read_as_moto_reads_it(dynamodb: Any, monkeypatch: Any, condition: str) -> None:
    from moto.dynamodb.comparisons import ConditionExpressionParser

    from devstack import moto_expression_tuning

    ours = [_conditional_update(dynamodb, f"ours-{turn}", condition) for turn in range(2)]  # split, then kept
    monkeypatch.setattr(ConditionExpressionParser, "_lex_condition_expression",
                        moto_expression_tuning.moto_lex_condition)
    assert ours == [_conditional_update(dynamodb, "moto's", condition)] * 2


def test_the_conditions_hold_fail_and_are_refused(dynamodb: Any) -> None:
    outcomes = [_conditional_update(dynamodb, f"case-{index}", text) for index, text in enumerate(_CONDITIONS)]
    assert [outcome.get("applied") for outcome in outcomes[:4]] == [None, True, True, True]  # the item exists
    assert {outcome["refused"][0] for outcome in (outcomes[0], outcomes[4])} == {"ConditionalCheckFailedException"}
    assert [outcome["raised"][0] for outcome in outcomes[5:]] == ["ValueError", "KeyError"]


def _update_and_its_record(client: Any, partition: str, expression: str, returned: str) -> dict[str, Any]:
    outcome = _update(client, partition, expression) if returned == "ALL_NEW" else {}
    if not outcome:
        key = {"pk": {"S": partition}, "sk": {"S": "1"}}
        client.put_item(TableName="t", Item={**key, **_BEFORE})
        names = {name: value for name, value in _NAMES.items() if name in expression}
        try:
            answer = client.update_item(TableName="t", Key=key, UpdateExpression=expression, ReturnValues=returned,
                                        **({"ExpressionAttributeNames": names} if names else {}),
                                        ExpressionAttributeValues={n: v for n, v in _VALUES.items() if n in expression})
            outcome = {"answer": {k: v for k, v in answer.get("Attributes", {}).items() if k != "pk"}}
        except ClientError as refused:
            outcome = {"refused": refused.response["Error"]["Code"]}
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    record = dynamodb_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].tables["t"].stream_shard.items[-1].record
    images = {name: {k: v for k, v in record["dynamodb"].get(name, {}).items() if k != "pk"}
              for name in ("OldImage", "NewImage")}
    return {**outcome, "event": record["eventName"], **images}


@pytest.mark.parametrize("returned", ["ALL_NEW", "UPDATED_OLD", "ALL_OLD", "UPDATED_NEW"])
def test_an_update_answers_and_streams_the_item_as_it_was(dynamodb: Any, monkeypatch: Any, returned: str) -> None:
    from moto.dynamodb import models, responses

    ours = [_update_and_its_record(dynamodb, "ours", expression, returned) for expression in _UPDATES]
    monkeypatch.setattr(models, "copy", copy)  # moto's own deep copies
    monkeypatch.setattr(responses, "copy", copy)
    assert ours == [_update_and_its_record(dynamodb, "moto's", expression, returned) for expression in _UPDATES]
    assert any(record["OldImage"] != record["NewImage"] for record in ours if record["event"] == "MODIFY")
