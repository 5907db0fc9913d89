"""sklearn_l2o: learning to optimize, as scikit-learn estimators.

Unrolled sparse solvers (ALISTA, ...) trained on (b, x) pairs, classic
baselines (ISTA, FISTA), and the survey's benchmark tasks as dataset makers.
"""

from ._ada_lista import AdaLISTA
from ._alista import ALISTA, ALISTARegressor
from ._analytic import AnalyticOptimizer
from ._classic import FISTA, ISTA
from ._fixed_point import FixedPointALISTA
from ._glista import GLISTA
from ._hyperlista import HyperLISTA
from ._lamp import LAMP
from ._learned_optimizer import LearnedOptimizer
from ._lfista import LFISTA
from ._lista import LISTA, LISTASS
from ._lista_cp import LIHT, LISTACP, LISTACPSS
from ._na_alista import NAALISTA
from ._robust_alista import RobustALISTA
from ._safeguard import Safeguarded
from ._steplista import StepLISTA
from ._tilista import TiLISTA
from ._tista import TISTA

__version__ = "0.1.0"

__all__ = [
    "AdaLISTA",
    "ALISTA",
    "ALISTARegressor",
    "AnalyticOptimizer",
    "FISTA",
    "FixedPointALISTA",
    "GLISTA",
    "HyperLISTA",
    "ISTA",
    "LAMP",
    "LearnedOptimizer",
    "LFISTA",
    "LIHT",
    "LISTA",
    "LISTACP",
    "LISTACPSS",
    "LISTASS",
    "NAALISTA",
    "RobustALISTA",
    "Safeguarded",
    "StepLISTA",
    "TiLISTA",
    "TISTA",
    "__version__",
]
