"""Backtest folds kept between evaluations, addressed by everything that decides them.

A weekly evaluation refits each recipe on four windows. Next week the champion is usually this
week's challenger, and its recipe's windows for weeks 1-3 are this week's weeks 0-2: the same
rows, the same recipe, the same booster. Keeping each fold's booster (XGBoost's own UBJ format,
never pickle) under a fingerprint of the recipe, the exact rows it is fit on and the fitting code
turns those refits into reads (7 fits -> 4 for a promoted challenger's next evaluation; 0 for a
re-run). A changed label, row, parameter, fit function or XGBoost version changes the fingerprint,
so a stale fold is never reused; the store is a cache and may be deleted at any time.
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import pandas as pd

from fraudshield_pipeline.domain import schema as s


@cache
def fitting_code_version() -> str:
    """The fit's own code and library: a commit elsewhere in the repository keeps the folds."""
    import xgboost

    from fraudshield_pipeline.domain import train

    return hashlib.sha256(f"{inspect.getsource(train)}\nxgboost=={xgboost.__version__}".encode()).hexdigest()[:16]


def fold_fingerprint(rows: pd.DataFrame, recipe, compute_params: Mapping[str, Any]) -> str:
    """Equal fingerprints fit to the same booster: the recipe, the compute settings, the fitting
    code and the rows it reads (its features, label, ids and times, in time order; other
    columns and the frame's row order do not matter)."""
    from fraudshield_pipeline.domain.train import time_ordered, training_fingerprint

    columns = sorted({*recipe.feature_names, s.IS_FRAUD, s.TRANSACTION_ID, s.EVENT_TIMESTAMP} & set(rows.columns))
    ordered = time_ordered(rows)[columns].reset_index(drop=True)
    content = hashlib.sha256(pd.util.hash_pandas_object(ordered, index=False).to_numpy().tobytes())
    content.update(repr([(c, str(ordered[c].dtype)) for c in columns]).encode())
    return training_fingerprint(
        recipe=recipe.key(), rows=content.hexdigest(), compute=dict(compute_params), code=fitting_code_version()
    )


@dataclass
class FoldStore:
    """Wraps a backtest's ``fit(rows, recipe)``: a fold already in the store is read, not refit.

    ``read(fingerprint)`` returns the booster's bytes or None; ``write(fingerprint, data)`` keeps
    them. ``fitted``, ``reused`` and ``pruned`` count what happened, for the report; ``used``
    holds every fingerprint this evaluation read or wrote. Next week's evaluation can only need
    folds among those (its weeks 1.. are this week's 0..), so `prune` deletes the rest.
    """

    read: Callable[[str], bytes | None]
    write: Callable[[str, bytes], None]
    compute_params: Mapping[str, Any]
    fitted: int = 0
    reused: int = 0
    used: set[str] = field(default_factory=set)
    pruned: int = 0

    def wrap(self, fit: Callable[[pd.DataFrame, Any], Any]) -> Callable[[pd.DataFrame, Any], Any]:
        def fit_or_read(rows: pd.DataFrame, recipe) -> Any:
            fingerprint = fold_fingerprint(rows, recipe, self.compute_params)
            booster = load_booster(self.read(fingerprint))
            if booster is not None:
                self.reused += 1
                self.used.add(fingerprint)
                return booster
            booster = fit(rows, recipe)
            self.fitted += 1
            self.remember(rows, recipe, booster, fingerprint)
            return booster

        return fit_or_read

    def remember(self, rows: pd.DataFrame, recipe, booster, fingerprint: str | None = None) -> None:
        """Keep a booster fit elsewhere (the registered challenger is its recipe's fold on its own window)."""
        fingerprint = fingerprint or fold_fingerprint(rows, recipe, self.compute_params)
        self.write(fingerprint, bytes(booster.save_raw(raw_format="ubj")))
        self.used.add(fingerprint)

    def prune(self, stored_keys: Iterable[str], key: Callable[[str], str], delete: Callable[[str], None]) -> None:
        """Deletes every stored fold this evaluation did not use (``key(fingerprint)`` names a fold
        in storage): windows past the backtest's reach, recipes no longer champion or challenger,
        folds of data since corrected."""
        kept = {key(fingerprint) for fingerprint in self.used}
        for stored in sorted(set(stored_keys) - kept):
            delete(stored)
            self.pruned += 1

    def summary(self) -> dict[str, int]:
        return {"fitted": self.fitted, "reused_from_store": self.reused, "pruned": self.pruned}


def load_booster(data: bytes | None):
    """The stored booster, or None when there is none or it does not load (then it is refit)."""
    import xgboost as xgb

    if not data:
        return None
    booster = xgb.Booster()
    try:
        booster.load_model(bytearray(data))
    except xgb.core.XGBoostError:
        return None
    return booster
