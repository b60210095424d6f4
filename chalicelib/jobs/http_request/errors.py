"""What an ``http-request`` attempt raises: one type per way it can fail."""
from __future__ import annotations


class HttpRequestError(Exception):
    """Base of every error the ``http-request`` handler raises on purpose.

    ``retryable`` says whether another attempt of the same slot may succeed; the messages
    never contain resolved secrets or query strings.
    """

    retryable = True


class DestinationRefused(HttpRequestError):
    """The URL, its host or an address it resolves to is not allowed (SSRF defence)."""

    retryable = False


class HttpRequestTimeout(HttpRequestError, TimeoutError):
    """No complete answer within ``timeoutSeconds`` (or the run's remaining time)."""


class HttpConnectionFailed(HttpRequestError, ConnectionError):
    """DNS, TCP, TLS (certificate included) or protocol failure before an answer arrived."""


class HttpRequestFailed(HttpRequestError):
    """The endpoint answered with a status that is not a success."""

    def __init__(self, message: str, *, method: str, url: str, status: int, body_excerpt: str):
        super().__init__(message)
        self.method = method
        self.url = url
        self.status = status
        self.body_excerpt = body_excerpt
        self.retryable = status >= 500 or status in (408, 425, 429)


class RedirectNotFollowed(HttpRequestFailed):
    """A 3xx pointing at another origin (or past the redirect limit): never followed."""

    retryable = False

    def __init__(self, message: str, *, method: str, url: str, status: int, location: str):
        super().__init__(message, method=method, url=url, status=status, body_excerpt="")
        self.location = location
        self.retryable = False
