"""The SAM transform (``Transform: AWS::Serverless-2016-10-31``), done locally.

Call :func:`expand_sam` on a parsed SAM template; it returns the plain CloudFormation
template that CloudFormation itself would deploy, so the rest of the loader only
knows CloudFormation. The transform is AWS's own implementation, the
``aws-sam-translator`` package (what CloudFormation and SAM CLI run), which applies
``Globals`` exactly as SAM does (function values win, ``Environment.Variables``
merged), turns ``AWS::Serverless::Function`` into ``AWS::Lambda::Function`` (+ role)
and ``AWS::Serverless::SimpleTable`` into ``AWS::DynamoDB::Table``.

Three adaptations make it run offline, without AWS credentials:

* the managed-policy map is empty (it is only used to expand policy names into
  ARNs of IAM policies, which wsgw ignores);
* a boto3 ``Session`` with only a region name supplies ``AWS::Region`` (no call is
  made);
* the translator accepts only ``s3://`` code locations, so local ``CodeUri`` values
  become placeholders before the transform and are put back as ``Code: <path>``
  after it (what SAM CLI does for ``sam local``); a layer's ``ContentUri`` comes
  back as ``Content: <path>`` the same way.

The translator also orders resources its own way; the result keeps the template's
order (the first ``Stage`` in template order is the one served).
"""

from __future__ import annotations

import copy
from importlib import import_module
from typing import Any, Mapping

from ..core.errors import ConfigError

_BUCKET = "wsgw-local-code"
# (resource type, property) pairs whose local paths the translator would reject.
_LOCAL_PATHS = {
    "AWS::Serverless::Function": "CodeUri",
    "AWS::Serverless::LayerVersion": "ContentUri",
    "AWS::Serverless::Api": "DefinitionUri",
    "AWS::Serverless::HttpApi": "DefinitionUri",
    "AWS::Serverless::StateMachine": "DefinitionUri",
}


def expand_sam(template: Mapping[str, Any], *, parameters: Mapping[str, str], region: str) -> dict[str, Any]:
    """The CloudFormation template of SAM ``template`` (which is not modified)."""
    try:
        translator_module = import_module("samtranslator.translator.translator")
        parser_module = import_module("samtranslator.parser.parser")
        metrics_module = import_module("samtranslator.metrics.metrics")
        exceptions = import_module("samtranslator.model.exceptions")
        py27 = import_module("samtranslator.utils.py27hash_fix")
        boto3 = import_module("boto3")
    except ImportError:
        raise ConfigError(
            "Transform", "SAM templates need the aws-sam-translator package (pip install aws-sam-translator)"
        ) from None
    sam = copy.deepcopy(dict(template))
    _refuse_repository_apps(sam)
    originals = _replace_local_paths(sam)
    order = list(sam.get("Resources", {}) or {})
    values: dict[str, Any] = dict(parameters)
    metrics = metrics_module.Metrics("ServerlessTransform", metrics_module.DummyMetricsPublisher())
    translator = translator_module.Translator(
        None, parser_module.Parser(), boto_session=boto3.session.Session(region_name=region),
        metrics=metrics,
    )
    py27.to_py27_compatible_template(sam, values)  # as samtranslator's own transform()
    try:
        result = translator.translate(
            sam, parameter_values=values, passthrough_metadata=True,
            get_managed_policy_map=lambda: {},
        )
    except exceptions.InvalidDocumentException as exc:
        raise _config_error(exc.causes) from None
    except exceptions.ExceptionWithMessage as exc:
        raise _config_error([exc]) from None
    finally:
        metrics.publish()  # else it logs "unpublished metrics" when collected
    cfn: dict[str, Any] = py27.undo_mark_unicode_str_in_template(result)
    _restore_local_code(cfn, originals)
    resources = cfn.get("Resources", {})
    ordered = {key: resources[key] for key in order if key in resources}
    ordered.update((key, value) for key, value in resources.items() if key not in ordered)
    cfn["Resources"] = ordered
    return cfn


def _refuse_repository_apps(sam: dict[str, Any]) -> None:
    # An AWS::Serverless::Application from the Serverless Application Repository makes
    # the translator call the SAR API (network and credentials): refuse it up front.
    resources = sam.get("Resources")
    for logical_id, body in (resources.items() if isinstance(resources, dict) else ()):
        if isinstance(body, dict) and body.get("Type") == "AWS::Serverless::Application":
            props = body.get("Properties")
            if isinstance(props, dict) and isinstance(props.get("Location"), dict):
                raise ConfigError(
                    f"Resources.{logical_id}.Properties.Location",
                    "Serverless Application Repository applications cannot be expanded locally",
                )


def _replace_local_paths(sam: dict[str, Any]) -> list[str]:
    originals: list[str] = []

    def placeholder(value: Any) -> Any:
        if isinstance(value, str) and not value.startswith("s3://"):
            originals.append(value)
            return f"s3://{_BUCKET}/{len(originals) - 1}"
        return value

    resources = sam.get("Resources")
    if isinstance(resources, dict):
        for body in resources.values():
            kind = body.get("Type") if isinstance(body, dict) else None
            prop = _LOCAL_PATHS.get(kind) if isinstance(kind, str) else None
            props = body.get("Properties") if prop else None
            if prop and isinstance(props, dict) and prop in props:
                props[prop] = placeholder(props[prop])
    globals_ = sam.get("Globals")
    function_globals = globals_.get("Function") if isinstance(globals_, dict) else None
    if isinstance(function_globals, dict) and "CodeUri" in function_globals:
        function_globals["CodeUri"] = placeholder(function_globals["CodeUri"])
    return originals


# The translated resources whose code location was a placeholder: functions' Code,
# layers' Content (from AWS::Serverless::LayerVersion's ContentUri).
_RESTORED = {"AWS::Lambda::Function": "Code", "AWS::Lambda::LayerVersion": "Content"}


def _restore_local_code(cfn: dict[str, Any], originals: list[str]) -> None:
    for body in (cfn.get("Resources") or {}).values():
        prop = _RESTORED.get(body.get("Type", "")) if isinstance(body, dict) else None
        if prop is None:
            continue
        props = body.get("Properties", {})
        code = props.get(prop)
        if isinstance(code, dict) and code.get("S3Bucket") == _BUCKET:
            props[prop] = originals[int(code["S3Key"])]


def _config_error(causes: Any) -> ConfigError:
    messages = [str(cause.message) for cause in causes]
    logical_id = getattr(causes[0], "_logical_id", None) if causes else None
    where = f"Resources.{logical_id}" if isinstance(logical_id, str) else "Transform"
    return ConfigError(where, "SAM transform failed: " + "; ".join(messages))
