"""rules="lm-selfplay": outcomes, scores, dialogue lengths and training logs agree with an
independent re-statement of lm-selfplay's game loop (players.py / games/negotiation.py of
nickatomlin/lm-selfplay) on games played from the original contexts with raw, messy outputs."""

from __future__ import annotations

import random
import re

import pytest

from selfgym.envs.negotiation import env as negotiation
from selfgym.envs.negotiation import prompts, rules
from selfgym.envs.negotiation.contexts import load_contexts, to_task
from selfgym.errors import ConfigError

SYSTEM = "system"


# ---------------------------------------------------------------- the reference, restated
def _post(raw: str) -> str:
    text = raw.strip()
    if "[END]" in text:
        text = text.split("[END]")[0].strip()
    elif "[end]" in text:
        text = text.split("[end]")[0].strip()
    if text.strip().startswith("[propose]"):
        text = text.split("\n")[0]
    return text


def _valid(text: str, counts, log_len: int, deal_proposed: bool) -> bool:
    s = text.strip()
    if s.startswith("[propose]"):
        if log_len == 1:
            return False
        body = text.split("[propose]")[-1].strip()
        i_book, i_hat, i_ball = body.find("book"), body.find("hat"), body.find("ball")
        if not -1 < i_book < i_hat < i_ball:
            return False
        q = [int(x) for x in re.findall(r"\d+", body)]
        return len(q) == 3 and all(0 <= x <= n for x, n in zip(q, counts, strict=False))
    if s.startswith("[message]"):
        if "[message]" in text[10:] or "[propose]" in text[10:]:
            return False
        return not deal_proposed
    return False


def reference_game(ctx, objective: str, starter: int, streams, notice: str):
    """lm-selfplay's loop: returns (scores, valid deal, message count, aborted, logs per seat)."""
    counts = ctx.counts
    logs = [[(SYSTEM, "")], [(SYSTEM, "")]]
    messages, proposals = [], [None, None]
    deal_proposed, over, turn = False, False, starter
    while not over:
        text = _post(next(streams[turn]))
        errors = 0
        while not _valid(text, counts, len(logs[turn]), deal_proposed):
            errors += 1
            if errors >= 5:
                text = "[ABORT]"
                break
            text = _post(next(streams[turn]))
        messages.append(text.strip())
        if text.strip() == "[ABORT]":
            over = True
        if text.strip().startswith("[propose]"):
            proposals[turn] = tuple(int(x) for x in re.findall(r"\d+", text)[:3])
            if deal_proposed:
                over = True
            deal_proposed = True
            other_sees = notice
        else:
            other_sees = text.strip()
        logs[turn].append(("assistant", text.strip()))
        logs[1 - turn].append(("user", other_sees))
        if len(messages) >= 50:
            over = True
        turn = 1 - turn
    valid = all(p is not None for p in proposals) and all(
        a + b == n for a, b, n in zip(*proposals, counts, strict=True))
    if not valid:
        scores = [0, 0]
    else:
        s0 = rules.score(ctx.values[0], proposals[0])
        s1 = rules.score(ctx.values[1], proposals[1])
        scores = {"semi_competitive": [s0, s1], "cooperative": [s0 + s1] * 2,
                  "competitive": [s0 - s1, s1 - s0]}[objective]
    return scores, valid, len(messages), "[ABORT]" in messages, logs


