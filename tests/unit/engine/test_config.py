"""Config loading: defaults, bundled files, round-trips and precise errors."""

from pathlib import Path

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.core.config import config_id, decode_config
from engine.core.errors import ConfigError
from engine.core.instruments import BUILTIN_INSTRUMENTS, Instrument
from engine.wiring.schema import AppConfig, DataConfig, TimeframesConfig, load_app_config

ROOT = Path(__file__).resolve().parents[3]
BUNDLED = sorted((ROOT / "config").glob("*.toml"))


def decode(text: str) -> AppConfig:
    return decode_config(text.encode(), AppConfig, "test.toml")


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.name)
def test_bundled_configs_load_and_point_at_bundled_data(path):
    loaded = load_app_config(path)
    assert loaded.data_path.is_file()
    assert loaded.config.instrument_spec.symbol == loaded.config.instrument


def test_bundled_configs_exist():
    assert {p.name for p in BUNDLED} >= {"btcusd_1h.toml", "es_5m_30m.toml", "eurusd_1h.toml"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[data]\npath = "x.csv"\nchunk_rows = "many"',
         "test.toml: key 'data.chunk_rows': Expected `int`, got `str`"),
        ('[data]\npath = "x.csv"\nchunk_rows = 0',
         "test.toml: key 'data.chunk_rows': Expected `int` >= 1"),
        ('[data]\npath = "x.csv"\npth = 1', "key 'data.pth': unknown key"),
        ('[data]\npaht = "x.csv"', "key 'data.paht': unknown key; did you mean 'path'?"),
        ('sede = 1\n[data]\npath = "x"', "key 'sede': unknown key; did you mean 'seed'?"),
        ('[data]\npath = "x"\nkind = "candles"', "key 'data.kind': Invalid enum value 'candles'"),
        ('instrument = "ZZ"\n[data]\npath = "x"', "instrument: expected one of"),
        ('[data]\npath = "x"\n[timeframes]\nfast = "7m"\nslow = "30m"',
         "slow: expected a multiple of fast (7m), was 30m"),
        ('[data]\npath = "x"\n[timeframes]\nfast = "5x"', "timeframe: expected <int><s|m|h|d>"),
        ('[data]\npath = "x"\nbar_interval = "2m"\n[timeframes]\nfast = "5m"',
         "timeframes.fast: expected a multiple of data.bar_interval (2m), was 5m"),
        ("[data", "test.toml: not valid TOML"),
        ("seed = 1", "Object missing required field `data`"),
        ('[data]\npath = "x"\n[instruments.XY]\nsymbol = "XY"\nasset_class = "fx"\n'
         'tick_size = -1\npoint_value = 1', "tick_size': Expected `float` > 0"),
    ],
)
def test_bad_config_names_file_key_and_expectation(text, message):
    with pytest.raises(ConfigError) as info:
        decode(text)
    assert message in str(info.value)


def test_missing_config_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_app_config(tmp_path / "nope.toml")


def test_relative_data_path_resolves_against_config_file(tmp_path):
    (tmp_path / "sub").mkdir()
    cfg = tmp_path / "sub" / "c.toml"
    cfg.write_text('[data]\npath = "../d.csv"\n')
    assert load_app_config(cfg).data_path == (tmp_path / "d.csv").resolve()


def test_custom_instrument_table():
    cfg = decode('instrument = "GC"\n[data]\npath = "x"\n[instruments.GC]\nsymbol = "GC"\n'
                 'asset_class = "future"\ntick_size = 0.1\npoint_value = 100.0\n')
    assert cfg.instrument_spec.point_value == 100.0


def test_builtin_instruments_match_contract_specs():
    assert BUILTIN_INSTRUMENTS["ES"].tick_size == 0.25
    assert BUILTIN_INSTRUMENTS["ES"].point_value == 50.0
    assert BUILTIN_INSTRUMENTS["MES"].point_value == 5.0
    assert BUILTIN_INSTRUMENTS["NQ"].point_value == 20.0
    assert {"FX", "CRYPTO", "EQUITY"} <= set(BUILTIN_INSTRUMENTS)


def test_config_id_ignores_key_order_and_restated_defaults():
    a = decode('seed = 3\n[data]\npath = "x.csv"\n')
    b = decode('[data]\nkind = "bars"\npath = "x.csv"\n[timeframes]\nfast = "5m"\n\n'
               '[logging]\n\n[output]\n')
    b = msgspec.structs.replace(b, seed=3)
    assert config_id(a) == config_id(b)
    assert config_id(a) != config_id(msgspec.structs.replace(a, seed=4))


