"""Sandbox latency and throughput: warm docker pool vs cold `docker run` per job vs bare subprocess.

Every variant does the same work: verify a trivial right solution against 3 assertion checks
with the project's harness (the same files, the same command). Measured in one run:

- ``docker pool``: ``run_tests`` on a warm DockerSandbox (the default backend);
- ``process pool``: ``run_tests`` on the process backend;
- ``docker run``: a fresh container per job (create, start, wait, logs, remove) with the same
  security options, files bind-mounted read-only: what a naive sandbox costs;
- ``fork-per-job floor``: one warm container (same image and options) whose server forks a
  child per job that writes the files and runs the precompiled harness; no zygote, no uid
  switch, no cleanup, no isolation between jobs: the floor any warm container design pays;
- ``bare subprocess``: ``python3 harness.py`` on the host with no isolation at all: the floor.
- ``reference``: ``python3 -c pass``, an interpreter start-up, to judge how loaded the machine is.

Latency is sequential (p50, p95 in ms); throughput is verdicts per second with ``--threads``
callers. The floor, the two pools and the cold ``docker run`` are measured interleaved
(latency in blocks of 10 back-to-back calls of each in turn, throughput in alternating
chunks), so their ratios hold under a load that moves during the run. Prints a Markdown table for docs/BENCHMARKS.md, the three goals (warm pool p50 at
most 1.5x the floor's, at least 500 verdicts/s, at least 60x faster than ``docker run``), and
for the floor and the warm pool the CPU a verdict costs in the containers and in this process
during the throughput part, with the rate that CPU allows on this machine's cores (a ceiling
no scheduling can beat; less sensitive to other load than wall-clock figures).

    python benchmarks/bench_sandbox.py            # about a minute on a 2-core VM
    python benchmarks/bench_sandbox.py --quick
    # also a docker pool whose containers run another runner.py (e.g. the code before a change),
    # interleaved with the rest:
    git show HEAD~1:verifiers/runner.py > /tmp/runner_before.py
    python benchmarks/bench_sandbox.py --compare-runner /tmp/runner_before.py
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

from selfgym.verifiers import get_sandbox
from selfgym.verifiers.checker import _harness, run_tests

SOLUTION = "def add(a, b):\n    return a + b\n"
TESTS = ("def test_ints(candidate):\n    assert candidate(1, 2) == 3\n\n"
         "def test_zero(candidate):\n    assert candidate(-1, 1) == 0\n\n"
         "def test_strings(candidate):\n    assert candidate('a', 'b') == 'ab'\n")
SPEC = {"mode": "tests", "names": ["test_ints", "test_zero", "test_strings"], "entry_point": "add", "timeout_s": 10.0}


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def host_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def container_cpu(ids: list[str]) -> float:
    """CPU seconds used so far by these containers (cgroup v1 cpuacct, or v2 cpu.stat); NaN if unknown."""
    total = 0.0
    for cid in ids:
        for path, scale in ((f"/sys/fs/cgroup/cpuacct/docker/{cid}/cpuacct.usage", 1e-9),
                            (f"/sys/fs/cgroup/system.slice/docker-{cid}.scope/cpu.stat", 1e-6)):
            try:
                with open(path) as f:
                    text = f.read()
            except OSError:
                continue
            total += (int(text) if text.strip().isdigit() else int(text.split()[1])) * scale
            break
        else:
            return math.nan
    return total


def measure(one, n_lat: int, n_tput: int, threads: int, containers=None) -> dict:
    """p50/p95 of sequential calls, then calls per second from ``threads`` callers; with
    ``containers`` (a function giving their ids), also the CPU each verdict cost in them and here."""
    one()  # warm-up
    lat = []
    for _ in range(n_lat):
        t = time.perf_counter()
        assert one(), "verification failed"
        lat.append(time.perf_counter() - t)
    ids = containers() if containers else []
    c0, h0 = (container_cpu(ids), host_cpu()) if containers else (0.0, 0.0)
    t = time.perf_counter()
    with ThreadPoolExecutor(threads) as ex:
        ok = list(ex.map(lambda _: one(), range(n_tput)))
    wall = time.perf_counter() - t
    assert all(ok)
    out = {"p50_ms": statistics.median(lat) * 1000, "p95_ms": pct(lat, 0.95) * 1000, "per_s": n_tput / wall,
           "n_lat": n_lat, "n_tput": n_tput}
    if containers:
        out["box_cpu_ms"] = (container_cpu(ids) - c0) / n_tput * 1000
        out["host_cpu_ms"] = (host_cpu() - h0) / n_tput * 1000
    return out


def measure_paired(variants: dict, n_lat: int, n_tput: int, threads: int, rounds: int = 6, block: int = 10) -> dict:
    """``measure`` for several variants at once, interleaved so that they see the same load
    (on a shared machine the load moves within a minute): the latency part runs blocks of
    ``block`` back-to-back calls of each variant in turn (in reversed order every other
    round), the throughput part ``rounds`` chunks of each in turn. ``variants``: name ->
    (one, containers or None, cold); a cold variant (a container per call) gets one latency
    call per round and no throughput part."""
    names = list(variants)
    for one, _, _ in variants.values():
        assert one(), "verification failed"  # warm-up
    lat: dict[str, list[float]] = {n: [] for n in names}
    for i in range(max(1, n_lat // block)):
        for name in names if i % 2 == 0 else names[::-1]:
            one, _, cold = variants[name]
            for _ in range(1 if cold else block):
                t = time.perf_counter()
                assert one(), f"{name}: verification failed"
                lat[name].append(time.perf_counter() - t)
    wall = dict.fromkeys(names, 0.0)
    done = dict.fromkeys(names, 0)
    box = dict.fromkeys(names, 0.0)
    here = dict.fromkeys(names, 0.0)
    chunk = max(1, n_tput // rounds)
    for r in range(rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            one, containers, cold = variants[name]
            if cold:
                continue
            ids = containers() if containers else []
            c0, h0 = container_cpu(ids), host_cpu()
            wall[name] += chunk / throughput(one, chunk, threads)
            done[name] += chunk
            if containers:
                box[name] += container_cpu(ids) - c0
                here[name] += host_cpu() - h0
    out = {}
    for name in names:
        row = {"p50_ms": statistics.median(lat[name]) * 1000, "p95_ms": pct(lat[name], 0.95) * 1000,
               "n_lat": len(lat[name]), "per_s": done[name] / wall[name] if done[name] else math.nan,
               "n_tput": done[name]}
        if variants[name][1] and done[name]:
            row["box_cpu_ms"] = box[name] / done[name] * 1000
            row["host_cpu_ms"] = here[name] / done[name] * 1000
        out[name] = row
    return out


def throughput(one, n: int, threads: int) -> float:
    t = time.perf_counter()
    with ThreadPoolExecutor(threads) as ex:
        ok = list(ex.map(lambda _: one(), range(n)))
    assert all(ok), "verification failed"
    return n / (time.perf_counter() - t)


def write_job(d: str) -> None:
    for name, text in (("harness.py", _harness()), ("solution.py", SOLUTION), ("tests.py", TESTS), ("job.json", json.dumps(SPEC))):
        with open(os.path.join(d, name), "w") as f:
            f.write(text)


def parse_ok(stdout: str) -> bool:
    line = [x for x in stdout.splitlines() if x.startswith('{"selfgym_harness"')][-1]
    return all(c["passed"] for c in json.loads(line)["checks"])


def bare_subprocess(jobdir: str):
    def one() -> bool:
        out = subprocess.run([sys.executable, "harness.py"], cwd=jobdir, capture_output=True, text=True).stdout
        return parse_ok(out)
    return one


def docker_run_per_job(jobdir: str):
    import socket

    from selfgym.verifiers.docker_backend import LABEL, START_LABEL, _start_time, client
    from selfgym.verifiers.image import IMAGE

    api = client().api
    labels = {LABEL: f"{socket.gethostname()}:{os.getpid()}", START_LABEL: str(_start_time(os.getpid()))}
    os.chmod(jobdir, 0o755)
    for f in os.listdir(jobdir):
        os.chmod(os.path.join(jobdir, f), 0o644)

    def one() -> bool:
        hc = api.create_host_config(network_mode="none", read_only=True, tmpfs={"/work": "size=64m"}, mem_limit="320m",
                                    memswap_limit="320m", nano_cpus=10**9, pids_limit=72, cap_drop=["ALL"],
                                    security_opt=["no-new-privileges"], binds={jobdir: {"bind": "/job", "mode": "ro"}})
        cid = api.create_container(IMAGE, command=["python3", "harness.py"], user="1000:1000", working_dir="/job", labels=labels,
                                   host_config=hc, network_disabled=True)["Id"]
        try:
            api.start(cid)
            api.wait(cid, timeout=60)
            return parse_ok(api.logs(cid, stdout=True, stderr=False).decode())
        finally:
            api.remove_container(cid, force=True)
    return one


FLOOR_SERVER = r"""
import json, os, socket, struct, sys
import base64, builtins, ctypes, linecache, math, selectors, signal, time, tokenize, traceback  # what the harness uses
src = open("/opt/selfgym/harness.py").read()
code = compile(src, "/opt/selfgym/harness.py", "exec")
conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
conn.connect("/run/selfgym/runner.sock")
def read(n):
    b = b""
    while len(b) < n:
        c = conn.recv(n - len(b))
        if not c:
            sys.exit(0)
        b += c
    return b
