"""The routes of crisis communication (scope ``crisis``), its console and the KPI reports (scope
``support``), as a Chalice blueprint that app.py registers: the same API Lambda, one room per concern."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint
from chalice.app import Request

from chalicelib.api.rest_glue import answer, json_body, rest
from chalicelib.handlers.wiring import crisis_ports


def care_routes_blueprint() -> Blueprint:
    """A new blueprint with every route. A factory, not a module-level blueprint: Chalice's registration
    consumes the routes' options, so one blueprint cannot be registered on a second app (tests and
    ``chalice package`` import app.py more than once in one process)."""
    care_routes = Blueprint(__name__)

    def _current_request() -> Request:
        request = care_routes.current_request
        assert request is not None  # Chalice sets it before it calls any route handler
        return request

    def _crisis(use_case: Any, *args: Any, status: int = 200, **kwargs: Any) -> Any:
        """Like rest(), for the crisis use cases: they take CrisisPorts; a (body, status) answer sets the status."""
        return answer(_current_request(), "crisis", lambda _key: use_case(crisis_ports(), *args, **kwargs),
                      status=status)

    @care_routes.route("/crisis/incidents", methods=["POST"])
    def crisis_incident_create() -> Any:
        from chalicelib.crisis.incidents import create_incident

        request = _current_request()
        return _crisis(create_incident, json_body(request), idempotency_key=request.headers.get("idempotency-key"))

    @care_routes.route("/crisis/incidents", methods=["GET"])
    def crisis_incident_list() -> Any:
        from chalicelib.crisis.incidents import list_incidents

        return _crisis(list_incidents, _current_request().query_params or {})

    @care_routes.route("/crisis/incidents/{incident_id}", methods=["GET"])
    def crisis_incident_show(incident_id: str) -> Any:
        from chalicelib.crisis.incidents import show_incident

        return _crisis(show_incident, incident_id)

    @care_routes.route("/crisis/incidents/{incident_id}/updates", methods=["POST"])
    def crisis_incident_update(incident_id: str) -> Any:
        from chalicelib.crisis.incidents import post_update

        request = _current_request()
        return _crisis(post_update, incident_id, json_body(request),
                       idempotency_key=request.headers.get("idempotency-key"))

    @care_routes.route("/crisis/incidents/{incident_id}/cancel", methods=["POST"])
    def crisis_incident_cancel(incident_id: str) -> Any:
        from chalicelib.crisis.incidents import cancel_incident

        return _crisis(cancel_incident, incident_id)

    @care_routes.route("/console", methods=["GET"])
    def console_page() -> Any:
        from chalicelib.console import console_asset

        return console_asset("index.html")

    @care_routes.route("/console/{asset}", methods=["GET"])
    def console_file(asset: str) -> Any:
        from chalicelib.console import console_asset

        return console_asset(asset)

    @care_routes.route("/reports/kpis", methods=["GET"])
    def reports_kpis() -> Any:
        from chalicelib.reports.kpis import kpi_report

        return rest(_current_request(), "support", kpi_report, _current_request().query_params or {})

    @care_routes.route("/reports/kpis.csv", methods=["GET"])
    def reports_kpis_csv() -> Any:
        from chalicelib.api.feedback_view import as_csv
        from chalicelib.reports.kpis import kpi_report

        return as_csv(rest(_current_request(), "support", kpi_report, _current_request().query_params or {}))

    return care_routes
