"""Metrics, the predictions protocol, confidence intervals, reports and plots.

numpy in, numbers and files out; nothing here needs torch.
"""

from pain3d.evaluate.metrics import (
    PAIN_LEVELS,
    THRESHOLD_GRID,
    auroc,
    auroc_at,
    calibrate_threshold,
    f1_at,
    fold_metrics,
    icc31,
    mae,
    mean_ci,
    pcc,
    rmse,
)
from pain3d.evaluate.protocol import (
    PROTOCOLS,
    Scores,
    protocol_description,
    read_predictions,
    score_predictions,
    validate_predictions,
)
from pain3d.evaluate.report import (
    Report,
    evaluate_predictions,
    evaluate_run,
    load_run_predictions,
    write_report,
)

__all__ = [
    "PAIN_LEVELS", "PROTOCOLS", "THRESHOLD_GRID", "Report", "Scores", "auroc", "auroc_at",
    "calibrate_threshold", "evaluate_predictions", "evaluate_run", "f1_at", "fold_metrics",
    "icc31", "load_run_predictions", "mae", "mean_ci", "pcc", "protocol_description",
    "read_predictions", "rmse", "score_predictions", "validate_predictions", "write_report",
]
