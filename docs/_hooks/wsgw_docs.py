"""MkDocs hooks for wsgw's documentation site (``hooks:`` in mkdocs.yml).

Two jobs, both at build time, so that the site cannot drift from the code:

* Generated regions. A page holds ``<!-- wsgw:generate NAME -->`` ... ``<!-- wsgw:end -->``;
  the text between the markers (a note for readers of the raw file, e.g. on GitHub) is
  replaced by generated Markdown:

  - ``commands``: every ``wsgw`` command, its usage, arguments and options, read from the
    click objects (``cli.main``), with the same help texts and defaults ``--help`` prints;
  - ``pytest-plugin``: the plugin's command-line and ini options, its marker, its fixtures
    (from their docstrings) and the public types of ``emulator.testing``, read from the
    source with :mod:`ast` (nothing is imported, nothing is started).

* ``<details>`` blocks in the included root files (BENCHMARKS.md) hold Markdown, which
  GitHub renders and Python-Markdown leaves as raw text unless the tag says
  ``markdown="1"``; a small preprocessor adds that after the snippets are included.
  The same preprocessor makes the root files' links into docs/ (``](docs/images/...)``,
  right from the repository root) relative to the page that includes them.
"""

from __future__ import annotations

import ast
import html
import inspect
import re
from pathlib import Path
from typing import Any, Callable, Iterator

import click
from markdown import Extension, Markdown
from markdown.preprocessors import Preprocessor

ROOT = Path(__file__).resolve().parents[2]
TESTING = ROOT / "emulator" / "testing"

_REGION = re.compile(r"<!-- wsgw:generate (?P<name>[\w-]+) -->\n.*?<!-- wsgw:end -->", re.S)


# -- MkDocs events ----------------------------------------------------------------------


def on_config(config: Any) -> Any:
    config.markdown_extensions.append(_DetailsExtension())
    return config


_PAGE_DEPTH = [0]  # folders between docs/ and the page being rendered (set per page)


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    _PAGE_DEPTH[0] = page.file.src_uri.count("/")

    def generate(match: re.Match[str]) -> str:
        name = match["name"]
        if name not in GENERATORS:
            raise ValueError(f"{page.file.src_path}: unknown generated region {name!r}")
        # In a div (md_in_html) so that the stylesheet can tell the generated tables apart.
        return f'<div class="wsgw-reference" markdown="1">\n\n{GENERATORS[name]()}\n\n</div>'
    return _REGION.sub(generate, markdown)


# -- <details> with Markdown inside -------------------------------------------------------


class _DetailsPreprocessor(Preprocessor):
    def run(self, lines: list[str]) -> list[str]:
        up = "../" * _PAGE_DEPTH[0]
        return [re.sub(r"^<details>", '<details markdown="1">', line).replace("](docs/", f"]({up}") for line in lines]


class _DetailsExtension(Extension):
    def extendMarkdown(self, md: Markdown) -> None:
        # After pymdownx.snippets (32) has included the files, before raw HTML is stashed (20).
        md.preprocessors.register(_DetailsPreprocessor(md), "wsgw_details", 25)


# -- Markdown helpers ----------------------------------------------------------------------


def _escape(text: str) -> str:
    """Plain text (a click help text) as Markdown that renders it literally."""
    text = html.escape(text, quote=False)
    return re.sub(r"([\\`*_\[\]|])", r"\\\1", text)


def _cell(text: str) -> str:
    return _escape(" ".join(text.split()))


def _code_cell(text: str) -> str:
    # Inside a table a code span's "|" still splits the row: spell it as an entity.
    return "<code>" + html.escape(text, quote=False).replace("|", "&#124;") + "</code>"


def _docstring(text: str | None) -> str:
    """A reST-flavoured docstring as Markdown: ``x`` and :role:`~a.b.X` become `x` / `X`;
    a paragraph ending in ``::`` introduces the indented block under it as Python."""
    if not text:
        return ""
    text = inspect.cleandoc(text)
    # As Sphinx shows them: ~a.b.C is C, a.b.C stays whole.
    text = re.sub(r":[a-z]+:`~(?:[\w.]*\.)?(\w+)`", r"`\1`", text)
    text = re.sub(r":[a-z]+:`([\w.]+)`", r"`\1`", text)
    text = re.sub(r"``(.+?)``", r"`\1`", text)
    out: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.rstrip().endswith("::") and not line.lstrip().startswith(".."):
            out.append(line.rstrip()[:-1])
            block: list[str] = []
            i += 1
            while i < len(lines) and (not lines[i].strip() or lines[i].startswith(" ")):
                block.append(lines[i])
                i += 1
            out += ["", "```python", *inspect.cleandoc("\n".join(block)).splitlines(), "```", ""]
            continue
        out.append(line)
        i += 1
    return "\n".join(out).strip()


# -- the command reference (click) ---------------------------------------------------------


