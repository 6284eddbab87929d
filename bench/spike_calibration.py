"""Is the spike test's p-value what it says? Its rate on incident-free traffic, window by window.

    .venv/bin/python bench/spike_calibration.py                      # simulator A, seed 0, ~5 min on one core
    .venv/bin/python bench/spike_calibration.py --sim B --seed 1

Runs the real spike test (``Spike().evaluate``, the baseline refitted as the engine does) on random ticks of the
test month of the benchmark's incident-free traffic (bench/_alert_sim.py), on streams of at least 30 expected
events an hour, and counts how often each p-value falls below a level. For a calibrated test the share below ``a`` is
``a``: the table prints share / a, so 1.00 is calibrated, below 1 conservative (the test claims less surprise than
the traffic gives: power left unused), above 1 liberal (false alarms beyond the level). Per window of the ladder the
p-value is the window's own tail; "verdict" is the Bonferroni-corrected p-value the test decides on. Ordinary days
and holidays (simulator B's, when every rate rises 10% and the baseline knows no holiday) are counted apart. Levels
where fewer than 5 evaluations are expected are not printed: the count says nothing there.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _alert_sim as sim
from alerting_detectors import SPIKE, Streams
from watchkeeper.analytics.detectors import Gate
from watchkeeper.analytics.detectors.spike import tail_p

LEVELS = (1e-1, 1e-2, 1e-3, 1e-4)
MIN_PER_HOUR = 30.0


def measure(sim_name: str, seed: int, streams: int, ticks: int) -> tuple[dict[str, dict[str, np.ndarray]], float]:
    """p-values by kind of day (ordinary, holiday) and window ("verdict": the decision's), from ``ticks`` random ticks
    of ``streams`` random streams."""
    tr = sim.simulate(sim_name, seed, warm_days=14, test_days=28, incidents=0)
    rng = random.Random(seed)
    pool = [(m, s) for m in sim.METRICS for s in range(tr.hier.size) if tr.mu_hour[m][s].mean() >= MIN_PER_HOUR]
    rng.shuffle(pool)
    warm_b = tr.warm_days * sim.PER_DAY
    holidays = set(tr.holidays)
    out: dict[str, dict[str, list[float]]] = {"ordinary days": {"verdict": []}, "holidays": {"verdict": []}}
    by_metric: dict[str, Streams] = {}
    t0 = time.process_time()
    for m, s in pool[:streams]:
        if m not in by_metric:
            by_metric[m] = Streams(tr, m, tr.k_free[m])
        st = by_metric[m]
        for _ in range(ticks):
            b = rng.randrange(warm_b, tr.buckets)
            v = SPIKE.evaluate(st.stream(s, b + 1), st.at(b + 1))
            if v.gate is not Gate.ENOUGH or v.p_value is None:
                continue
            day = out["holidays" if b // sim.PER_DAY in holidays else "ordinary days"]
            day["verdict"].append(v.p_value)
            for w in v.windows:
                if w.tested:
                    day.setdefault(f"{w.minutes} min", []).append(tail_p(w.observed, w.expected, w.dispersion, "up"))
    arrays = {d: {k: np.array(v) for k, v in ps.items()} for d, ps in out.items()}
    return {d: ps for d, ps in arrays.items() if len(ps["verdict"])}, time.process_time() - t0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sim", default="A", choices=("A", "B"), help="simulator (A: tuned on, B: never tuned on)")
    p.add_argument("--seed", type=int, default=0, help="seed (0-4 tuning, 5-9 reported)")
    p.add_argument("--streams", type=int, default=200, help="random streams of >= 30 expected events/hour")
    p.add_argument("--ticks", type=int, default=250, help="random ticks per stream")
    a = p.parse_args()
    if a.streams < 1 or a.ticks < 1:
        p.error("--streams and --ticks must be at least 1")
    by_day, cpu = measure(a.sim, a.seed, a.streams, a.ticks)
    n = sum(len(ps["verdict"]) for ps in by_day.values())
    print(f"\nSpike test calibration, simulator {a.sim} seed {a.seed}: {n:,} evaluations that may page, {cpu:.0f} s")
    print("share of p-values below each level, divided by the level (1.00: calibrated; < 1: conservative)")
    for day, ps in by_day.items():
        print(f"\n{day}\n")
        print_table(ps)
    return 0


def print_table(ps: dict[str, np.ndarray]) -> None:
    print("| window | evaluations | " + " | ".join(f"p < {x:g}" for x in LEVELS) + " |")
    print("| --- | ---: | " + " | ".join("---:" for _ in LEVELS) + " |")
    order = [*sorted((k for k in ps if k != "verdict"), key=lambda k: int(k.split()[0])), "verdict"]
    for k in order:
        arr = ps[k]
        cells = []
        for x in LEVELS:
            if len(arr) * x < 5:
                cells.append("-")
                continue
            hits = int(np.sum(arr < x))
            cells.append(f"{hits / len(arr) / x:.2f} ({hits})")
        print(f"| {k} | {len(arr):,} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    sys.exit(main())
