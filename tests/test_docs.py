"""The documentation (docs/ and README.md) against the code, so that neither drifts.

- The Getting started page's pytest example runs with ``pytest`` in an empty folder, as
  a reader would run it; the other pages' test files (and the README's) run too, in one
  pytest process, against the bundled app.
- Every other Python block titled with a file name runs as a script; a block whose title
  adds a remark in parentheses (``push.py (needs wsgw run-local running)``) is only
  compiled; a Python block without a title is an error (say which kind it is).
- Every ``wsgw ...`` command line shown (code blocks and inline code) is parsed by the
  real click commands; so is ``make run ARGS="..."``; ``make`` targets, ``--wsgw-*``
  pytest options and the flags of the hand-written flag tables must exist.
- The README stays a front door: no relative links (they break on a package index page)
  and at most 150 lines.

The strict site build (broken links and anchors) is ``make docs``, which ``make test`` runs.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import click

import cli

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
README = ROOT / "README.md"
GETTING_STARTED = DOCS / "getting-started.md"
PAGES = sorted(p for p in DOCS.rglob("*.md") if "_hooks" not in p.parts)
SOURCES = [README, *PAGES]

# Commands the pages name as not there yet; when one lands, its page needs updating.
NOT_YET: set[str] = set()

_FENCE = re.compile(r"^(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
_TITLE = re.compile(r'title="(?P<title>[^"]*)"')
_RUNNABLE = re.compile(r"^[\w./-]+\.py$")
_ILLUSTRATIVE = re.compile(r"^[\w./-]+\.py \(.+\)$")


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


@dataclass(frozen=True)
class Block:
    """A fenced code block of a Markdown file."""

    path: Path
    line: int
    language: str
    title: str | None
    code: str

    @property
    def where(self) -> str:
        return f"{_rel(self.path)}:{self.line}"


def _split(path: Path) -> tuple[list[Block], str]:
    """The file's fenced blocks, and its text outside them."""
    blocks: list[Block] = []
    prose: list[str] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        match = _FENCE.match(lines[i].strip())
        if match is None:
            prose.append(lines[i])
            i += 1
            continue
        fence, info = match["fence"], match["info"].strip()
        start, body = i + 1, []
        i += 1
        while i < len(lines) and not lines[i].strip().startswith(fence):
            body.append(lines[i])
            i += 1
        i += 1
        title = _TITLE.search(info)
        blocks.append(Block(path, start, info.split(" ")[0] if info else "", title["title"] if title else None,
                            "\n".join(body) + "\n"))
        prose.append("")
    return blocks, "\n".join(prose)


def _blocks(paths: list[Path] = SOURCES) -> list[Block]:
    return [block for path in paths for block in _split(path)[0]]


def _inline_code(path: Path) -> list[str]:
    """Inline code spans outside the fenced blocks (a span may cross a line break)."""
    text = _split(path)[1]
    text = re.sub(r"<!-- wsgw:generate.*?<!-- wsgw:end -->", "", text, flags=re.S)
    return [" ".join(span.split()) for span in re.findall(r"(?<!`)`([^`]+)`(?!`)", text)]


# -- command lines ----------------------------------------------------------------------------


def _shell_lines(block: Block) -> Iterator[str]:
    """The command lines of a shell or console block (continuations joined)."""
    if block.language not in ("sh", "shell", "bash", "console"):
        return
    pending = ""
    for raw in block.code.splitlines():
        line = raw.rstrip()
        if block.language == "console" and not pending:
            if not line.startswith("$ "):
                continue
            line = line[2:]
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        yield pending + line
        pending = ""


def _command_lines() -> Iterator[tuple[str, str]]:
    """(where, command line) for every command shown in the docs and the README."""
    for block in _blocks():
        for line in _shell_lines(block):
            yield block.where, line
    for path in SOURCES:
        for span in _inline_code(path):
            if re.match(r"(wsgw|make|python cli\.py|\.venv/bin/wsgw) [a-z-]", span):
                yield _rel(path), span


def _words(line: str) -> list[str]:
    words = shlex.split(line, comments=True)
    while words and re.fullmatch(r"[A-Z_]+=.*", words[0]):  # VAR=value before the command
        words.pop(0)
    return words


def _wsgw_args(words: list[str]) -> list[str] | None:
    """The arguments after ``wsgw`` when the words run wsgw, else None."""
    if words[:1] in (["wsgw"], [".venv/bin/wsgw"]):
        return words[1:]
    if words[:2] in (["python", "cli.py"], [".venv/bin/python", "cli.py"]):
        return words[2:]
    return None


def _click_problem(args: list[str]) -> str | None:
    """Why ``wsgw ARGS`` would be refused by the CLI (None: it parses). Optional parts
    written as ``[--flag]`` count as given; a missing argument is fine (prose often
    names a command without its arguments)."""
    args = [a.removeprefix("[").removesuffix("]") for a in args if a != "--help"]
    if not args or args == ["--version"]:
        return None
    name, rest = args[0], args[1:]
    if name in NOT_YET:
        return None
    command = cli.commands().get(name)
    if command is None:
        return f"no such command: wsgw {name}"
    try:
        command.make_context(f"wsgw {name}", rest)
    except click.MissingParameter:
        return None
    except click.BadParameter as exc:
        if isinstance(exc.param, click.Option) and isinstance(exc.param.type, click.Path) and exc.param.type.exists:
            return None  # a file the reader has, not this test
        return exc.format_message()
    except click.ClickException as exc:
        return exc.format_message()
    return None


