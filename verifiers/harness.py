"""The check harness that runs inside the sandbox (standard library only).

Threat model in one paragraph: the candidate's code runs only in a *worker* process that this
harness forks; the harness itself never imports it. The worker reports, over a pipe, what the
candidate returned for each call, serialised strictly (exact builtin types only, so objects with
a forged ``__eq__`` cannot cross). The harness then decides:

- ``io`` mode: it forwards the serialised outputs; the host compares them with the expected
  values (expected values never enter the sandbox).
- ``tests`` mode: it *replays* each test function here with a stand-in candidate
  that returns the recorded outputs in order. An assertion passes only when the test function
  itself, run here, accepts the recorded values. Whatever the worker writes (fake pass lines,
  early ``sys.exit``/``os._exit``, patched builtins) can at most supply return values, which is
  what an honest candidate does anyway.

The worker cannot reach this process's stdout (its own fds are replaced at fork, and every other
descriptor but its record pipe is closed before any task or candidate code runs) and cannot
attach to it (this process is not dumpable). Output: one JSON line on stdout, tagged
``"selfgym_harness"``.

Everything the harness needs (the job spec, the test source, the candidate source) is read and
the tests compiled *before* any task or candidate code runs; nothing is read from the job
directory afterwards, so rewriting, replacing or swapping files (for symlinks or FIFOs) there
changes nothing. The runner starts the harness in isolated mode: it imports only from the
interpreter's library, never from the job directory. Once loaded, the harness writes one byte
to the runner's start pipe: a harness that fails before that byte is an infrastructure failure,
one that fails after it was (possibly) brought down by the candidate and is a task failure.
"""

from __future__ import annotations

import base64
import builtins
import ctypes
import json
import math
import os
import selectors
import signal
import sys
import time
import traceback

MAX_PIPE = 4 << 20
MSG = 300


# ------------------------------------------------------------------ strict serialisation
class Unserialisable(TypeError):
    pass


def encode(x, depth: int = 0, strict: bool = True):
    """Exact builtin types only (no subclasses): tagged JSON that decodes to equal values."""
    if depth > 60:
        raise Unserialisable("value nested too deeply")
    t = type(x)
    if x is None or t is bool or t is str:
        return x
    if t is int:
        return x if abs(x) < 1 << 53 else {"t": "int", "v": str(x)}
    if t is float:
        return x if math.isfinite(x) else {"t": "float", "v": repr(x)}
    if t is list:
        return [encode(v, depth + 1, strict) for v in x]
    if t is tuple:
        return {"t": "tuple", "v": [encode(v, depth + 1, strict) for v in x]}
    if t is dict:
        return {"t": "dict", "v": [[encode(k, depth + 1, strict), encode(v, depth + 1, strict)] for k, v in x.items()]}
    if t is set or t is frozenset:
        return {"t": t.__name__, "v": [encode(v, depth + 1, strict) for v in x]}
    if t is bytes:
        return {"t": "bytes", "v": base64.b64encode(x).decode()}
    if t is complex:
        return {"t": "complex", "v": [encode(x.real), encode(x.imag)]}
    if strict:
        raise Unserialisable(f"the candidate returned a {t.__name__!r}; only builtin values (None, bool, int, "
                             "float, str, bytes, list, tuple, dict, set) can be checked")
    return {"t": "opaque", "v": t.__name__}


def decode(x):
    if isinstance(x, list):
        return [decode(v) for v in x]
    if not isinstance(x, dict):
        return x
    t, v = x["t"], x["v"]
    if t == "int":
        return int(v)
    if t == "float":
        return float(v)
    if t == "tuple":
        return tuple(decode(i) for i in v)
    if t == "dict":
        return {decode(k): decode(val) for k, val in v}
    if t == "set":
        return {decode(i) for i in v}
    if t == "frozenset":
        return frozenset(decode(i) for i in v)
    if t == "bytes":
        return base64.b64decode(v)
    if t == "complex":
        return complex(decode(v[0]), decode(v[1]))
    if t == "opaque":
        return Opaque(v)
    raise ValueError(f"unknown tag {t!r}")


class Opaque:
    def __init__(self, name: str):
        self.name = name


