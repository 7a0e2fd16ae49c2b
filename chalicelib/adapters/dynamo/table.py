"""Low-level access to the single table: serialization, conditional writes, paged queries.

Domain errors out, never botocore's, and never botocore's text: it is logged here and the error
raised carries the hub's own words (it may reach a response body).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from boto3.dynamodb.types import Binary, TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.adapters.aws_errors import aws_error_code, log_aws_failure
from chalicelib.adapters.dynamo.keys import Key
from chalicelib.core.errors import BadRequest, PayloadTooLarge, StoreUnavailable

_SERIALIZER = TypeSerializer()
_DESERIALIZER = TypeDeserializer()


def to_item(values: Mapping[str, Any]) -> dict[str, Any]:
    """Python values → DynamoDB attribute values; ``None`` attributes are left out."""
    return {k: _SERIALIZER.serialize(v) for k, v in values.items() if v is not None}


def from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    data = {k: _DESERIALIZER.deserialize(v) for k, v in item.items()}
    for key, value in data.items():
        if isinstance(value, Binary):
            data[key] = bytes(value)
    return data


def _conditional_failed(err: ClientError) -> bool:
    return err.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class Table:
    """The table behind a boto3 DynamoDB client; every repository shares one."""

    def __init__(self, client: Any, name: str) -> None:
        self.client = client
        self.name = name

    def call(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response: dict[str, Any] = getattr(self.client, operation)(TableName=self.name, **kwargs)
            return response
        except ClientError as err:
            if _conditional_failed(err):
                raise
            code = aws_error_code(err)
            refused = code == "ValidationException"  # the input's fault: a warning, not an outage
            log_aws_failure("dynamodb", operation, err, severity="warning" if refused else "error")
            if code == "ValidationException":
                message = str(err.response.get("Error", {}).get("Message", "")).lower()
                if "size" in message:
                    raise PayloadTooLarge("the event is too large to store") from err
                raise BadRequest("the store refused the item") from err
            raise StoreUnavailable(f"the store is unavailable ({operation})") from err
        except BotoCoreError as err:
            log_aws_failure("dynamodb", operation, err)
            raise StoreUnavailable(f"the store is unavailable ({operation})") from err

    def conditionally(self, operation: str, **kwargs: Any) -> bool:
        """Run a conditional write: False when its condition did not hold (nothing written)."""
        try:
            self.call(operation, **kwargs)
        except ClientError as err:
            if _conditional_failed(err):
                return False
            raise
        return True

    def transact(self, writes: Sequence[tuple[str, Mapping[str, Any]]]) -> list[str] | None:
        """One TransactWriteItems on this table (``(operation, parameters)`` pairs such as
        ``("Update", {"Key": ..., ...})``): None when all happened, else every write's cancellation
        code in order (``"None"`` for a write that was not the cause)."""
        items = [{operation: {"TableName": self.name, **parameters}} for operation, parameters in writes]
        try:
            self.client.transact_write_items(TransactItems=items)
        except ClientError as err:
            if aws_error_code(err) == "TransactionCanceledException":
                reasons = err.response.get("CancellationReasons") or []
                codes = [str(reason.get("Code") or "None") for reason in reasons]
                if any(code not in ("None", "ConditionalCheckFailed") for code in codes):  # a conflict, throttling
                    log_aws_failure("dynamodb", "transact_write_items", err, severity="warning")
                    raise StoreUnavailable("the store is unavailable (transact_write_items)") from err
                return codes
            log_aws_failure("dynamodb", "transact_write_items", err)
            raise StoreUnavailable("the store is unavailable (transact_write_items)") from err
        except BotoCoreError as err:
            log_aws_failure("dynamodb", "transact_write_items", err)
            raise StoreUnavailable("the store is unavailable (transact_write_items)") from err
        return None

    def put_if_absent(self, item: Mapping[str, Any]) -> bool:
        """True when written, False when an item with that key already existed."""
        return self.conditionally("put_item", Item=to_item(item), ConditionExpression="attribute_not_exists(pk)")

    def update(self, key: Key, **kwargs: Any) -> bool:
        """A conditional UpdateItem on one item (False when the condition did not hold)."""
        return self.conditionally("update_item", Key=to_item(key), **kwargs)

    def get(self, key: Key, *, consistent: bool = False) -> dict[str, Any] | None:
        response = self.call("get_item", Key=to_item(key), ConsistentRead=consistent)
        item = response.get("Item")
        return from_item(item) if item else None

    def query(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        while True:
            response = self.call("query", **kwargs)
            for item in response.get("Items", []):
                yield from_item(item)
            last = response.get("LastEvaluatedKey")
            if not last:
                return
            kwargs["ExclusiveStartKey"] = last

    def batch_get(self, keys: Sequence[Key], *, consistent: bool = True) -> list[dict[str, Any]]:
        """Several items in one BatchGetItem, asking again for keys left unprocessed under throttling."""
        found: list[dict[str, Any]] = []
        request: dict[str, Any] = {self.name: {"Keys": [to_item(k) for k in keys], "ConsistentRead": consistent}}
        for _ in range(5):
            try:
                response = self.client.batch_get_item(RequestItems=request)
            except (ClientError, BotoCoreError) as err:
                log_aws_failure("dynamodb", "batch_get_item", err)
                raise StoreUnavailable("the store is unavailable (batch_get_item)") from err
            found += [from_item(item) for item in response.get("Responses", {}).get(self.name, [])]
            request = response.get("UnprocessedKeys") or {}
            if not request:
                return found
        raise StoreUnavailable("the store left reads unprocessed")

    def scan(self, **filters: Any) -> Iterator[dict[str, Any]]:
        """Every item, or those a ``FilterExpression`` in ``filters`` keeps, page by page. Tests, the local
        stack and operators' batch jobs (``./hub renormalize``) only: no request path scans."""
        kwargs: dict[str, Any] = dict(filters)
        while True:
            response = self.call("scan", **kwargs)
            for item in response.get("Items", []):
                yield from_item(item)
            if not response.get("LastEvaluatedKey"):
                return
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
