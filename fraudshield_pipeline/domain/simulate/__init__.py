"""A seeded, vectorised simulator of card transactions and their (delayed) chargeback labels.

Inspired by the transaction simulator of the *Reproducible Machine Learning for Credit Card
Fraud Detection* handbook (Le Borgne et al.), but richer and vectorised with numpy:

* a fixed population of customers (cards) and merchants (terminals) that is a pure function of
  the seed: home country, a lognormal spending profile, a heavily skewed (Pareto) activity
  rate and an online-shopping propensity per customer; a category, a country, a channel mix
  (card present only, online only, or both) and a popularity per merchant;
* a weekly profile of the daily volume and a diurnal profile of the time of day;
* four fraud scenarios (``schema.FRAUD_SCENARIOS``): compromised terminals, account takeovers,
  card testing bursts and very large amounts;
* a label feed: one chargeback row per fraudulent transaction that becomes known days later;
* drift knobs (holiday spending, a new payment partner sending MCC codes, a change of fraud
  strategy), each effective from its own start date.

``simulate_day(config, day)`` is a pure function of ``(config, day)``: the output does not
depend on which other days were simulated, or in which order. Multi-day fraud episodes are
drawn from RNGs seeded by ``(seed, start day ordinal, scenario)`` and each day looks back
over the start days whose episodes may still be active. Every random component of a day has
its own RNG stream, so a drift knob changes only what it is meant to change.

The package deliberately depends only on numpy and pandas. Its modules follow the data flow of
a day: ``tables`` (every constant), ``config``, ``population``, ``purchases`` (genuine traffic),
``fraud`` (scenarios and their episodes), ``labels`` (the delayed chargeback feed) and ``day``
(assembly). The names below are the public API; everything else is internal.
"""

from __future__ import annotations

from fraudshield_pipeline.domain.simulate.config import DriftKnobs, SimulatedDay, SimulationConfig
from fraudshield_pipeline.domain.simulate.day import clear_caches, simulate_day, simulate_days
from fraudshield_pipeline.domain.simulate.tables import MCC_TO_CATEGORY, PARTNER_MCC_CODES

__all__ = [
    "DriftKnobs",
    "MCC_TO_CATEGORY",
    "PARTNER_MCC_CODES",
    "SimulatedDay",
    "SimulationConfig",
    "clear_caches",
    "simulate_day",
    "simulate_days",
]