def _short(text: str) -> str:
    text = str(text)
    return text if len(text) <= MSG else text[:MSG] + "..."


def _safe_str(exc: BaseException) -> str:
    try:
        return str(exc)
    except BaseException:  # noqa: BLE001
        return "?"


def _exc_text(exc: BaseException) -> str:
    name = type(exc).__name__ if type(exc).__module__ == "builtins" else "Exception"
    msg = _safe_str(exc)
    return _short(f"{name}: {msg}" if msg else name)


# ------------------------------------------------------------------------ the worker
def _worker(spec: dict, start: int, fd: int) -> None:
    """Runs in the forked worker: import the candidate, run checks from ``start``; never returns."""
    try:
        os.setpgid(0, 0)
        null = os.open(os.devnull, os.O_RDWR)
        os.dup2(null, 0)
        os.dup2(null, 1)
        os.dup2(null, 2)
        # nothing of this process's but its record pipe reaches candidate code (the runner's
        # descriptors included: e.g. the one on which it learns that this harness has finished)
        os.closerange(3, fd)
        os.closerange(fd + 1, 1 << 16)
        out = os.fdopen(fd, "w", buffering=1)

        def emit(rec):
            out.write(json.dumps(rec) + "\n")
            out.flush()

        names = spec["names"]
        tests_ns = {}
        if spec["mode"] == "tests":
            tests_ns = {"__name__": "selfgym_tests", "__builtins__": builtins}
            exec(LOADED["tests"], tests_ns)
        sys.path.insert(0, os.getcwd())  # the candidate may import its own files (this process only)
        emit({"k": "import"})
        try:
            cand_ns = {"__name__": "solution", "__builtins__": builtins}
            exec(compile(LOADED["solution"], "solution.py", "exec"), cand_ns)
            func = cand_ns.get(spec["entry_point"])
            if not callable(func):
                raise NameError(f"the solution does not define {spec['entry_point']}()")
        except BaseException as exc:  # noqa: BLE001
            emit({"k": "fatal", "error": "error while loading the solution: " + _exc_text(exc)})
            os._exit(3)
        for j in range(start, len(names)):
            emit({"k": "begin", "i": j})
            if spec["mode"] == "io":
                case = spec["cases"][j]
                emit(_call(func, j, decode(case.get("args", [])), decode(case.get("kwargs", {}))))
            else:
                calls = []

                def boundary(*args, **kwargs):
                    rec = _call(func, j, list(args), kwargs)
                    calls.append(rec)
                    emit(rec)
                    if "raise" in rec:
                        raise _rebuild(rec["raise"])
                    return decode(rec["ret"])

                try:
                    tests_ns[names[j]](boundary)
                except BaseException:  # noqa: BLE001 - the replay decides
                    pass
            emit({"k": "end", "i": j})
        os._exit(0)
    except BaseException:  # noqa: BLE001
        os._exit(4)


def _call(func, j: int, args: list, kwargs: dict) -> dict:
    rec = {"k": "call", "i": j, "args": encode(args, strict=False), "kwargs": encode(kwargs, strict=False)}
    try:
        ret = func(*args, **kwargs)
        rec["ret"] = encode(ret)
    except BaseException as exc:  # noqa: BLE001
        rec["raise"] = {"type": type(exc).__name__ if type(exc).__module__ == "builtins" else "Exception",
                        "msg": _short(_safe_str(exc))}
    try:
        rec["after"] = encode(args, strict=False)
    except BaseException:  # noqa: BLE001
        pass
    return rec


def _rebuild(info: dict) -> BaseException:
    cls = getattr(builtins, info.get("type", ""), None)
    if not (isinstance(cls, type) and issubclass(cls, Exception)):
        cls = RuntimeError
    try:
        return cls(info.get("msg", ""))
    except Exception:  # noqa: BLE001
        return RuntimeError(info.get("msg", ""))


