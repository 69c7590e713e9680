"""Promotion history, rollback and model cards: every decision answerable to an auditor.

Pure functions over plain records; the registry and storage resources persist them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

KNOWN_LIMITATIONS = (
    "Labels are chargebacks: fraud not yet reported when the training window closed counts as genuine.",
    "Test metrics come from one time-forward week; the rolling backtest covers a few more weeks, not seasonality.",
    "Slices with fewer fraud cases than the gate's minimum support are reported but not gated.",
    "Merchant risk features need the label delay to pass; brand-new merchants score without them.",
)


def previous_champion(history: Sequence[Mapping[str, Any]], current: str | None) -> str | None:
    """The version that was champion before `current`, from the newest history entry that moved it there."""
    for record in sorted(history, key=lambda r: r["decided_at"], reverse=True):
        before, after = record.get("champion_version_before"), record.get("champion_version_after")
        if after == current and before and before != current:
            return str(before)
    return None


def rollback_record(current: str, target: str, reason: str, now: dt.datetime | None = None) -> dict[str, Any]:
    stamp = (now or dt.datetime.now(dt.timezone.utc)).strftime("%Y%m%dT%H%M%SZ")
    return {
        "decided_at": stamp,
        "action": "rollback",
        "promote": True,
        "challenger_version": target,
        "champion_version_before": current,
        "champion_version_after": target,
        "reasons": [f"ROLLBACK: champion v{current} -> v{target}: {reason}"],
    }


def history_table(history: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per decision, newest first, for listing in a terminal or the UI."""
    rows = []
    for record in sorted(history, key=lambda r: r["decided_at"], reverse=True):
        rows.append(
            {
                "decided_at": record["decided_at"],
                "action": record.get("action", "promotion" if record.get("promote") else "refusal"),
                "model_version": record.get("challenger_version"),
                "champion_before": record.get("champion_version_before"),
                "champion_after": record.get("champion_version_after"),
                "main_metric": record.get("main_metric"),
                "challenger_value": record.get("challenger_value"),
                "champion_value": record.get("champion_value"),
                "why": "; ".join(r for r in record.get("reasons", []) if not r.startswith("PASS")) or "all rules passed",
            }
        )
    return rows


