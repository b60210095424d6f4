"""Routes of what the whole stack shares: notification channels and maintenance windows."""
from __future__ import annotations

from chalice import Response

from chalicelib.api import http
from chalicelib.api.channel_views import channel_view, parse_force
from chalicelib.api.gateway import BASE, JSON_BODIES, app, jwt_authorizer
from chalicelib.api.views import maintenance_window_view
from chalicelib.core.channels import validate_channel_name
from chalicelib.core.maintenance import validate_window_id


@app.route(f"{BASE}/channels", methods=["GET"], authorizer=jwt_authorizer)
@http.api
def list_channels() -> Response:
    return http.json_response(200, {"channels": [channel_view(c) for c in http.channels().all()]})


@app.route(f"{BASE}/channels/{{name}}", methods=["PUT"], authorizer=jwt_authorizer, content_types=JSON_BODIES)
@http.audited("put-channel")
@http.api
def put_channel(name: str) -> Response:
    channel, created = http.channels().put(validate_channel_name(name), http.body(required=True), http.caller())
    return http.json_response(201 if created else 200, channel_view(channel))


@app.route(f"{BASE}/channels/{{name}}", methods=["GET"], authorizer=jwt_authorizer)
@http.api
def get_channel(name: str) -> Response:
    return http.json_response(200, channel_view(http.channels().get(validate_channel_name(name))))


@app.route(f"{BASE}/channels/{{name}}", methods=["DELETE"], authorizer=jwt_authorizer)
@http.audited("delete-channel")
@http.api
def delete_channel(name: str) -> Response:
    force = parse_force(http.request().query_params)
    http.channels().delete(validate_channel_name(name), force=force)
    return http.empty(204)


@app.route(f"{BASE}/maintenance-windows", methods=["POST"], authorizer=jwt_authorizer, content_types=JSON_BODIES)
@http.audited("create-maintenance-window")
@http.api
def create_maintenance_window() -> Response:
    service = http.service()
    window = service.windows.create(http.body(required=True), actor=http.caller())
    return http.json_response(201, maintenance_window_view(window, service.clock.now()),
                              {"Location": f"{http.request_path('maintenance-windows')}/{window.window_id}"})


@app.route(f"{BASE}/maintenance-windows", methods=["GET"], authorizer=jwt_authorizer)
@http.api
def list_maintenance_windows() -> Response:
    service = http.service()
    now = service.clock.now()
    return http.json_response(200, {"windows": [maintenance_window_view(w, now) for w in service.windows.list()]})


@app.route(f"{BASE}/maintenance-windows/{{windowId}}", methods=["GET"], authorizer=jwt_authorizer)
@http.api
def get_maintenance_window(windowId: str) -> Response:
    """Where the Location of a created window points."""
    service = http.service()
    window = service.windows.get(validate_window_id(windowId))
    return http.json_response(200, maintenance_window_view(window, service.clock.now()))


@app.route(f"{BASE}/maintenance-windows/{{windowId}}", methods=["DELETE"], authorizer=jwt_authorizer)
@http.audited("end-maintenance-window")
@http.api
def end_maintenance_window(windowId: str) -> Response:
    service = http.service()
    window = service.windows.end(validate_window_id(windowId), actor=http.caller())
    return http.json_response(200, maintenance_window_view(window, service.clock.now()))
