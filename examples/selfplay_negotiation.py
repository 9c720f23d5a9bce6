"""Negotiation self-play training: filtered behaviour cloning on the policy's own games.

    python examples/selfplay_negotiation.py --rounds 3 --selfplay-games 32 --pool-games 32
    python examples/selfplay_negotiation.py --paper --contexts selfplay.txt --rounds 5 --selfplay-games 300
    python examples/selfplay_negotiation.py --model /models/Qwen2.5-1.5B-Instruct --rounds 5 --selfplay-games 256

One policy (the default model, or ``--model``) plays Deal or No Deal. Each round it plays
``selfplay_games`` games against itself (both seats) and ``pool_games`` against a partner pool
(earlier snapshots of itself plus fixed scripted partners); keeps, per seat, the games that
scored above that seat's mean over the round (Liao, Tomlin and Klein, 2024); trains on them
for one short epoch with TRL's SFTTrainer (loss on its own turns); saves a snapshot that joins
the pool. Games are sampled from the current weights each round. ``out/log.jsonl`` holds one
line per round: agreement rate, mean score per seat, joint score, Pareto-optimal share,
invalid outputs, the BC set and the training step's effect on the weights.

``--eval-games N`` measures the loop: before training and after every round the policy plays
``N`` games, decoding greedily, against one fixed scripted partner (``--eval-partner``, never
trained) on held-out contexts; training games then use only contexts of the other half of the
context space (split by a hash of the context id), so no evaluation context is ever trained on.
It prints the agreement rate with its 95% Wilson interval, the policy's mean score with its 95%
bootstrap interval, and the paired bootstrap interval of each change against the first
evaluation, and writes ``out/metrics.json`` and ``out/heldout.png``. ``--bc-filter deals`` keeps
the policy's seats that reached a valid deal and scored above the round's pooled mean.

    python examples/selfplay_negotiation.py --rounds 2 --eval-games 64 --selfplay-games 8 --pool-games 56 \
        --scripted-partners fair --pool-snapshots 0 --bc-filter deals --max-messages 8 --max-tokens 24

``--paper`` runs the paper's own loop in lm-selfplay's exact mode: every round is pure self-play
(no pool), under lm-selfplay's rules, texts and whole-history prompts, on contexts drawn from the
original ``selfplay.txt`` (``--contexts`` or ``SELFGYM_NEGOTIATION_CONTEXTS``; the file is not
part of selfgym), 50 messages and 200 tokens per output at temperature 1; the games whose seat
reward is strictly above the round's pooled mean (plus tied deals under the competitive
objective) are cloned; and each round logs the paper's metrics: agreement rate, abort rate,
mean and median score, dialogue length and the Pareto-optimal share under the objective.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from dataclasses import dataclass


@dataclass
class Args:
    model: str = "default"
    """a local transformers folder, or 'default' for the converted default model"""
    rounds: int = 2
    """self-play rounds (play, filter, train, snapshot)"""
    selfplay_games: int = 16
    """games per round with the policy in both seats"""
    pool_games: int = 16
    """games per round against the partner pool (the policy alternates seats)"""
    scripted_partners: str = "fair,greedy"
    """comma-separated fixed partners in the pool (fair, greedy, stubborn, random; empty for none)"""
    pool_snapshots: int = 2
    """how many of the latest snapshots play in the pool"""
    objective: str = "semi_competitive"
    """semi_competitive, cooperative or competitive"""
    max_messages: int = 12
    """accepted outputs per game before the game is capped (no score)"""
    max_tokens: int = 48
    """tokens per model output"""
    temperature: float = 1.0
    """sampling temperature while playing"""
    batch_size: int = 64
    """games played side by side (one generate call per policy and turn)"""
    learning_rate: float = 1e-5
    """SFT learning rate"""
    sft_epochs: float = 1.0
    """epochs over each round's BC set"""
    sft_batch_size: int = 4
    """dialogues per SFT step"""
    max_length: int = 1024
    """tokens per dialogue in SFT (longer ones are cut)"""
    warmup_games: int = 0
    """games between two scripted players cloned (same filter) before round 0; teaches a small model the format"""
    warmup_partner: str = "fair"
    """the scripted player of the warm-up games"""
    rules: str = "selfgym"
    """game rules: selfgym's, or lm-selfplay's exact parsing, texts and prompts (lm-selfplay)"""
    contexts: str = ""
    """an original-format contexts file (selfplay.txt); empty: SELFGYM_NEGOTIATION_CONTEXTS under
    lm-selfplay, else the generator"""
    bc_filter: str = ""
    """above_avg (the paper's pooled mean), nonzero, all, per_seat_mean, or deals (above_avg and a valid deal);
    empty: the rules' default"""
    max_invalid: int = 5
    """rejected outputs in a row that abort a game (runs with --eval-games; otherwise 5)"""
    eval_games: int = 0
    """held-out games against --eval-partner before training and after every round (0: no evaluation)"""
    eval_partner: str = "fair"
    """the fixed scripted partner of the evaluation (fair, greedy, stubborn, random)"""
    eval_base: bool = True
    """with --warmup-games, also evaluate the untrained model (else the first evaluation follows the warm-up)"""
    eval_seed: int = 777
    """seed of the held-out contexts and games (the same before and after every round)"""
    paper: bool = False
    """the paper's loop in exact mode: --rules lm-selfplay, pure self-play, 50 messages, 200 tokens, temperature 1"""
    seed: int = 0
    """seed for contexts, sampling and training"""
    threads: int = 1
    """torch CPU threads (0: torch's default; on a busy CPU one thread is much faster than several)"""
    out: str = "runs/selfplay_negotiation"
    """folder for log.jsonl, the rounds' games and BC sets, and snapshots/"""