def _makefile_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    return set(re.findall(r"^([a-z][\w-]*):", text, flags=re.M))


def _makefile_variables() -> set[str]:
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    return set(re.findall(r"^([A-Z][A-Z0-9_]*)\s*[?:]?=", text, flags=re.M))


def _plugin_options() -> set[str]:
    source = (ROOT / "emulator" / "testing" / "plugin.py").read_text(encoding="utf-8")
    return set(re.findall(r'addoption\(\s*"(--[\w-]+)"', source))


def _all_wsgw_options() -> set[str]:
    return {flag for command in cli.commands().values() for param in command.params
            if isinstance(param, click.Option) for flag in (*param.opts, *param.secondary_opts)}


def test_the_docs_show_command_lines() -> None:
    lines = [line for _, line in _command_lines()]
    assert any(line.startswith("wsgw run-local") for line in lines)
    assert any(line.startswith("make run") for line in lines)


def test_every_wsgw_command_line_parses() -> None:
    problems = []
    for where, line in _command_lines():
        args = _wsgw_args(_words(line))
        if args is not None:
            problem = _click_problem(args)
            if problem:
                problems.append(f"{where}: `{line}`: {problem}")
    assert not problems, "\n".join(problems)


def test_make_lines_name_real_targets_and_run_arguments_parse() -> None:
    targets = _makefile_targets()
    problems = []
    for where, line in _command_lines():
        words = _words(line)
        if words[:1] != ["make"]:
            continue
        for word in words[1:]:
            if word.startswith("ARGS="):
                if words[1] == "run":  # make run passes ARGS to wsgw run-local
                    problem = _click_problem(["run-local", *shlex.split(word[len("ARGS="):])])
                    if problem:
                        problems.append(f"{where}: `{line}`: {problem}")
            elif "=" in word:  # another variable: one the Makefile sets a default for
                if word.split("=", 1)[0] not in _makefile_variables():
                    problems.append(f"{where}: `{line}`: the Makefile has no variable {word.split('=', 1)[0]!r}")
            elif not word.startswith("-") and word not in targets:
                problems.append(f"{where}: `{line}`: the Makefile has no target {word!r}")
    assert not problems, "\n".join(problems)


def test_pytest_lines_use_real_plugin_options() -> None:
    known = _plugin_options()
    assert "--wsgw-template" in known
    problems = []
    for where, line in _command_lines():
        for flag in re.findall(r"(--wsgw-[\w-]+)", line):
            if flag not in known:
                problems.append(f"{where}: `{line}`: the plugin has no option {flag}")
    for path in SOURCES:
        for span in _inline_code(path):
            for flag in re.findall(r"^(--wsgw-[\w-]+)", span):
                if flag not in known:
                    problems.append(f"{_rel(path)}: `{span}`: the plugin has no option {flag}")
    assert not problems, "\n".join(problems)


def test_flag_tables_name_real_flags() -> None:
    """The hand-written tables whose first column is "flag"/"flags" list real options."""
    known = _all_wsgw_options()
    problems, tables = [], 0
    for path in PAGES:
        rows = [line for line in _split(path)[1].splitlines()]
        in_table = False
        for line in rows:
            if not line.startswith("|"):
                in_table = False
                continue
            cells = [c.strip() for c in line.strip("|").split("|")]
            if not in_table:
                in_table = cells[0] in ("flag", "flags")
                tables += in_table
                continue
            for flag in re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", cells[0]):
                if flag not in known:
                    problems.append(f"{_rel(path)}: table row {cells[0]!r}: wsgw has no option {flag}")
    assert tables >= 3
    assert not problems, "\n".join(problems)


def test_commands_marked_not_yet_do_not_exist_yet() -> None:
    landed = NOT_YET & set(cli.commands())
    assert not landed, f"wsgw {landed} exists now: describe it in the docs and drop it from NOT_YET"


def test_a_drifted_command_line_would_be_caught() -> None:
    assert _click_problem(["run-local", "--state-dirs", "x"]) is not None
    assert _click_problem(["run-local", "--log-format", "xml"]) is not None
    assert _click_problem(["serve"]) is not None
    assert _click_problem(["post"]) is None  # a command named without its arguments
    assert _click_problem(["connections", "[--prune]"]) is None


# -- Python blocks ------------------------------------------------------------------------------


def _python_blocks() -> list[Block]:
    return [b for b in _blocks() if b.language in ("python", "py")]


