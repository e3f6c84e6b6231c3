"""Handlers for tests/test_invoker.py: each one shows one behaviour of a worker."""

import logging
import os
import signal
import sys
import time

logging.getLogger().setLevel(logging.INFO)

_count = 0


def echo(event, context):
    return event


def nothing(event, context):
    return None


def environment(event, context):
    return {name: os.environ.get(name) for name in event["names"]}


def counter(event, context):
    global _count
    _count += 1
    return {"count": _count, "pid": os.getpid()}


def context_info(event, context):
    return {
        "function_name": context.function_name,
        "function_version": context.function_version,
        "invoked_function_arn": context.invoked_function_arn,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "aws_request_id": context.aws_request_id,
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "identity": context.identity,
        "client_context": context.client_context,
        "remaining": context.get_remaining_time_in_millis(),
        "cwd": os.getcwd(),
        "sys_path_0": sys.path[0],
    }


def chatty(event, context):
    print("to stdout")
    print("to stderr", file=sys.stderr)
    logging.getLogger("chatty").info("through logging")
    return "ok"


def boom(event, context):
    raise ValueError("something broke")


def sleep(event, context):
    time.sleep(event["seconds"])
    return {"pid": os.getpid()}


def exit_hard(event, context):
    os._exit(3)


def kill_self(event, context):
    os.kill(os.getpid(), signal.SIGKILL)


def unserialisable(event, context):
    return {"a set": {1, 2}}


def decimals(event, context):
    from decimal import Decimal

    return {"whole": Decimal("3"), "part": Decimal("1.5")}


def stderr_first(event, context):
    sys.stderr.write("first, to stderr\n")
    sys.__stdout__.write("then to sys.__stdout__\n")
    return None


def write(event, context):
    """Writes ``text`` to ``stream`` (stdout or stderr) as it is: no newline added."""
    getattr(sys, event.get("stream", "stdout")).write(event["text"])
    return None


def sleep_loud(event, context):
    """Prints ``sleeping <request id>`` (so the test sees it running), then sleeps."""
    print(f"sleeping {context.aws_request_id}", flush=True)
    time.sleep(event["seconds"])
    return {"pid": os.getpid()}


def rendezvous(event, context):
    """Marks its arrival in ``event["dir"]``, then waits (up to a minute) until
    ``event["parties"]`` invocations have arrived: ``met`` says whether they all did,
    which they can only do while running at the same time."""
    folder = event["dir"]
    open(os.path.join(folder, context.aws_request_id), "w").close()
    for _ in range(6000):
        if len(os.listdir(folder)) >= event["parties"]:
            return {"pid": os.getpid(), "met": True}
        time.sleep(0.01)
    return {"pid": os.getpid(), "met": False}


def bytes_unflushed(event, context):
    """Writes to the byte layer under sys.stdout, without a newline flush of the text layer."""
    sys.stdout.buffer.write(b"through the buffer\n")
    return "ok"


def quiet(event, context):
    return "ok"


def bogus_frame(event, context):
    # Writes a frame that is not a result message straight onto the worker's pipe to
    # the invoker (what a broken runtime would do), then waits to be stopped.
    import sys

    fd = int(sys.argv[sys.argv.index("--fds") + 2])  # OUT: frames to the invoker
    os.write(fd, len(b"[1]").to_bytes(4, "big") + b"[1]")
    time.sleep(3600)


def inherited_frame_pipes(event, context):
    # Which of the worker's two frame pipes a child process started with close_fds=False
    # (as os.system or an old library would) still holds.
    import subprocess

    fds = sys.argv[sys.argv.index("--fds") + 1 :][:2]
    listing = subprocess.run(["ls", "/proc/self/fd"], close_fds=False, capture_output=True, text=True, check=True)
    return sorted(set(fds) & set(listing.stdout.split()))


SHARED = {"value": set()}  # one object across invocations, as module state often is


def shared_result(event, context):
    # The first result cannot be marshalled (a set inside it); the second, the same
    # object now holding a number, can.
    if event.get("fix"):
        SHARED["value"] = 1
    return SHARED