def parse_args(argv: list[str] | None = None) -> Args:
    from selfgym.integrations.args import parse_dataclass

    return parse_dataclass(Args, argv, description=__doc__)


def main(argv: list[str] | None = None) -> list[dict]:
    args = parse_args(argv)
    if args.paper:  # lm-selfplay's loop: self-play only, its rules and filter, and its budgets unless given
        args.rules, args.pool_games, args.pool_snapshots, args.scripted_partners = "lm-selfplay", 0, 0, ""
        given = set(argv if argv is not None else sys.argv[1:])
        for flag, field, value in (("--max-messages", "max_messages", 50), ("--max-tokens", "max_tokens", 200),
                                   ("--temperature", "temperature", 1.0)):
            if not any(a == flag or a.startswith(flag + "=") for a in given):
                setattr(args, field, value)
        args.bc_filter = args.bc_filter or "above_avg"
    if args.rules == "lm-selfplay" and not args.contexts and not os.environ.get("SELFGYM_NEGOTIATION_CONTEXTS"):
        raise SystemExit("--rules lm-selfplay (and --paper) draw contexts from the original selfplay.txt: "
                         "pass --contexts <path> or set SELFGYM_NEGOTIATION_CONTEXTS")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    from selfgym.agents.llm import LLMAgent
    from selfgym.envs.negotiation.llm import templates
    from selfgym.envs.negotiation.partners import make_partner
    from selfgym.envs.negotiation.runner import RoundResult, filter_for_bc, summarize_round, write_round
    from selfgym.integrations import negotiation_bc as nbc
    from selfgym.integrations.selfplay import (
        PartnerPool,
        Policy,
        RoundGames,
        bc_summary,
        learner_metrics,
        play_round,
        round_metrics,
        sft_on_examples,
    )
    from selfgym.llm import SamplingParams

    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    started, loads = time.time(), [os.getloadavg()[0]]
    # No per-call seed: one would restart the generator at every turn, so a rejected output's retry
    # would draw the same tokens again. torch.manual_seed above makes the whole run reproducible.
    sampling = SamplingParams(temperature=args.temperature, max_tokens=args.max_tokens)
    policy = Policy.load(args.model, sampling=sampling, rules=args.rules)
    contexts = args.contexts or None
    deals_only = args.bc_filter == "deals"
    game = {"rules": args.rules, "contexts": contexts, "bc_filter": None if deals_only else (args.bc_filter or None)}
    measured = args.eval_games > 0
    if measured and contexts:
        raise SystemExit("--eval-games splits the generator's context space into training and held-out halves; "
                         "it does not combine with --contexts (a file) or --paper")
    env_kwargs = {"objective": args.objective, "max_messages": args.max_messages, "rules": args.rules,
                  "max_invalid": args.max_invalid}
    pool = PartnerPool([s for s in args.scripted_partners.split(",") if s.strip()], max_snapshots=args.pool_snapshots,
                       sampling=sampling, seed=args.seed)
    os.makedirs(args.out, exist_ok=True)
    log_path = os.path.join(args.out, "log.jsonl")
    open(log_path, "w").close()
    rows: list[dict] = []
    nan = float("nan")

    def clone_and_snapshot(tag: str, games, row: dict) -> dict:
        """Write the games, clone the BC set with SFT, save a snapshot into the pool; log the row."""
        round_dir = os.path.join(args.out, tag)
        summary = summarize_round(games.records, bc_filter=game["bc_filter"])
        if deals_only:  # the summary counts the set actually cloned
            summary.update(bc_examples=len(games.bc_examples), bc_filter="deals")
        write_round(RoundResult(games.records, summary, games.bc_examples), round_dir, hf_dataset=False)
        if measured:
            row["train_contexts"] = sorted({r.task_id for r in games.records})
        row.update(selfplay=round_metrics(games.selfplay), vs_pool=round_metrics(games.vs_pool),
                   learner=learner_metrics(games.records), bc=bc_summary(games.bc_examples))
        if games.bc_examples:
            before, t1 = policy.parameters_copy(), time.time()
            row["sft"] = sft_on_examples(policy, games.bc_examples, output_dir=os.path.join(round_dir, "sft"),
                                         epochs=args.sft_epochs, learning_rate=args.learning_rate,
                                         batch_size=args.sft_batch_size, max_length=args.max_length, seed=args.seed)
            row["sft"].update(weights=policy.weight_change(before), seconds=round(time.time() - t1, 1))
            row["snapshot"] = policy.save_snapshot(os.path.join(args.out, "snapshots", tag))
            pool.add_snapshot(row["snapshot"])
        else:
            row.update(sft=None, snapshot=None,
                       note="no game scored above the filter's cutoff (no deals): nothing to imitate, no training")
        if measured:  # the held-out evaluation of the weights this round produced
            t2 = time.time()
            result = evaluate(tag)
            row["eval"] = {k: v for k, v in result.items() if k != "per_game"}
            row["eval"]["seconds"] = round(time.time() - t2, 1)
            if evals:
                row["change"] = nbc.compare(evals[0], result)
            if start is not None:  # against the warmed-up model the self-play rounds start from
                row["change_from_warmup"] = nbc.compare(start, result)
            evals.append(result)
        rows.append(row)
        with open(log_path, "a") as f:
            f.write(json.dumps(row) + "\n")
        sp, lr, sft = row["selfplay"], row["learner"], row["sft"]
        print(f"{tag}: self-play agreement {sp.get('agreement_rate', nan):.2f} abort {sp.get('abort_rate', nan):.2f} "
              f"score mean {sp.get('score_mean', nan):.2f} median {sp.get('score_median', nan):.1f} "
              f"length {sp.get('dialogue_length', nan):.1f} pareto {sp.get('pareto_rate_objective', nan):.2f} "
              f"(raw-point deals {sp.get('pareto_rate', nan):.2f}) "
              f"scores {sp.get('score_0', nan):.2f}/{sp.get('score_1', nan):.2f} joint {sp.get('joint_score', nan):.2f} "
              f"invalid {sp.get('invalid_outputs', nan):.2f} | "
              f"vs pool agreement {row['vs_pool'].get('agreement_rate', nan):.2f} | learner score {lr['score']:.2f} | "
              f"bc {row['bc']['examples']} | "
              + (f"sft loss {sft['train_loss']:.3f}, {sft['weights']['tensors_changed']} tensors changed" if sft
                 else "no training"), flush=True)
        if measured:
            print(f"{tag}: " + eval_line(evals[-1])
                  + (" | " + change_line(row["change"], evals[0]["label"]) if "change" in row else ""), flush=True)
            if "change_from_warmup" in row:
                print(f"{tag}: " + change_line(row["change_from_warmup"], "warmup"), flush=True)
            write_metrics()
        return row

    def bc_examples(records):
        return nbc.deal_filter(records) if deals_only else filter_for_bc(records, game["bc_filter"])

    def play(agent, rnd_seed: int, opponents, selfplay_games: int, pool_games: int):
        """One round's training games: on training contexts only when the run is measured."""
        if not measured:
            games = play_round(agent, opponents, selfplay_games=selfplay_games, pool_games=pool_games,
                               seed=rnd_seed, objective=args.objective, max_messages=args.max_messages,
                               batch_size=args.batch_size, **game)
            return RoundGames(games.records, games.selfplay, games.vs_pool, bc_examples(games.records))
        tasks = nbc.draw_tasks(selfplay_games + pool_games, seed=rnd_seed, split="train")
        records = nbc.play_training_games(agent, opponents, selfplay_games=selfplay_games,
                                          partner_games=pool_games, tasks=tasks, seed=rnd_seed,
                                          env_kwargs=env_kwargs, batch_size=args.batch_size)
        return RoundGames(records, records[:selfplay_games], records[selfplay_games:], bc_examples(records))

    # The held-out evaluation: greedy, the same games (contexts, seeds, seats, partner) every time.
    evals: list[dict] = []
    eval_tasks = nbc.draw_tasks(args.eval_games, seed=args.eval_seed, split="heldout") if measured else []
    greedy = LLMAgent(policy.backend, sampling=SamplingParams(temperature=0.0, max_tokens=args.max_tokens),
                      templates=templates(args.rules), name="policy-greedy")

    def evaluate(label: str) -> dict:
        policy.eval_mode()
        partner = make_partner(args.eval_partner, seed=args.eval_seed)  # fresh: a seeded partner repeats itself
        result = nbc.evaluate(greedy, partner, eval_tasks, seed=args.eval_seed, env_kwargs=env_kwargs,
                              batch_size=args.batch_size, out_dir=os.path.join(args.out, f"eval_{label}"))
        return {"label": label, **result}

    def eval_line(e: dict) -> str:
        lo, hi = e["agreement_ci"]
        slo, shi = e["score_ci"]
        return (f"held-out vs {args.eval_partner}: agreement {e['agreement_rate']:.1%} "
                f"({e['agreements']}/{e['games']}) "
                f"[{lo:.1%}, {hi:.1%}], score {e['score_mean']:.2f} [{slo:.2f}, {shi:.2f}], "
                f"invalid outputs {e['invalid_outputs_mean']:.2f}, outcomes {e['outcomes']}")

    def change_line(c: dict, ref: str) -> str:
        a, s_ = c["agreement_change_ci"], c["score_change_ci"]
        return (f"change vs {ref}: agreement {c['agreement_change']:+.1%} [{a[0]:+.1%}, {a[1]:+.1%}], "
                f"score {c['score_change']:+.2f} [{s_[0]:+.2f}, {s_[1]:+.2f}] (paired bootstrap 95%)")

    def write_metrics() -> None:
        loads.append(os.getloadavg()[0])
        metrics = {"args": vars(args), "eval_partner": args.eval_partner, "eval_games": args.eval_games,
                   "eval_contexts": [t.id for t in eval_tasks], "eval": evals,
                   "changes": [r.get("change") for r in rows if "change" in r],
                   "changes_from_warmup": [r["change_from_warmup"] for r in rows if "change_from_warmup" in r],
                   "rounds": [{k: r.get(k) for k in ("round", "bc", "sft", "vs_pool", "selfplay", "learner",
                                                      "play_seconds", "train_contexts")} for r in rows],
                   "wall_seconds": round(time.time() - started, 1), "load_average_1min": loads,
                   "machine": {"platform": platform.platform(), "python": platform.python_version(),
                               "cpus": os.cpu_count(), "torch": torch.__version__,
                               "torch_threads": torch.get_num_threads()}}
        with open(os.path.join(args.out, "metrics.json"), "w") as f:
            json.dump(nbc.finite(metrics), f, indent=1, allow_nan=False)
        nbc.plot(metrics, os.path.join(args.out, "heldout.png"))

    start = None  # the warm-up's evaluation, once there is one
    if measured and (args.eval_base or not args.warmup_games):
        t0 = time.time()
        evals.append(evaluate("before"))
        evals[0]["seconds"] = round(time.time() - t0, 1)
        print("before: " + eval_line(evals[0]), flush=True)
        write_metrics()

    # 0. Optional warm-up: clone the above-mean games of two scripted players (teaches the format).
    if args.warmup_games:
        demos = play(make_partner(args.warmup_partner, seed=args.seed), args.seed + 900_000, [], args.warmup_games, 0)
        clone_and_snapshot("warmup", demos, {"round": "warmup", "players": args.warmup_partner, "pool": []})
        start = evals[-1] if measured else None

    for rnd in range(args.rounds):
        t0 = time.time()
        # 1. Play: self-play and pool games side by side, sampled from the current weights.
        opponents = pool.agents()
        policy.eval_mode()
        games = play(policy.agent, args.seed + 100_000 * rnd, opponents, args.selfplay_games,
                     args.pool_games if opponents else 0)
        # 2-3. Filtered behaviour cloning on the games above each seat's round mean, then a snapshot.
        clone_and_snapshot(f"round_{rnd}", games, {"round": rnd, "rules": args.rules, "pool": pool.names(),
                                                   "play_seconds": round(time.time() - t0, 1)})
    return rows


if __name__ == "__main__":
    main()