def commands_reference() -> str:
    import cli  # the `wsgw` group; importing it starts nothing

    group: click.Group = cli.main
    commands = cli.commands()  # the group imports a command's module when it is asked for
    root = click.Context(group, info_name="wsgw", **group.context_settings)
    out = [
        _escape(inspect.cleandoc(group.help or "")),
        "",
        "```text",
        group.get_usage(root),
        "```",
        "",
        "Every command takes `-h`/`--help`, which prints what this page shows; `wsgw --version` "
        "prints the installed version.",
        "",
        "| command | does |",
        "|---|---|",
    ]
    for name, command in commands.items():
        out.append(f"| [`wsgw {name}`](#wsgw-{name}) | {_cell(command.get_short_help_str(limit=200))} |")
    out.append("")
    for name, command in commands.items():
        out += _command_section(name, command, root)
    return "\n".join(out)


def _command_section(name: str, command: click.Command, parent: click.Context) -> list[str]:
    ctx = click.Context(command, info_name=name, parent=parent)
    out = [f"## wsgw {name} {{#wsgw-{name}}}", ""]
    for paragraph in inspect.cleandoc(command.help or "").split("\n\n"):
        if paragraph.startswith("\b\n"):  # click's "keep these lines as they are" block
            out += ["```text", paragraph.removeprefix("\b\n"), "```", ""]
        else:
            out += [_escape(" ".join(paragraph.split())), ""]
    out += ["```text", command.get_usage(ctx), "```", ""]
    arguments = [p for p in command.params if isinstance(p, click.Argument)]
    if arguments:
        out += ["| argument | |", "|---|---|"]
        for argument in arguments:
            need = "required" if argument.required else "optional"
            if argument.multiple or argument.nargs != 1:
                need += ", repeatable"
            out.append(f"| {_code_cell(argument.make_metavar(ctx))} | {need} |")
        out.append("")
    options = [p for p in command.params
               if isinstance(p, click.Option) and not p.hidden and p.name != "help"]
    if options:
        out += ["| option | meaning |", "|---|---|"]
        for option in options:
            record = option.get_help_record(ctx)
            if record is not None:
                flags, help_text = record
                out.append(f"| {_code_cell(flags)} | {_cell(help_text)} |")
        out.append("")
    return out


# -- the pytest plugin reference (ast) ------------------------------------------------------


def _parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _literal(node: ast.AST | None) -> Any:
    return ast.literal_eval(node) if node is not None else None


def _keyword(call: ast.Call, name: str) -> Any:
    return next((_literal(k.value) for k in call.keywords if k.arg == name), None)


def _calls(tree: ast.AST, method: str) -> Iterator[ast.Call]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == method:
            yield node


def _is_fixture(function: ast.FunctionDef) -> bool:
    for decorator in function.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        if ast.unparse(target) in ("pytest.fixture", "fixture"):
            return True
    return False


def _constants(tree: ast.Module) -> dict[str, str]:
    """Module-level ``NAME = <literal>``: shown by value in signatures."""
    found: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and isinstance(node.value, ast.Constant):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    found[target.id] = ast.unparse(node.value)
    return found


def _signature(function: ast.FunctionDef | ast.AsyncFunctionDef, constants: dict[str, str] | None = None) -> str:
    args = function.args
    parts: list[str] = []
    positional = args.posonlyargs + args.args
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)

    def one(arg: ast.arg, default: ast.expr | None) -> str:
        text = arg.arg
        if arg.annotation is not None:
            text += f": {ast.unparse(arg.annotation)}"
        if default is not None:
            value = ast.unparse(default)
            value = (constants or {}).get(value, value)
            text += f" = {value}" if arg.annotation is not None else f"={value}"
        return text

    for arg, default in zip(positional, defaults):
        if arg.arg not in ("self", "cls"):
            parts.append(one(arg, default))
    if args.vararg is not None:
        parts.append(f"*{args.vararg.arg}")
    elif args.kwonlyargs:
        parts.append("*")
    for arg, kw_default in zip(args.kwonlyargs, args.kw_defaults):
        parts.append(one(arg, kw_default))
    if args.kwarg is not None:
        parts.append(f"**{args.kwarg.arg}")
    returns = f" -> {ast.unparse(function.returns)}" if function.returns is not None else ""
    prefix = "async " if isinstance(function, ast.AsyncFunctionDef) else ""
    return f"{prefix}{function.name}({', '.join(parts)}){returns}"


