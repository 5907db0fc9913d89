"""What the LISTA family shares (LISTA, LISTA-SS, LISTA-CP, LISTA-CPSS,
TiLISTA and GLISTA): where its matrices and thresholds start, the
support-selection schedule, and how fast the matrices learn.

Every solver of the family can start, untrained, as the same classic
iteration: ISTA with step ``1 / (1.001 L)`` (L = ||A||_2^2) and threshold
``0.4 / (1.001 L)``, the initialisation of the LISTA-CPSS and ALISTA reference
code (``weight_init="ista"``), or as the untrained ALISTA iteration
(``weight_init="analytic"``). Training then moves the per-layer weights and
thresholds away from it.
"""

import numbers

from ._base import UnrolledRegressor
from ._shrinkage import support_sizes
from ._sklearn_compat import Interval, StrOptions
from ._starts import analytic_start, default_threshold, ista_step

FAMILY_CONSTRAINTS = {
    **UnrolledRegressor._parameter_constraints,
    "weight_rate": [Interval(numbers.Real, 0, None, closed="left")],
    "init_threshold": [Interval(numbers.Real, 0, None, closed="left"), None],
    "weight_init": [StrOptions({"ista", "analytic"})],
}

SUPPORT_CONSTRAINTS = {
    "support_fraction": [Interval(numbers.Real, 0, 1, closed="both")],
    "max_support_fraction": [Interval(numbers.Real, 0, 1, closed="both")],
}

WEIGHT_INIT_DOC = """weight_init : {"ista", "analytic"}, default="ista"
        Where the matrices start. "ista": the classic iteration's step
        ``s A`` (the papers' initialisation). "analytic": the analytic
        weight of :class:`ALISTA` times ALISTA's starting step, with which
        the untrained solver is the untrained ALISTA; the learned matrices
        then only have to improve on it, which takes far fewer training
        steps."""


class LISTAFamilyRegressor(UnrolledRegressor):
    """Base class of the LISTA family (not public).

    A solver sets ``_support_selection`` and implements
    ``_make_net(A, weight, n_selected, theta, dtype, device)``, given the
    start: ``weight`` (n_features x n_components) the matrix each layer's
    coupled step starts from, ``theta`` the starting threshold and
    ``n_selected`` the entries each layer passes unshrunk.
    """

    _support_selection = False
    _parameter_constraints = FAMILY_CONSTRAINTS

    def __init_subclass__(cls, **kwargs):
        if cls.__doc__:
            cls.__doc__ = cls.__doc__.replace("{weight_init}", WEIGHT_INIT_DOC)
        super().__init_subclass__(**kwargs)

    def _make_net(self, A, weight, n_selected, theta, dtype, device):
        raise NotImplementedError  # pragma: no cover - abstract

    def _weight_names(self):
        """The matrices whose Adam step ``weight_rate`` scales."""
        return ("W",)

    def _rate_factors(self):
        return dict.fromkeys(self._weight_names(), float(self.weight_rate))

    def _build_net(self, A, y, device, dtype):
        theta = self.init_threshold
        if theta is None:
            theta = default_threshold(A)
        if self._support_selection:
            sizes = support_sizes(
                A.shape[1],
                self.n_layers,
                self.support_fraction,
                self.max_support_fraction,
            )
        else:
            sizes = [0] * self.n_layers
        if self.weight_init == "analytic":
            weight = analytic_start(A)
        else:
            weight = ista_step(A) * A
        return self._make_net(A, weight, sizes, theta, dtype, device)
