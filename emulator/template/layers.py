"""A function's ``Layers`` -> :class:`LayerSpec` values.

Call :func:`function_layers` from the function loader with the function's resource
and the template's document. Each entry of ``Layers`` (AWS::Lambda::Function
reference: "A list of function layers to add to the function's execution
environment", up to five, in merge order) is either

* a reference to a layer of the same template: ``AWS::Lambda::LayerVersion`` (its
  ``Content`` a local folder, or CDK asset metadata ``aws:asset:path`` with
  ``aws:asset:property: Content``) or, after the SAM transform,
  ``AWS::Serverless::LayerVersion``'s ``ContentUri`` (SAM's ``Globals.Function.Layers``
  is merged by the transform itself). ``Ref`` of a layer version is its ARN on AWS;
  locally it is the logical id (references.py), which is how it is recognised here;
* or a layer ARN (another account's, such as the public Powertools layer), which
  cannot be fetched locally: it is kept as a :class:`LayerSpec` without a folder, and
  the runtime says so at start.

Pure apart from checking that a layer's folder exists.
"""

from __future__ import annotations

import re
from pathlib import Path
from ..core.errors import ConfigError
from ..core.model import LayerSpec
from .document import Document, Resource, local_folder
from .intrinsics import NO_VALUE, Resolver

LAYER_VERSION = "AWS::Lambda::LayerVersion"
# BuildMethod values with which `sam build` installs a layer's files under python/
# (samcli get_layer_subfolder: "python" for every python3.x build method).
_PYTHON_BUILD = re.compile(r"python3\.\d+")


def function_layers(resolver: Resolver, resource: Resource, document: Document, *, base_dir: Path) -> tuple[LayerSpec, ...]:
    """The layers of function ``resource``, in its ``Layers`` order."""
    where = resource.where("Layers")
    raw = resource.properties.get("Layers")
    if raw is None:
        return ()
    entries = resolver.resolve(raw, where)
    if entries is NO_VALUE:
        return ()
    if not isinstance(entries, list):
        raise ConfigError(where, "must be a list of layer ARNs")
    layers: list[LayerSpec] = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, str):
            raise ConfigError(f"{where}[{index}]", "must be a layer ARN")
        local = document.get(entry)
        if local is not None and local.type == LAYER_VERSION:
            layers.append(_local_layer(resolver, local, base_dir))
        elif local is not None:
            raise ConfigError(f"{where}[{index}]", f"{entry} is a {local.type}, not a layer version")
        elif entry.startswith("arn:"):
            layers.append(LayerSpec(name=entry))
        else:
            raise ConfigError(f"{where}[{index}]", f"{entry!r} is neither a layer version of the template "
                              "nor a layer ARN")
    return tuple(layers)


def _local_layer(resolver: Resolver, resource: Resource, base_dir: Path) -> LayerSpec:
    asset = resource.metadata.get("aws:asset:path")
    if isinstance(asset, str) and resource.metadata.get("aws:asset:property") == "Content":
        # CDK asset metadata (lambda.LayerVersion with Code.fromAsset): the staged
        # folder under cdk.out, or the source folder with --no-staging.
        where = f"Resources.{resource.logical_id}.Metadata.aws:asset:path"
        path = base_dir / asset
    else:
        where = resource.where("Content")
        content = resolver.resolve(resource.properties.get("Content", NO_VALUE), where)
        if content is NO_VALUE:
            raise ConfigError(where, "is required")
        if not isinstance(content, str):
            raise ConfigError(where, "layer content in S3 cannot be used locally; set Content (SAM: ContentUri) "
                              "to a local folder (CDK templates: synthesize with asset metadata)")
        path = base_dir / content
    path = local_folder(path, where, "layer folder")
    build_method = resource.metadata.get("BuildMethod")
    built = isinstance(build_method, str) and _PYTHON_BUILD.fullmatch(build_method) is not None
    # LayerName reads better than SAM's hashed logical ids (CommonLayer78cfaf55e5).
    name = resolver.resolve(resource.properties.get("LayerName", resource.logical_id), resource.where("LayerName"))
    return LayerSpec(name=name if isinstance(name, str) else resource.logical_id, content_dir=path, built=built)

