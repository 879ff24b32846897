"""Exceptions and warnings raised by skgebm."""

__all__ = ["TrainingDivergedError"]


class TrainingDivergedError(FloatingPointError):
    """Training produced non-finite losses and could not recover.

    A subclass of :class:`FloatingPointError`, so code that guards numerical failures
    with it catches this too.
    """
