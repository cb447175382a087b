"""The power curve of the learned stack: the smallest planted edge it detects with N setups.

Input: the synergy setups of the bundled BTC/USD hourly data (real bars, features, regime
vectors and matrices), with the two bars after each rewritten by ``replay/train/planted.py`` so a
setup of pattern 3 wins with probability ``0.5 + edge`` and any other with ``0.5 - edge``
(a fixture: never market data). For each edge, sample size ``N`` (the first ``N`` planted
setups, split 60/20/20 by time) and plant seed, the stack is trained as the CI test trains it
(M-RMS, then the MARL core: pretraining chosen by a 2-block purged cross-validation over two
candidates, 4 MAPPO iterations, selection and gate-1 calibration on the validation part) and
judged on the test part it never saw:

- ``detected``: the AUC of the gate's score for a planted win on the test part is above
  chance at the 5% level (one-sided permutation test, 2,000 label shufflings; a bootstrap
  interval is unreliable on test parts of 8 to 24 setups);
- ``taken|win`` / ``taken|loss``: the shares of planted winners and losers gate 1 passed.

Power = the share of seeds that detected; at edge 0 it is the false-positive rate (about 0.05
expected). Also the logistic baseline's detection on the same setups (its probability as the
score), for comparison. The seeds are the plant's: the same seed draws the same uniforms at
every edge, so the rows of one size are not independent.

    python bench/bench_power.py [--edges 0.0,0.1,0.2,0.3,0.4,0.5] [--sizes 40,80,0] [--seeds 4]

``0`` as a size means every planted setup. Results go to ``bench/out/power.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import msgspec
import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from components.decision.gate import Gate1Config  # noqa: E402
from components.risk.model_config import RiskModelConfig  # noqa: E402
from components.risk.setup_features import SETUP_FEATURES  # noqa: E402
from engine.wiring.artifacts import load_artifacts  # noqa: E402
from engine.wiring.schema import load_app_config  # noqa: E402
from replay.train.marl_run import matrix_configs  # noqa: E402
from replay.train.marl_select import gate_verdicts  # noqa: E402
from replay.train.mrms_data import collect_setups  # noqa: E402
from replay.train.planted import plant_edge  # noqa: E402
from replay.train.ranking import LogisticBaseline, auc  # noqa: E402
from replay.train.train_marl import train_marl  # noqa: E402
from replay.train.train_mrms import train_mrms  # noqa: E402
from replay.train_config import (  # noqa: E402
    EnvConfig,
    MarlCvConfig,
    MarlTrainConfig,
    MrmsTrainConfig,
)

FEATURE = SETUP_FEATURES.index("pattern_3")
MARL = MarlTrainConfig(iterations=4, episodes=1, update_epochs=1, eval_every=2,
                       gate=Gate1Config(samples=8),
                       cv=MarlCvConfig(folds=2, candidates=((10, 1.0), (30, 1.0))), seed=0)
MRMS = MrmsTrainConfig(model=RiskModelConfig(hidden=16), iterations=2, episodes=1,
                       update_epochs=1, eval_every=2, seed=0)


def _permutation(score: np.ndarray, won: np.ndarray, seed: int,
                 permutations: int = 2000) -> tuple[float, float]:
    """The AUC of ``score`` for ``won`` and its one-sided permutation p-value (the share of
    label shufflings with an AUC at least as high, counting the observed one)."""
    point = auc(score, won)
    if not np.isfinite(point):
        return point, 1.0
    rng = np.random.default_rng(seed)
    higher = sum(auc(score, rng.permutation(won)) >= point for _ in range(permutations))
    return point, (higher + 1) / (permutations + 1)


def one(data, samples, edge: float, seed: int) -> dict[str, float]:
    planted = plant_edge(data, samples, FEATURE, edge, seed)
    n = len(planted.samples)
    a, b = int(0.6 * n), int(0.8 * n)
    train, validation, test = planted.samples[:a], planted.samples[a:b], planted.samples[b:]
    won = planted.winner[b:]
    with tempfile.TemporaryDirectory() as tmp:
        mrms = train_mrms(planted.data, train, validation, MRMS, Path(tmp) / "mrms").model
        result = train_marl(planted.data, train, validation, mrms, EnvConfig(), MARL,
                            Path(tmp) / "marl", mrms_config=MRMS)
    gate = msgspec.structs.replace(MARL.gate, threshold=result.threshold)
    verdicts = gate_verdicts(result.model, test, gate, 0)
    passed = np.array([v.passed for v in verdicts])
    score = np.array([v.score for v in verdicts])
    point, p_value = _permutation(score, won, seed)
    design = np.array([(*s.features, *s.regime) for s in train])
    logistic = LogisticBaseline().fit(design, planted.winner[:a])
    p = logistic.predict_proba(np.array([(*s.features, *s.regime) for s in test]))
    lp, lv = _permutation(p, won, seed)
    return {"setups": n, "test": len(test), "auc": point, "p_value": p_value,
            "detected": float(p_value < 0.05),
            "taken_win": float(passed[won].mean()) if won.any() else float("nan"),
            "taken_loss": float(passed[~won].mean()) if (~won).any() else float("nan"),
            "logistic_auc": lp, "logistic_detected": float(lv < 0.05)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--edges", default="0.0,0.1,0.2,0.3,0.4,0.5")
    parser.add_argument("--sizes", default="40,80,0")
    parser.add_argument("--seeds", type=int, default=4)
    args = parser.parse_args()
    torch.set_num_threads(1)
    loaded = load_app_config(ROOT / "config" / "btcusd_1h.toml")
    cfg = loaded.config
    data = collect_setups(cfg, loaded.data_path, load_artifacts(loaded),
                          matrices=matrix_configs(cfg, MARL))
    rows = []
    started = time.perf_counter()
    print(f"{'edge':>5} {'N':>4} {'power':>6} {'AUC':>5} {'taken|win':>9} {'taken|loss':>10} "
          f"{'logistic power':>14}")
    for size in (int(x) for x in args.sizes.split(",")):
        samples = data.samples if size == 0 else data.samples[:size]
        for edge in (float(x) for x in args.edges.split(",")):
            runs = [one(data, samples, edge, seed) for seed in range(args.seeds)]
            mean = {k: float(np.nanmean([r[k] for r in runs])) for k in runs[0]}
            rows.append({"edge": edge, "size": size, "runs": runs, "mean": mean})
            print(f"{edge:>5.2f} {int(mean['setups']):>4} {mean['detected']:>6.2f} "
                  f"{mean['auc']:>5.2f} {mean['taken_win']:>9.2f} {mean['taken_loss']:>10.2f} "
                  f"{mean['logistic_detected']:>14.2f}", flush=True)
    print(f"took {time.perf_counter() - started:.0f} s")
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "power.json").write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
