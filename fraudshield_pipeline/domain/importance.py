"""Which features a model leans on: XGBoost's total gain per feature, as shares of the whole.

Total gain (the loss reduction summed over every split on the feature) rather than split counts:
a feature split often for tiny gains is not what the model relies on.
"""

from __future__ import annotations


def top_features(booster, n: int = 10) -> list[dict[str, object]]:
    """The `n` features with the largest total gain: feature, total_gain, share of all gain (0-1)."""
    gains = booster.get_score(importance_type="total_gain")
    total = sum(gains.values()) or 1.0
    ranked = sorted(gains.items(), key=lambda item: item[1], reverse=True)[:n]
    return [{"feature": name, "total_gain": float(gain), "gain_share": float(gain) / total} for name, gain in ranked]


def importance_markdown(rows: list[dict[str, object]]) -> str:
    """A model-card section: the top features with their share of the total gain."""
    lines = ["", "## Top features (share of total gain)", "", "| feature | share of gain |", "|---|---|"]
    lines += [f"| {row['feature']} | {row['gain_share']:.1%} |" for row in rows]
    return "\n".join(lines) + "\n"