n = 0
while True:
    files = json.loads(read(struct.unpack(">I", read(4))[0]))
    n += 1
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        d = f"/work/j{n}"
        os.mkdir(d)
        os.chdir(d)
        for name, text in files.items():
            with open(name, "w") as f:
                f.write(text)
        os.dup2(w, 1)
        sys.stdout = open(1, "w", closefd=False)
        try:
            exec(code, {"__name__": "__main__", "__builtins__": __builtins__})
        finally:
            sys.stdout.flush()
            os._exit(0)
    os.close(w)
    out = b""
    while True:
        c = os.read(r, 65536)
        if not c:
            break
        out += c
    os.close(r)
    os.waitpid(pid, 0)
    conn.sendall(struct.pack(">I", len(out)) + out)
"""


def fork_floor():
    """One warm container running FLOOR_SERVER, talked to like the pool's runners."""
    import shutil
    import socket
    import struct
    import threading

    from selfgym.verifiers.docker_backend import HARNESS, LABEL, START_LABEL, _start_time, client
    from selfgym.verifiers.image import IMAGE

    api = client().api
    # owner labels, as the pool's: if this process dies, the next sandbox start removes it
    labels = {LABEL: f"{socket.gethostname()}:{os.getpid()}", START_LABEL: str(_start_time(os.getpid()))}
    d = tempfile.mkdtemp(prefix="selfgym-floor-")
    os.chmod(d, 0o755)
    path = os.path.join(d, "runner.sock")
    lst = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    lst.bind(path)
    os.chmod(path, 0o666)
    lst.listen(1)
    hc = api.create_host_config(network_mode="none", read_only=True, tmpfs={"/work": "rw,exec,size=64m,uid=1000,gid=1000"},
                                mem_limit="320m", memswap_limit="320m", nano_cpus=10**9, pids_limit=72, cap_drop=["ALL"],
                                security_opt=["no-new-privileges"],
                                binds={HARNESS: {"bind": "/opt/selfgym/harness.py", "mode": "ro"},
                                       d: {"bind": "/run/selfgym", "mode": "ro"}})
    cid = api.create_container(IMAGE, command=["python3", "-I", "-S", "-c", FLOOR_SERVER], user="1000:1000", labels=labels,
                               working_dir="/work", host_config=hc, network_disabled=True)["Id"]
    api.start(cid)
    conn, _ = lst.accept()
    lst.close()
    lock = threading.Lock()
    payload = json.dumps({"solution.py": SOLUTION, "tests.py": TESTS, "job.json": json.dumps(SPEC)}).encode()

    def recv(n: int) -> bytes:
        b = b""
        while len(b) < n:
            b += conn.recv(n - len(b))
        return b

    def one() -> bool:
        with lock:  # one server: jobs are serial, as in the measurement
            conn.sendall(struct.pack(">I", len(payload)) + payload)
            out = recv(struct.unpack(">I", recv(4))[0]).decode()
        return parse_ok(out)

    def close() -> None:
        conn.close()
        api.remove_container(cid, force=True)
        shutil.rmtree(d, ignore_errors=True)
    return one, close, lambda: [cid]


