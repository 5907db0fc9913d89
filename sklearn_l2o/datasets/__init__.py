"""Problem generators and loaders for the learning-to-optimize benchmarks."""

from ._coherent import learn_coherent_dictionary, load_coherent_dictionary
from ._l2o_tasks import (
    make_convnet_training_problems,
    make_lasso_problems,
    make_mlp_training_problems,
    make_rastrigin_problems,
)
from ._sampler import LassoSampler, SparseRecoverySampler
from ._sparse_recovery import (
    make_conditioned_dictionary,
    make_gaussian_dictionary,
    make_sparse_recovery,
    perturb_dictionary,
)
from ._sparse_settings import SPARSE_RECOVERY_SETTINGS, load_sparse_recovery

__all__ = [
    "SPARSE_RECOVERY_SETTINGS",
    "LassoSampler",
    "SparseRecoverySampler",
    "learn_coherent_dictionary",
    "load_coherent_dictionary",
    "load_sparse_recovery",
    "make_conditioned_dictionary",
    "make_convnet_training_problems",
    "make_gaussian_dictionary",
    "make_lasso_problems",
    "make_mlp_training_problems",
    "make_rastrigin_problems",
    "make_sparse_recovery",
    "perturb_dictionary",
]
