"""Strategy wiring (the synergy and MARL strategies arrive with their issues)."""

__all__: list[str] = []
