"""Metrics for sparse recovery and LASSO minimisation, and the plots that
show them."""

from ._display import NMSECurveDisplay, TrainingHistoryDisplay
from ._metrics import (
    generalized_coherence,
    lasso_objective,
    mutual_coherence,
    nmse_db,
    nmse_scorer,
)

__all__ = [
    "NMSECurveDisplay",
    "TrainingHistoryDisplay",
    "generalized_coherence",
    "lasso_objective",
    "mutual_coherence",
    "nmse_db",
    "nmse_scorer",
]
