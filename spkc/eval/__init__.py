"""Evaluation engine behind ``spkc eval``: rate-distortion, spike-domain fidelity, BD tables.

Pure functions over files; reporting (JSON, CSV, printed tables, RD plots) in
:mod:`spkc.eval.report`. Infinite PSNR (identical inputs) is written to JSON and CSV as the
string ``"inf"``; a value that could not be measured is ``null`` in JSON and empty in CSV.
"""

from spkc.eval.engine import (
    ROW_FIELDS,
    EvalReport,
    evaluate,
    evaluate_run,
    load_ground_truth,
)
from spkc.eval.plan import plan_runs
from spkc.eval.report import (
    bd_table,
    format_bd_table,
    format_table,
    jsonable,
    plot_rd,
    write_outputs,
)

__all__ = [
    "ROW_FIELDS",
    "EvalReport",
    "bd_table",
    "evaluate",
    "evaluate_run",
    "format_bd_table",
    "format_table",
    "jsonable",
    "load_ground_truth",
    "plan_runs",
    "plot_rd",
    "write_outputs",
]
