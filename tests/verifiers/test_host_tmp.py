"""The process backend never empties the host's /tmp, /var/tmp or /dev/shm.

Those places are cleaned between jobs only where they belong to the runner alone: as a
container's init, or after the runner's own mount namespace put fresh tmpfs there. When the
namespaces cannot be made (an unprivileged container), they are the host's.
"""

from __future__ import annotations

import os
import tempfile

from selfgym.verifiers import get_sandbox


def test_process_jobs_leave_the_hosts_temporary_files_alone():
    keep = []
    for d in ("/tmp", "/dev/shm"):
        if os.path.isdir(d) and os.access(d, os.W_OK):
            fd, path = tempfile.mkstemp(prefix="selfgym-host-file-", dir=d)
            os.close(fd)
            keep.append(path)
    sb = get_sandbox("process")
    try:
        for _ in range(3):
            r = sb.run({"a.py": "import os\nopen('/tmp/mine', 'w').write('x')\nprint('ok')\n"}, ["python3", "a.py"])
            assert "ok" in r.stdout
    finally:
        sb.close()
    try:
        for path in keep:
            assert os.path.exists(path), f"a process-sandbox job removed the host's {path}"
    finally:
        for path in keep:
            if os.path.exists(path):
                os.unlink(path)


def test_a_runner_without_its_own_mount_namespace_never_cleans_the_hosts_places(tmp_path):
    """As root with a job uid but no namespaces (they can fail in an unprivileged container),
    the runner's cleanup covers its work directory only."""
    import signal

    from selfgym.verifiers import runner as runner_mod

    runner = runner_mod.Runner(str(tmp_path / "w"), user=os.getuid(), ipc_ns=False)
    try:
        host_places = {"/tmp", "/var/tmp", "/dev/shm"} & set(runner.cleanup_dirs)
        assert not host_places, f"the runner would empty the host's {sorted(host_places)} after each job"
        fd, path = tempfile.mkstemp(prefix="selfgym-host-file-", dir="/tmp")
        os.close(fd)
        try:
            runner._clean_files()
            assert os.path.exists(path)
        finally:
            if os.path.exists(path):
                os.unlink(path)
    finally:
        runner.zygote.ctl.close()
        try:
            os.kill(runner.zygote.pid, signal.SIGKILL)
            os.waitpid(runner.zygote.pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
