"""The process side of the invoker: one Lambda execution environment.

:mod:`emulator.runtime.invoker` starts this file as ``python -I worker.py --fds IN
OUT``; nobody imports it. It is stdlib only and self-contained because isolated mode
(``-I``) puts neither this folder nor the user site on ``sys.path``, and because it
shares the process with user code that must not see the emulator.

Life of a worker, like a Lambda execution environment (awslambdaric ``bootstrap.py``):

1. Init: put ``LAMBDA_TASK_ROOT`` first on ``sys.path`` and the folders of
   ``WSGW_SYS_PATH`` after it (its dependencies, layers and the runtime's boto3: see
   ``provisioning.py``; started with ``-S``, the process sees nothing else but the
   standard library), chdir there, install the
   Lambda root logging handler, import ``_HANDLER`` (``module.function``) once, and
   answer ``{"type": "ready"}`` (with ``initError`` if that failed; every invocation
   then fails with that error, and it is logged only once, here).
2. Invoke, one at a time: read ``{"type": "invoke", ...}``, set ``_X_AMZN_TRACE_ID``
   to its ``traceId`` (as the runtime does from ``Lambda-Runtime-Trace-Id``), print ``START``, call the
   handler, print ``END`` and ``REPORT``, answer ``{"type": "result", ...}``. Module
   state stays warm between invocations. For a handler that printed nothing, the
   ``START``/``END``/``REPORT`` lines go in the result's ``"log"`` instead (one write).
3. Exit when the invoker closes its end of pipe ``IN`` (end of file).

Frames from the invoker arrive on pipe ``IN`` and go back on pipe ``OUT`` (two pipes
rather than a socketpair: see ``frames.py``); each is a 4-byte big-endian length and
UTF-8 JSON. stdout and stderr are line-buffered and share one pipe that the invoker
reads, passing every line to its log sink. ``REPORT`` is written before the result
is sent, so the invoker hands on an invocation's log lines before its outcome.
"""

from __future__ import annotations

import importlib
import importlib.util
import io
import json
import json.scanner
import logging
import math
import os
import resource
import signal
import sys
import time
import traceback
from typing import Any, Callable

Handler = Callable[[Any, Any], Any]

_request_id = ""  # the invocation in progress, for the Lambda log format


class LambdaContext:
    """The ``context`` argument, with the attributes of awslambdaric's LambdaContext.

    ``memory_limit_in_mb`` is a ``str``, as in the real runtime (which copies the env
    var), so arithmetic on it fails locally as it would on AWS. Deliberate difference:
    ``identity`` is ``None`` (AWS gives an object whose Cognito fields are ``None``).
    """

    # Read from the environment once per worker, at its first invocation, not at
    # each (every message's hot path): a Lambda environment's reserved variables do
    # not change. Deliberate difference: a handler that rewrites them in os.environ
    # does not change its later contexts.
    _defaults: tuple[str, str, str, str, str] | None = None

    def __init__(self, request_id: str, deadline_ms: int, invoked_function_arn: str) -> None:
        if LambdaContext._defaults is None:
            env = os.environ
            LambdaContext._defaults = (
                env.get("AWS_LAMBDA_FUNCTION_NAME", ""), env.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
                env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"), env.get("AWS_LAMBDA_LOG_GROUP_NAME", ""),
                env.get("AWS_LAMBDA_LOG_STREAM_NAME", ""),
            )
        (self.function_name, self.function_version, self.memory_limit_in_mb,
         self.log_group_name, self.log_stream_name) = LambdaContext._defaults
        self.invoked_function_arn = invoked_function_arn
        self.aws_request_id = request_id
        self.identity = None
        self.client_context = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))

    def log(self, message: object) -> None:
        sys.stdout.write(str(message))

    def __repr__(self) -> str:
        return f"LambdaContext([aws_request_id={self.aws_request_id},function_name={self.function_name}])"


