"""The fixed population of customers (cards) and merchants (terminals), a pure function of the seed.

Built once per (seed, size) and cached read-only, because every day of every scenario draws
from it; the merchant pools make a per-row draw "a popular merchant of this channel, category
and country" a single vectorised ``searchsorted``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from fraudshield_pipeline.domain.simulate.tables import (
    _ACTIVITY_CAP,
    _ACTIVITY_PARETO_SHAPE,
    _CASHOUT_MIX,
    _COUNTRY_WEIGHTS,
    _CP,
    _CUSTOMER_AMOUNT_SIGMA,
    _GENUINE_MIX,
    _HOLIDAY_CATEGORY_BOOST,
    _LARGE_MIX,
    _MEDIAN_AMOUNT,
    _MERCHANT_CATEGORY_WEIGHTS,
    _N_CAT,
    _N_CTY,
    _ONLINE,
    _ONLINE_MERCHANT_COUNTRY_BOOST,
    _P_BOTH_CHANNELS,
    _P_ONLINE_ONLY,
    _STREAM_POPULATION,
    _TAKEOVER_MIX,
    _TESTING_MIX,
)


@dataclass(frozen=True)
class _Population:
    customer_ids: np.ndarray  # object
    home: np.ndarray  # country index
    median_amount: np.ndarray
    activity_cum: np.ndarray  # cumulative, normalised activity (for sampling by activity)
    online_propensity: np.ndarray
    merchant_ids: np.ndarray  # object
    merchant_category: np.ndarray
    merchant_country: np.ndarray
    card_present_merchants: np.ndarray  # indices of merchants accepting card-present payments
    # merchant pools by (channel, category, country) with a (channel, category) fallback
    pool_merchant: np.ndarray  # merchant index per pool entry, entries sorted by pool
    pool_cum: np.ndarray  # cumulative popularity over the entries
    pool_lo: np.ndarray
    pool_hi: np.ndarray
    pool_base: np.ndarray  # cumulative popularity before the pool's first entry
    pool_total: np.ndarray
    pool_of: np.ndarray  # [channel, category, country] -> pool id (after fallback)
    # cumulative category mixes [channel, category]
    genuine_mix: np.ndarray
    holiday_mix: np.ndarray
    takeover_mix: np.ndarray
    large_mix: np.ndarray
    testing_mix: np.ndarray
    cashout_mix: np.ndarray
    foreign_cum: np.ndarray  # [home country, country]: where a customer goes abroad
    country_cum: np.ndarray  # overall country distribution


def _cum_rows(weights: np.ndarray) -> np.ndarray:
    cum = np.cumsum(weights / weights.sum(axis=-1, keepdims=True), axis=-1)
    cum[..., -1] = 1.0
    return cum


def _categorical(cum: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Per-row categorical draw: ``cum`` is (n, k) cumulative probabilities, ``u`` uniform (n,)."""
    if cum.ndim == 1:
        return np.searchsorted(cum, u, side="right")
    return (cum <= u[:, None]).sum(axis=1)


def _readonly(*arrays: np.ndarray) -> None:
    for array in arrays:
        array.setflags(write=False)


