"""Send a handler's calls to the real execute-api hostname to the local gateway, and
its calls to the gateway over plain HTTP.

Many handlers build their management client from the real hostname
(``https://{API_ID}.execute-api.{region}.amazonaws.com/{stage}`` from environment
variables) instead of ``requestContext.domainName``. The worker calls :func:`install`
before it imports the handler; from then on, when botocore's HTTP layer is imported,
its ``send`` rewrites requests for the emulated API's hostname to the gateway's
``http://host:port``, keeping path and query. User code is not changed; botocore is
only wrapped once it is imported (nothing is loaded up front).

Requests for the gateway's own ``https://host:port`` (the callback URL the AWS docs
build, ``https://{domainName}/{stage}``) go to ``http://host:port`` too: the gateway
serves both on one port with the same answers, and TLS between two processes of one
machine only costs CPU, a quarter of the gateway's per post (BENCHMARKS.md, scenario
d) and some of the handler's. Deliberate difference: on AWS this call is HTTPS. The
request is signed before ``send``, and SigV4 signs the host, not the scheme. Other
clients (``requests``, ``urllib``) still use HTTPS with the local CA.

Stdlib only: the worker runs in isolated mode and loads this file by path.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
from types import ModuleType
from typing import Any, Sequence
from urllib.parse import urlsplit, urlunsplit

_TARGET_MODULE = "botocore.httpsession"


def rewrite(url: str, hosts: frozenset[str], gateway: str) -> str:
    """``url`` sent to ``http://{gateway}`` (``host:port``) when its host is one of
    ``hosts`` or it is ``https://{gateway}/...``; any other URL unchanged."""
    parts = urlsplit(url)
    if (parts.hostname or "").lower() not in hosts and not (parts.scheme == "https" and parts.netloc == gateway):
        return url
    return urlunsplit(("http", gateway, parts.path, parts.query, parts.fragment))


class _Redirector(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds ``botocore.httpsession`` normally, then wraps ``URLLib3Session.send``."""

    def __init__(self, hosts: frozenset[str], gateway: str) -> None:
        self.hosts = hosts
        self.gateway = gateway
        self._inner: importlib.abc.Loader | None = None

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != _TARGET_MODULE:
            return None
        sys.meta_path.remove(self)  # one use; lets the normal finders do the finding
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        self._inner = spec.loader
        spec.loader = self
        return spec

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        assert self._inner is not None
        return self._inner.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        assert self._inner is not None
        self._inner.exec_module(module)
        session_class: Any = getattr(module, "URLLib3Session")
        original = session_class.send
        hosts, gateway = self.hosts, self.gateway

        def send(session: Any, request: Any) -> Any:
            request.url = rewrite(request.url, hosts, gateway)
            return original(session, request)

        session_class.send = send


def install(hosts: Sequence[str], target: str) -> None:
    """Redirect botocore requests for ``hosts`` and for ``target`` (the gateway's
    ``https://host:port``) to the gateway over plain HTTP. Call before anything
    imports botocore."""
    if _TARGET_MODULE in sys.modules:
        raise RuntimeError("install() must run before botocore is imported")
    sys.meta_path.insert(0, _Redirector(frozenset(h.lower() for h in hosts), urlsplit(target).netloc))
