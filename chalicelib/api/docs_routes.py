"""``GET /openapi.json``: the API describes itself (public, like ``/health``: it holds no data), as a
blueprint app.py registers. The document is built by chalicelib/api/openapi.py."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Response


def docs_routes_blueprint() -> Blueprint:
    """A new blueprint per app (see care_routes_blueprint: a blueprint cannot be registered twice)."""
    docs_routes = Blueprint(__name__)

    @docs_routes.route("/openapi.json", methods=["GET"])
    def openapi_document() -> Any:
        from chalicelib.api.openapi import openapi_json

        return Response(body=openapi_json(), status_code=200, headers={
            "Content-Type": "application/json", "Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"})

    return docs_routes
