"""The transaction-level scoring service: `FraudScorer` behind a circuit breaker, with metrics.

A request never hangs on, and never crashes over, the online store:
- store unreachable (connection refused, or no answer within the Redis client's socket
  timeouts, `resources.feature_store.REDIS_TIMEOUTS`: 1 s connect, 2 s read): the answer is the
  fallback, `decision = fallback_decision` ("review"), `degraded = true`, no score, and the
  circuit opens after `breaker_failures` consecutive failures;
- circuit open: the fallback at once, without touching the store, for `breaker_reset_s`; then
  one request probes the store: success closes the circuit, failure keeps it open;
- store answers but is stale (`StaleOnlineState`: never materialized, or labels older than the
  transaction's day): the fallback too (`degraded_reason = "stale_state"`); the store answered
  quickly, so the circuit stays closed.
A scored transaction is then recorded (its card's and merchant's state advanced, atomically,
from the same read under the state lock); a failed record is counted and feeds the breaker, and
never changes the answer already computed.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"
CALLER_ERRORS = (KeyError, TypeError, ValueError)  # a bad request, not a store failure


@dataclass
class CircuitBreaker:
    failures_to_open: int = 1
    reset_after_s: float = 5.0
    state: str = CLOSED
    failures: int = 0
    opened_at: float = 0.0
    opened_count: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def allow(self) -> bool:
        """True when a request may use the store; an open circuit lets one probe through per reset period."""
        with self._lock:
            if self.state == CLOSED:
                return True
            if self.state == OPEN and time.monotonic() - self.opened_at >= self.reset_after_s:
                self.state = HALF_OPEN  # this caller is the probe; others keep the fallback
                return True
            return False

    def success(self) -> None:
        with self._lock:
            self.state, self.failures = CLOSED, 0

    def failure(self) -> None:
        with self._lock:
            self.failures += 1
            if self.state == HALF_OPEN or self.failures >= self.failures_to_open:
                if self.state != OPEN:
                    self.opened_count += 1
                self.state, self.opened_at = OPEN, time.monotonic()


class ServingMetrics:
    """Counters and a latency reservoir, exposed in Prometheus' text format."""

    COUNTERS = ("requests", "scored", "alerts", "fallback_store_unreachable", "fallback_circuit_open",
                "fallback_stale_state", "recorded", "record_failures")  # fmt: skip

    def __init__(self):
        self._lock = threading.Lock()
        self.counts = dict.fromkeys(self.COUNTERS, 0)
        self.latencies_ms: list[float] = []

    def count(self, name: str, latency_ms: float | None = None) -> None:
        with self._lock:
            self.counts[name] += 1
            if latency_ms is not None and len(self.latencies_ms) < 100_000:
                self.latencies_ms.append(latency_ms)

    def prometheus(self, breaker: CircuitBreaker, model_version: str) -> str:
        import numpy as np

        with self._lock:
            counts, latencies = dict(self.counts), list(self.latencies_ms)
        lines = [f'fraudshield_serving_{name}_total{{model_version="{model_version}"}} {value}' for name, value in counts.items()]
        lines.append(f"fraudshield_serving_circuit_open {int(breaker.state != CLOSED)}")
        lines.append(f"fraudshield_serving_circuit_opened_total {breaker.opened_count}")
        for q in (50, 99):
            value = float(np.percentile(latencies, q)) if latencies else float("nan")
            lines.append(f'fraudshield_serving_latency_ms{{quantile="0.{q}"}} {value:.3f}')
        return "\n".join(lines) + "\n"


class ScoringService:
    """One transaction in, one answer out (a JSON-ready dict); thread-safe."""

    def __init__(self, scorer, fallback_decision: str = "review", breaker_failures: int = 1, breaker_reset_s: float = 5.0, record: bool = True):
        self.scorer = scorer
        self.fallback_decision = fallback_decision
        self.breaker = CircuitBreaker(breaker_failures, breaker_reset_s)
        self.metrics = ServingMetrics()
        self.record = record

    @classmethod
    def from_config(cls, scorer, config: Mapping[str, object]) -> ScoringService:
        return cls(scorer, str(config["fallback_decision"]), int(config["breaker_failures"]), float(config["breaker_reset_s"]), bool(config["record"]))

    def handle_all(self, transactions: list[Mapping[str, object]]) -> list[dict[str, object]]:
        """Answers for a request of several transactions, each checked before the first is handled.

        Handling records a transaction into its card's state; a request refused at its third row
        would otherwise have recorded the first two, and a client retrying it would record them
        twice. A caller error (`KeyError`, `TypeError`, `ValueError`) refuses the whole request.
        A single transaction has nothing before it to protect: it is not checked twice.
        """
        if len(transactions) > 1:
            for transaction in transactions:
                self.scorer.check(transaction)
        return [self.handle(transaction) for transaction in transactions]

    def handle(self, transaction: Mapping[str, object]) -> dict[str, object]:
        from fraudshield_pipeline.domain.online import StaleOnlineState

        started = time.perf_counter()
        self.metrics.count("requests")
        if not self.breaker.allow():
            return self._fallback(transaction, "circuit_open", started)
        try:
            if self.record:
                decision, record_error = self.scorer.score_and_record(transaction)
            else:
                decision, record_error = self.scorer.score(transaction), None
        except StaleOnlineState:
            self.breaker.success()  # the store answered, quickly: nothing to protect against
            return self._fallback(transaction, "stale_state", started)
        except CALLER_ERRORS:
            raise
        except Exception:  # redis ConnectionError/TimeoutError/lock wait, sqlite OperationalError, OSError
            self.breaker.failure()
            return self._fallback(transaction, "store_unreachable", started)
        self.breaker.success()
        if isinstance(record_error, CALLER_ERRORS):
            raise record_error
        if record_error is not None:
            self.metrics.count("record_failures")
            self.breaker.failure()
        elif self.record:
            self.metrics.count("recorded")
        answer = {
            "transaction_id": decision.transaction_id,
            "score": decision.score,
            "decision": "alert" if decision.flagged else "approve",
            "threshold": decision.threshold,
            "model_version": decision.model_version,
            "reasons": json.dumps(list(decision.reasons)),
            "degraded": False,
            "degraded_reason": None,
        }
        self.metrics.count("scored", (time.perf_counter() - started) * 1000)
        if decision.flagged:
            self.metrics.count("alerts")
        return answer

    def _fallback(self, transaction: Mapping[str, object], reason: str, started: float) -> dict[str, object]:
        self.metrics.count(f"fallback_{reason}", (time.perf_counter() - started) * 1000)
        return {
            "transaction_id": str(transaction.get("transaction_id")),
            "score": None,
            "decision": self.fallback_decision,
            "threshold": self.scorer.threshold,
            "model_version": self.scorer.model_version,
            "reasons": "[]",
            "degraded": True,
            "degraded_reason": reason,
        }

    def metrics_text(self) -> str:
        return self.metrics.prometheus(self.breaker, self.scorer.model_version)


def serve_metrics(service: ScoringService, host: str, port: int):
    """`GET /metrics` (Prometheus text) on a daemon thread; returns the server (`.shutdown()` stops it)."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's naming)
            body = service.metrics_text().encode() if self.path.rstrip("/") == "/metrics" else b""
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):  # keep the serving console to MLflow's own lines
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="fraudshield-metrics", daemon=True).start()
    return server