class _Fault(Exception):
    """A runtime error with Lambda's ``Runtime.*`` error type (not the handler's own)."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = _request_id
        return True


def _install_lambda_logging() -> None:
    """Give the root logger the handler the Python runtime installs, so that the usual
    ``logging.getLogger().setLevel(logging.INFO)`` in a handler prints like on AWS."""
    formatter = logging.Formatter(
        "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s",
        "%Y-%m-%dT%H:%M:%S",
    )
    formatter.converter = time.gmtime
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(formatter)
    handler.addFilter(_RequestIdFilter())
    logging.getLogger().addHandler(handler)


def _install_endpoint_redirect() -> None:
    """Route botocore calls for the emulated API's real execute-api hostname to the
    gateway (``endpoint_redirect.py``, loaded by path: isolated mode has no package)."""
    hosts = os.environ.get("WSGW_REDIRECT_HOSTS")
    target = os.environ.get("WSGW_REDIRECT_TARGET")
    if not hosts or not target:
        return
    _load_sibling("endpoint_redirect").install(hosts.split(","), target)


def _load_sibling(name: str) -> Any:
    """Load ``name``.py from this folder by path (isolated mode has no package)."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), f"{name}.py")
    spec = importlib.util.spec_from_file_location(f"_wsgw_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _load_handler(name: str) -> Handler:
    """Import ``module.function`` with the error types and messages of awslambdaric."""
    try:
        module_name, attribute = name.rsplit(".", 1)
    except ValueError as exc:
        raise _Fault("Runtime.MalformedHandlerName", f"Bad handler '{name}': {exc}") from None
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as exc:
        raise _Fault("Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}") from exc
    except SyntaxError as exc:
        raise _Fault("Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {exc}") from exc
    try:
        handler: Handler = getattr(module, attribute)
    except AttributeError:
        raise _Fault("Runtime.HandlerNotFound", f"Handler '{attribute}' missing on module '{module_name}'") from None
    return handler


def _error_type(exc: BaseException) -> str:
    return exc.error_type if isinstance(exc, _Fault) else type(exc).__name__


def _log_error(exc: BaseException) -> None:
    """Print ``[ERROR] Type: message`` and the traceback, as the runtime does.

    Like awslambdaric, the frames of the runtime itself (this file) are left out.
    Differences from AWS: lines end with ``\\n`` rather than ``\\r`` (the sink is
    line based), and init errors keep their traceback (AWS prints none): it shows
    which nested import failed.
    """
    header = f"[ERROR] {_error_type(exc)}"
    if str(exc):
        header += f": {exc}"
    cause = exc.__cause__ if isinstance(exc, _Fault) else exc
    tb = cause.__traceback__ if cause is not None else None
    while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
        tb = tb.tb_next
    frames = "".join(traceback.format_list(traceback.extract_tb(tb)))
    err = _streams()[1]
    err.write(f"{header}\nTraceback (most recent call last):\n{frames}")
    missing = exc.__cause__ if isinstance(exc, _Fault) and isinstance(exc.__cause__, ModuleNotFoundError) else None
    if missing is not None and missing.name and os.environ.get("WSGW_HOST_PATH"):
        # Not declared but installed beside wsgw? Say how to declare it (import_hint.py).
        hint = _load_sibling("import_hint").hint(missing.name, os.environ["WSGW_HOST_PATH"].split(os.pathsep))
        if hint:
            err.write(hint + "\n")
    err.flush()


def _json_default(value: object) -> object:
    # awslambdaric writes a Decimal's own digits (simplejson RawJSON); the stdlib
    # cannot, so a non-integral Decimal becomes a float here (deliberate difference).
    import decimal  # only results that plain JSON cannot hold get here; keeps init fast

    if isinstance(value, decimal.Decimal):
        if value.is_nan():
            return math.nan
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


_json_string: Callable[[str], str] = json.encoder.encode_basestring_ascii
"""A str as a JSON string, escaped as ``json.dumps`` (``ensure_ascii``) writes it."""


class _ResultEncoder:
    """``json.dumps(value, default=_json_default)``, with the C encoder that
    ``JSONEncoder.encode`` builds on every call built once (every message's hot path:
    1.5 → 0.6 µs for a two-key result, Python 3.12). Its marks for circular
    references are empty after an encoding that succeeded; after one that raised, a
    new encoder replaces it. Without CPython's ``_json``, JSONEncoder itself."""

    def __init__(self) -> None:
        self._make = getattr(json.encoder, "c_make_encoder", None)
        self._encoder: Callable[[Any, int], Any] | None = None
        self._fallback = json.JSONEncoder(default=_json_default).encode
        self._renew()

    def _renew(self) -> None:
        if self._make is not None:
            # The arguments JSONEncoder.iterencode passes (markers, default, encoder,
            # indent, separators, sort_keys, skipkeys, allow_nan), as json.dumps sets them.
            self._encoder = self._make({}, _json_default, _json_string, None, ": ", ", ", False, False, True)

    def __call__(self, value: Any) -> str:
        if self._encoder is None:
            return self._fallback(value)
        try:
            return "".join(self._encoder(value, 0))
        except BaseException:
            self._renew()
            raise


_encode = _ResultEncoder()

# RUSAGE_THREAD where there is one (Linux): the same peak RSS of the whole process
# (the kernel reads it from the process's memory map either way), without summing
# every thread's CPU time under the scheduler's lock first.
_RUSAGE = getattr(resource, "RUSAGE_THREAD", resource.RUSAGE_SELF)


def _max_memory_mb() -> int:
    peak = resource.getrusage(_RUSAGE).ru_maxrss  # KiB on Linux, bytes on macOS
    return peak // (1024 * 1024) if sys.platform == "darwin" else peak // 1024


class _Output(io.TextIOWrapper):
    """The worker's stdout/stderr: line-buffered UTF-8 text on the pipe to the invoker.

    The START line of an invocation is held back until the first output of the
    handler (it is written just before it, so order is kept) or, for a handler that
    prints nothing, written together with END and REPORT: a quiet invocation costs
    one write to the pipe instead of two (this is every message's hot path).
    """

    pending_start = ""  # shared by stdout and stderr: one START per invocation
    mid_line = False  # this stream's last text did not end its line (see end_line)

    def write(self, text: str) -> int:
        if _Output.pending_start:
            start, _Output.pending_start = _Output.pending_start, ""
            io.TextIOWrapper.write(_streams()[0], start)
        if text:
            self.mid_line = not text.endswith("\n")
        return super().write(text)

    def end_line(self) -> None:
        """End a line the handler left open (``print(x, end="")``), so that it goes
        out now and END starts a line of its own, as on AWS, where the platform
        writes END as a log event apart from the function's output."""
        if self.mid_line:
            self.mid_line = False
            io.TextIOWrapper.write(self, "\n")  # line-buffered: flushes it


class _Bytes(io.BufferedWriter):
    """The byte layer under our stdout/stderr; notes that something was written to it
    (``sys.stdout.buffer.write`` bypasses the text layer and its START handling)."""

    written = False  # shared by stdout and stderr; reset at each invocation's start

    def write(self, data: Any) -> int:
        _Bytes.written = True
        return super().write(data)


def _replace_std_streams() -> tuple[_Output, _Output]:
    """Swap sys.stdout/sys.stderr for :class:`_Output` wrappers of the same pipes."""
    replaced = []
    for name in ("stdout", "stderr"):
        old = getattr(sys, name)
        raw = old.detach().detach()  # text layer, then byte buffer: the pipe's FileIO
        stream = _Output(_Bytes(raw), encoding="utf-8", errors="backslashreplace", line_buffering=True)
        setattr(sys, name, stream)
        setattr(sys, f"__{name}__", stream)  # the old object is detached and unusable
        replaced.append(stream)
    return replaced[0], replaced[1]


_std: tuple[_Output, _Output] | None = None


def _streams() -> tuple[_Output, _Output]:
    """Our stdout and stderr, even if a handler rebinds ``sys.stdout``."""
    assert _std is not None, "main() installs the streams first"
    return _std


# typeshed types the scanner's context as a scanner (its attributes are what it reads).
_scan = json.scanner.make_scanner(json.JSONDecoder())  # type: ignore[arg-type]


def _json_decode(body: bytes) -> Any:
    # Invoke messages are compact UTF-8 JSON written by wsgw: decoded as text and read
    # by json's scanner itself, without json.loads' guessing of the encoding and its
    # checks for whitespace around the value (every message's hot path: -20 %).
    value, _ = _scan(body.decode("utf-8"), 0)
    return value


_decode: Callable[[bytes], Any] = _json_decode
try:  # invoke messages are built by wsgw; orjson decodes them to the same values, faster
    from orjson import loads as _orjson_loads
except ImportError:  # the usual case: a worker sees only the function's own packages
    pass
else:
    # Except an integer beyond 64 bits, which orjson reads as a float: Lambda's runtime
    # (json.loads) gives the handler the int. Such a number is a run of at least 19
    # digits; frames with one go to json (the gateway's wire_json decides the same way).
    _DIGITS_AS_ZEROS = bytes(0x30 if 0x30 <= byte <= 0x39 else 0x20 for byte in range(256))

    def _decode(body: bytes) -> Any:
        if b"0000000000000000000" in body.translate(_DIGITS_AS_ZEROS):
            return _json_decode(body)
        return _orjson_loads(body)


class _Channel:
    """Our ends of the invoker's two pipes: length-prefixed JSON frames in, frames out."""

    def __init__(self, in_fd: int, out_fd: int) -> None:
        # Not inherited by a handler's child processes: one that outlived us, holding
        # the pipe's write end, would keep the invoker from seeing us exit.
        os.set_inheritable(in_fd, False)
        os.set_inheritable(out_fd, False)
        self._in = open(in_fd, "rb")  # buffered: a frame's header and body, one read
        self._out = out_fd

    def receive(self) -> dict[str, Any] | None:
        """The next message, or ``None`` once the invoker has closed the pipe."""
        header = self._in.read(4)
        if len(header) < 4:
            return None
        body = self._in.read(int.from_bytes(header, "big"))
        message: dict[str, Any] = _decode(body)
        return message

    def send_raw(self, body: bytes) -> None:
        data = memoryview(len(body).to_bytes(4, "big") + body)
        while data:  # a blocking pipe takes it all at once, but for a signal
            data = data[os.write(self._out, data) :]


class _Runtime:
    """The invoke loop: START, handler, END and REPORT, result."""

    def __init__(self, handler: Handler | None, init_error: _Fault | None, init_ms: float) -> None:
        self._handler = handler
        self._init_error = init_error
        self._init_ms: float | None = init_ms
        self._version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self._memory = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        self._out = _streams()[0]

    def invoke(self, message: dict[str, Any]) -> bytes:
        """Run one invocation; return the encoded result message to send back."""
        global _request_id
        request_id: str = message["requestId"]
        _request_id = request_id
        arn = message.get("context", {}).get("invokedFunctionArn", "")
        context = LambdaContext(request_id, message["deadlineMs"], arn)
        trace = message.get("traceId")
        if trace:  # the runtime sets it per invocation, and removes it when there is none
            os.environ["_X_AMZN_TRACE_ID"] = trace
        else:
            os.environ.pop("_X_AMZN_TRACE_ID", None)
        _Output.pending_start = f"START RequestId: {request_id} Version: {self._version}\n"
        _Bytes.written = False
        started = time.perf_counter()
        body = self._run(request_id, message["event"], context)
        duration_ms = (time.perf_counter() - started) * 1000
        report = (
            f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms"
            f"\tBilled Duration: {max(1, math.ceil(duration_ms))} ms"
            f"\tMemory Size: {self._memory} MB\tMax Memory Used: {_max_memory_mb()} MB"
        )
        if self._init_ms is not None:  # like Lambda: only on the cold start's REPORT
            report += f"\tInit Duration: {self._init_ms:.2f} ms"
            self._init_ms = None
        for stream in _streams():
            stream.end_line()
        start, _Output.pending_start = _Output.pending_start, ""  # still held if nothing was printed
        lines = f"{start}END RequestId: {request_id}\n{report}\n"
        _request_id = ""
        if start and not _Bytes.written:
            # The handler printed nothing: its START, END and REPORT lines travel in
            # the result frame ("log"), one write to the invoker instead of two (every
            # message's hot path); the invoker logs them before it hands on the outcome.
            # (Output that bypasses sys.stdout and sys.stderr altogether, os.write(1)
            # or a child process, is not ordered against these lines.)
            return body[:-1] + b',"log":' + _json_string(lines).encode() + b"}"
        io.TextIOWrapper.write(self._out, lines)
        return body

    def _run(self, request_id: str, event: Any, context: LambdaContext) -> bytes:
        if self._handler is None:
            assert self._init_error is not None
            return _failure(request_id, self._init_error)
        try:
            result = self._handler(event, context)
        except Exception as exc:  # SystemExit and KeyboardInterrupt end the process
            _log_error(exc)
            return _failure(request_id, exc)
        try:
            # The envelope as json.dumps writes it, around the one value that needs the
            # encoder (every message's hot path: -1.4 µs of ~19, Python 3.12).
            return b"".join((b'{"type":"result","requestId":', _json_string(request_id).encode(),
                             b',"ok":true,"result":', _encode(result).encode(), b"}"))
        except Exception as exc:
            fault = _Fault("Runtime.MarshalError", f"Unable to marshal response: {exc}")
            _log_error(fault)
            return _failure(request_id, fault)


def _failure(request_id: str, exc: Exception) -> bytes:
    return json.dumps({"type": "result", "requestId": request_id, "ok": False, **_error_fields(exc)}).encode()


def _error_fields(exc: Exception) -> dict[str, str]:
    return {"errorType": _error_type(exc), "errorMessage": str(exc)}


def _init(handler_name: str) -> tuple[Handler | None, _Fault | None]:
    """The Lambda init phase: import the handler once; log the error if that fails.
    ``WSGW_INIT_ERROR`` (the function's dependencies could not be installed) fails it
    at once, as the import would, with that reason."""
    reason = os.environ.get("WSGW_INIT_ERROR")
    try:
        if reason:
            module = handler_name.rsplit(".", 1)[0]
            raise _Fault("Runtime.ImportModuleError", f"Unable to import module '{module}': {reason}")
        return _load_handler(handler_name), None
    except _Fault as fault:
        error = fault
    except Exception as exc:  # the module itself raised while importing: its own type
        error = _Fault(type(exc).__name__, str(exc))
        error.__cause__ = exc
    _log_error(error)
    return None, error


def _install_site_builtins() -> None:
    """Started with ``-S`` (no site-packages): still give handlers what the ``site``
    module adds to builtins on Lambda (``exit``, ``quit``, ``help``, ``copyright``)."""
    import site

    for name in ("setquit", "setcopyright", "sethelper"):
        setup = getattr(site, name, None)
        if setup is not None:
            setup()


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[0] != "--fds":
        sys.stderr.write("usage: worker.py --fds IN OUT\n")
        return 2
    channel = _Channel(int(argv[1]), int(argv[2]))
    global _std
    _std = _replace_std_streams()
    # Ctrl+C in a terminal reaches the whole process group; the invoker stops us.
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    started = time.perf_counter()
    task_root = os.environ["LAMBDA_TASK_ROOT"]
    extra = os.environ.get("WSGW_SYS_PATH")
    sys.path[0:0] = [task_root, *(extra.split(os.pathsep) if extra else [])]
    if sys.flags.no_site:
        _install_site_builtins()
    os.chdir(task_root)
    _install_lambda_logging()
    _install_endpoint_redirect()
    # run-local --debug-function: listen for a debugger (worker_debug.py, loaded only then).
    before_invoke = _load_sibling("worker_debug").debugpy_hook() if os.environ.get("WSGW_DEBUGPY") else None
    handler, init_error = _init(os.environ.get("_HANDLER", ""))
    ready: dict[str, Any] = {"type": "ready"}
    if init_error is not None:
        ready["initError"] = _error_fields(init_error)
    channel.send_raw(json.dumps(ready).encode())

    runtime = _Runtime(handler, init_error, (time.perf_counter() - started) * 1000)
    while (message := channel.receive()) is not None:
        if message.get("type") == "invoke":
            if before_invoke is not None:
                before_invoke()
            channel.send_raw(runtime.invoke(message))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
