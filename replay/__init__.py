"""Replay side: data readers and validation; backtest broker, metrics and trainers later."""

__all__: list[str] = []
