"""The privacy routes (scope ``admin``): a customer's export and erasure, as a Chalice blueprint that
app.py registers (the use cases: chalicelib/privacy/)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from chalice import Blueprint
from chalice.app import Request

from chalicelib.api.auth import ApiKey
from chalicelib.api.rest_glue import answer
from chalicelib.core.errors import BadRequest
from chalicelib.core.timestamps import utc_now

if TYPE_CHECKING:  # the use cases load on the route's first call, not on the webhook path's cold start
    from chalicelib.privacy.ports import ErasureNotices, ObjectStore, PrivacyStore

SCOPE = "admin"
MAX_CUSTOMER_ID_BYTES = 256  # hub ids are far shorter; anything longer names no customer


def privacy_routes_blueprint() -> Blueprint:
    """A new blueprint per app (see care_routes_blueprint: one blueprint cannot be registered twice)."""
    privacy_routes = Blueprint(__name__)

    def _admin(customer_id: str, run: Callable[[str], Any]) -> Any:
        request: Request | None = privacy_routes.current_request
        assert request is not None  # Chalice sets it before it calls any route handler

        def checked(key: ApiKey) -> Any:
            if not customer_id or len(customer_id.encode("utf-8", "surrogatepass")) > MAX_CUSTOMER_ID_BYTES:
                raise BadRequest("not a customer id")
            return run(key.name)

        return answer(request, SCOPE, checked)

    @privacy_routes.route("/customers/{customer_id}/export", methods=["GET"])
    def customer_export(customer_id: str) -> Any:
        from chalicelib.privacy import export_customer

        return _admin(customer_id, lambda _by: (export_customer(*_ports()[:2], customer_id, now=utc_now()), 200))

    @privacy_routes.route("/customers/{customer_id}", methods=["DELETE"])
    def customer_erase(customer_id: str) -> Any:
        from chalicelib.privacy import erase_customer

        return _admin(customer_id, lambda by: erase_customer(*_ports(), customer_id, requested_by=by, now=utc_now()))

    return privacy_routes


def _ports() -> tuple[PrivacyStore, ObjectStore, ErasureNotices]:
    """The table, the payload bucket and the conversation-events queue (built on first use)."""
    from chalicelib.adapters import runtime
    from chalicelib.adapters.dynamo.privacy import DynamoPrivacyStore
    from chalicelib.adapters.s3 import S3Objects
    from chalicelib.privacy.notices import BusErasureNotices

    settings = runtime.settings()
    objects = S3Objects(runtime.aws_client("s3"), settings.bucket_name, presigner=runtime.s3_presigner())
    return DynamoPrivacyStore(runtime.table()), objects, BusErasureNotices(runtime.bus())
