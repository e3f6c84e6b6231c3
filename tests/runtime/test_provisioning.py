"""What a function's worker runs on and imports (emulator/runtime/provisioning.py):
plans built by a real :class:`Provisioner` with real pip installs into a temporary
cache, and real workers started from them."""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

import pytest

from emulator.core.invocation import Succeeded
from emulator.core.errors import ConfigError
from emulator.core.model import FunctionSpec, LayerSpec
from emulator.runtime.interpreters import InterpreterFinder
from emulator.runtime.invoker import Invoker
from emulator.runtime.provisioning import (
    HOST_PATH_ENV, INIT_ERROR_ENV, SYS_PATH_ENV, LaunchPlan, Provisioner, RuntimeOptions,
)
from emulator.runtime.runtime_sdk import runtime_sdk_dir

APP = Path(__file__).resolve().parents[1] / "apps" / "runtime_sam"
HANDLERS = Path(__file__).resolve().parents[1] / "invoker_handlers"


class Said(list[str]):
    """The provisioner's start-up lines."""

    def __call__(self, line: str) -> None:
        self.append(line)

    def installs(self) -> list[str]:
        return [line for line in self if line.startswith("wsgw: installing")]


def spec(name: str, code_dir: Path, runtime: str = "python3.11", layers: tuple[LayerSpec, ...] = ()) -> FunctionSpec:
    return FunctionSpec(name=name, handler="app.handler", code_dir=code_dir, runtime=runtime, layers=layers)


def sys_path(plan: LaunchPlan) -> list[str]:
    return plan.env[SYS_PATH_ENV].split(os.pathsep)


@pytest.mark.asyncio
async def test_a_declared_requirement_is_installed_once_and_reused_from_the_cache(runtime_cache: Path) -> None:
    said = Said()
    deps = spec("DepsFunction", APP / "deps")

    first = await Provisioner(RuntimeOptions(cache_dir=runtime_cache), said).plan(deps)
    installed = Path(sys_path(first)[0])
    assert installed.parent == runtime_cache / "deps" and (installed / "inflection" / "__init__.py").is_file()
    assert not list(installed.parent.glob(".tmp-*"))  # installed in a temporary folder, then renamed

    # A new start (a new provisioner): found in the cache, nothing installed.
    again = Said()
    started = time.perf_counter()
    second = await Provisioner(RuntimeOptions(cache_dir=runtime_cache), again).plan(deps)
    print(f"cached plan: {(time.perf_counter() - started) * 1000:.1f} ms")  # a figure for the docs, not asserted
    assert again.installs() == [] and second == first


@pytest.mark.asyncio
async def test_an_edited_requirements_file_is_installed_again(runtime_cache: Path, tmp_path: Path) -> None:
    code = tmp_path / "deps"
    shutil.copytree(APP / "deps", code)
    said = Said()
    provisioner = Provisioner(RuntimeOptions(cache_dir=runtime_cache), said)
    before = sys_path(await provisioner.plan(spec("DepsFunction", code)))[0]
    # The first plan installed, or found what another test of this session's cache did.
    installed_before = len(said.installs())

    (code / "requirements.txt").write_text("inflection==0.5.1\n# edited: a new key\n")
    after = sys_path(await provisioner.plan(spec("DepsFunction", code)))[0]

    assert after != before and (Path(after) / "inflection").is_dir()
    new_installs = said.installs()[installed_before:]
    assert len(new_installs) == 1 and "DepsFunction" in new_installs[0] and "(inflection)" in new_installs[0]
    assert any(line.startswith("wsgw: Successfully installed inflection-0.5.1 for DepsFunction") for line in said)


@pytest.mark.asyncio
async def test_a_failed_install_is_one_line_and_fails_the_functions_init(runtime_cache: Path) -> None:
    said = Said()
    plan = await Provisioner(RuntimeOptions(cache_dir=runtime_cache), said).plan(spec("BrokenFunction", APP / "broken"))

    failures = [line for line in said if line.startswith("wsgw: cannot install")]
    assert len(failures) == 1 and "\n" not in failures[0]
    assert "BrokenFunction" in failures[0] and "No matching distribution found for wsgw-test-no-such-package" in failures[0]
    assert "No matching distribution" in plan.env[INIT_ERROR_ENV]
    assert not list((runtime_cache / "deps").glob(".tmp-*"))  # nothing half-installed is kept


