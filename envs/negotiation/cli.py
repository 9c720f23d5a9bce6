"""``selfgym selfplay negotiation``: run a round of Deal-or-No-Deal self-play from the shell.

    selfgym selfplay negotiation --policy fair --games 200 --out runs/r0
    selfgym selfplay negotiation --policy model --model default --pool greedy,fair,runs/ckpt1 --out runs/r1

``--policy`` and each ``--pool`` entry is a scripted partner (greedy, fair, stubborn, random) or
a model: ``model`` uses ``--model``; any other entry is a backend spec (``default``,
``transformers:<path>``, ``llamacpp:<file.gguf>``, ``openai:<url>[#model]``) or a bare checkpoint
folder (``transformers``) or ``.gguf`` file. Models are served by ``selfgym.llm.make_backend`` and
played by ``selfgym.agents.llm.LLMAgent`` (imported only when asked for).
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from typing import Any

from selfgym.envs.negotiation.partners import PARTNERS, make_partner
from selfgym.envs.negotiation.rules import OBJECTIVE_ALIASES, OBJECTIVES, RULES

from selfgym.errors import ConfigError, DependencyError
from selfgym.types import to_jsonable


def backend_spec(model: str) -> str:
    """A ``selfgym.llm.make_backend`` spec for ``model``: specs pass through; a bare folder is a
    transformers checkpoint (a self-play snapshot); a bare ``.gguf`` file is served by llama.cpp."""
    kind = model.partition(":")[0]
    if model == "default" or (kind in ("llamacpp", "transformers", "openai", "vllm") and ":" in model):
        return model
    if model.endswith(".gguf"):
        return f"llamacpp:{model}"
    return f"transformers:{model}"


def llm_agent(model: str, sampling: Any = None, name: str | None = None, rules: str = "selfgym") -> Any:
    """An LLM policy for ``model`` (see ``backend_spec``), built by selfgym.agents.llm.LLMAgent
    with the negotiation template of ``rules`` (``selfgym.envs.negotiation.llm``)."""
    try:
        mod = importlib.import_module("selfgym.agents.llm")
    except ModuleNotFoundError as exc:
        if exc.name and "selfgym.agents.llm".startswith(exc.name):
            raise DependencyError("selfgym.agents.llm", "transformers", f"the model policy {model!r}") from exc
        raise
    from selfgym.envs.negotiation.llm import templates

    from selfgym.llm import make_backend

    return mod.LLMAgent(make_backend(backend_spec(model)), sampling=sampling, name=name or model,
                        templates=templates(rules))


def build_policy(spec: str, model: str = "default", seed: int = 0, sampling: Any = None, rules: str = "selfgym") -> Any:
    """A policy from a CLI spec: a scripted name, ``model`` (uses ``model``), or a model spec/path."""
    if spec in PARTNERS:
        return make_partner(spec, seed=seed)
    return llm_agent(model if spec == "model" else spec, sampling, rules=rules)


def _run(args: argparse.Namespace) -> int:
    from selfgym.envs.negotiation.runner import run_round

    from selfgym.llm import SamplingParams

    sampling = SamplingParams(temperature=args.temperature, max_tokens=args.max_tokens, seed=args.seed)
    try:
        policy = build_policy(args.policy, args.model, args.seed, sampling, args.rules)
        pool = [build_policy(s.strip(), args.model, args.seed + 1 + k, sampling, args.rules)
                for k, s in enumerate(args.pool.split(",")) if s.strip()] if args.pool else []
        if args.partner:
            pool = [build_policy(args.partner, args.model, args.seed + 1, sampling, args.rules)]
    except DependencyError as exc:
        print(f"selfgym selfplay negotiation: {exc}", file=sys.stderr)
        return 2
    try:
        result = run_round(policy, opponents=pool or None, games=args.games, seed=args.seed, objective=args.objective,
                           contexts=args.contexts, max_messages=args.max_messages, batch_size=args.batch_size,
                           out_dir=args.out, hf_dataset=not args.no_hf_dataset, rules=args.rules,
                           bc_filter=args.filter)
    except (ConfigError, DependencyError) as exc:
        print(f"selfgym selfplay negotiation: {exc}", file=sys.stderr)
        return 2
    s = result.summary
    report = {k: s[k] for k in REPORT if k in s}
    print(json.dumps(to_jsonable({"round": report, "summary": s, "files": result.files}), indent=2))
    if "league" in s:
        from selfgym.population import format_table

        print(format_table(s["league"]), file=sys.stderr)
    return 0


#: The per-round figures of lm-selfplay's analysis, printed first.
REPORT = ("games", "agreement_rate", "abort_rate", "score_mean", "score_median", "deal_score_mean",
          "deal_score_median", "dialogue_length", "pareto_rate_objective", "learner_reward", "bc_filter", "bc_examples")


def register_cli(sub: argparse._SubParsersAction) -> None:
    selfplay = sub.add_parser("selfplay", help="self-play runs between policies")
    games = selfplay.add_subparsers(dest="game", metavar="GAME", required=True)
    p = games.add_parser("negotiation", help="Deal or No Deal self-play; writes trajectories and a filtered BC dataset",
                         description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--policy", default="model",
                   help=f"scripted name ({', '.join(PARTNERS)}), 'model', or a model path (default: model)")
    p.add_argument("--model", default="default", help="the model behind 'model' (default: the packaged default model)")
    p.add_argument("--partner", default=None, help="a fixed partner instead of self-play (same forms as --policy)")
    p.add_argument("--pool", default=None,
                   help="comma-separated opponents (snapshots and scripted partners); one drawn per game by rating")
    p.add_argument("--games", type=int, default=100, help="games in the round (default: 100)")
    p.add_argument("--seed", type=int, default=0, help="game i uses seed+i for its context and starter")
    p.add_argument("--objective", default="semi_competitive", choices=list(OBJECTIVES) + sorted(OBJECTIVE_ALIASES))
    p.add_argument("--contexts", default=None,
                   help="an original-format contexts file such as selfplay.txt (default: the generator; "
                        "--rules lm-selfplay needs it or SELFGYM_NEGOTIATION_CONTEXTS)")
    p.add_argument("--rules", default="selfgym", choices=list(RULES),
                   help="rule set: selfgym's, or lm-selfplay's exact parsing, texts and prompts (default: selfgym)")
    p.add_argument("--filter", default=None, choices=["above_avg", "nonzero", "all", "per_seat_mean"],
                   help="behaviour-cloning filter: the paper's pooled mean (above_avg), nonzero, all, or selfgym's "
                        "per-seat mean (default: above_avg under --rules lm-selfplay, per_seat_mean under selfgym)")
    p.add_argument("--max-messages", type=int, default=50)
    p.add_argument("--temperature", type=float, default=1.0, help="model sampling temperature (default: 1.0)")
    p.add_argument("--max-tokens", type=int, default=200, help="most tokens per model output (default: 200)")
    p.add_argument("--batch-size", type=int, default=64, help="games played side by side (one act_batch per policy and turn)")
    p.add_argument("--out", default=None, help="output folder for trajectories, summary and the BC dataset")
    p.add_argument("--no-hf-dataset", action="store_true", help="skip writing the Hugging Face dataset folder")
    p.set_defaults(func=_run)
