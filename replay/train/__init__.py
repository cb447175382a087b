"""Model training on replayed data: the MMD reference fit, the RDE, the M-RMS and the MARL
core (data sets, trainers, selection, diagnostics, reports, checkpoints, ONNX export). Built
on the wiring layer; used by the command line and by walk-forward refits."""