timeframe_pairs = st.sampled_from([("1m", "5m"), ("5m", "30m"), ("1h", "4h"), ("15m", "1h")])


@given(
    seed=st.integers(-(2**31), 2**31),
    tfs=timeframe_pairs,
    chunk=st.integers(1, 10**7),
    instrument=st.sampled_from(sorted(BUILTIN_INSTRUMENTS)),
    tz=st.sampled_from(["UTC", "America/Chicago", "Europe/London"]),
)
def test_config_roundtrips_through_json_and_toml_text(seed, tfs, chunk, instrument, tz):
    cfg = AppConfig(
        seed=seed,
        instrument=instrument,
        data=DataConfig(path="d.csv", chunk_rows=chunk, timezone=tz, bar_interval="1m"),
        timeframes=TimeframesConfig(fast=tfs[0], slow=tfs[1]),
    )
    assert msgspec.json.decode(msgspec.json.encode(cfg), type=AppConfig) == cfg
    toml = (f'seed = {seed}\ninstrument = "{instrument}"\n[data]\npath = "d.csv"\n'
            f'chunk_rows = {chunk}\ntimezone = "{tz}"\n'
            f'[timeframes]\nfast = "{tfs[0]}"\nslow = "{tfs[1]}"\n')
    assert decode(toml) == cfg
    assert config_id(decode(toml)) == config_id(cfg)


def test_instrument_session_open_validated():
    with pytest.raises(msgspec.ValidationError, match="HH:MM"):
        msgspec.convert({"symbol": "X", "asset_class": "fx", "tick_size": 1, "point_value": 1,
                         "session_open": "25:00"}, Instrument)


def test_overrides_apply_on_top_of_the_file_and_change_the_config_id(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[data]\npath = "d.csv"\nchunk_rows = 10\n')
    plain = load_app_config(cfg).config
    changed = load_app_config(cfg, ["data.chunk_rows=20", "timeframes.slow=1h",
                                    "data.timezone=America/Chicago"]).config
    assert changed.data.chunk_rows == 20
    assert changed.timeframes.slow == "1h"
    assert changed.data.timezone == "America/Chicago"
    assert config_id(plain) != config_id(changed)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("data.chunk_rows=abc", "key 'data.chunk_rows': Expected `int`, got `str`"),
        ("data.chunk_row=5", "key 'data.chunk_row': unknown key; did you mean 'chunk_rows'?"),
        ("nonsense", "--set: expected KEY=VALUE"),
        ("data.path.x=1", "--set data.path.x: expected 'path' to be a table"),
    ],
)
def test_bad_override_is_named(tmp_path, override, message):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[data]\npath = "d.csv"\n')
    with pytest.raises(ConfigError) as info:
        load_app_config(cfg, [override])
    assert message in str(info.value)


def test_flat_at_session_end_needs_a_session_close(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('instrument = "BTCUSD"\n[data]\npath = "x.csv"\n'
                   '[backtest.broker]\nflat_at_session_end = true\n')
    with pytest.raises(ConfigError, match="session_close"):
        load_app_config(cfg)
    cfg.write_text('instrument = "ES"\n[data]\npath = "x.csv"\n'
                   '[backtest.broker]\nflat_at_session_end = true\n')
    assert load_app_config(cfg).config.backtest.broker.flat_at_session_end


def test_unknown_backtest_key_is_named_with_a_suggestion(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[data]\npath = "x.csv"\n[backtest.costs]\nslipage_ticks = 2\n')
    with pytest.raises(ConfigError, match="slippage_ticks"):
        load_app_config(cfg)


@pytest.mark.parametrize("value", ['"2019-08-01"', "2019-08-01", "2019-08-01T00:00:00Z",
                                   '"2019-08-01T02:00:00+02:00"'])
def test_backtest_start_takes_a_toml_date_or_an_iso_string(value):
    from engine.core.timeframes import parse_instant

    config = decode(f'[data]\npath = "x.csv"\n[backtest]\nstart = {value}\n')
    assert parse_instant(config.backtest.start, "x") == 1_564_617_600 * 10**9


@pytest.mark.parametrize("value", ['"2019-13-01"', '"yesterday"'])
def test_a_bad_backtest_start_names_the_key_and_the_value(value):
    with pytest.raises(ConfigError, match=r"backtest.*start.*ISO 8601.*" + value.strip('"')):
        decode(f'[data]\npath = "x.csv"\n[backtest]\nstart = {value}\n')
