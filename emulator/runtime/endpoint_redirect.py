"""Send a handler's calls to the real execute-api hostname to the local gateway.

Many handlers build their management client from the real hostname
(``https://{API_ID}.execute-api.{region}.amazonaws.com/{stage}`` from environment
variables) instead of ``requestContext.domainName``. The worker calls :func:`install`
before it imports the handler; from then on, when botocore's HTTP layer is imported,
its ``send`` rewrites requests for the emulated API's hostname to the gateway's
``https://host:port``, keeping path and query. User code is not changed; botocore is
only wrapped once it is imported (nothing is loaded up front).

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


def rewrite(url: str, hosts: frozenset[str], target: str) -> str:
    """``url`` with its scheme and host:port replaced by ``target``'s when its host is
    one of ``hosts``; any other URL unchanged."""
    parts = urlsplit(url)
    if (parts.hostname or "").lower() not in hosts:
        return url
    local = urlsplit(target)
    return urlunsplit((local.scheme, local.netloc, parts.path, parts.query, parts.fragment))


class _Redirector(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds ``botocore.httpsession`` normally, then wraps ``URLLib3Session.send``."""

    def __init__(self, hosts: frozenset[str], target: str) -> None:
        self.hosts = hosts
        self.target = target
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
        hosts, target = self.hosts, self.target

        def send(session: Any, request: Any) -> Any:
            request.url = rewrite(request.url, hosts, target)
            return original(session, request)

        session_class.send = send


def install(hosts: Sequence[str], target: str) -> None:
    """Redirect botocore requests for ``hosts`` to ``target`` (``https://host:port``).
    Call before anything imports botocore."""
    if _TARGET_MODULE in sys.modules:
        raise RuntimeError("install() must run before botocore is imported")
    sys.meta_path.insert(0, _Redirector(frozenset(h.lower() for h in hosts), target))
