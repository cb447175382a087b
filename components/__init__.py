"""Incremental components: pure, deterministic, I/O-free; numba kernels beside them."""

__all__: list[str] = []
