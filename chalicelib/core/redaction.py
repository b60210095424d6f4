"""The one marker that stands for a secret, and the scrubber that puts it in place of resolved
secret values in text and data, in the encodings an echoing endpoint or a log line may use.

A run's resolved secrets are gathered in :data:`RUN_SECRETS` (set by the worker for the run
in progress; a job's secret resolver adds each value it returns), so whatever leaves the run
(its result, its error, its log lines) is scrubbed of them whichever code resolved them.
"""
from __future__ import annotations

import base64
import json
import re
import threading
from contextvars import ContextVar
from typing import Any, Iterable

REDACTED = "***"
"""Replaces a secret in results, error messages, logs and the API's views of payloads."""


MIN_ENCODED_LENGTH = 4
"""Shorter secrets are scrubbed in their exact form (any case) only: an encoded or reversed
form that short would wipe unrelated text."""


_MIN_BASE64_FRAGMENT = 6


MIN_CUT_FRAGMENT = 6
"""A text cut at a limit may end with the first part of a secret (or begin with its last
part): a fragment this long (half a shorter secret) at the cut is scrubbed too."""


def _percent_pattern(secret: str) -> str:
    """Each character literally or percent-encoded (any encoder's choice of safe characters,
    either hex case; ``+`` for a space as forms encode it)."""
    parts = []
    for char in secret:
        if char.isascii() and char.isalnum():
            parts.append(re.escape(char))
            continue
        encoded = "".join(f"%{byte:02X}" for byte in char.encode("utf-8"))
        options = [re.escape(char), re.escape(encoded)] + (["\\+"] if char == " " else [])
        parts.append("(?:" + "|".join(options) + ")")
    return "".join(parts)


def _base64_forms(secret: bytes) -> set[str]:
    """The whole encoding (padded and not) and, for the secret at each of the three byte
    alignments inside a longer encoded text (``Basic base64(user:secret)``), the characters
    that depend on the secret's bytes only; standard and URL-safe alphabets."""
    forms: set[str] = set()
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        whole = encode(secret).decode()
        forms |= {whole, whole.rstrip("=")}
        for offset, skip in ((0, 0), (1, 2), (2, 3)):
            encoded = encode(b"\0" * offset + secret).decode().rstrip("=")
            determined = (offset + len(secret)) // 3 * 4 + (offset + len(secret)) % 3
            fragment = encoded[skip:determined]
            if len(fragment) >= _MIN_BASE64_FRAGMENT:
                forms.add(fragment)
    return forms


def secret_forms(secret: str) -> tuple[set[str], str]:
    """The literal forms of ``secret`` to remove, and a pattern for its percent-encoded forms."""
    literals = {secret}
    if len(secret) < MIN_ENCODED_LENGTH:
        return literals, ""
    literals |= {json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1], secret[::-1],
                 secret.encode("utf-8").hex()}
    literals |= _base64_forms(secret.encode("utf-8"))
    return {form for form in literals if form}, _percent_pattern(secret)


class Scrubber:
    """Replaces known secret values with ``***`` in text (``scrub(text)``) and in JSON-like
    data (``scrub.value(data)``, keys included).

    Forms removed, each in any letter case: exact, JSON-escaped, percent-encoded, hex,
    base64 and base64url (whole, or inside a longer encoded text), and reversed. A number
    whose JSON text holds a secret becomes ``"***"`` in data. Text cut at a limit is
    scrubbed with ``cut_end``/``cut_start``: a literal form's beginning at the end (its
    end at the start) goes too, when at least :data:`MIN_CUT_FRAGMENT` characters (half a
    shorter form) long. Secrets may be added while it is in use (``add``), from any thread.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._literals: set[str] = set()
        self._fragments: tuple[str, ...] = ()  # the literal forms, lower case, for cut texts
        self._patterns: set[str] = set()
        self._regex: re.Pattern[str] | None = None
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str) -> None:
        """Scrub ``secret`` too from now on (empty values are ignored)."""
        if not isinstance(secret, str) or not secret:
            return
        literals, pattern = secret_forms(secret)
        with self._lock:
            if literals <= self._literals and (not pattern or pattern in self._patterns):
                return
            self._literals |= literals
            if pattern:
                self._patterns.add(pattern)
            alternatives = [re.escape(f) for f in self._literals] + list(self._patterns)
            alternatives.sort(key=len, reverse=True)  # the longest form wins where several match
            self._regex = re.compile("|".join(alternatives), re.IGNORECASE)
            self._fragments = tuple(sorted({form.lower() for form in self._literals}, key=len, reverse=True))

    def __bool__(self) -> bool:
        return self._regex is not None

    def __call__(self, text: str, *, cut_end: bool = False, cut_start: bool = False) -> str:
        """``text`` with every secret form replaced by ``***``. ``cut_end``: the text was cut
        at a limit after its last character (a read limit), so a secret's first part at its
        end is replaced too; ``cut_start`` likewise for a secret's last part at its start.
        Scrub the whole text before cutting it shorter wherever it is at hand."""
        regex = self._regex
        if regex is None:
            return text
        text = regex.sub(REDACTED, text)
        if cut_end:
            text = self._cut_fragment(text, at_end=True)
        if cut_start:
            text = self._cut_fragment(text, at_end=False)
        return text

    def _cut_fragment(self, text: str, *, at_end: bool) -> str:
        longest = 0
        folded = text.lower()
        for form in self._fragments:
            shortest = max(2, min(MIN_CUT_FRAGMENT, (len(form) + 1) // 2))
            for size in range(min(len(form) - 1, len(folded)), max(shortest, longest + 1) - 1, -1):
                if (folded.endswith(form[:size]) if at_end else folded.startswith(form[-size:])):
                    longest = size
                    break
        if not longest:
            return text
        return text[:-longest] + REDACTED if at_end else REDACTED + text[longest:]

    def value(self, value: Any) -> Any:
        """JSON-like ``value`` scrubbed: strings and keys as text; a number whose JSON text
        holds a secret (an endpoint echoing a numeric PIN) becomes ``"***"``."""
        if isinstance(value, str):
            return self(value)
        if isinstance(value, list):
            return [self.value(v) for v in value]
        if isinstance(value, dict):
            return {self(str(k)): self.value(v) for k, v in value.items()}
        if isinstance(value, (int, float)) and not isinstance(value, bool) and self._regex is not None:
            text = json.dumps(value)
            return REDACTED if self(text) != text else value
        return value


RUN_SECRETS: ContextVar[Scrubber | None] = ContextVar("scheduler_run_secrets", default=None)
"""The secrets resolved by the run in progress (None outside a run)."""


def remember_secret(value: str) -> None:
    """Add a resolved secret to the run in progress, so its result, error and log lines are
    scrubbed of it. Call it for every value resolved on a job's behalf."""
    scrubber = RUN_SECRETS.get()
    if scrubber is not None:
        scrubber.add(value)


def scrub_run_secrets(text: str) -> str:
    """``text`` without the run's resolved secrets (unchanged outside a run)."""
    scrubber = RUN_SECRETS.get()
    return text if scrubber is None else scrubber(text)
