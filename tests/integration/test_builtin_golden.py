"""The built-in strategies, now ordinary plugins wired by declared needs in the layered
engine, write byte for byte what they wrote before (issue 22): the sha256 of trades.csv and
equity.csv on the first 6,000 BTC hours, recorded from commit d326719 (before the plugin
path, the graph and the layer split). A change here is a change of results: say why in the
commit that updates a hash."""

import hashlib
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
BTC = ROOT / "config" / "btcusd_1h.toml"
GOLDEN = {
    "sma_cross": ("1dd0414e8b5bb50ef602706b5d464f66aa1240abace1302de11b749ca1e153aa",
                  "8c3d0700363c4269c40e8bab96b2f88e6f78fee4f2c64c71c80041150d91e90b"),
    "synergy": ("fc8929ae254716042ee30e2e0468b1f028005582019d6a47957099238dc9be6c",
                "9d1eeb87c2ad830b690aab9cd519ddee30f19d6a838fe2ab3110978e17724efc"),
    "buy_hold": ("d5aac3268f0b0aef54c8d69bf64b6d0148008fa6cfa2d964853d570311e8c481",
                 "556f05530448cb5515367c30f6bd47b05c24112c63ddc1e384f564fffb7d83fc"),
}


@pytest.fixture(scope="module")
def cut(tmp_path_factory):
    path = tmp_path_factory.mktemp("golden") / "cut.csv"
    pd.read_csv(ROOT / "data" / "btcusd_1h_coinbase_2017-2019.csv").iloc[:6000].to_csv(
        path, index=False)
    return path


def without_levels(trades: bytes) -> bytes:
    """trades.csv without its last two columns, stop_price and target_price (added after
    d326719: the bracket levels; nothing else in the file changed)."""
    lines = trades.decode().splitlines(keepends=True)
    assert lines[0].rstrip("\n").endswith(",stop_price,target_price")
    return "".join(line.rstrip("\n").rsplit(",", 2)[0] + "\n" for line in lines).encode()


@pytest.mark.parametrize("strategy", sorted(GOLDEN))
def test_builtin_outputs_are_unchanged(strategy, cut, tmp_path):
    done = subprocess.run([sys.executable, "-m", "engine.app.cli", "backtest", "--config",
                           str(BTC), "--strategy", strategy, "--data", str(cut), "--out",
                           str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    trades = (tmp_path / "trades.csv").read_bytes()
    digests = (hashlib.sha256(without_levels(trades)).hexdigest(),
               hashlib.sha256((tmp_path / "equity.csv").read_bytes()).hexdigest())
    assert digests == GOLDEN[strategy]
    levels = pd.read_csv(tmp_path / "trades.csv")[["stop_price", "target_price"]]
    if strategy == "synergy":  # bracket orders: every trade had both levels
        assert levels.notna().all().all()
    else:  # market orders without a bracket
        assert levels.isna().all().all()
