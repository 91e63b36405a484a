"""Partition scenarios: the model (:mod:`.model`) and the integrity verdict (:mod:`.judge`)."""

from .judge import (
    AlertEvent,
    InvariantResult,
    Observations,
    StoredAggregate,
    StoredReading,
    Verdict,
    judge,
    recompute_aggregates,
)
from .model import Expectations, Fault, FaultKind, Fleet, Scenario, Target

__all__ = [
    "AlertEvent",
    "Expectations",
    "Fault",
    "FaultKind",
    "Fleet",
    "InvariantResult",
    "Observations",
    "Scenario",
    "StoredAggregate",
    "StoredReading",
    "Target",
    "Verdict",
    "judge",
    "recompute_aggregates",
]