# ---------------------------------------------------------------- messy raw outputs
def raw_stream(rng: random.Random, counts, target):
    """Endless raw outputs for one seat: valid and invalid forms, [END] cuts, case, extra lines."""
    b, _, l_ = counts

    def keep():
        if rng.random() < 0.6:
            return target
        return tuple(rng.randint(0, n + (1 if rng.random() < 0.1 else 0)) for n in counts)

    def proposal():
        k = keep()
        forms = [
            f"[propose] ({k[0]} books, {k[1]} hats, {k[2]} balls)",
            f"[propose] ({k[0]} books, {k[1]} hats, {k[2]} balls) [END]",
            f"  [propose] ({k[0]} books, {k[1]} hats, {k[2]} balls)\n[message] deal?",
            f"[propose] ({k[0]} Books, {k[1]} hats, {k[2]} balls)",
            f"[propose] ({k[0]} books, {k[1]} hats, {k[2]} balls) [message] ok?",
            f"[propose] [propose] ({k[0]} books, {k[1]} hats, {k[2]} balls)",
            f"[propose] {b} [propose] ({k[0]} books, {k[1]} hats, {k[2]} balls)",
            f"[propose] ({k[1]} hats, {k[0]} books, {k[2]} balls)",
            f"[propose] ({k[0]} books, {k[1]} hats)",
            f"[Propose] ({k[0]} books, {k[1]} hats, {k[2]} balls)",
            f"[propose] ({k[0]} books, {k[1]} hats, {k[2]} balls, 1 extra)",
            f"I accept. [propose] ({k[0]} books, {k[1]} hats, {k[2]} balls)",
            f"[propose] (x books, y hats, z balls)[end] then ({k[0]}, {k[1]}, {k[2]})",
        ]
        return rng.choice(forms)

    def message():
        forms = [
            "[message] I would like the books. [END]",
            "[message] How about we split evenly?",
            "[message] Let's talk.\nI value hats.[END] ignored tail",
            "[message][message] hi",
            "[message] [message] hi",
            "[message] I will [propose] soon",
            "[MESSAGE] hello",
            "Sure, let's split.",
            "[message] ok [end] more [END]",
            "   [message] spaced out   ",
            "[END][message] empty first",
            f"[message] I want ({b} books, 0 hats, {l_} balls)",
        ]
        return rng.choice(forms)

    while True:
        yield proposal() if rng.random() < 0.35 else message()


# ---------------------------------------------------------------- the comparison
def play_env(e, task, starter, streams):
    e.reset(options={"task": task, "starter": starter})
    for agent in e.agent_iter():
        _, _, term, trunc, _ = e.last()
        e.step(None if term or trunc else next(streams[int(agent[-1])]))
    return e


@pytest.mark.parametrize("objective", ["semi_competitive", "cooperative", "competitive"])
def test_outcomes_match_lm_selfplay_on_original_contexts(original_file, objective):
    contexts = load_contexts(original_file)
    e = negotiation.env(rules="lm-selfplay", objective=objective, contexts=original_file)
    lenient = negotiation.env(objective=objective, contexts=original_file)
    mismatches, differs_from_selfgym, deals, aborts, caps = [], 0, 0, 0, 0
    games = 700
    for g in range(games):
        rng = random.Random(g)
        ctx = contexts[rng.randrange(len(contexts) - 1)]
        starter = rng.randrange(2)
        target = tuple(rng.randint(0, n) for n in ctx.counts)
        targets = (target, tuple(n - t for n, t in zip(ctx.counts, target, strict=False)))
        seeds = (rng.random(), rng.random())

        def streams(seeds=seeds, ctx=ctx, targets=targets):
            return [raw_stream(random.Random(seeds[s]), ctx.counts, targets[s]) for s in (0, 1)]

        want_scores, want_valid, want_len, want_abort, want_logs = reference_game(
            ctx, objective, starter, streams(), prompts.LM_SELFPLAY_PROPOSAL_NOTICE)
        task = to_task(ctx)
        play_env(e, task, starter, streams())
        d = e.dialogue
        got = metrics_of(d)
        clean = [[(msg["role"], msg["content"] if msg["role"] != SYSTEM else "") for msg in d.clean[s]] for s in (0, 1)]
        want = (list(map(float, want_scores)), want_valid, want_len, want_abort, want_logs)
        if (got["rewards"], got["agreement"], got["turns"], got["aborted"], clean) != want:
            mismatches.append((g, got, want[:4]))
        deals += want_valid
        aborts += want_abort
        caps += want_len >= 50 and not want_abort
        play_env(lenient, task, starter, streams())
        differs_from_selfgym += metrics_of(lenient.dialogue)["rewards"] != got["rewards"]
    assert not mismatches, f"{len(mismatches)} of {games} games differ from lm-selfplay, first: {mismatches[:3]}"
    # The games exercise deals, no-deals and aborts, and selfgym's own rules decide many differently.
    assert deals > games * 0.1 and aborts > 0 and games - deals - aborts > 0
    assert differs_from_selfgym > games * 0.1


