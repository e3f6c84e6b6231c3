"""Environment overrides for the app's functions, applied on top of the template.

Two spellings, one value: a SAM-style file for ``run-local --env-vars env.json``
(``{"Parameters": {"KEY": "v"}, "FunctionName": {"KEY": "v"}}`` — ``Parameters`` applies
to every function, other keys name a function) and ``FUNCTION.KEY=VALUE`` /
``KEY=VALUE`` pairs (the pytest plugin's ``wsgw_env``). Build an :class:`EnvOverrides`,
then :meth:`EnvOverrides.apply` it to every model served (at start and after each hot
reload). Deliberate difference from SAM: variables the template does not define are
added too (SAM ignores them), since a local override is usually meant to take effect.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Iterable, Mapping

from ..core.errors import ConfigError
from ..core.model import ApiModel

_EMPTY: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True)
class EnvOverrides:
    """``common`` goes to every function; ``per_function`` to one (it wins)."""

    common: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    per_function: Mapping[str, Mapping[str, str]] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[str, str]], where: str = "env") -> EnvOverrides:
        """From ``("FUNCTION.KEY", value)`` / ``("KEY", value)`` pairs."""
        common: dict[str, str] = {}
        own: dict[str, dict[str, str]] = {}
        for key, value in pairs:
            function, dot, name = key.partition(".")
            if dot and function and name:
                own.setdefault(function, {})[name] = value
            elif not dot and key:
                common[key] = value
            else:
                raise ConfigError(f"{where}.{key}", "expected FUNCTION.KEY or KEY")
        return cls(MappingProxyType(common), MappingProxyType({k: MappingProxyType(v) for k, v in own.items()}))

    @classmethod
    def from_file(cls, path: Path) -> EnvOverrides:
        """From a SAM-style ``--env-vars`` JSON file."""
        try:
            document: Any = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(str(path), exc.strerror or str(exc)) from None
        except json.JSONDecodeError as exc:
            raise ConfigError(str(path), f"not valid JSON (line {exc.lineno}: {exc.msg})") from None
        if not isinstance(document, dict):
            raise ConfigError(str(path), "must be a JSON object of {function or \"Parameters\": {KEY: value}}")
        common: dict[str, str] = {}
        own: dict[str, dict[str, str]] = {}
        for scope, variables in document.items():
            if not isinstance(variables, dict):
                raise ConfigError(f"{path}: {scope}", "must be an object of KEY: value")
            target = common if scope == "Parameters" else own.setdefault(scope, {})
            for key, value in variables.items():
                if isinstance(value, bool) or not isinstance(value, (str, int, float)):
                    raise ConfigError(f"{path}: {scope}.{key}", "values must be strings or numbers")
                target[key] = value if isinstance(value, str) else json.dumps(value)
        return cls(MappingProxyType(common), MappingProxyType({k: MappingProxyType(v) for k, v in own.items()}))

    def apply(self, model: ApiModel, where: str = "env") -> ApiModel:
        """``model`` with the overrides in its functions' environments. A function is
        named by its local name (its ``FunctionName``, else its logical id) or, as
        ``sam local`` takes it, by its logical id; one the app does not have is a
        :class:`ConfigError`."""
        if not self.common and not self.per_function:
            return model
        by_logical_id = {spec.logical_id: name for name, spec in model.functions.items() if spec.logical_id}
        own: dict[str, dict[str, str]] = {}
        for key, variables in self.per_function.items():
            name = key if key in model.functions else by_logical_id.get(key)
            if name is None:
                raise ConfigError(f"{where}.{key}", f"the app has no function {key!r}; "
                                  f"its functions: {', '.join(sorted(model.functions))}")
            own.setdefault(name, {}).update(variables)
        functions = {
            name: dataclasses.replace(spec, environment=MappingProxyType(
                {**spec.environment, **self.common, **own.get(name, {})}))
            for name, spec in model.functions.items()
        }
        return dataclasses.replace(model, functions=MappingProxyType(functions))