# ------------------------------------------------------------------------ the harness
def _collect(spec: dict, start: int, deadline: float) -> tuple[list[dict], str]:
    """Fork a worker from ``start``; return its records and how it ended."""
    r, w = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        os.close(r)
        os.close(w)
        raise
    if pid == 0:
        os.close(r)
        _worker(spec, start, w)
    os.close(w)
    buf, size, ended = bytearray(), 0, "exit"
    sel = selectors.DefaultSelector()
    sel.register(r, selectors.EVENT_READ)
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            ended = "timeout"
            break
        if not sel.select(left):
            continue
        chunk = os.read(r, 65536)
        if not chunk:
            break
        size += len(chunk)
        buf += chunk
        if size > MAX_PIPE:
            ended = "output"
            break
    sel.close()
    for kill in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
        try:
            kill()
        except OSError:
            pass
    _, status = os.waitpid(pid, 0)
    os.close(r)
    if ended == "exit" and os.WIFSIGNALED(status):
        ended = f"killed by signal {os.WTERMSIG(status)}"
    elif ended == "exit" and os.WEXITSTATUS(status) not in (0, 3):
        ended = f"exited early with status {os.WEXITSTATUS(status)}"
    records = []
    for line in bytes(buf).split(b"\n"):
        try:
            rec = json.loads(line)
        except Exception:  # noqa: BLE001 - malformed, too deep (RecursionError), too big: not a record
            continue
        if isinstance(rec, dict):
            records.append(rec)
    return records, ended


def _clean_value(value):
    """A recorded value as the host may read it: re-encoded from its decoded form (exact types,
    depth at most 60), or raises (a forged or malformed record)."""
    return encode(decode(value))


def _gather(spec: dict, timeout_s: float) -> tuple[dict[int, list], dict[int, str], str | None]:
    """Run workers until every check has been tried: calls per check, failures per check."""
    n = len(spec["names"])
    deadline = time.monotonic() + timeout_s
    calls: dict[int, list] = {j: [] for j in range(n)}
    failed: dict[int, str] = {}
    fatal = None
    start = 0
    while start < n:
        try:
            records, ended = _collect(spec, start, deadline)
        except OSError as exc:  # e.g. the solution's processes fill the process limit
            why = _short(f"the checker could not start a worker for this check ({_exc_text(exc)}); "
                         "the solution used up a resource")
            for j in range(start, n):
                failed[j] = why
            break
        current, finished, begun = None, set(), set()
        for rec in records:
            k, j = rec.get("k"), rec.get("i")
            if k == "fatal":
                fatal = _short(rec.get("error", "error while loading the solution"))
            elif isinstance(j, int) and start <= j < n:
                if k == "begin" and (current is None or j > current):
                    current = j
                    begun.add(j)
                elif k == "call" and j == current:
                    calls[j].append(rec)
                elif k == "end" and j == current:
                    finished.add(j)
        if fatal:
            for j in range(start, n):
                failed[j] = fatal
            break
        if current is None:  # died or hung before its first check
            why = ("time limit reached" if ended == "timeout" else "the solution stopped before its first check"
                   if ended == "exit" else f"the solution {ended} before its first check")
            for j in range(start, n):
                failed[j] = why
            break
        for j in range(start, current):  # skipped (forged markers) or cut short
            if j not in finished:
                failed.setdefault(j, "check did not run" if j not in begun else "the solution stopped during this check")
        if current not in finished:
            failed[current] = ("time limit reached" if ended == "timeout"
                               else f"the solution {ended} during this check" if ended != "exit"
                               else "the solution stopped during this check")
            start = current + 1
            if ended == "timeout":
                for j in range(start, n):
                    failed[j] = "time limit reached"
                break
        else:
            start = current + 1
    return calls, failed, fatal


class _Replay:
    """Stands in for the candidate during replay: returns the recorded outputs in order."""

    def __init__(self, calls: list[dict]):
        self.calls = calls
        self.n = 0

    def __call__(self, *args, **kwargs):
        if self.n >= len(self.calls):
            raise AssertionError("the solution produced no result for this call (it stopped early)")
        rec = self.calls[self.n]
        self.n += 1
        if encode(list(args), strict=False) != rec.get("args") or encode(kwargs, strict=False) != rec.get("kwargs"):
            raise AssertionError("the recorded call does not match the test's call")
        if "after" in rec:
            for arg, after in zip(args, decode(rec["after"])):
                if type(arg) is list and type(after) is list:
                    arg[:] = after
                elif type(arg) is dict and type(after) is dict:
                    arg.clear()
                    arg.update(after)
        if "raise" in rec:
            raise _rebuild(rec["raise"])
        if "ret" not in rec:
            raise AssertionError("the solution's result could not be checked")
        return decode(rec["ret"])


