"""The sandbox image: ``selfgym-sandbox:<version>``, a Python with a non-root user ``sandbox``.

Two ways to build it, tried in order:

1. From ``python:3.12-slim`` when a registry answers (adds the user, sets the label).
2. Offline from Debian packages: ``debootstrap --variant=minbase --include=python3`` into a
   scratch directory (``python3``, not ``python3-minimal``, which lacks ``json``), trimmed,
   with the ``sandbox`` user appended to /etc/passwd and /etc/group, tarred into
   ``~/.cache/selfgym/`` and ``docker import``-ed. The tarball is kept, so a rebuild (or a
   second machine sharing the cache) takes seconds.

``build`` is idempotent: it does nothing when an image with the right label exists.
The runner script is not baked in: containers mount it read-only from this package.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from typing import Callable

from selfgym.errors import SandboxError

IMAGE_VERSION = "1"
IMAGE = f"selfgym-sandbox:{IMAGE_VERSION}"
LABEL = "org.selfgym.sandbox"
BASE_IMAGE = "python:3.12-slim"
SANDBOX_UID = 1000
CACHE_DIR = os.path.join(os.path.expanduser("~"), ".cache", "selfgym")
TRIM = ("usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/locale", "var/cache/apt",
        "var/lib/apt/lists", "var/cache/debconf", "usr/share/common-licenses")


def image_exists(client, image: str = IMAGE) -> bool:
    """True when ``image`` exists and carries our label with the current version."""
    import docker

    try:
        img = client.images.get(image)
    except docker.errors.ImageNotFound:
        return False
    except docker.errors.APIError as exc:
        raise SandboxError(f"cannot inspect image {image}: {exc}") from exc
    return (img.labels or {}).get(LABEL) == IMAGE_VERSION


def build(client=None, force: bool = False, offline: bool | None = None, log: Callable[[str], None] = print) -> str:
    """Build the image unless it exists; returns how (``"exists"``, ``"registry"``, ``"debootstrap"``)."""
    if client is None:
        from selfgym.verifiers.docker_backend import client as get_client

        client = get_client()
    if not force and image_exists(client):
        log(f"{IMAGE} already exists (label {LABEL}={IMAGE_VERSION}); nothing to do")
        return "exists"
    if offline is not True:
        try:
            _build_from_registry(client, log)
            return "registry"
        except Exception as exc:
            if offline is False:
                raise SandboxError(f"cannot build {IMAGE} from {BASE_IMAGE}: {exc}") from exc
            log(f"registry unavailable ({str(exc).splitlines()[0][:120]}); building offline with debootstrap")
    _build_offline(client, log)
    return "debootstrap"


def _build_from_registry(client, log) -> None:
    import io

    t0 = time.time()
    client.images.pull(BASE_IMAGE)
    dockerfile = (f"FROM {BASE_IMAGE}\n"
                  f"RUN useradd --uid {SANDBOX_UID} --user-group --no-create-home --home-dir /work sandbox "
                  "&& mkdir -p /work /opt/selfgym\n"
                  f'LABEL {LABEL}="{IMAGE_VERSION}"\nUSER {SANDBOX_UID}:{SANDBOX_UID}\nWORKDIR /work\n')
    client.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=IMAGE, network_mode="none", rm=True)
    log(f"built {IMAGE} from {BASE_IMAGE} in {time.time() - t0:.0f}s")


def _debian_release() -> tuple[str, str]:
    suite, mirror = "bookworm", os.environ.get("SELFGYM_DEBIAN_MIRROR", "")
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("VERSION_CODENAME="):
                    suite = line.split("=", 1)[1].strip().strip('"') or suite
    except OSError:
        pass
    if not mirror:
        mirror = "http://deb.debian.org/debian"
        for path in ("/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list"):
            try:
                with open(path) as f:
                    for line in f:
                        words = line.split()
                        if words[:1] == ["URIs:"] and "security" not in words[1]:
                            mirror = words[1]
                            break
                        if words[:1] == ["deb"] and len(words) > 2 and "security" not in words[1]:
                            mirror = words[1] if not words[1].startswith("[") else words[2]
                            break
            except OSError:
                continue
            break
    return suite, mirror


def rootfs_tarball(log: Callable[[str], None] = print) -> str:
    """The cached root filesystem tarball, made with debootstrap when missing."""
    suite, mirror = _debian_release()
    path = os.path.join(CACHE_DIR, f"rootfs-{suite}-python3-v{IMAGE_VERSION}.tar")
    if os.path.exists(path):
        log(f"using cached root filesystem {path}")
        return path
    if shutil.which("debootstrap") is None:
        raise SandboxError("no registry answered and debootstrap is not installed; "
                           "install it (apt-get install debootstrap) or give the engine registry access")
    if os.geteuid() != 0:
        raise SandboxError("the offline image build runs debootstrap, which needs root; run `selfgym sandbox build` as root")
    os.makedirs(CACHE_DIR, exist_ok=True)
    t0 = time.time()
    with tempfile.TemporaryDirectory(prefix="selfgym-rootfs-") as tmp:
        root = os.path.join(tmp, "root")
        log(f"debootstrap {suite} (minbase + python3) from {mirror}; this takes about a minute")
        proc = subprocess.run(["debootstrap", "--variant=minbase", "--include=python3", suite, root, mirror],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise SandboxError(f"debootstrap failed ({proc.returncode}): {proc.stderr.strip()[-500:] or proc.stdout[-500:]}")
        for rel in TRIM:
            shutil.rmtree(os.path.join(root, rel), ignore_errors=True)
        with open(os.path.join(root, "etc/passwd"), "a") as f:
            f.write(f"sandbox:x:{SANDBOX_UID}:{SANDBOX_UID}:selfgym sandbox:/work:/usr/sbin/nologin\n")
        with open(os.path.join(root, "etc/group"), "a") as f:
            f.write(f"sandbox:x:{SANDBOX_UID}:\n")
        for d in ("work", "opt/selfgym"):
            os.makedirs(os.path.join(root, d), exist_ok=True)
        partial = path + ".partial"
        subprocess.run(["tar", "-C", root, "--numeric-owner", "-cf", partial, "."], check=True)
        os.replace(partial, path)
    log(f"root filesystem ready in {time.time() - t0:.0f}s: {path}")
    return path


def _build_offline(client, log) -> None:
    tar = rootfs_tarball(log)
    t0 = time.time()
    changes = [f"LABEL {LABEL}={IMAGE_VERSION}", f"USER {SANDBOX_UID}:{SANDBOX_UID}", "WORKDIR /work",
               "ENV PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8", 'CMD ["python3"]']
    repo, tag = IMAGE.split(":")
    try:
        client.api.import_image_from_file(tar, repository=repo, tag=tag, changes=changes)
    except Exception as exc:
        raise SandboxError(f"docker import of {tar} failed: {exc}") from exc
    if not image_exists(client):
        raise SandboxError(f"docker import finished but {IMAGE} with label {LABEL}={IMAGE_VERSION} is not there")
    log(f"imported {IMAGE} in {time.time() - t0:.0f}s")
