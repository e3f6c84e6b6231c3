"""JSON Schema draft 4, the language of ``AWS::ApiGatewayV2::Model`` schemas [doc]
CFN-MODEL (reference apigw-integrations.md §4), on the maintained ``jsonschema``
package.

Call :func:`compile_schema` once per model when the template is loaded: a schema that
is not valid draft 4 is a :class:`ConfigError` then, and what comes back is the
:data:`~emulator.core.validation.SchemaCheck` the core's request validation calls per
message. ``jsonschema`` is imported on the first call: most templates have no models,
and importing it costs start-up ~0.1 s (bench scenario f).
"""

from __future__ import annotations

from typing import Any, Mapping

from ..core.errors import ConfigError
from ..core.validation import SchemaCheck


def compile_schema(schema: Mapping[str, Any], where: str) -> SchemaCheck:
    """A checker for ``schema``; raise :class:`ConfigError` naming ``where`` if
    ``schema`` is not a valid draft-4 schema."""
    from jsonschema import Draft4Validator
    from jsonschema.exceptions import SchemaError, best_match
    from referencing.exceptions import Unresolvable

    try:
        Draft4Validator.check_schema(schema)
    except SchemaError as exc:
        raise ConfigError(where, f"not a valid JSON Schema (draft 4): {exc.message} at {exc.json_path}") from None
    # Draft 4 whatever "$schema" says: the only draft API Gateway models use [doc]
    # CFN-MODEL. No "format" checking: whether API Gateway checks formats is
    # unconfirmed [?], and draft 4 leaves formats optional.
    validator = Draft4Validator(schema)

    def check(document: object) -> str | None:
        try:
            if validator.is_valid(document):  # the common case, without collecting errors
                return None
            error = best_match(validator.iter_errors(document))
        except Unresolvable as exc:
            # A "$ref" outside the schema (another model's URL): wsgw resolves none,
            # and nothing is fetched; the message fails validation [?].
            return f"cannot resolve {exc}"
        if error is None:
            return None
        return f"{error.message} at {error.json_path}"

    return check