@pytest.mark.asyncio
async def test_the_import_path_is_lambdas_order(runtime_cache: Path, tmp_path: Path) -> None:
    # Two local layers, the second with a requirements.txt and a site-packages folder:
    # the later layer's folders come first, site-packages before python/, then the SDK.
    first, second = tmp_path / "first", tmp_path / "second"
    (first / "python").mkdir(parents=True)
    (second / "python" / "lib" / "python3.11" / "site-packages").mkdir(parents=True)
    shutil.copy(APP / "deps" / "requirements.txt", second / "requirements.txt")
    built = tmp_path / "built"  # SAM BuildMethod python3.x: the folder is python/ itself
    built.mkdir()
    layers = (LayerSpec("first", first), LayerSpec("second", second), LayerSpec("built", built, built=True))

    plan = await Provisioner(RuntimeOptions(cache_dir=runtime_cache), Said()).plan(
        spec("LayerFunction", APP / "layered", layers=layers))

    path = sys_path(plan)
    deps = next(entry for entry in path if entry.startswith(str(runtime_cache / "deps")))
    assert path == [
        deps, str(second / "python" / "lib" / "python3.11" / "site-packages"),
        str(built), str(second / "python"), str(first / "python"), str(runtime_sdk_dir(runtime_cache)),
    ]
    assert plan.argv[1:] == ("-I", "-S")  # no site-packages of the interpreter
    assert plan.env[HOST_PATH_ENV]  # where the hint looks


@pytest.mark.asyncio
async def test_inherit_runs_on_wsgws_python_with_its_packages(runtime_cache: Path) -> None:
    said = Said()
    provisioner = Provisioner(RuntimeOptions(deps="inherit", cache_dir=runtime_cache), said)
    await provisioner.prepare([spec("VersionFunction", APP / "version", runtime="python3.12")])

    plan = await provisioner.plan(spec("VersionFunction", APP / "version", runtime="python3.12"))

    assert plan.argv == (sys.executable, "-I") and HOST_PATH_ENV not in plan.env
    assert said == ["wsgw: --deps inherit: functions run on wsgw's Python "
                    f"{'.'.join(map(str, sys.version_info[:3]))} and import from its environment"]


@pytest.mark.asyncio
async def test_a_missing_python_version_and_an_arn_layer_are_one_line_each(runtime_cache: Path) -> None:
    said = Said()
    arn = "arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python312-x86_64:7"
    functions = [
        spec("OldFunction", HANDLERS, runtime="python3.99", layers=(LayerSpec(arn),)),
        spec("OtherFunction", HANDLERS, runtime="python3.99", layers=(LayerSpec(arn),)),
    ]
    provisioner = Provisioner(RuntimeOptions(cache_dir=runtime_cache), said)
    await provisioner.prepare(functions)
    plan = await provisioner.plan(functions[0])

    current = ".".join(map(str, sys.version_info[:3]))
    assert said == [
        f"wsgw: python3.99 not found; running OldFunction, OtherFunction on Python {current} "
        "(install Python 3.99, or choose one: --python 3.99=/path/to/python)",
        f"wsgw: layer {arn} (of OldFunction, OtherFunction) is only an ARN and cannot be fetched; "
        "its packages are missing locally: add them to the function's requirements.txt",
    ]
    assert plan.argv[0] == sys.executable


@pytest.mark.asyncio
async def test_a_chosen_python_that_is_another_version_is_refused(runtime_cache: Path) -> None:
    chosen = RuntimeOptions(pythons={"3.12": Path(sys.executable)}, cache_dir=runtime_cache)
    provisioner = Provisioner(chosen, Said())
    with pytest.raises(ConfigError, match=r"--python 3\.12=.*: is Python 3\.11\.\d+, not Python 3\.12"):
        await provisioner.plan(spec("VersionFunction", APP / "version", runtime="python3.12"))


@pytest.mark.asyncio
@pytest.mark.parametrize("minor", ["3.9", "3.12", "3.13"])
async def test_the_worker_runs_on_every_python_lambda_supports(minor: str, tmp_path: Path) -> None:
    # worker.py itself (no SDK needed by this handler) on the machine's other Pythons.
    interpreter = await InterpreterFinder().find(minor)
    if interpreter is None:
        pytest.skip(f"no Python {minor} on this machine")
    plan = LaunchPlan((str(interpreter.executable), "-I", "-S"), {SYS_PATH_ENV: ""})

    async def provision(_: FunctionSpec) -> LaunchPlan:
        return plan

    lines: list[str] = []
    function = FunctionSpec(name="Version", handler="version_probe.handler", code_dir=tmp_path,
                            runtime=f"python{minor}")
    (tmp_path / "version_probe.py").write_text(
        "import sys\n\ndef handler(event, context):\n    print('hi')\n    return list(sys.version_info[:2])\n")
    invoker = Invoker({"Version": function}, base_env={"PATH": os.environ.get("PATH", "")},
                      log=lambda _, line: lines.append(line), provision=provision)
    try:
        outcome = await invoker.invoke("Version", {}, "req-1")
        again = await invoker.invoke("Version", {"x": 1}, "req-2")
    finally:
        await invoker.close()
    assert outcome == Succeeded([int(part) for part in minor.split(".")], outcome.duration_ms), lines
    assert isinstance(again, Succeeded)  # the warm worker
    assert "hi" in lines and any(line.startswith("REPORT RequestId: req-1") for line in lines)