def metrics_of(d):
    from selfgym.envs.negotiation.metrics import game_metrics

    return game_metrics(d)


def test_exact_parsing_cases(ctx):
    counts = ctx.counts  # 1 book, 1 hat, 3 balls
    parse = rules.parse_output_lm_selfplay

    def kind(text, must=False, first=False):
        return parse(text, counts, must_propose=must, first_move=first).kind

    assert kind("[propose] (1 Books, 0 hats, 2 balls)") == rules.INVALID  # case-sensitive item words
    assert kind("[propose] (1 books, 0 hats, 2 balls)\nThanks!") == rules.PROPOSE  # first line only
    assert kind("[propose] (1 books, 0 hats, 2 balls) [message] ok?") == rules.PROPOSE  # tags checked only in messages
    assert kind("[message][message] hi") == rules.MESSAGE  # the check starts at the eleventh character
    assert kind("[message] a [message] b") == rules.INVALID
    assert kind("[message] hi [END] [propose] (1 books, 0 hats, 2 balls)") == rules.MESSAGE  # cut at [END]
    assert kind("hello [message] hi") == rules.INVALID  # strict prefix
    assert kind("[message] hi", must=True) == rules.INVALID
    assert kind("[propose] (0 books, 0 hats, 1 balls)", first=True) == rules.INVALID
    p = parse("[propose] 1 [propose] (0 books, 1 hats, 2 balls)", counts, must_propose=False, first_move=False)
    assert p.kind == rules.PROPOSE and p.proposal == (1, 0, 1)  # counts come from the whole output
    assert rules.postprocess_lm_selfplay("  [message] a [end] b [END] c ") == "[message] a [end] b"


def test_abort_is_a_message_and_prompts_keep_everything(ctx):
    e = negotiation.env(rules="lm-selfplay", contexts=[ctx])
    e.reset(seed=0, options={"starter": 0})
    assert e.infos["player_0"]["messages"] == [{"role": "system", "content": e.dialogue.briefs[0]}]  # no opening line
    assert "[END]" in e.dialogue.briefs[0] and "10 points" not in e.dialogue.briefs[0]
    e.step("[message] hi [END] trailing")
    e.step("[message] hello")
    for k in range(5):
        e.step(f"oops {k}")
    d = e.dialogue
    assert d.game.outcome == rules.ABORTED and d.game.messages[-1] == (0, "[ABORT]")
    assert e.infos["player_1"]["metrics"]["turns"] == 3 and e.infos["player_1"]["metrics"]["aborted"]
    assert d.clean[1][-1] == {"role": "user", "content": "[ABORT]"}
    assert d.clean[0][1] == {"role": "assistant", "content": "[message] hi"}
    # The prompt keeps every rejected attempt and its error: the whole history.
    assert [m["content"] for m in d.chats[0] if m["role"] == "assistant"][-2:] == ["oops 4", "[ABORT]"]


def test_exact_mode_needs_the_original_contexts(monkeypatch, original_file):
    monkeypatch.delenv("SELFGYM_NEGOTIATION_CONTEXTS", raising=False)
    with pytest.raises(ConfigError, match="selfplay.txt"):
        negotiation.env(rules="lm-selfplay")
    monkeypatch.setenv("SELFGYM_NEGOTIATION_CONTEXTS", str(original_file))
    e = negotiation.env(rules="lm-selfplay")
    assert len(e.contexts) == 4086 and e._drawn == 4085  # lm-selfplay's randint(0, 4085)
    e.reset(seed=3)
    assert e.infos["player_0"]["rules"] == "lm-selfplay"
    with pytest.raises(ConfigError, match="rules must be one of"):
        negotiation.env(rules="lm_selfplay")


