"""Fix variants (A/B), simulated with the engine's own assignment and winner test: how often the
better variant wins, how often equal variants produce a false winner, how many outcomes a decision
takes, and how much traffic the worse variant costs — against two baselines measured in the same
run: naive peeking (p < 0.05 after every 10 outcomes) and a fixed 50/50 split.

    .venv/bin/python benchmarks/bench_experiments.py [--runs 100]

Pure Python, no database.
"""

import argparse
import random
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from selfheal.engine import experiments as ex  # noqa: E402

MIN_TRIALS = 30
CHECK_EVERY = 10
LIMIT = 1500


def run(seed: int, rates: dict[str, float], policy: str) -> tuple[str | None, int, int]:
    """(winner or None, outcomes used, outcomes given to the worse arm)."""
    rng, nature = random.Random(seed), random.Random(seed + 1_000_003)
    counts = {label: [0, 0] for label in rates}
    worse = min(rates, key=rates.get)
    looks, spent_on_worse = 0, 0
    for n in range(1, LIMIT + 1):
        arms = [ex.Arm(label, s, t) for label, (s, t) in counts.items()]
        if policy == "split":
            label = ex.choose_variant(arms, rng, allocation=ex.FIXED,
                                      shares={k: 1 / len(rates) for k in rates})  # fmt: skip
        else:
            label = ex.choose_variant(arms, rng, min_trials=ex.next_look_size(looks, MIN_TRIALS))
        counts[label][0] += nature.random() < rates[label]
        counts[label][1] += 1
        spent_on_worse += label == worse and rates[worse] < max(rates.values())
        if n % CHECK_EVERY:
            continue
        arms = [ex.Arm(label, s, t) for label, (s, t) in counts.items()]
        if policy == "naive":
            if min(a.trials for a in arms) >= MIN_TRIALS:
                decision = ex.decide_winner(arms, min_trials=MIN_TRIALS, max_looks=1)
                if decision.winner:
                    return decision.winner, n, spent_on_worse
            continue
        decision = ex.decide_winner(arms, min_trials=MIN_TRIALS, looks_done=looks)
        looks = decision.look
        if decision.winner or decision.final:
            return decision.winner, n, spent_on_worse
    return None, LIMIT, spent_on_worse


def report(name: str, rates: dict[str, float], runs: int) -> None:
    best = max(rates, key=rates.get) if len(set(rates.values())) > 1 else None
    print(f"\n{name}: true rates {rates}")
    print(f"  {'policy':<34} {'right':>6} {'wrong':>6} {'none':>6} {'median n':>9} {'to worse':>9}")
    for policy, label in [("ours", "Thompson + looks at 30/60/120/240"),
                          ("naive", "Thompson + naive peeking"),
                          ("split", "50/50 split + looks")]:  # fmt: skip
        results = [run(seed, rates, policy) for seed in range(runs)]
        right = sum(1 for w, _, _ in results if best and w == best)
        wrong = sum(1 for w, _, _ in results if w is not None and w != best)
        none = sum(1 for w, _, _ in results if w is None)
        median = statistics.median(n for _, n, _ in results)
        worse = statistics.mean(spent / n for _, n, spent in results) if best else 0.0
        print(f"  {label:<34} {right / runs:>6.1%} {wrong / runs:>6.1%} {none / runs:>6.1%} "
              f"{median:>9.0f} {worse:>9.1%}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=100)
    runs = parser.parse_args().runs
    report("Clear difference", {"A": 0.6, "B": 0.8}, runs)
    report("Small difference", {"A": 0.7, "B": 0.8}, runs)
    report("Equal variants (any winner is false)", {"A": 0.7, "B": 0.7}, runs)


if __name__ == "__main__":
    main()
