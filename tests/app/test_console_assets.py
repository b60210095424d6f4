"""The console's files: the page at …/console, everything it loads from one route,
…/console/assets/<name>, which serves only an allow-list with the right Content-Type."""
from __future__ import annotations

import json
import re

import pytest

from chalicelib.api import console
from chalicelib.api.methods import UNKNOWN_PATH_PROBLEM

CONSOLE = "/api/v1/scheduler/console"


@pytest.mark.parametrize("name", sorted(console.ASSETS))
def test_each_asset_is_served_with_its_content_type_and_the_strict_policy(api, name):
    response = api.client.http.get(f"{CONSOLE}/assets/{name}")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == console.ASSETS[name]
    assert response.headers["Content-Type"].startswith("text/javascript" if name.endswith(".js") else "text/css")
    assert response.headers["Content-Security-Policy"] == console.CSP
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.body.decode() == (console.FOLDER / name).read_text(encoding="utf-8")


@pytest.mark.parametrize("name", ["index.html", "app.js", "nothing.js", "app.css.map", "..", "%2e%2e%2fapp.py"])
def test_a_name_outside_the_allow_list_is_the_404_problem(api, name):
    response = api.client.http.get(f"{CONSOLE}/assets/{name}")
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/problem+json"
    assert json.loads(response.body) == UNKNOWN_PATH_PROBLEM


@pytest.mark.parametrize("path", [f"{CONSOLE}/app.js", f"{CONSOLE}/app.css", f"{CONSOLE}/console/assets/router.js"])
def test_the_assets_are_nowhere_else(api, path):
    assert api.client.http.get(path).status_code == 404


def test_the_page_loads_the_entry_module_and_every_import_is_allow_listed():
    """No build step: the browser follows the imports itself, each one to the assets route."""
    page = console.asset(console.PAGE)
    assert re.findall(r'<script type="module" src="console/assets/([\w.]+)"></script>', page) == ["router.js"]
    assert re.findall(r'href="console/assets/([\w.]+)"', page) == ["app.css"]
    assert "<script>" not in page and " defer" not in page
    scripts = [name for name in console.ASSETS if name.endswith(".js")]
    reached, waiting = set(), ["router.js"]
    while waiting:
        name = waiting.pop()
        reached.add(name)
        source = console.asset(name)
        imports = re.findall(r'^import [^;]+ from "([^"]+)";$', source, flags=re.MULTILINE)
        assert all(re.fullmatch(r"\./[\w]+\.js", target) for target in imports), (name, imports)
        waiting += [target[2:] for target in imports if target[2:] not in reached]
    assert reached == set(scripts)  # every module is reached, and only allow-listed ones are
    assert not re.search(r"https?://|import\(", "".join(console.asset(n) for n in scripts))  # nothing from elsewhere
