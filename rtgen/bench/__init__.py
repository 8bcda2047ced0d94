"""``rtgen bench``: the runtime's figures, measured side by side in one run on one model.

Modules, one measurement each:

- ``step``: model step latency per backend (ONNX Runtime fp32/int8, torch eager with and
  without oneDNN, TorchScript), one thread, teacher-forced on held-out tokens;
- ``window``: a Transformer's step cost at the start and the end of its window;
- ``plan``: plan time per beat, the real engine on a fake clock;
- ``listener``: a player's note-on, from the raw message to its tokens fed to the model;
- ``onset``: onset error at a receiving JACK port, idle and with every core loaded
  (``jack``: a private JACK server when none is reachable; ``burner``: the CPU load);
- ``machine``: the CPU and versions, and resident memory;
- ``models``: which files each backend steps (exported from a checkpoint when needed);
- ``runner``: runs them all; ``report``: the table and the histogram plot.

Benchmarks report figures and ratios measured in the same run; they do not pass or fail
(docs: TESTING.md).
"""

from rtgen.bench.runner import BenchOptions, BenchResult, run_bench

__all__ = ["BenchOptions", "BenchResult", "run_bench"]
