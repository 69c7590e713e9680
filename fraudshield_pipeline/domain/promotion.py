"""Champion vs challenger promotion gate.

Pure domain code (no Dagster, no scikit-learn): given the challenger's and the current
champion's holdout scorecards, decide whether the challenger may replace the champion, and say
why in plain words, one reason per rule checked (pass or fail).

Rules, in order:

1. the challenger's main metric must be a number (missing/NaN -> refuse);
2. it must reach the absolute floor;
3. with a champion: it may be at most ``max_regression`` (absolute) below the champion's;
4. with a champion: no key slice may collapse. A key slice is a ``(slice, value)`` row present
   in both scorecards' slice frames with at least ``min_slice_support`` fraud cases in both and
   a number for ``slice_metric`` in both; it collapses when
   ``challenger < slice_collapse_ratio * champion``. Slices marked "too small to judge"
   (`protocol.judge_slices`: fewer than ``min_slice_support`` frauds or ``min_slice_genuine``
   genuine rows) never enter; fraud scenarios are judged the same way on their recall at the
   alert budget (`protocol.scenario_metrics`);
5. optional (``max_value_regression`` set): the share of fraud value caught at the budget may
   drop at most that much against the champion.

With a rolling backtest (`backtest.BacktestResult`), rule 3 compares the recipes week by week
instead of the single test week: the mean difference over weeks within ``max_regression`` and
the worst week within ``max_worst_week_regression``; the bootstrap interval is reported.

With no champion the first challenger that passes rules 1-2 is promoted. A champion whose main
metric is missing/NaN cannot be regressed against: rule 3 is reported as skipped.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from fraudshield_pipeline.domain.backtest import BacktestResult

# tolerance for float noise in the comparisons (0.42 - 0.01 must allow 0.41)
_EPS = 1e-12


@dataclass(frozen=True)
class PromotionPolicy:
    main_metric: str = "average_precision"
    absolute_floor: float = 0.30  # challenger's main metric must be >= this
    max_regression: float = 0.01  # challenger may be at most this much below champion (absolute)
    slice_collapse_ratio: float = 0.5  # collapse: challenger slice metric < ratio * champion's
    slice_metric: str = "average_precision"
    min_slice_support: int = 20  # ignore slices with fewer fraud cases than this in the holdout
    min_slice_genuine: int = 100  # ... or fewer genuine rows (AP/AUC need both classes)
    max_worst_week_regression: float = 0.05  # backtest: no week may fall further below the champion
    max_value_regression: float | None = None  # optional: fraud value caught share vs champion; None = off

    def __post_init__(self) -> None:
        if self.max_regression < 0:
            raise ValueError(f"max_regression must be >= 0, got {self.max_regression}")
        if not 0 <= self.slice_collapse_ratio <= 1:
            raise ValueError(
                f"slice_collapse_ratio must be in [0, 1], got {self.slice_collapse_ratio}"
            )
        if self.max_worst_week_regression < 0 or (self.max_value_regression is not None and self.max_value_regression < 0):
            raise ValueError("max_worst_week_regression and max_value_regression must be >= 0")
        if self.min_slice_support < 0 or self.min_slice_genuine < 0:
            raise ValueError(f"min_slice_support must be >= 0, got {self.min_slice_support}")


@dataclass(frozen=True)
class Scorecard:
    model_version: str
    metrics: Mapping[str, float]
    slices: pd.DataFrame | None = field(default=None, compare=False)  # slice_metrics() frame
    scenarios: pd.DataFrame | None = field(default=None, compare=False)  # protocol.scenario_metrics() frame


@dataclass(frozen=True)
class PromotionDecision:
    promote: bool
    reasons: tuple[str, ...]  # human readable, every rule checked, pass or fail
    main_metric: str
    challenger_value: float
    champion_value: float | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: NaN values become None."""
        return {
            "promote": self.promote,
            "reasons": list(self.reasons),
            "main_metric": self.main_metric,
            "challenger_value": _json_number(self.challenger_value),
            "champion_value": _json_number(self.champion_value),
        }


