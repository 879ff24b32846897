"""A flow over a Gaussian mixture: the start of a base for clustered data.

A flow pushed forward from one Gaussian must stretch it across every gap between
clusters: on data made of separated clusters (blobs, the values of a binary column) it
overfits the stretch and stays short of a Gaussian mixture, by 0.5 nats per row on five
blobs in 10 dimensions and by 4 on ``load_diabetes``. :class:`MixtureFlowBase` starts
at the data's mixture fit instead, its flow at the identity, and learns what the
mixture misses; :func:`select_mixture` picks the fit on held-out rows.
"""

import math
import warnings

import numpy as np
import torch
from joblib import Parallel, delayed
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture
from torch import nn

from ._bases import _TOLERANCE, clearly_better, full_precision

__all__ = ["MixtureFlowBase", "select_mixture"]

#: Numbers of components :func:`select_mixture` tries (as the density benchmark's
#: cross-validated ``GaussianMixture``).
N_COMPONENTS = (2, 4, 8, 16, 32, 64)

#: Variance floors it tries (as :data:`~skgebm.networks._bases.RIDGES`): the smaller
#: one lets components sit on exact relations and on the values of binary columns.
REG_COVARS = (1e-3, 1e-6)

#: k-means starts of each fit, the best kept: a single start may miss the clusters of a
#: binary column (on one split of ``load_diabetes`` the mixture scored -8.7 instead of
#: -4.8 nats per held-out row and was rejected), and the fits cost seconds against the
#: minutes of a training.
N_INIT = 5

#: Numbers of components in a row that fail to raise the best held-out score before
#: :func:`select_mixture` stops adding components: the score rises with the components
#: until they overfit, then falls (over the density benchmark's 17 sets and three seeds
#: the pick was that of the full search every time, with one failure in a row it was
#: not on the circles, whose two components score below one), and the largest mixtures
#: cost the most (10,000 rows of eight blobs in ten features: 56 s to 16 s, one thread).
PATIENCE = 2

#: Rows the candidate mixtures are fitted on, at most (a random subset of the training
#: rows): their fits cost time in proportion to the rows (every candidate: 52 s for
#: 10,000 rows of ten clustered features, 136 s for 100,000) and the pick needs few;
#: the flow then trains on every row from the picked start.
MAX_FIT_ROWS = 5000


def _fit_candidate(X, X_valid, n_components, reg_covar, random_state):
    """A candidate of :func:`select_mixture` and its held-out scores."""
    mixture = GaussianMixture(
        n_components, reg_covar=reg_covar, n_init=N_INIT, random_state=random_state
    ).fit(X)
    return mixture, mixture.score_samples(X_valid)


class MixtureFlowBase(nn.Module):
    """Explicit base ``x = T^{-1}(y)``, ``y`` from a Gaussian mixture, ``T`` a zuko flow.

    The latent has one coordinate more than the data: ``z[:, 0]`` picks the component
    (the one whose interval of cumulative weights holds ``Phi(z[:, 0])``) and
    ``y = loc_k + L_k z[:, 1:]``. The component is piecewise constant in the latent,
    so latent MCMC moves between components through its Metropolis test (MALA, HMC)
    and not through gradients. With its flow at the identity, the base is the mixture.

    Parameters
    ----------
    flow : zuko.flows.Flow
        An unconditional flow on ``n_features`` features (data to latent).
    n_features : int
        Dimension of the data.
    n_components : int
        Components of the mixture.
    """

    has_density = True

    def __init__(self, flow, n_features, n_components):
        super().__init__()
        self.flow = flow
        self.n_components = int(n_components)
        self.latent_dim = int(n_features) + 1
        self.logits = nn.Parameter(torch.zeros(n_components))
        self.loc = nn.Parameter(torch.zeros(n_components, n_features))
        self.off_diagonal = nn.Parameter(torch.zeros(n_components, n_features, n_features))
        self.log_diagonal = nn.Parameter(torch.zeros(n_components, n_features))

    def scale_tril(self):
        """The components' Cholesky factors ``L_k``, shape ``(n_components, d, d)``."""
        return torch.tril(self.off_diagonal, -1) + torch.diag_embed(self.log_diagonal.exp())

    def forward(self, z):
        with full_precision(z):
            cumulative = torch.softmax(self.logits, 0).cumsum(0)
            component = torch.bucketize(torch.special.ndtr(z[:, 0]), cumulative)
            component = component.clamp(max=self.n_components - 1)  # rounding of the last
            y = self.loc[component] + (self.scale_tril()[component] @ z[:, 1:, None])[..., 0]
            return self.flow().transform.inv(y)

    def log_prob(self, x):
        """Exact log-density of the base at ``x``.

        Parameters
        ----------
        x : torch.Tensor of shape (n_samples, n_features)
            Points in data space.

        Returns
        -------
        log_prob : torch.Tensor of shape (n_samples,)
        """
        with full_precision(x):
            y, log_det = self.flow().transform.call_and_ladj(x)
            centered = (y - self.loc[:, None, :]).transpose(1, 2)  # (k, d, n)
            u = torch.linalg.solve_triangular(self.scale_tril(), centered, upper=False)
            log_normal = (
                -0.5 * u.square().sum(1)
                - self.log_diagonal.sum(1, keepdim=True)
                - 0.5 * x.shape[1] * math.log(2 * math.pi)
            )
            log_weights = torch.log_softmax(self.logits, 0)[:, None]
            return torch.logsumexp(log_normal + log_weights, 0) + log_det

    @torch.no_grad()
    def initialize_from_mixture(self, mixture):
        """Set the mixture to a fitted scikit-learn ``GaussianMixture`` (full covariances).

        Parameters
        ----------
        mixture : sklearn.mixture.GaussianMixture
            Fitted with ``n_components`` components and ``covariance_type="full"``.
        """
        tril = np.linalg.cholesky(mixture.covariances_)
        for name, value in (
            ("logits", np.log(mixture.weights_)),
            ("loc", mixture.means_),
            ("off_diagonal", np.tril(tril, -1)),
            ("log_diagonal", np.log(np.diagonal(tril, axis1=1, axis2=2))),
        ):
            parameter = getattr(self, name)
            parameter.copy_(torch.as_tensor(value, dtype=parameter.dtype))