def test_every_python_block_says_whether_it_runs() -> None:
    problems = [f"{b.where}: a Python block needs a title: a file name (it runs) or a file name and "
                f"a remark in parentheses (it is only compiled); got {b.title!r}"
                for b in _python_blocks()
                if b.title is None or not (_RUNNABLE.match(b.title) or _ILLUSTRATIVE.match(b.title))]
    assert not problems, "\n".join(problems)


def test_illustrative_python_blocks_compile() -> None:
    for block in _python_blocks():
        if block.title and _ILLUSTRATIVE.match(block.title):
            compile(block.code, block.where, "exec")


def _is_test_file(block: Block) -> bool:
    name = Path(block.title or "").name
    return name.startswith("test_") or name == "conftest.py"


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.pop("WSGW_STATE_FILE", None)
    return env


def test_python_scripts_run(tmp_path: Path) -> None:
    scripts = [b for b in _python_blocks() if b.title and _RUNNABLE.match(b.title) and not _is_test_file(b)]
    assert scripts, "expected a runnable script among the docs' Python blocks"
    for block in scripts:
        assert block.title is not None
        script = tmp_path / Path(block.title).name
        script.write_text(block.code, encoding="utf-8")
        proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=_env(), capture_output=True,
                              text=True, timeout=120)
        assert proc.returncode == 0, f"{block.where} ({block.title}) failed:\n{proc.stdout}{proc.stderr}"


def _run_pytest(project: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest", *extra], cwd=project, env=_env(),
                          capture_output=True, text=True, timeout=300)


def _expected_tests(blocks: list[Block]) -> int:
    return sum(len(re.findall(r"^(?:async )?def test_", b.code, flags=re.M)) for b in blocks)


def test_the_getting_started_test_passes_in_an_empty_folder(tmp_path: Path) -> None:
    """What a reader does: a new folder, the page's test file, ``pytest``."""
    blocks = [b for b in _python_blocks() if b.path == GETTING_STARTED and _is_test_file(b)
              and b.title and _RUNNABLE.match(b.title)]
    assert [b.title for b in blocks] == ["test_chat.py"]
    project = tmp_path / "chat-tests"
    project.mkdir()
    for block in blocks:
        (project / str(block.title)).write_text(block.code, encoding="utf-8")
    proc = _run_pytest(project)
    summary = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
    assert proc.returncode == 0 and re.search(rf"\b{_expected_tests(blocks)} passed\b", summary), \
        proc.stdout + proc.stderr


def test_the_other_test_files_in_the_docs_pass(tmp_path: Path) -> None:
    """Each page's (and the README's) test files, in a folder of their own."""
    blocks = [b for b in _python_blocks() if b.path != GETTING_STARTED and _is_test_file(b)
              and b.title and _RUNNABLE.match(b.title)]
    assert {b.path for b in blocks} >= {README, DOCS / "testing.md"}
    for block in blocks:
        folder = tmp_path / _rel(block.path).replace("/", "_").replace(".md", "")
        folder.mkdir(exist_ok=True)
        target = folder / str(block.title)
        assert not target.exists(), f"{block.where}: a second {block.title} on the same page"
        target.write_text(block.code, encoding="utf-8")
    proc = _run_pytest(tmp_path, "--import-mode=importlib", "-p", "no:cacheprovider")
    summary = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
    assert proc.returncode == 0 and re.search(rf"\b{_expected_tests(blocks)} passed\b", summary), \
        proc.stdout + proc.stderr


# -- the README -----------------------------------------------------------------------------------


def test_the_readme_has_no_relative_links() -> None:
    """A package index shows the README without the repository: relative links break.
    The one exception is a screenshot (``![alt](docs/images/x.png)``): there a package
    index shows its alt text, so each has one, and each is a small committed PNG."""
    text = README.read_text(encoding="utf-8")
    images = re.findall(r"!\[([^\]]*)\]\(\s*([^)\s]+)\)", text)
    for alt, target in images:
        if re.match(r"https?:", target):
            continue
        path = ROOT / target
        assert alt.strip() and target.startswith("docs/images/") and target.endswith(".png"), (alt, target)
        assert path.is_file() and path.stat().st_size < 150_000, f"{target}: missing or over 150 KB"
        text = text.replace(f"]({target})", "]()")
    targets = re.findall(r"\]\(\s*<?([^)\s>]+)", text)              # [text](target)
    targets += re.findall(r"^\s*\[[^\]]+\]:\s*<?(\S+?)>?\s*$", text, flags=re.M)  # [ref]: target
    targets += re.findall(r"""(?:href|src)\s*=\s*["']([^"']+)""", text)
    relative = [t for t in targets if not re.match(r"(https?:|mailto:)", t)]
    assert not relative, f"relative links in README.md: {relative}"


def test_the_readme_stays_short() -> None:
    assert len(README.read_text(encoding="utf-8").splitlines()) <= 150


def test_the_layout_names_every_package_of_emulator() -> None:
    layout = (DOCS / "contributing" / "index.md").read_text(encoding="utf-8")
    packages = sorted(p.parent.name for p in (ROOT / "emulator").glob("*/__init__.py"))
    assert packages and [name for name in packages if f"  {name}/" not in layout] == []