def _json_number(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return float(value)


def _metric(scorecard: Scorecard, name: str) -> float:
    value = scorecard.metrics.get(name)
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan


def _is_number(value: float) -> bool:
    return not math.isnan(value)


def _why_not_measured(scorecard: Scorecard) -> str:
    """The cause when the protocol set lost every fraud: the test window has frauds, but all on cards
    reported compromised before their day (one card, or last week's cards, carrying the week's fraud),
    which the protocol removes. Said, with what to change, instead of a bare NaN."""
    kept, every = _metric(scorecard, "n_fraud"), _metric(scorecard, "all_n_fraud")
    if not (kept == 0 and every > 0):
        return ""
    return (
        f": the test window holds {every:.0f} frauds, but all on cards reported compromised before their day, which "
        "the protocol set removes (known-compromised cards), so no fraud is left to rank. Widen the test window "
        "(training_set's test_days) or move as_of to a period with fraud on new cards"
    )


def decide_promotion(
    challenger: Scorecard,
    champion: Scorecard | None,
    policy: PromotionPolicy = PromotionPolicy(),  # noqa: B008 - frozen, immutable default
    backtest: BacktestResult | None = None,
) -> PromotionDecision:
    """Apply the policy; see the module docstring for the rules."""
    metric = policy.main_metric
    value = _metric(challenger, metric)
    champion_value = _metric(champion, metric) if champion is not None else None
    reasons: list[str] = []
    passed = True

    # 1-2. the challenger's own number
    if not _is_number(value):
        passed = False
        reasons.append(
            f"FAIL: challenger {challenger.model_version} {metric} is missing or NaN; "
            "it cannot be compared with the floor or the champion" + _why_not_measured(challenger)
        )
    elif value + _EPS >= policy.absolute_floor:
        reasons.append(f"PASS: {metric} {value:.3f} >= floor {policy.absolute_floor:.3f}")
    else:
        passed = False
        reasons.append(f"FAIL: {metric} {value:.3f} < floor {policy.absolute_floor:.3f}")

    if champion is None:
        reasons.append(
            "PASS: no champion: the first model that passes the floor is promoted"
            if passed
            else "no champion: nothing to compare with"
        )
        return PromotionDecision(passed, tuple(reasons), metric, value, None)

    # 3. regression against the champion: over the backtest's weeks when there is one
    assert champion_value is not None
    weekly = backtest is not None and backtest.compared_weeks() > 0
    if weekly:
        assert backtest is not None
        week_passed, week_reasons = _check_backtest(backtest, policy)
        passed = passed and week_passed
        reasons.extend(week_reasons)
        if _is_number(champion_value) and _is_number(value):
            reasons.append(
                f"INFO: on the test week alone {metric} {value:.3f} vs champion {champion.model_version} "
                f"{champion_value:.3f} (delta {value - champion_value:+.3f}); the backtest decides"
            )
    elif not _is_number(champion_value):
        reasons.append(
            f"SKIP: champion {champion.model_version} {metric} is missing or NaN; "
            "regression check not applicable"
        )
    elif not _is_number(value):
        reasons.append(
            f"SKIP: regression check needs the challenger's {metric} "
            f"(champion {champion.model_version} {champion_value:.3f})"
        )
    else:
        allowed = champion_value - policy.max_regression
        delta = value - champion_value
        comparison = (
            f"{metric} {value:.3f} vs champion {champion.model_version} {champion_value:.3f} "
            f"(delta {delta:+.3f}, max regression {policy.max_regression:.3f})"
        )
        if value + _EPS >= allowed:
            reasons.append(f"PASS: {comparison}")
        else:
            passed = False
            reasons.append(f"FAIL: {comparison}: regression beyond tolerance")

    # 4. key slices and fraud scenarios, 5. optional value rule
    for check in (_check_slices, _check_scenarios, _check_value):
        rule_passed, rule_reasons = check(challenger, champion, policy)
        passed = passed and rule_passed
        reasons.extend(rule_reasons)

    return PromotionDecision(passed, tuple(reasons), metric, value, champion_value)


_SLICE_KEY = ["slice", "value"]


def _check_slices(
    challenger: Scorecard, champion: Scorecard, policy: PromotionPolicy
) -> tuple[bool, list[str]]:
    metric = policy.slice_metric
    frames = {"challenger": challenger.slices, "champion": champion.slices}
    missing = [who for who, f in frames.items() if f is None or len(f) == 0]
    if missing:
        return True, [f"SKIP: slice check: no slice metrics for {' and '.join(missing)}"]
    needed = {*_SLICE_KEY, "n_fraud", metric}
    for who, f in frames.items():
        absent = needed.difference(f.columns)  # type: ignore[union-attr]
        if absent:
            return True, [f"SKIP: slice check: {who} slices lack columns {sorted(absent)}"]

    def prepare(f: pd.DataFrame) -> pd.DataFrame:
        out = f[[*_SLICE_KEY, "n_fraud", metric]].copy()
        out["value"] = out["value"].astype(str)  # compare values across frames by their text
        return out

    if "status" in challenger.slices.columns and "status" in champion.slices.columns:  # type: ignore[union-attr]
        judged = {who: f[f["status"] == "judged"] for who, f in frames.items()}  # type: ignore[index]
    else:
        judged = frames  # type: ignore[assignment]
    frames = judged
    both = prepare(frames["challenger"]).merge(  # type: ignore[arg-type]
        prepare(frames["champion"]),  # type: ignore[arg-type]
        on=_SLICE_KEY,
        suffixes=("_challenger", "_champion"),
    )
    support = both[["n_fraud_challenger", "n_fraud_champion"]].min(axis=1) if len(both) else pd.Series(dtype=float)
    key = both[
        (support >= policy.min_slice_support)
        & both[f"{metric}_challenger"].notna()
        & both[f"{metric}_champion"].notna()
    ]
    collapsed = key[
        key[f"{metric}_challenger"] + _EPS
        < policy.slice_collapse_ratio * key[f"{metric}_champion"]
    ]
    reasons = [
        f"FAIL: slice {row['slice']}={row['value']} collapsed: {metric} "
        f"{row[metric + '_challenger']:.3f} < {policy.slice_collapse_ratio:.2f} x "
        f"champion {row[metric + '_champion']:.3f} "
        f"({int(min(row['n_fraud_challenger'], row['n_fraud_champion']))} fraud cases)"
        for row in collapsed.to_dict("records")
    ]
    if collapsed.empty:
        reasons.append(
            f"PASS: {len(key)} key slices (>= {policy.min_slice_support} fraud cases, in both) "
            f"checked, none has {metric} < {policy.slice_collapse_ratio:.2f} x champion's"
        )
    return collapsed.empty, reasons


def _check_backtest(backtest: BacktestResult, policy: PromotionPolicy) -> tuple[bool, list[str]]:
    """Mean over the backtest's weeks within ``max_regression``; worst week within ``max_worst_week_regression``."""
    metric = backtest.metric
    mean_delta, (worst_week, worst_delta) = backtest.mean_delta(), backtest.worst_week()
    mean_ok = mean_delta + _EPS >= -policy.max_regression
    worst_ok = worst_delta + _EPS >= -policy.max_worst_week_regression
    n = backtest.compared_weeks()
    reasons = [
        f"{'PASS' if mean_ok else 'FAIL'}: backtest mean {metric} over {n} weeks {backtest.mean('challenger'):.3f} vs "
        f"champion's recipe {backtest.mean('champion'):.3f} (delta {mean_delta:+.3f}, max regression {policy.max_regression:.3f})"
        + ("" if mean_ok else ": regression beyond tolerance"),
        f"{'PASS' if worst_ok else 'FAIL'}: worst backtest week ({worst_week}) {metric} delta {worst_delta:+.3f} "
        f"(max {policy.max_worst_week_regression:.3f} below the champion's recipe in any week)",
        f"INFO: {backtest.ci_level:.0%} bootstrap interval of the mean average precision difference, resampling "
        f"{backtest.resample_unit}s ({backtest.n_boot} draws): [{backtest.ci_low:+.3f}, {backtest.ci_high:+.3f}]",
    ]
    return mean_ok and worst_ok, reasons


def _check_scenarios(challenger: Scorecard, champion: Scorecard, policy: PromotionPolicy) -> tuple[bool, list[str]]:
    """A judged fraud scenario (enough frauds in both) may not lose its recall at the alert budget."""
    frames = (challenger.scenarios, champion.scenarios)
    if any(f is None or len(f) == 0 for f in frames):
        return True, ["SKIP: scenario check: no fraud scenarios recorded"]
    both = frames[0].merge(frames[1], on="scenario", suffixes=("_challenger", "_champion"))  # type: ignore[union-attr]
    judged = both[(both["status_challenger"] == "judged") & (both["status_champion"] == "judged")]
    small = sorted(set(both["scenario"]) - set(judged["scenario"]))
    collapsed = judged[judged["recall_at_budget_challenger"] + _EPS < policy.slice_collapse_ratio * judged["recall_at_budget_champion"]]
    reasons = [
        f"FAIL: scenario {row['scenario']} collapsed: recall at the alert budget {row['recall_at_budget_challenger']:.3f} < "
        f"{policy.slice_collapse_ratio:.2f} x champion {row['recall_at_budget_champion']:.3f} ({int(row['n_fraud_challenger'])} frauds)"
        for row in collapsed.to_dict("records")
    ]
    if collapsed.empty:
        reasons.append(
            f"PASS: {len(judged)} fraud scenarios with >= {policy.min_slice_support} frauds checked, none lost recall at the budget"
            + (f"; too small to judge: {', '.join(small)}" if small else "")
        )
    return collapsed.empty, reasons


def _check_value(challenger: Scorecard, champion: Scorecard, policy: PromotionPolicy) -> tuple[bool, list[str]]:
    if policy.max_value_regression is None:
        return True, []
    name = "fraud_value_caught_share"
    ours, theirs = _metric(challenger, name), _metric(champion, name)
    if not (_is_number(ours) and _is_number(theirs)):
        return True, [f"SKIP: value rule: {name} missing for challenger or champion"]
    ok = ours + _EPS >= theirs - policy.max_value_regression
    return ok, [
        f"{'PASS' if ok else 'FAIL'}: share of fraud value caught at the alert budget {ours:.3f} vs champion {theirs:.3f} "
        f"(max regression {policy.max_value_regression:.3f})"
    ]