def _replay_one(spec: dict, j: int, calls: list[dict], code) -> tuple[bool, str]:
    """Run test function ``j`` against the recorded calls (here: no candidate code runs here)."""
    try:
        ns = {"__name__": "selfgym_tests", "__builtins__": builtins}
        exec(code, ns)
        ns[spec["names"][j]](_Replay(calls))
        return True, ""
    except AssertionError as exc:
        return False, _short(f"AssertionError: {exc}" if str(exc) else "assertion failed" + _where(exc))
    except BaseException as exc:  # noqa: BLE001
        return False, _exc_text(exc)


def _where(exc: BaseException) -> str:
    tb = traceback.extract_tb(exc.__traceback__)
    lines = [f for f in tb if f.filename == "tests.py"]
    return f" at tests.py line {lines[-1].lineno}: {lines[-1].line}" if lines else ""


#: What the harness loaded before any task or candidate code ran (read once, never again).
LOADED: dict = {}


def _load() -> dict:
    """Read the job spec, the tests and the candidate; compile the tests. Runs before any task
    or candidate code, so a failure here is never the candidate's."""
    with open("job.json", "rb") as f:
        spec = json.loads(f.read())
    try:
        with open("solution.py", encoding="utf-8", errors="replace") as f:
            LOADED["solution"] = f.read()
    except (OSError, MemoryError) as exc:  # the candidate's own size: its failure, not ours
        LOADED["solution"] = ""
        LOADED["solution_error"] = _short(f"the solution could not be read: {_exc_text(exc)}")
    if spec["mode"] == "tests":
        with open("tests.py", encoding="utf-8") as f:
            source = f.read()
        import linecache

        linecache.cache["tests.py"] = (len(source), None, source.splitlines(True), "tests.py")
        try:
            LOADED["tests"] = compile(source, "tests.py", "exec")
        except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:  # the task's own fault
            LOADED["tests_error"] = _short(f"the test code does not compile: {_exc_text(exc)}")
    return spec


def _started() -> None:
    """Tell the runner that the harness is loaded (see the module doc); close that pipe."""
    fd = os.environ.pop("SELFGYM_START_FD", None)
    if fd is not None:
        try:
            os.write(int(fd), b"S")
        finally:
            os.close(int(fd))


def main() -> int:
    try:
        ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE 0: workers cannot attach to us
    except OSError:
        pass
    spec = _load()
    _started()
    if "tests_error" in LOADED or "solution_error" in LOADED:
        calls, fatal = {}, LOADED.get("tests_error") or LOADED["solution_error"]
        failed = {j: fatal for j in range(len(spec["names"]))}
    else:
        calls, failed, fatal = _gather(spec, float(spec["timeout_s"]))
    checks = []
    for j, name in enumerate(spec["names"]):
        if spec["mode"] == "io":
            rec = calls[j][-1] if calls[j] else None
            error, ret, has_ret = failed.get(j), None, bool(rec and "ret" in rec)
            if has_ret and error is None:
                try:
                    ret = _clean_value(rec["ret"])
                except Exception:  # noqa: BLE001 - RecursionError, MemoryError, bad tags
                    error, has_ret = "the solution's result could not be read", False
            raised = rec.get("raise") if rec else None
            if raised is not None and not (isinstance(raised, dict) and all(isinstance(v, str) for v in raised.values())):
                raised = {"type": "Exception", "msg": "(unreadable)"}
            checks.append({"name": name, "error": error, "ret": ret, "raise": raised, "has_ret": has_ret})
        elif j in failed:
            checks.append({"name": name, "passed": False, "message": failed[j]})
        else:
            ok, msg = _replay_one(spec, j, calls[j], LOADED["tests"])
            checks.append({"name": name, "passed": ok, "message": msg})
    sys.stdout.write(json.dumps({"selfgym_harness": 1, "checks": checks, "fatal": fatal}) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
