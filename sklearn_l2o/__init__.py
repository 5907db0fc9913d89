"""sklearn_l2o: learning to optimize, as scikit-learn estimators.

Unrolled sparse solvers (ALISTA, ...) trained on (b, x) pairs, classic
baselines (ISTA, FISTA), and the survey's benchmark tasks as dataset makers.
"""

from ._alista import ALISTA, ALISTARegressor
from ._classic import FISTA, ISTA

__version__ = "0.1.0"

__all__ = [
    "ALISTA",
    "ALISTARegressor",
    "FISTA",
    "ISTA",
    "__version__",
]