def _public_types() -> list[tuple[str, ast.ClassDef, dict[str, str]]]:
    """The classes ``emulator.testing`` exports, in its ``__all__`` order."""
    init = _parse(TESTING / "__init__.py")
    modules: dict[str, str] = {}
    exported: list[str] = []
    for node in ast.walk(init):  # the imports sit under ``if TYPE_CHECKING:`` (loaded lazily)
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
            for alias in node.names:
                modules[alias.asname or alias.name] = node.module
        elif isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            exported = list(_literal(node.value))
    classes: dict[str, tuple[ast.ClassDef, dict[str, str]]] = {}
    for module in sorted(set(modules.values())):
        tree = _parse(TESTING / f"{module}.py")
        constants = _constants(tree)
        for node in tree.body:
            if isinstance(node, ast.ClassDef):
                classes[node.name] = (node, constants)
    return [(name, *classes[name]) for name in exported if name in classes]


def _class_section(name: str, node: ast.ClassDef, constants: dict[str, str]) -> list[str]:
    bases = [ast.unparse(b) for b in node.bases]
    kind = f" ({', '.join(bases)})" if bases else ""
    out = [f"### {name} {{#{name.lower()}}}", "", f"`from emulator.testing import {name}`{_escape(kind)}", ""]
    out += [_docstring(ast.get_docstring(node)), ""]
    fields = [item for item in node.body if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name)]
    if fields:
        out.append("Fields: " + ", ".join(f"`{f.target.id}: {ast.unparse(f.annotation)}`"  # type: ignore[union-attr]
                                          for f in fields) + ".")
        out.append("")
    members: list[str] = []
    for item in node.body:
        if not isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        if item.name.startswith("_") and item.name not in ("__call__", "__enter__", "__aenter__", "__await__"):
            continue
        decorators = {ast.unparse(d) for d in item.decorator_list}
        doc = _docstring(ast.get_docstring(item))
        if "property" in decorators:
            returns = f": {ast.unparse(item.returns)}" if item.returns is not None else ""
            head = f"`{item.name}{returns}` (property)"
        else:
            head = f"`{_signature(item, constants)}`"
        members.append(f"- {head}" + (f": {doc}" if doc else ""))
    if members:
        out += [*[m.replace("\n", "\n  ") for m in members], ""]
    return out


def pytest_plugin_reference() -> str:
    plugin = _parse(TESTING / "plugin.py")
    out = ["## Options", "", "| option | meaning |", "|---|---|"]
    for call in _calls(plugin, "addoption"):
        flag = _literal(call.args[0])
        metavar = _keyword(call, "metavar")
        shown = f"{flag}={metavar}" if metavar else flag
        out.append(f"| {_code_cell(shown)} | {_cell(_keyword(call, 'help') or '')} |")
    for call in _calls(plugin, "addini"):
        name, help_text = _literal(call.args[0]), _literal(call.args[1])
        out.append(f"| ini {_code_cell(name)} | {_cell(help_text)} |")
    out.append("")
    for call in _calls(plugin, "addinivalue_line"):
        if _literal(call.args[0]) == "markers":
            signature, _, meaning = str(_literal(call.args[1])).partition(": ")
            out += ["## Marker", "", f"`@pytest.mark.{signature}`: {_escape(meaning)}", ""]
    out += ["## Fixtures", "",
            "Function-scoped; each requests the fixtures listed after it, and `wsgw_gateway` "
            "starts (or reuses) the gateway.", ""]
    types = _public_types()
    for node in plugin.body:
        if isinstance(node, ast.FunctionDef) and _is_fixture(node) and not node.name.startswith("_"):
            requests = [a.arg for a in node.args.args if not a.arg.startswith("_") and a.arg != "request"]
            facts = []
            if node.returns is not None and ast.unparse(node.returns) != "Any":
                facts.append(f"**Value**: {_fixture_value(node.returns, {name for name, *_ in types})}")
            if requests:
                facts.append("**requests**: " + ", ".join(f"[`{r}`](#{r})" for r in requests))
            out += [f"### {node.name} {{#{node.name}}}", "", _docstring(ast.get_docstring(node)), ""]
            if facts:
                out += [" · ".join(facts), ""]
    out += ["## Types", "",
            "What the fixtures hand to tests, importable from `emulator.testing`.", ""]
    for name, node, constants in types:
        out += _class_section(name, node, constants)
    return "\n".join(out)


def _fixture_value(annotation: ast.expr, documented: set[str]) -> str:
    """What a test receives: ``Iterator[X]`` yields an X; ``Callable[..., X]`` makes
    them. Types of this page link to their section."""
    def named(node: ast.expr) -> str:
        text = ast.unparse(node)
        return f"[`{text}`](#{text.lower()})" if text in documented else f"`{text}`"
    if isinstance(annotation, ast.Subscript):
        outer = ast.unparse(annotation.value)
        inner = annotation.slice
        if outer == "Iterator":
            return named(inner)
        if outer == "Callable" and isinstance(inner, ast.Tuple) and len(inner.elts) == 2:
            return f"a function that returns {named(inner.elts[1])}"
    return named(annotation)


GENERATORS: dict[str, Callable[[], str]] = {
    "commands": commands_reference,
    "pytest-plugin": pytest_plugin_reference,
}
