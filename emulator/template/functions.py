"""``AWS::Lambda::Function`` resources -> :class:`FunctionSpec`.

Call :func:`functions_by_name` first (local name -> resource, used to map integration
URIs back to functions), then :func:`build_function` for each function the model
serves. Properties read (AWS::Lambda::Function reference): ``Handler``, ``Runtime``,
``Code``, ``Environment.Variables``, ``Layers`` (layers.py), ``Timeout`` (default 3 s), ``MemorySize``
(default 128 MB), ``FunctionName``, ``PackageType``.

The code folder is, in this order: the CDK asset folder named by
``Metadata["aws:asset:path"]`` (staged under ``cdk.out``, or the source folder itself
with ``--no-staging``); or ``Code`` given as a local path (what
``aws cloudformation package`` accepts). Relative paths resolve against ``base_dir``,
the template's folder.

Pure apart from checking that the code folder and handler file exist (no reads).
"""

from __future__ import annotations

import re
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ..core.errors import ConfigError
from ..core.model import FunctionSpec
from .document import Document, Resource, local_folder
from .intrinsics import NO_VALUE, Resolver
from .layers import function_layers
from .references import FUNCTION, function_name

_PYTHON = re.compile(r"python3\.\d+")
_NODE = re.compile(r"nodejs\d+\.x")  # nodejs18.x and later include SDK v3 (reference lambda-runtime.md §6.5)
_RUNTIMES = "a python3.x or nodejs<N>.x runtime"


def functions_by_name(resolver: Resolver, document: Document) -> dict[str, Resource]:
    """Every function of the template that is created, keyed by its local name."""
    found: dict[str, Resource] = {}
    for resource in document.of_type(FUNCTION):
        if not resolver.creates(resource):
            continue
        name = function_name(resolver, resource)
        if name in found:
            raise ConfigError(
                resource.where("FunctionName"),
                f"function name {name!r} is also used by {found[name].logical_id}",
            )
        found[name] = resource
    return found


def is_supported(resolver: Resolver, resource: Resource) -> bool:
    """Whether the function runs on a ``python3.x`` or ``nodejs<N>.x`` runtime (others
    are skipped unless a route needs them)."""
    raw = resource.properties.get("Runtime")
    if raw is None:
        return False
    runtime = resolver.resolve(raw, resource.where("Runtime"))
    return isinstance(runtime, str) and (_PYTHON.fullmatch(runtime) or _NODE.fullmatch(runtime)) is not None


def build_function(
    resolver: Resolver, resource: Resource, *, base_dir: Path, document: Document,
) -> FunctionSpec:
    """The spec of one function; raise naming the property that cannot be served.
    ``document`` (the whole template) lets ``Layers`` refer to its layer versions."""
    props = resource.properties
    package_type = resolver.optional(resource, "PackageType")
    if package_type not in (None, "Zip"):
        raise ConfigError(
            resource.where("PackageType"), f"{package_type} functions are not supported (only Zip)"
        )
    runtime = resolver.optional(resource, "Runtime")
    if runtime is None:
        raise ConfigError(resource.where("Runtime"), f"is required ({_RUNTIMES})")
    if not isinstance(runtime, str) or not (_PYTHON.fullmatch(runtime) or _NODE.fullmatch(runtime)):
        raise ConfigError(resource.where("Runtime"), f"{runtime!r} is not supported; wsgw runs {_RUNTIMES}")
    handler = resolver.string(props.get("Handler"), resource.where("Handler")) if "Handler" in props else None
    if handler is None:
        raise ConfigError(resource.where("Handler"), "is required (module.function)")
    module, dot, attribute = handler.rpartition(".")
    if not dot or not module or not attribute:
        raise ConfigError(resource.where("Handler"), f"{handler!r} is not of the form module.function")
    code_dir = _code_dir(resolver, resource, base_dir)
    if _NODE.fullmatch(runtime):
        problem = node_handler_problem(handler, code_dir)
        if problem is not None:
            raise ConfigError(resource.where("Handler"), problem)
    else:
        # The Python runtime imports `module` with "/" read as "." (awslambdaric bootstrap).
        relative = module.replace("/", ".").replace(".", "/")
        if not (code_dir / f"{relative}.py").is_file() and not (code_dir / relative / "__init__.py").is_file():
            raise ConfigError(
                resource.where("Handler"), f"no file {relative}.py (or package {relative}/) in {code_dir}"
            )
    return FunctionSpec(
        name=function_name(resolver, resource),
        handler=handler,
        code_dir=code_dir,
        runtime=runtime,
        environment=MappingProxyType(_environment(resolver, resource)),
        timeout_s=_number(resolver, resource, "Timeout", default=3, low=1, high=900),
        memory_mb=int(_number(resolver, resource, "MemorySize", default=128, low=128, high=10240)),
        logical_id=resource.logical_id,
        layers=function_layers(resolver, resource, document, base_dir=base_dir),
    )


