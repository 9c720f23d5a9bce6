"""``selfgym serve-env`` and ``selfgym verifier-serve``: the servers behind the executors.

    selfgym serve-env selfgym/ToolUse-v0 --port 8011 --max-sessions 16     # OpenEnv protocol
    selfgym verifier-serve --port 8700 --token-file ~/.selfgym-token       # shared sandboxes

Both bind loopback unless ``--host`` says otherwise. The parsers are here so that ``selfgym``
lists them without importing openenv-core, FastAPI or Ray.
"""

from __future__ import annotations

import json


def register_cli(sub) -> None:
    p = sub.add_parser("serve-env", help="serve a selfgym id over OpenEnv's protocol (WebSocket /ws)")
    p.add_argument("env_id", metavar="ENV_ID")
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default: loopback only)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--max-sessions", type=int, default=8, help="concurrent sessions (one env each)")
    p.add_argument("--session-timeout", type=float, default=None, help="close sessions idle this many seconds")
    p.add_argument("--env-kwargs", default="{}", help="JSON kwargs for gymnasium.make")
    p.set_defaults(func=_serve_env)

    from selfgym.verifiers.service import register_cli as register_verifier

    register_verifier(sub)


def _serve_env(args) -> int:
    import uvicorn

    from selfgym.serve_env import make_app

    app = make_app(args.env_id, json.loads(args.env_kwargs), max_sessions=args.max_sessions,
                   session_timeout_s=args.session_timeout)
    print(f"serving {args.env_id} over OpenEnv's protocol at ws://{args.host}:{args.port}/ws", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", ws_max_size=100 * 2**20)
    return 0
