"""The operator console's assets (``chalicelib/console/``) and the headers they are served with.

One HTML page, one script, one stylesheet, all from this origin: no CDN, no inline
script or style, so the Content-Security-Policy allows nothing else. The page needs no
token to load; the API calls it makes carry the one the operator signs in with.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

ASSETS = Path(__file__).resolve().parents[1] / "console"
TYPES = {"index.html": "text/html; charset=utf-8", "app.js": "text/javascript; charset=utf-8",
         "app.css": "text/css; charset=utf-8"}
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


@lru_cache(maxsize=len(TYPES))
def asset(name: str) -> str:
    """One of the console's files (only these three can be asked for)."""
    if name not in TYPES:
        raise KeyError(name)
    return (ASSETS / name).read_text(encoding="utf-8")


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
