"""``selfgym sandbox build|status|gc``: make the sandbox image, see what the sandbox has, and
remove sandbox containers whose owner process is gone."""

from __future__ import annotations

import json


def register_cli(sub) -> None:
    p = sub.add_parser("sandbox", help="build the sandbox image or show the sandbox's state")
    s = p.add_subparsers(dest="sandbox_command", metavar="ACTION")
    b = s.add_parser("build", help="build the sandbox image (skipped when it exists)")
    b.add_argument("--force", action="store_true", help="rebuild even when the image exists")
    b.add_argument("--offline", action="store_true", help="skip the registry; build from Debian packages")
    b.set_defaults(func=_build)
    st = s.add_parser("status", help="report the engine, the image and the sandbox containers")
    st.add_argument("--json", action="store_true", help="print JSON instead of a table")
    st.add_argument("--probe", action="store_true", help="also run one job through a fresh pool")
    st.set_defaults(func=_status)
    g = s.add_parser("gc", help="remove sandbox containers whose owner process is gone (any state)")
    g.add_argument("--all", action="store_true",
                   help="remove every selfgym sandbox container, also those of running processes")
    g.set_defaults(func=_gc)
    p.set_defaults(func=lambda args: p.print_help() or 2)


def _build(args) -> int:
    from selfgym.errors import SandboxError
    from selfgym.verifiers import image

    try:
        how = image.build(force=args.force, offline=True if args.offline else None)
    except SandboxError as exc:
        print(f"error: {exc}")
        return 1
    print(f"{image.IMAGE}: {how}")
    return 0


def _gc(args) -> int:
    from selfgym.errors import SandboxError

    try:
        from selfgym.verifiers.docker_backend import LABEL, client, remove_stale_containers

        c = client()
        removed = remove_stale_containers(c, everything=args.all)
        left = len(c.api.containers(all=True, filters={"label": LABEL}))
    except SandboxError as exc:
        print(f"error: {exc}")
        return 1
    print(f"removed {removed} sandbox container(s); {left} left (owned by running processes)")
    return 0


def status() -> dict:
    """Everything `selfgym sandbox status` shows, as a dict."""
    from selfgym.errors import SandboxError
    from selfgym.verifiers import ENV_VAR, docker_available
    from selfgym.verifiers.image import IMAGE, LABEL

    import os

    out: dict = {"backend_setting": os.environ.get(ENV_VAR, "auto")}
    try:
        from selfgym.verifiers.docker_backend import LABEL as OWNER, client

        c = client()
        info = c.info()
        out["engine"] = {"up": True, "version": c.version().get("Version"), "cgroup_driver": info.get("CgroupDriver"),
                         "cgroup_version": info.get("CgroupVersion"), "runtime": info.get("DefaultRuntime")}
        try:
            img = c.images.get(IMAGE)
            out["image"] = {"name": IMAGE, "present": True, "id": img.short_id, "label": (img.labels or {}).get(LABEL),
                            "size_mb": round(img.attrs.get("Size", 0) / 1e6, 1), "created": img.attrs.get("Created")}
        except Exception:  # noqa: BLE001
            out["image"] = {"name": IMAGE, "present": False, "fix": "selfgym sandbox build"}
        conts = c.api.containers(all=True, filters={"label": OWNER})
        owners: dict = {}
        for x in conts:
            owners.setdefault((x.get("Labels") or {}).get(OWNER, "?"), []).append(x.get("State"))
        out["containers"] = {"total": len(conts), "by_owner": {k: len(v) for k, v in owners.items()}}
    except SandboxError as exc:
        out["engine"] = {"up": False, "error": str(exc)}
    ok, why = docker_available()
    out["auto_picks"] = "docker" if ok else f"process ({why})"
    return out


def _status(args) -> int:
    data = status()
    if getattr(args, "probe", False):
        import time

        from selfgym.verifiers import get_sandbox

        try:
            sb = get_sandbox(data["backend_setting"], pool_size=1)
            t0 = time.perf_counter()
            res = sb.run({"probe.py": "print('ok')"}, ["python3", "probe.py"])
            data["probe"] = {"backend": sb.name, "stdout": res.stdout.strip(), "cold_s": round(time.perf_counter() - t0, 3),
                             "pool": sb.pool.stats()}
            sb.close()
        except Exception as exc:  # noqa: BLE001
            data["probe"] = {"error": str(exc)}
    if args.json:
        print(json.dumps(data, indent=2))
        return 0 if data["engine"].get("up") else 1
    from rich.console import Console
    from rich.table import Table

    table = Table(title="selfgym sandbox", show_header=False)
    table.add_column("part", style="bold")
    table.add_column("state")
    for key, value in data.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items())
        table.add_row(key, str(value))
    Console(width=140).print(table)
    return 0 if data["engine"].get("up") else 1
