"""The private scikit-learn names this package relies on, gathered in one place.

scikit-learn's own estimators validate their parameters with
``_parameter_constraints`` and ``@_fit_context``, and its public functions with
``@validate_params``; third-party estimators that want the same behaviour
(and the same error messages) import these from private modules. Importing
them here, and only here, means that a change upstream is mended in one file.

Checked against scikit-learn 1.6 to 1.9 (the ``scikit-learn>=1.6`` floor of
``pyproject.toml``).
"""

from sklearn.base import _fit_context
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    StrOptions,
    validate_params,
)

__all__ = ["HasMethods", "Interval", "StrOptions", "_fit_context", "validate_params"]
