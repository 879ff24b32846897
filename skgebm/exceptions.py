"""Exceptions and warnings raised by skgebm."""

__all__ = [
    "CollinearFeaturesWarning",
    "DiscreteFeaturesWarning",
    "PartitionEstimateWarning",
    "SamplingDivergenceWarning",
    "TrainingDivergedError",
]


class TrainingDivergedError(FloatingPointError):
    """Training produced non-finite losses and could not recover.

    A subclass of :class:`FloatingPointError`, so code that guards numerical failures
    with it catches this too.
    """


class CollinearFeaturesWarning(UserWarning):
    """The training rows span fewer dimensions than there are (non-constant) features.

    A feature that is a linear combination of others (a total, the last column of a
    one-hot group), or fewer rows than features, puts the data on a subspace, where
    no density exists in the features' space: a model can make itself as thin across
    the subspace as its regularization allows, and its log-likelihood measures that,
    not the data. Drop the dependent features or project onto their span (PCA) first.
    """


class DiscreteFeaturesWarning(UserWarning):
    """Features of the training data take a few values far apart, each repeated many times.

    A density can put a spike of any height on a repeated value: trained on binary
    flags, counts or pixel intensities, a flow's log-likelihood grows without bound,
    and compares neither with other models' nor with that of continuous data. Adding
    noise uniform over the spacing of the values (dequantization) before fitting and
    scoring (for integers, ``X + rng.uniform(size=X.shape)``) makes its mean
    log-likelihood a lower bound of the discrete data's log-probability (Theis, van den
    Oord & Bethge, 2016).
    """


class PartitionEstimateWarning(UserWarning):
    r"""A few base samples carry the Monte-Carlo estimate of the partition function.

    The estimate :math:`\log \hat Z_T` enters every score, so its standard error is
    an error of every score. It is large when the energy is far lower on a small part
    of the base than on the rest (a narrow well, or a low temperature); more
    ``n_partition_samples`` shrink it.
    """


class SamplingDivergenceWarning(RuntimeWarning):
    """MCMC chains ended at a non-finite state, or where the model has almost no mass.

    Unadjusted samplers (``"ula"``, ``"kinetic"``) follow the energy's gradient
    without a Metropolis test: on a steep energy (one with Fourier features, or sharp
    walls learnt around clusters) a step too large throws chains out, and their
    samples are then not the model's. Any sampler reports chains that end non-finite;
    :meth:`~skgebm.GEBMEstimator.sample`, whose chains start at resampled base draws,
    also reports them when more than 1% end 10 nats or more below the log-density of
    every start. MALA and HMC reject such moves; a smaller step size makes them rarer.
    """
