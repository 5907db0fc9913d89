"""Problem families for the model-free learned optimizers.

One instance of a family is one row of a 2-D array; see
:class:`~sklearn_l2o.problems.ProblemFamily`.
"""

from ._nettrain import ConvNetTrainingProblems, MLPTrainingProblems
from ._problems import L1Term, LassoProblems, ProblemFamily, QuadraticProblems
from ._rastrigin import RastriginProblems

__all__ = [
    "ConvNetTrainingProblems",
    "L1Term",
    "LassoProblems",
    "MLPTrainingProblems",
    "ProblemFamily",
    "QuadraticProblems",
    "RastriginProblems",
]
