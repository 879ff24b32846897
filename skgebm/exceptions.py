"""Exceptions and warnings raised by skgebm."""

__all__ = ["PartitionEstimateWarning", "TrainingDivergedError"]


class TrainingDivergedError(FloatingPointError):
    """Training produced non-finite losses and could not recover.

    A subclass of :class:`FloatingPointError`, so code that guards numerical failures
    with it catches this too.
    """


class PartitionEstimateWarning(UserWarning):
    r"""A few base samples carry the Monte-Carlo estimate of the partition function.

    The estimate :math:`\log \hat Z_T` enters every score, so its standard error is
    an error of every score. It is large when the energy is far lower on a small part
    of the base than on the rest (a narrow well, or a low temperature); more
    ``n_partition_samples`` shrink it.
    """
