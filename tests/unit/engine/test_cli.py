"""The command line: every subcommand exists; pending ones say so with exit status 2."""

import pytest

from engine.app.cli import build_parser, main


def test_help_lists_every_subcommand(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for name in ("backtest", "train", "live", "feed", "data", "report"):
        assert name in out


def test_train_without_a_model_names_them(capsys):
    assert main(["train"]) == 2
    assert "mmd-reference, rde, mrms, marl, or all" in capsys.readouterr().err


def test_bad_config_exits_1_naming_the_key(tmp_path, capsys):
    cfg = tmp_path / "bad.toml"
    cfg.write_text('[data]\npath = "x.csv"\nchunk_rows = -3\n')
    assert main(["data", "inspect", "--config", str(cfg)]) == 1
    err = capsys.readouterr().err
    assert "bad.toml" in err and "data.chunk_rows" in err


def test_missing_data_file_exits_1(tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[data]\npath = "missing.csv"\n')
    assert main(["data", "inspect", "--config", str(cfg)]) == 1
    assert "missing.csv" in capsys.readouterr().err


def test_parser_requires_a_command():
    with pytest.raises(SystemExit):
        build_parser().parse_args([])
