"""One HTTP request from the gateway to an integration's backend (HTTP, HTTP_PROXY,
AWS services), blocking: call :func:`send` in a worker thread
(``asyncio.to_thread``), with the integration's timeout.

The backend's own error statuses are answers (:class:`BackendResponse`); only a
backend that cannot be reached or does not answer in time is :class:`BackendFailed`.
"""

from __future__ import annotations

import functools
import socket
from dataclasses import dataclass, field
from typing import Any, Mapping

__all__ = ["BackendFailed", "BackendResponse", "send"]

# REST sends `User-Agent: AmazonAPIGateway_{apiId}` (reference §1.7, likely shared).
USER_AGENT = "AmazonAPIGateway_{api_id}"


@dataclass(frozen=True)
class BackendResponse:
    """What the backend answered: status, body text and headers; ``data`` the body's
    bytes when they came from the wire (``ContentHandlingStrategy`` converts them)."""

    status: int
    body: str
    headers: Mapping[str, str] = field(default_factory=dict)
    data: bytes | None = None

    @property
    def raw(self) -> bytes:
        """The body's bytes."""
        return self.data if self.data is not None else self.body.encode()


class BackendFailed(Exception):
    """The backend could not be reached, or did not answer within the timeout
    (``timed_out``)."""

    def __init__(self, message: str, *, timed_out: bool = False) -> None:
        super().__init__(message)
        self.timed_out = timed_out


@functools.cache
def _opener() -> Any:
    """urllib's opener, not following redirects. Built on first use: urllib.request
    (with http.client and email) takes ~20 ms to import, for apps with HTTP
    integrations only."""
    import urllib.request

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        # API Gateway returns a backend's 3xx as it is, it does not follow it [?].
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    return urllib.request.build_opener(NoRedirect)


def send(method: str, url: str, body: bytes | None, headers: Mapping[str, str], timeout_s: float) -> BackendResponse:
    """Send one request and read the whole answer; raise :class:`BackendFailed`."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, data=body, method=method, headers=dict(headers))
    try:
        with _opener().open(request, timeout=timeout_s) as response:
            data = response.read()
            return BackendResponse(response.status, data.decode("utf-8", "replace"),
                                   dict(response.headers.items()), data)
    except urllib.error.HTTPError as exc:  # a 4xx/5xx answer is an answer
        with exc:
            data = exc.read()
            return BackendResponse(exc.code, data.decode("utf-8", "replace"), dict(exc.headers.items()), data)
    except (TimeoutError, socket.timeout) as exc:
        raise BackendFailed(f"{method} {url}: no answer in {timeout_s:g} s", timed_out=True) from exc
    except urllib.error.URLError as exc:
        timed_out = isinstance(exc.reason, (TimeoutError, socket.timeout))
        raise BackendFailed(f"{method} {url}: {exc.reason}", timed_out=timed_out) from exc
    except (OSError, ValueError) as exc:
        raise BackendFailed(f"{method} {url}: {exc}") from exc
