"""The operator console's assets (``chalicelib/console/``) and the headers they are served with.

One HTML page, its stylesheet and its script modules (``router.js`` imports the others),
all from this origin: no CDN, no build step, no inline script or style, so the
Content-Security-Policy allows nothing else. The page is ``…/console``; everything it loads
is ``…/console/assets/<name>``, one route that serves only the names in :data:`ASSETS`.
The page needs no token to load; the API calls it makes carry the one the operator signs in with.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

FOLDER = Path(__file__).resolve().parents[1] / "console"
PAGE = "index.html"
_SCRIPT = "text/javascript; charset=utf-8"
ASSETS = {"app.css": "text/css; charset=utf-8", "router.js": _SCRIPT, "api.js": _SCRIPT, "dom.js": _SCRIPT,
          "views.js": _SCRIPT, "forms.js": _SCRIPT}
"""What ``…/console/assets/<name>`` serves, with its Content-Type; any other name is a 404."""
TYPES = {PAGE: "text/html; charset=utf-8", **ASSETS}
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


@lru_cache(maxsize=len(TYPES))
def asset(name: str) -> str:
    """One of the console's files (only those of :data:`TYPES` can be asked for)."""
    if name not in TYPES:
        raise KeyError(name)
    return (FOLDER / name).read_text(encoding="utf-8")


SLASHED_TO_PAGE = "../console"
"""Where ``…/console/`` sends the browser: the page's relative asset URLs would resolve one
level too deep from there. Relative, so it holds under any stage or custom-domain base path."""


def redirect_headers() -> dict[str, str | list[str]]:
    return {"Location": SLASHED_TO_PAGE, "Cache-Control": "no-cache", "Referrer-Policy": "no-referrer"}


def headers(name: str) -> dict[str, str | list[str]]:
    return {
        "Content-Type": TYPES[name],
        "Content-Security-Policy": CSP,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-cache",
        "X-Frame-Options": "DENY",
    }
