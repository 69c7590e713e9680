"""Human-readable evaluation reports and plots (markdown + PNG), built from recorded numbers."""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping

import numpy as np
import pandas as pd

HEADLINE = ("average_precision", "roc_auc", "card_precision_at_100", "recall_at_budget", "precision", "recall", "f1", "brier")


def metrics_table(rows: Mapping[str, Mapping[str, float]]) -> pd.DataFrame:
    """One column per model (e.g. challenger v3, champion v2), one row per headline metric."""
    return pd.DataFrame({name: {m: metrics.get(m, np.nan) for m in HEADLINE} for name, metrics in rows.items()})


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
    title: str, table: pd.DataFrame, decision: Mapping, slices: pd.DataFrame, window: Mapping[str, str]
) -> str:
    lines = [f"# {title}", "", "## Test window", ""]
    lines += [f"- {k}: {v}" for k, v in window.items()]
    lines += ["", "## Metrics", "", table.to_markdown(floatfmt=".4f"), "", "## Promotion decision", ""]
    lines += [f"**{'PROMOTED' if decision['promote'] else 'REFUSED'}**", ""]
    lines += [f"- {reason}" for reason in decision["reasons"]]
    lines += ["", "## Slices (challenger)", "", slices.to_markdown(index=False, floatfmt=".4f"), ""]
    return "\n".join(lines)