def test_exact_template_is_strict_and_keeps_the_whole_history(ctx):
    from selfgym.envs.negotiation.llm import ExactTemplate, LenientTemplate, template

    e = negotiation.env(rules="lm-selfplay", contexts=[ctx])
    e.reset(seed=0, options={"starter": 0})
    for k in range(40):
        e.step(f"[message] {'long message ' * 20} {k}")
    info = e.infos[e.agent_selection]
    t = template("lm-selfplay")
    assert isinstance(t, ExactTemplate) and t.chat(None, info) == info["messages"]  # nothing dropped
    assert t.extract("Sure, here is my offer", info) == "Sure, here is my offer"  # no tag invented
    assert LenientTemplate().extract("Sure", info) == "[message] Sure"
    assert len(LenientTemplate().chat(None, info)) < len(info["messages"])
    from selfgym.agents.prompts import template_for

    assert isinstance(template_for(info), ExactTemplate), "an LLMAgent picks the env's template by itself"
    lenient = negotiation.env(contexts=[ctx])
    lenient.reset(seed=0)
    assert isinstance(template_for(lenient.infos["player_0"]), LenientTemplate)


def _pareto_restated(ctx, objective, r0, r1):
    """lm-selfplay's analysis: is (r0, r1) dominated by any split's objective scores?"""
    for k in rules.allocations(ctx.counts):
        rest = [n - x for n, x in zip(ctx.counts, k, strict=False)]
        s0, s1 = rules.score(ctx.values[0], k), rules.score(ctx.values[1], rest)
        n0, n1 = {"semi_competitive": (s0, s1), "cooperative": (s0 + s1, s0 + s1),
                  "competitive": (s0 - s1, s1 - s0)}[objective]
        if n0 >= r0 and n1 >= r1 and (n0 > r0 or n1 > r1):
            return False
    return True


@pytest.mark.parametrize("objective", ["semi_competitive", "cooperative", "competitive"])
def test_pareto_under_the_objective_over_all_games(objective):
    from selfgym.envs.negotiation.metrics import summarize
    from selfgym.envs.negotiation.partners import RandomPartner
    from selfgym.envs.negotiation.runner import run_round

    result = run_round(RandomPartner(seed=0), games=150, seed=0, objective=objective)
    games = [r.metrics for r in result.records]
    for r in result.records:
        ctx = _context_of(r.task_id)
        want = _pareto_restated(ctx, objective, *r.metrics["rewards"])
        assert r.metrics["pareto_optimal_objective"] == want
        if objective == "competitive":
            assert want, "zero-sum: no split dominates any outcome, a no-deal game included"
        elif not r.metrics["agreement"]:
            assert not want
    s = summarize(games)
    pooled = sorted(x for g in games for x in g["rewards"])
    assert s["score_mean"] == pytest.approx(sum(pooled) / len(pooled))
    assert s["score_median"] == pytest.approx((pooled[len(pooled) // 2 - 1] + pooled[len(pooled) // 2]) / 2)
    assert s["pareto_rate_objective"] == pytest.approx(sum(g["pareto_optimal_objective"] for g in games) / len(games))
    assert s["abort_rate"] == sum(g["outcome"] == "aborted" for g in games) / len(games)
    assert s["dialogue_length"] == pytest.approx(sum(g["turns"] for g in games) / len(games))


def _context_of(task_id):
    pattern = r"negotiation/c(\d+)-(\d+)-(\d+)/a(\d+)-(\d+)-(\d+)/b(\d+)-(\d+)-(\d+)$"
    n = [int(x) for x in re.match(pattern, task_id).groups()]
    return rules.Context.of(n[0:3], n[3:6], n[6:9])