def node_handler_problem(handler: str, code_dir: Path) -> str | None:
    """Why the Node.js runtime would not find ``handler``'s file in ``code_dir`` (None:
    it would). It reads ``dir/file.export`` as: the file is the basename up to its first
    dot, looked up as itself or with ``.js``, ``.mjs``, ``.cjs`` ([code] NODERIC
    UserFunction.js, reference lambda-runtime.md §6.1). A name only ``require.resolve``
    finds (a package in ``node_modules``) and a malformed handler are left to the
    worker, which fails its init as the runtime does."""
    folder, _, rest = handler.rpartition("/")
    name = rest.split(".", 1)[0]
    base = code_dir / folder / name
    candidates = [base, *(base.with_name(f"{name}{ext}") for ext in (".js", ".mjs", ".cjs"))]
    if ".." in handler or any(path.is_file() for path in candidates) or (code_dir / "node_modules").is_dir():
        return None
    return f"no file {folder + '/' if folder else ''}{name}.js, .mjs or .cjs in {code_dir}"


def _code_dir(resolver: Resolver, resource: Resource, base_dir: Path) -> Path:
    asset = resource.metadata.get("aws:asset:path")
    if isinstance(asset, str) and resource.metadata.get("aws:asset:property", "Code") == "Code":
        # CDK asset metadata: relative to the assembly (the template's folder), or an
        # absolute source folder when synthesized with --no-staging.
        where = f"Resources.{resource.logical_id}.Metadata.aws:asset:path"
        path = base_dir / asset
    else:
        where = resource.where("Code")
        code = resolver.resolve(resource.properties.get("Code", NO_VALUE), where)
        if code is NO_VALUE:
            raise ConfigError(where, "is required")
        if isinstance(code, dict) and "ZipFile" in code:
            raise ConfigError(where, "inline ZipFile code is not supported; put the handler in a folder "
                              "and set Code to that folder's path")
        if isinstance(code, dict) and "ImageUri" in code:
            raise ConfigError(where, "container images are not supported")
        if not isinstance(code, str):
            raise ConfigError(where, "code in S3 cannot run locally; set Code to a local folder "
                              "(CDK templates: synthesize with asset metadata)")
        path = base_dir / code
    return local_folder(path, where, "code folder")


def _environment(resolver: Resolver, resource: Resource) -> dict[str, str]:
    where = resource.where("Environment")
    environment = resolver.resolve(resource.properties.get("Environment", {}), where)
    if not isinstance(environment, dict):
        raise ConfigError(where, "must be a mapping with Variables")
    variables = environment.get("Variables", {})
    if not isinstance(variables, dict):
        raise ConfigError(f"{where}.Variables", "must be a mapping")
    result: dict[str, str] = {}
    for key, value in variables.items():
        # Lambda environment values are strings; YAML numbers/booleans become text as
        # CloudFormation passes them.
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, (int, float)):
            value = str(value)
        if not isinstance(value, str):
            raise ConfigError(f"{where}.Variables.{key}", "must be a string")
        result[str(key)] = value
    return result


def _number(
    resolver: Resolver, resource: Resource, prop: str, *, default: float, low: float, high: float
) -> float:
    value = resolver.optional(resource, prop)
    if value is None:
        return float(default)
    try:
        number = float(value) if not isinstance(value, bool) else None
    except (TypeError, ValueError):
        number = None
    if number is None or not low <= number <= high:
        raise ConfigError(resource.where(prop), f"must be a number from {low:g} to {high:g}, got {value!r}")
    return number