def model_card(
    *,
    model_name: str,
    version: str,
    run_id: str,
    tags: Mapping[str, str],
    params: Mapping[str, str],
    validation_metrics: Mapping[str, float],
    test_metrics: Mapping[str, float],
    slices: Sequence[Mapping[str, Any]],
    decision: Mapping[str, Any],
    test_window: Mapping[str, str],
    scenarios: Sequence[Mapping[str, Any]] = (),
    backtest: Mapping[str, Any] | None = None,
) -> tuple[str, dict[str, Any]]:
    """The model card as markdown and as a YAML-ready dict, from recorded metadata only."""
    card = {
        "model": {"name": model_name, "version": version, "mlflow_run_id": run_id, "framework": "xgboost"},
        "intended_use": "Score card transactions for fraud; alerts go to analysts within a daily budget.",
        "data": {
            "training_window": {"start": tags.get("train_start"), "end": tags.get("train_end")},
            "test_window": dict(test_window),
            "training_set_version": tags.get("training_set_version"),
        },
        "provenance": {"code_version": tags.get("code_version"), "lockfile_sha256": tags.get("lockfile_sha256")},
        "training": {k: params[k] for k in sorted(params) if k in _CARD_PARAMS},
        "metrics": {
            "validation": {k: _num(v) for k, v in sorted(validation_metrics.items())},
            "test": {k: _num(v) for k, v in sorted(test_metrics.items())},
        },
        "slices": [{k: _num(v) for k, v in row.items()} for row in slices],
        "fraud_scenarios": [{k: _num(v) for k, v in row.items()} for row in scenarios],
        "backtest": dict(backtest) if backtest else None,
        "promotion": {"promoted": bool(decision.get("promote")), "reasons": list(decision.get("reasons", []))},
        "known_limitations": list(KNOWN_LIMITATIONS),
    }
    lines = [
        f"# Model card: {model_name} v{version}",
        "",
        card["intended_use"],
        "",
        "## Data",
        f"- training window: {card['data']['training_window']['start']} to {card['data']['training_window']['end']}",
        f"- test window: {test_window.get('test_start')} to {test_window.get('test_end')}",
        *[f"- {name}: {value}" for name, value in test_window.items() if name.startswith("rows (")],
        f"- training set version: {card['data']['training_set_version']}",
        "",
        "## Provenance",
        f"- code: {card['provenance']['code_version']}",
        f"- lockfile sha256: {card['provenance']['lockfile_sha256']}",
        f"- MLflow run: {run_id}",
        "",
        "## Test metrics",
        "",
        "| metric | value |",
        "|---|---|",
        *[f"| {k} | {_fmt(v)} |" for k, v in card["metrics"]["test"].items()],
        "",
        "## Slices",
        "",
        "| slice | value | n | fraud | average precision | status |",
        "|---|---|---|---|---|---|",
        *[
            f"| {r.get('slice')} | {r.get('value')} | {r.get('n')} | {r.get('n_fraud')} | {_fmt(r.get('average_precision'))} | {r.get('status', '')} |"
            for r in card["slices"]
        ],
        "",
        "## Fraud scenarios (recall at the daily alert budget and at the threshold)",
        "",
        "| scenario | frauds | fraud value | recall at budget | recall at threshold | status |",
        "|---|---|---|---|---|---|",
        *[
            f"| {r.get('scenario')} | {r.get('n_fraud')} | {_fmt(r.get('fraud_value'))} | {_fmt(r.get('recall_at_budget'))} | "
            f"{_fmt(r.get('recall_at_threshold'))} | {r.get('status')} |"
            for r in card["fraud_scenarios"]
        ],
        "",
        *_backtest_lines(backtest),
        f"## Promotion: {'promoted to champion' if card['promotion']['promoted'] else 'refused'}",
        *[f"- {r}" for r in card["promotion"]["reasons"]],
        "",
        "## Known limitations",
        *[f"- {x}" for x in KNOWN_LIMITATIONS],
        "",
    ]
    return "\n".join(lines), card


def _backtest_lines(backtest: Mapping[str, Any] | None) -> list[str]:
    """Per-week figures of the rolling backtest, challenger's recipe vs champion's recipe."""
    if not backtest or not backtest.get("weeks"):
        return []
    metric = backtest["metric"]
    lines = [
        f"## Rolling backtest ({metric}, known-compromised cards removed)",
        "",
        "| week | test window | frauds | challenger | champion | delta |",
        "|---|---|---|---|---|---|",
    ]
    for week in backtest["weeks"]:
        lines.append(
            f"| {week['week']} | {week['test_window']} | {week['n_fraud']} | {_fmt(week.get('challenger_' + metric))} | "
            f"{_fmt(week.get('champion_' + metric))} | {_fmt(week.get('delta'))} |"
        )
    ci = backtest.get("ci") or [None, None]
    lines += ["", f"- {backtest['ci_level']:.0%} bootstrap interval of the mean AP difference (resampling {backtest['resample_unit']}s): "
              f"[{_fmt(ci[0])}, {_fmt(ci[1])}]"]
    lines += [f"- skipped: {reason}" for reason in backtest.get("skipped", [])]
    return [*lines, ""]


def card_yaml(card: Mapping[str, Any]) -> str:
    return yaml.safe_dump(dict(card), sort_keys=False, allow_unicode=True)


_CARD_PARAMS = ("max_depth", "learning_rate", "scale_pos_weight", "best_iteration", "threshold", "device", "seed", "features")


def _num(value: Any) -> Any:
    if isinstance(value, float):
        return None if value != value else round(value, 6)
    if hasattr(value, "item"):
        return _num(value.item())
    return value


def _fmt(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else ("n/a" if value is None else str(value))
