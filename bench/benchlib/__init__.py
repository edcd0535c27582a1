"""What the bench scripts share (importable as `benchlib` when bench/ is on the path, as it is
for `python bench/bench_<name>.py`, with `PYTHONPATH=bench` for bench/experiments/, and in
pytest through `pythonpath`):

- `common`: results files with their header (`Report`, `recorded`), the exchange with the
  peers' environment (`PeerTask`, `write_inputs`, `run_peers`, `peer_predictions`);
- `accuracy`: Prévisecours against the peers, scored with the project's metric code;
- `truth`: the generator's own mean, to score against accuracy rather than realised noise;
- `criteria`: issue #4's judged criteria over backtest windows.
"""