@functools.lru_cache(maxsize=8)
def _population(seed: int, n_customers: int, n_merchants: int) -> _Population:
    rng = np.random.default_rng([seed, 0, _STREAM_POPULATION])
    country_p = _COUNTRY_WEIGHTS / _COUNTRY_WEIGHTS.sum()

    # customers
    home = rng.choice(_N_CTY, size=n_customers, p=country_p)
    median_amount = rng.lognormal(np.log(_MEDIAN_AMOUNT), _CUSTOMER_AMOUNT_SIGMA, n_customers)
    activity = np.minimum(rng.pareto(_ACTIVITY_PARETO_SHAPE, n_customers) + 1.0, _ACTIVITY_CAP)
    activity_cum = np.cumsum(activity / activity.sum())
    activity_cum[-1] = 1.0
    online_propensity = rng.beta(2.0, 5.0, n_customers)

    # merchants; the first ones cover every category so each channel has merchants
    category = rng.choice(
        _N_CAT, size=n_merchants, p=_MERCHANT_CATEGORY_WEIGHTS / _MERCHANT_CATEGORY_WEIGHTS.sum()
    )
    category[:_N_CAT] = np.arange(_N_CAT)
    u = rng.random(n_merchants)
    p_online_only = _P_ONLINE_ONLY[category]
    online_only = u < p_online_only
    both = ~online_only & (u < p_online_only + _P_BOTH_CHANNELS[category])
    accepts = np.stack([~online_only, online_only | both])  # [channel, merchant]
    online_country_w = _COUNTRY_WEIGHTS * _ONLINE_MERCHANT_COUNTRY_BOOST
    country = np.where(
        online_only,
        rng.choice(_N_CTY, size=n_merchants, p=online_country_w / online_country_w.sum()),
        rng.choice(_N_CTY, size=n_merchants, p=country_p),
    )
    popularity = rng.lognormal(0.0, 1.0, n_merchants)

    # pools: id channel*N_CAT*N_CTY + category*N_CTY + country, then fallbacks
    # 2*N_CAT*N_CTY + channel*N_CAT + category (any country)
    n_fine = 2 * _N_CAT * _N_CTY
    n_pools = n_fine + 2 * _N_CAT
    keys, members = [], []
    for channel in (_CP, _ONLINE):
        idx = np.flatnonzero(accepts[channel])
        keys.append(channel * _N_CAT * _N_CTY + category[idx] * _N_CTY + country[idx])
        keys.append(n_fine + channel * _N_CAT + category[idx])
        members.extend([idx, idx])
    key = np.concatenate(keys)
    member = np.concatenate(members)
    order = np.argsort(key, kind="stable")
    key, member = key[order], member[order]
    cum = np.cumsum(popularity[member])
    pool_lo = np.searchsorted(key, np.arange(n_pools), side="left")
    pool_hi = np.searchsorted(key, np.arange(n_pools), side="right")
    cum_with_zero = np.concatenate([[0.0], cum])
    pool_base = cum_with_zero[pool_lo]
    pool_total = cum_with_zero[pool_hi] - pool_base
    nonempty = pool_hi > pool_lo
    fine = np.arange(n_fine).reshape(2, _N_CAT, _N_CTY)
    coarse = (n_fine + np.arange(2 * _N_CAT)).reshape(2, _N_CAT, 1)
    pool_of = np.where(nonempty[fine], fine, coarse)
    available = nonempty[n_fine:].reshape(2, _N_CAT).astype(float)  # [channel, category]

    def mix(weights: np.ndarray) -> np.ndarray:
        w = np.broadcast_to(weights, (2, _N_CAT)) * available
        w = np.where(w.sum(axis=1, keepdims=True) > 0, w, available)  # fallback: any category
        return _cum_rows(w)

    foreign_w = np.tile(_COUNTRY_WEIGHTS, (_N_CTY, 1))
    np.fill_diagonal(foreign_w, 0.0)
    population = _Population(
        customer_ids=np.array([f"C{i:07d}" for i in range(n_customers)], dtype=object),
        home=home,
        median_amount=median_amount,
        activity_cum=activity_cum,
        online_propensity=online_propensity,
        merchant_ids=np.array([f"M{i:06d}" for i in range(n_merchants)], dtype=object),
        merchant_category=category,
        merchant_country=country,
        card_present_merchants=np.flatnonzero(accepts[_CP]),
        pool_merchant=member,
        pool_cum=cum,
        pool_lo=pool_lo,
        pool_hi=pool_hi,
        pool_base=pool_base,
        pool_total=pool_total,
        pool_of=pool_of,
        genuine_mix=mix(_GENUINE_MIX),
        holiday_mix=mix(_GENUINE_MIX * _HOLIDAY_CATEGORY_BOOST),
        takeover_mix=mix(_TAKEOVER_MIX),
        large_mix=mix(_LARGE_MIX),
        testing_mix=mix(_TESTING_MIX),
        cashout_mix=mix(_CASHOUT_MIX),
        foreign_cum=_cum_rows(foreign_w),
        country_cum=_cum_rows(_COUNTRY_WEIGHTS),
    )
    _readonly(*(v for v in vars(population).values() if isinstance(v, np.ndarray)))
    return population


def _draw_merchants(
    pop: _Population, channel: np.ndarray, category: np.ndarray, country: np.ndarray, u: np.ndarray
) -> np.ndarray:
    """A merchant per row, by popularity, from the (channel, category, country) pool."""
    pool = pop.pool_of[channel, category, country]
    target = pop.pool_base[pool] + u * pop.pool_total[pool]
    entry = np.searchsorted(pop.pool_cum, target, side="right")
    entry = np.clip(entry, pop.pool_lo[pool], pop.pool_hi[pool] - 1)
    return pop.pool_merchant[entry]

