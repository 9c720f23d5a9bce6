"""Self-play runs with scripted policies: trajectories per seat, token ids, the filtered BC
dataset (JSON lines and a Hugging Face dataset), pool mode and the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from selfgym.envs.negotiation import prompts
from selfgym.envs.negotiation.cli import backend_spec, llm_agent
from selfgym.envs.negotiation.partners import FairPartner, GreedyPartner, RandomPartner, StubbornPartner
from selfgym.envs.negotiation.runner import filter_for_bc, run_round, to_hf_dataset

from selfgym.cli import main
from selfgym.llm import Completion
from selfgym.types import Episode, load_jsonl


class Clumsy(FairPartner):
    """Plays like the fair partner but sends one malformed output before each accepted one."""

    name = "clumsy"

    def act(self, observation, info):
        if "action_error" not in info:
            return "let me think about it"
        return super().act(observation, info)


class Tokenising(FairPartner):
    """A fair player that reports completions with token ids, as an LLM agent does."""

    name = "tokenising"

    def __init__(self):
        self.batches = []

    def act_batch(self, observations, infos):
        actions = [self.act(o, i) for o, i in zip(observations, infos, strict=False)]
        self.batches.append(len(actions))
        self.last_completions = [Completion(a, token_ids=[len(a), 1, 2], logprobs=[-0.5, -0.1, -0.2], prompt_token_ids=[7])
                                 for a in actions]
        return actions


def test_self_play_round_files_and_trajectories(tmp_path):
    result = run_round(FairPartner(), games=30, seed=5, out_dir=tmp_path, batch_size=8)
    files = result.files
    summary = json.loads(open(files["summary"]).read())
    assert summary["games"] == 30 and 0.5 < summary["agreement_rate"] <= 1.0
    for seat in (0, 1):
        episodes = load_jsonl(files[f"trajectories_player_{seat}"], Episode)
        assert len(episodes) == 30
        for ep, rec in zip(episodes, result.records, strict=False):
            assert ep.steps and ep.metadata["seat"] == seat and ep.agent == "fair"
            assert ep.steps[-1].reward == rec.metrics["rewards"][seat] == ep.total_reward
            assert ep.steps[-1].terminated or ep.steps[-1].truncated
    games = load_jsonl(files["games"])
    assert [g["index"] for g in games] == list(range(30))
    # Same seed, same games.
    again = run_round(FairPartner(), games=30, seed=5, batch_size=3)
    assert [r.metrics for r in again.records] == [r.metrics for r in result.records]


def test_bc_filters_follow_lm_selfplay(tmp_path):
    result = run_round(Clumsy(), games=40, seed=1, out_dir=tmp_path, bc_filter="above_avg")
    records = result.records
    assert all(sum(r.metrics["invalid_outputs"]) > 0 for r in records)
    assert filter_for_bc(records) == filter_for_bc(records, "per_seat_mean"), "selfgym's rules keep selfgym's filter"
    pooled = np.mean([r.metrics["rewards"][s] for r in records for s in (0, 1)])
    kept = [(e["seat"], e["game"]) for e in result.bc_examples]
    # One cutoff for both seats (strictly above), seat 0's games listed first, as lm-selfplay writes them.
    assert kept == [(s, r.index) for s in (0, 1) for r in records if r.metrics["rewards"][s] > pooled]
    assert 0 < len(kept) < 2 * len(records) and all(e["cutoff"] == pooled for e in result.bc_examples)
    nonzero = filter_for_bc(records, "nonzero")
    assert len(nonzero) == sum(r.metrics["rewards"][s] > 0 for r in records for s in (0, 1)) > len(kept)
    assert len(filter_for_bc(records, "all")) == 2 * len(records)
    for seat in (0, 1):  # selfgym's earlier filter: a mean per seat
        mean = np.mean([r.metrics["rewards"][seat] for r in records])
        mine = {e["game"] for e in filter_for_bc(records, "per_seat_mean") if e["seat"] == seat}
        assert mine == {r.index for r in records if r.metrics["rewards"][seat] > mean}
    with pytest.raises(Exception, match="filter must be one of"):
        filter_for_bc(records, "above_mean")
    for ex in result.bc_examples:
        roles = [m["role"] for m in ex["messages"]]
        assert roles[0] == "system" and roles[-1] == "assistant"
        texts = [m["content"] for m in ex["messages"]]
        assert "let me think about it" not in texts, "rejected outputs stay out of the BC data"
        assert not any(t.startswith(prompts.ERROR_PREFIX) for t in texts)
    # The trajectories keep the rejected outputs with their errors.
    steps = records[0].episodes[0].steps + records[0].episodes[1].steps
    assert any(s.action == "let me think about it" and "action_error" in s.info for s in steps)
    assert load_jsonl(result.files["bc"]) == json.loads(json.dumps(result.bc_examples))


def test_competitive_ties_are_kept():
    result = run_round(FairPartner(), games=60, seed=4, objective="competitive", bc_filter="above_avg")
    ties = {r.index for r in result.records if r.metrics["agreement"] and r.metrics["rewards"] == [0.0, 0.0]}
    no_deal = {r.index for r in result.records if not r.metrics["agreement"]}
    assert ties and no_deal
    kept = {e["game"] for e in result.bc_examples}
    assert ties <= kept and not (no_deal & kept), "a tied deal is kept, a no-deal game (also 0) is not"
    for e in filter_for_bc(result.records, "nonzero"):
        r = result.records[e["game"]]
        assert r.metrics["rewards"][e["seat"]] > 0 or r.index in ties


def test_bc_dataset_is_conversational_for_sft(tmp_path):
    import datasets
    from trl.data_utils import is_conversational

    result = run_round(FairPartner(), games=20, seed=2, out_dir=tmp_path)
    ds = datasets.load_from_disk(result.files["bc_dataset"])
    assert len(ds) == len(result.bc_examples) > 0
    assert is_conversational(ds[0])
    assert ds[0]["messages"] == result.bc_examples[0]["messages"]
    empty = to_hf_dataset([])
    assert len(empty) == 0 and "messages" in empty.column_names


def test_token_ids_travel_per_seat_and_movers_are_batched():
    policy = Tokenising()
    result = run_round(policy, games=16, seed=0, batch_size=16)
    assert max(policy.batches) > 1, "movers sharing a policy are asked in one act_batch"
    for rec in result.records:
        for ep in rec.episodes:
            for step in ep.steps:
                assert step.token_ids == [len(step.action), 1, 2]
                assert step.logprobs == [-0.5, -0.1, -0.2] and step.prompt_token_ids == [7]
    plain = run_round(FairPartner(), games=2, seed=0)
    assert plain.records[0].episodes[0].steps[0].token_ids is None


def test_pool_mode_alternates_seats_and_trains_only_the_policy():
    pool = [GreedyPartner(), StubbornPartner(), RandomPartner(seed=3)]
    result = run_round(FairPartner(), opponents=pool, games=24, seed=9)
    opponents = set()
    for rec in result.records:
        seat = 0 if rec.index % 2 == 0 else 1
        assert rec.policies[seat] == "fair" and rec.trainable == ((True, False) if seat == 0 else (False, True))
        opponents.add(rec.policies[1 - seat])
    assert opponents == {"greedy", "stubborn", "random"}
    assert all(r.trainable[e["seat"]] and r.policies[e["seat"]] == "fair"
               for e in result.bc_examples for r in [result.records[e["game"]]])
    assert result.summary["learner"] == "fair"


def test_filter_of_a_round_where_nobody_scores_is_empty():
    result = run_round(StubbornPartner(), games=4, seed=0, max_messages=6)
    assert all(r.metrics["outcome"] == "cap" for r in result.records)
    assert filter_for_bc(result.records) == [] and result.summary["agreement_rate"] == 0.0


def test_cli_runs_a_round_with_scripted_policies(tmp_path, capsys):
    rc = main(["selfplay", "negotiation", "--policy", "fair", "--pool", "greedy,random", "--games", "6",
               "--objective", "coop", "--out", str(tmp_path), "--no-hf-dataset"])
    assert rc == 0
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert out["summary"]["games"] == 6 and out["summary"]["learner"] == "fair"
    for key in ("agreement_rate", "abort_rate", "score_mean", "score_median", "dialogue_length", "pareto_rate_objective"):
        assert key in out["round"], key
    table = out["summary"]["league"]
    assert [r["name"] for r in table if r["kind"] == "learner"] == ["fair"]
    assert sum(r["games"] for r in table if r["kind"] != "learner") == 6 and "| rank | name |" in captured.err
    assert (tmp_path / "trajectories_player_0.jsonl").is_file() and (tmp_path / "bc.jsonl").is_file()
    assert not (tmp_path / "bc_dataset").exists()
    games = load_jsonl(tmp_path / "games.jsonl")
    assert all(g["metrics"]["objective"] == "cooperative" for g in games)


def test_cli_model_specs_map_to_backends():
    assert backend_spec("default") == "default"
    assert backend_spec("openai:http://127.0.0.1:8000#m") == "openai:http://127.0.0.1:8000#m"
    assert backend_spec("runs/ckpt1") == "transformers:runs/ckpt1"
    assert backend_spec("/models/x.gguf") == "llamacpp:/models/x.gguf"


@pytest.mark.model
def test_default_model_self_play_records_token_ids(tmp_path):
    from selfgym.llm import SamplingParams

    agent = llm_agent("default", SamplingParams(temperature=1.0, max_tokens=32, seed=0))
    result = run_round(agent, games=2, seed=0, max_messages=2, out_dir=tmp_path, hf_dataset=False)
    assert agent.calls >= 2 and all(len(c.token_ids) > 0 for c in agent.last_completions)
    steps = [s for r in result.records for ep in r.episodes for s in ep.steps]
    assert steps and all(s.token_ids and s.prompt_token_ids for s in steps)
    assert all(len(s.logprobs) == len(s.token_ids) for s in steps if s.logprobs)
    assert {r.metrics["outcome"] for r in result.records} <= {"deal", "no_deal", "aborted", "cap"}
    episodes = load_jsonl(tmp_path / "trajectories_player_0.jsonl", Episode)
    assert episodes[0].steps[0].token_ids == result.records[0].episodes[0].steps[0].token_ids
