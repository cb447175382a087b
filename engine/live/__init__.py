"""The live signal daemon: ZeroMQ feed in and signals out, journal, snapshots, warm restart,
journal replay. Built on the wiring layer's session (docs/live.md)."""
