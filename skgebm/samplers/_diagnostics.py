"""Multi-chain convergence diagnostics: split R-hat and effective sample size."""

import numpy as np
from scipy.special import ndtri
from scipy.stats import rankdata

__all__ = ["effective_sample_size", "split_rhat"]


def _split_chains(trace):
    """Halve every chain (dropping the middle draw if odd) so within-chain drift shows."""
    trace = np.asarray(trace, dtype=np.float64)
    if trace.ndim != 3 or trace.shape[0] < 1 or trace.shape[1] < 4:
        raise ValueError(
            "trace must have shape (n_chains, n_draws, d) with n_chains >= 1 and "
            f"n_draws >= 4, got shape {trace.shape}."
        )
    half = trace.shape[1] // 2
    return np.concatenate([trace[:, :half], trace[:, -half:]], axis=0)


def _variances(chains):
    """Mean within-chain variance ``W`` and pooled variance estimate ``var+``."""
    n = chains.shape[1]
    within = chains.var(axis=1, ddof=1).mean(axis=0)
    between = chains.mean(axis=1).var(axis=0, ddof=1)
    return within, (n - 1) / n * within + between


def _rank_normalized(chains):
    """Normal scores of the pooled ranks, per coordinate (Vehtari et al., 2021).

    Ranks make R-hat defined, and sensitive, for heavy tails and diverging chains,
    where variances are dominated by a few draws or overflow.
    """
    pooled = chains.reshape(-1, chains.shape[2])
    ranks = rankdata(pooled, axis=0)  # NaN draws give NaN ranks: R-hat NaN
    scores = ndtri((ranks - 3 / 8) / (len(pooled) + 1 / 4))
    return scores.reshape(chains.shape)


def _rhat(chains):
    with np.errstate(all="ignore"):  # constant coordinates give NaN
        within, var_plus = _variances(_rank_normalized(chains))
        return np.sqrt(var_plus / within)


def split_rhat(trace):
    """Rank-normalized split R-hat, per dimension: the larger of bulk and tail R-hat.

    Compares the variance pooled across chains with the variance within chains,
    after splitting each chain in two halves so that a chain still drifting also
    counts as disagreeing with itself (Gelman et al., BDA3, section 11.4). As in
    Stan (Vehtari et al., 2021), the draws are replaced by the normal scores of
    their ranks (bulk), and of the ranks of their distance to the median (tail, or
    folded): the tail R-hat catches chains that agree in location but not in
    spread, such as a diverging unadjusted chain that oscillates about the mode.
    Values close to 1 indicate mixed chains; above 1.01-1.1 signals a lack of
    convergence.

    Parameters
    ----------
    trace : array-like of shape (n_chains, n_draws, d)
        Post-warm-up draws; ``n_draws >= 4``.

    Returns
    -------
    rhat : ndarray of shape (d,)
        NaN for a coordinate that is constant within every chain, or has a NaN draw.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> mixed = rng.normal(size=(4, 500, 2))
    >>> bool(np.all(np.abs(split_rhat(mixed) - 1) < 0.02))
    True
    >>> stuck = mixed + np.arange(4)[:, None, None]  # chains at different locations
    >>> bool(np.all(split_rhat(stuck) > 1.1))
    True
    >>> spread = mixed * np.array([1, 1, 1, 3])[:, None, None]  # one chain too wide
    >>> bool(np.all(split_rhat(spread) > 1.1))
    True
    """
    chains = _split_chains(trace)
    folded = np.abs(chains - np.median(chains.reshape(-1, chains.shape[2]), axis=0))
    return np.maximum(_rhat(chains), _rhat(folded))


def _autocovariance(chains):
    """Biased autocovariance of every chain and coordinate along the draws, via FFT."""
    n = chains.shape[1]
    centered = chains - chains.mean(axis=1, keepdims=True)
    size = 2 ** int(np.ceil(np.log2(2 * n)))  # zero padding avoids circular wrap-around
    spectrum = np.fft.rfft(centered, n=size, axis=1)
    return np.fft.irfft(spectrum * spectrum.conj(), n=size, axis=1)[:, :n] / n


def effective_sample_size(trace):
    """Effective sample size of the mean, per dimension, pooled over chains.

    Follows Stan (Vehtari et al., 2021, without rank normalization): chains are
    split in halves, autocorrelations are combined across chains through the
    pooled variance ``var+`` so that chains which disagree lower the estimate,
    and the sum of autocorrelations is truncated by Geyer's initial monotone
    sequence estimator (sums of consecutive lag pairs, kept while positive and
    made non-increasing), which keeps the noisy tail of the autocorrelation
    function out of the estimate.

    Parameters
    ----------
    trace : array-like of shape (n_chains, n_draws, d)
        Post-warm-up draws; ``n_draws >= 4``.

    Returns
    -------
    ess : ndarray of shape (d,)
        Between 0 and ``n_chains * n_draws * log10(n_chains * n_draws)`` (the
        bound Stan uses for antithetic chains); NaN for a constant coordinate.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> iid = rng.normal(size=(4, 1000, 3))
    >>> ess = effective_sample_size(iid)
    >>> ess.shape
    (3,)
    >>> bool(np.all(np.abs(ess / 4000 - 1) < 0.2))
    True
    """
    chains = _split_chains(trace)
    n_total = chains.shape[0] * chains.shape[1]
    with np.errstate(all="ignore"):  # constant or diverged coordinates give NaN
        within, var_plus = _variances(chains)
        acov = _autocovariance(chains).mean(axis=0)  # (n_draws, d)
        # rho_t = 1 - (W - autocovariance at lag t averaged over chains) / var+
        rho = 1 - (within - acov) / var_plus
        rho[0] = 1.0
        n_pairs = chains.shape[1] // 2
        pairs = rho[: 2 * n_pairs : 2] + rho[1 : 2 * n_pairs : 2]
        positive = np.cumprod(pairs > 0, axis=0, dtype=bool)
        monotone = np.minimum.accumulate(np.where(positive, pairs, 0.0), axis=0)
        tau = -1 + 2 * monotone.sum(axis=0)
        tau = np.maximum(tau, 1 / np.log10(n_total))
        return np.where(within > 0, n_total / tau, np.nan)
