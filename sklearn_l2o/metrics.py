"""Metrics for sparse recovery and LASSO minimisation, and the plots that
show them."""

from ._display import NMSECurveDisplay, TrainingHistoryDisplay
from ._metrics import lasso_objective, nmse_db, nmse_scorer

__all__ = [
    "NMSECurveDisplay",
    "TrainingHistoryDisplay",
    "lasso_objective",
    "nmse_db",
    "nmse_scorer",
]