def pool_ids(sb) -> list[str]:
    from selfgym.verifiers.docker_backend import POOL_LABEL

    return [c["Id"] for c in sb.api.containers(filters={"label": f"{POOL_LABEL}={sb.pool_id}"})]


def pool(backend: str, pool_size: int):
    sb = get_sandbox(backend, pool_size=pool_size)
    sb.warm()
    time.sleep(3)

    def one() -> bool:
        return run_tests(SOLUTION, TESTS, entry_point="add", sandbox=sb).passed
    return one, sb


OTHER = "docker pool (warm), --compare-runner"


def pool_with_runner(runner: str, pool_size: int):
    """A warm docker pool whose containers run ``runner`` (a runner.py) instead of this package's."""
    from selfgym.verifiers import docker_backend

    ours, docker_backend.RUNNER = docker_backend.RUNNER, os.path.abspath(runner)
    try:
        sb = get_sandbox("docker", pool_size=pool_size)
        workers = [sb.pool.acquire() for _ in range(pool_size)]  # started now, with that runner
    finally:
        docker_backend.RUNNER = ours
    for w in workers:
        sb.pool.release(w)

    def one() -> bool:
        return run_tests(SOLUTION, TESTS, entry_point="add", sandbox=sb).passed
    return one, sb


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer jobs (a smoke run)")
    ap.add_argument("--threads", type=int, default=4, help="callers for the throughput part")
    ap.add_argument("--pool-size", type=int, default=2)
    ap.add_argument("--compare-runner", metavar="RUNNER_PY", default=None,
                    help="also measure a docker pool running this runner.py (e.g. the code before a change)")
    args = ap.parse_args()
    n_lat, n_tput, n_cold = (20, 40, 3) if args.quick else (200, 600, 15)  # cold latency: one call a round
    rows = {}
    with tempfile.TemporaryDirectory() as jobdir:
        write_job(jobdir)
        load0 = os.getloadavg()
        floor_one, floor_close, floor_ids = fork_floor()
        docker_one, docker_sb = pool("docker", args.pool_size)
        process_one, process_sb = pool("process", args.pool_size)
        cold_one = docker_run_per_job(jobdir)
        variants = {
            "fork-per-job floor (one warm container)": (floor_one, floor_ids, False),
            "docker pool (warm)": (docker_one, lambda: pool_ids(docker_sb), False),
            "process pool (warm)": (process_one, None, False),
            "docker run per job (cold)": (cold_one, None, True),
        }
        other_sb = None
        if args.compare_runner:
            other_one, other_sb = pool_with_runner(args.compare_runner, args.pool_size)
            variants[OTHER] = (other_one, lambda: pool_ids(other_sb), False)
        try:  # interleaved: the ratios compare figures taken under the same load
            rows.update(measure_paired(variants, n_lat, n_tput, args.threads))
        finally:
            floor_close()
            docker_sb.close()
            process_sb.close()
            if other_sb is not None:
                other_sb.close()
        rows["docker run per job (cold)"]["per_s"] = throughput(cold_one, n_cold * 2, 2)
        rows["bare subprocess (no isolation)"] = measure(bare_subprocess(jobdir), n_lat // 2, n_tput // 2, args.threads)
        rows["reference: python3 -c pass"] = measure(
            lambda: subprocess.run(["/usr/bin/python3", "-c", "pass"]).returncode == 0, n_lat // 2, n_tput // 2, args.threads)
    load = os.getloadavg()
    print(f"\nMachine: {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"load average (1 min) {load0[0]:.1f} at the start, {load[0]:.1f} at the end "
          f"(5 min: {load[1]:.1f}), {datetime.date.today()}")
    base = rows["docker pool (warm)"]
    print("\n| variant | p50 ms | p95 ms | verdicts/s | p50 vs warm pool |")
    print("|---|---:|---:|---:|---:|")
    for name, r in rows.items():
        print(f"| {name} | {r['p50_ms']:.1f} | {r['p95_ms']:.1f} | {r['per_s']:.1f} | {r['p50_ms'] / base['p50_ms']:.2f}x |")
    floor = rows["fork-per-job floor (one warm container)"]
    cold = rows["docker run per job (cold)"]
    goals = [("p50 <= 1.5x the fork-per-job floor", base["p50_ms"] / floor["p50_ms"], base["p50_ms"] <= 1.5 * floor["p50_ms"]),
             (">= 500 verdicts/s", base["per_s"], base["per_s"] >= 500),
             (">= 60x faster than docker run (p50)", cold["p50_ms"] / base["p50_ms"], cold["p50_ms"] >= 60 * base["p50_ms"])]
    print("\n| goal | measured | met |\n|---|---:|---|")
    for name, value, met in goals:
        print(f"| {name} | {value:.2f} | {'yes' if met else 'no'} |")
    if OTHER in rows:
        print(f"\nThe pool running {args.compare_runner}: p50 {rows[OTHER]['p50_ms'] / floor['p50_ms']:.2f}x the floor's")
    cores = os.cpu_count() or 1
    print(f"\nCPU per verdict during the throughput part (ceiling: {cores} cores / CPU per verdict)\n")
    print("| variant | in the container(s) ms | in this process ms | ceiling verdicts/s |\n|---|---:|---:|---:|")
    for name in ("fork-per-job floor (one warm container)", "docker pool (warm)", OTHER):
        if name not in rows:
            continue
        r = rows[name]
        per = r["box_cpu_ms"] + r["host_cpu_ms"]
        print(f"| {name} | {r['box_cpu_ms']:.2f} | {r['host_cpu_ms']:.2f} | {cores * 1000 / per:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