def select_mixture(X, X_valid, random_state):
    """The Gaussian mixture of ``X`` picked on ``X_valid``, or None.

    Tries :data:`N_COMPONENTS` (at most one component per ``d + 1`` rows, so that each
    has rows to estimate its covariance) and :data:`REG_COVARS`, each fit the best of
    :data:`N_INIT` starts, in increasing numbers of components until :data:`PATIENCE`
    in a row fail to raise the best held-out score, and picks, by the
    one-standard-error rule, the fewest
    components whose held-out score is within one standard error of the best one's:
    on a few held-out rows the best score is an optimistic pick (``load_iris``, 9
    held-out rows: 4 components, -3.33 nats per test row; the rule's 2: -3.00). None
    unless the pick is clearly better than one Gaussian on the held-out rows, by the
    rule of the Gaussian start (more than two standard errors of the per-row
    differences and more than 0.01 nats per row): a second training costs as much as
    the first. One held-out row has no standard error, so shows nothing: None. The
    candidates are fitted on at most :data:`MAX_FIT_ROWS` of the rows, in as many
    threads as ``torch.get_num_threads()``.

    Parameters
    ----------
    X, X_valid : ndarray of shape (n_samples, n_features)
        Training and held-out rows.
    random_state : int
        Seed of the mixtures' k-means starts and of the subset of rows they are fitted on.

    Returns
    -------
    mixture : sklearn.mixture.GaussianMixture or None
    """
    if len(X) > MAX_FIT_ROWS:
        X = X[np.random.RandomState(random_state).choice(len(X), MAX_FIT_ROWS, replace=False)]
    n_rows, n_features = X.shape
    candidates = [k for k in N_COMPONENTS if k * (n_features + 1) <= n_rows]
    if not candidates or len(X_valid) < 2:
        return None
    X, X_valid = np.asarray(X, dtype=np.float64), np.asarray(X_valid, dtype=np.float64)
    fits = _fit_candidates(X, X_valid, (1, *candidates), random_state)
    best = max((scores for _, scores in fits), key=np.mean)
    within = [fit for fit in fits if not clearly_better(best, fit[1], 1)]
    mixture, scores = min(within, key=lambda fit: (fit[0].n_components, -fit[1].mean()))
    single = max((s for candidate, s in fits if candidate.n_components == 1), key=np.mean)
    if mixture.n_components == 1:
        return None
    return mixture if clearly_better(scores, single, 2, tolerance=_TOLERANCE) else None


def _fit_candidates(X, X_valid, n_components, random_state):
    """The candidates of :func:`select_mixture` with ``n_components`` in increasing
    order, up to the :data:`PATIENCE` rule's stop.

    They are fitted in threads, as many as torch trains with (NumPy releases the GIL in
    EM's array work), a wave of numbers of components at a time, the largest first so
    that none runs alone at the end; a wave's fits beyond the stop are dropped, and each
    fit is seeded, so the candidates do not depend on the threads.
    """
    n_threads = torch.get_num_threads()
    wave = max(1, n_threads // len(REG_COVARS))
    fits, best, stale = [], -np.inf, 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for start in range(0, len(n_components), wave):
            grid = [(k, r) for k in n_components[start : start + wave] for r in REG_COVARS]
            wave_fits = Parallel(n_jobs=n_threads, prefer="threads")(
                delayed(_fit_candidate)(X, X_valid, k, reg_covar, random_state)
                for k, reg_covar in reversed(grid)
            )[::-1]
            for i in range(0, len(wave_fits), len(REG_COVARS)):
                same_k = wave_fits[i : i + len(REG_COVARS)]
                fits += same_k
                score = max(scores.mean() for _, scores in same_k)
                best, stale = (score, 0) if score > best else (best, stale + 1)
                if stale == PATIENCE:
                    return fits
    return fits
