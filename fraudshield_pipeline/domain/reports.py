"""Human-readable evaluation reports and plots (markdown + PNG), built from recorded numbers."""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping

import numpy as np
import pandas as pd

HEADLINE = (
    "average_precision", "roc_auc", "card_precision_at_100", "recall_at_budget", "precision", "recall", "f1", "brier",
    "fraud_value_caught_share", "fraud_value_caught", "fraud_value_missed", "n_transactions", "n_fraud",
)
PROTOCOL_SET = "known-compromised cards removed"
ALL_SET = "all test transactions"


def metrics_table(rows: Mapping[str, Mapping[str, float]], k: int = 100) -> pd.DataFrame:
    """One row per (test set, headline metric), one column per model (e.g. challenger v3, champion v2).

    The protocol set's figures are under the plain names, the all-transactions ones prefixed
    ``all_`` (see `domain.protocol`). Card precision@k exists for the protocol set only: its
    all-transactions variant keeps blocked cards, which is exactly what the protocol forbids.
    """
    names = [m.replace("card_precision_at_100", f"card_precision_at_{k}") for m in HEADLINE]
    records = []
    for test_set, prefix in ((PROTOCOL_SET, ""), (ALL_SET, "all_")):
        for name in names:
            if prefix and name.startswith("card_precision_at_"):
                continue
            records.append(
                {"test_set": test_set, "metric": name, **{model: metrics.get(prefix + name, np.nan) for model, metrics in rows.items()}}
            )
    return pd.DataFrame(records)


def curves_png(y_true: np.ndarray, scores: Mapping[str, np.ndarray]) -> bytes:
    """Precision-recall and ROC curves, plus score distributions, side by side."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import precision_recall_curve, roc_curve

    figure, (pr, roc, dist) = plt.subplots(1, 3, figsize=(13, 3.8))
    for name, score in scores.items():
        precision, recall, _ = precision_recall_curve(y_true, score)
        pr.plot(recall, precision, label=name)
        fpr, tpr, _ = roc_curve(y_true, score)
        roc.plot(fpr, tpr, label=name)
    first = next(iter(scores.values()))
    dist.hist(first[y_true == 0], bins=50, alpha=0.6, density=True, label="genuine")
    dist.hist(first[y_true == 1], bins=50, alpha=0.6, density=True, label="fraud")
    pr.set(title="Precision-recall", xlabel="recall", ylabel="precision")
    roc.set(title="ROC", xlabel="false positive rate", ylabel="true positive rate")
    dist.set(title=f"Scores: {next(iter(scores))}", xlabel="score", yscale="log")
    for axis in (pr, roc, dist):
        axis.legend(loc="best", fontsize=8)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80)
    plt.close(figure)
    return buffer.getvalue()


def png_markdown(png: bytes, alt: str) -> str:
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode()})"


def evaluation_markdown(
    title: str,
    table: pd.DataFrame,
    decision: Mapping,
    slices: pd.DataFrame,
    window: Mapping[str, str],
    scenarios: pd.DataFrame | None = None,
    backtest=None,
) -> str:
    """The evaluation report: both test sets, the decision, the backtest weeks, scenarios and slices."""
    lines = [f"# {title}", "", "## Test window", ""]
    lines += [f"- {k}: {v}" for k, v in window.items()]
    lines += [
        "",
        "## Metrics",
        "",
        f"Two test sets: **{ALL_SET}**, and **{PROTOCOL_SET}** (each test day without the cards whose fraud was "
        "reported before that day; the gate's numbers). Card precision@k also drops cards caught in the top k of "
        "earlier test days.",
        "",
        table.to_markdown(index=False, floatfmt=".4f"),
        "",
        "## Promotion decision",
        "",
    ]
    lines += [f"**{'PROMOTED' if decision['promote'] else 'REFUSED'}**", ""]
    lines += [f"- {reason}" for reason in decision["reasons"]]
    if backtest is not None:
        lines += ["", "## Rolling backtest (each recipe refit per week, scored on the week after its gap)", ""]
        lines += [backtest.weeks.to_markdown(index=False, floatfmt=".4f") if len(backtest.weeks) else "no week could run", ""]
        if backtest.compared_weeks():
            lines += [
                f"- mean delta {backtest.metric}: {backtest.mean_delta():+.4f}; worst week {backtest.worst_week()[0]}: "
                f"{backtest.worst_week()[1]:+.4f}",
                f"- {backtest.ci_level:.0%} bootstrap interval of the mean AP difference (resampling {backtest.resample_unit}s, "
                f"{backtest.n_boot} draws): [{backtest.ci_low:+.4f}, {backtest.ci_high:+.4f}]",
            ]
        lines += [f"- skipped: {reason}" for reason in backtest.skipped]
    if scenarios is not None:
        lines += ["", "## Fraud scenarios (challenger, protocol set)", ""]
        lines += [scenarios.to_markdown(index=False, floatfmt=".4f") if len(scenarios) else "no scenario recorded", ""]
    lines += ["", "## Slices (challenger, protocol set)", "", slices.to_markdown(index=False, floatfmt=".4f"), ""]
    return "\n".join(lines)
