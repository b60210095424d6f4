"""openapi.yaml describes exactly the routes the app registers."""
from __future__ import annotations

import pathlib

import yaml

import app as chalice_app
from chalicelib.api.methods import METHOD_NOT_ALLOWED_PREFIX

SPEC = pathlib.Path(__file__).resolve().parents[2] / "openapi.yaml"


def test_every_route_is_documented_and_every_documented_route_exists():
    spec = yaml.safe_load(SPEC.read_text())
    documented = {(path, method.upper()) for path, item in spec["paths"].items()
                  for method in item if method in ("get", "post", "put", "patch", "delete")}
    registered = {(path, method) for path, methods in chalice_app.app.routes.items() for method, entry in methods.items()
                  if not entry.view_name.startswith(METHOD_NOT_ALLOWED_PREFIX)
                  and not path.startswith(chalice_app.CONSOLE)}  # the console is outside the JSON API
    assert documented == registered


def test_only_health_is_public():
    spec = yaml.safe_load(SPEC.read_text())
    public = {path for path, item in spec["paths"].items() for op in item.values()
              if isinstance(op, dict) and op.get("security") == []}
    assert public == {"/api/v1/scheduler/health"}
    for path, methods in chalice_app.app.routes.items():
        for method, entry in methods.items():
            public = path == "/api/v1/scheduler/health" or path.startswith(chalice_app.CONSOLE)
            assert (entry.authorizer is None) == public, (path, method)
