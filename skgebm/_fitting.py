"""Building and training a GEBM's networks: the unit that ``fit`` caches.

:func:`_train_network` builds a :class:`~skgebm._training.GEBMNet` from the resolved
settings of an estimator, splits off the held-out rows of early stopping, and trains
it, twice when a Gaussian mixture is a better start than one Gaussian; the functions
below it resolve the settings' ``"auto"`` values.
"""

import math

import numpy as np
import torch
import zuko
from joblib import Parallel, delayed, effective_n_jobs
from skorch.callbacks import ProgressBar
from skorch.helper import predefined_split
from torch.utils.data import TensorDataset

from ._scoring import _CHUNK, _scoring_networks
from ._training import ITERATIONS_PER_EPOCH, VALIDATION_SAMPLES, EarlyStopping, GEBMNet
from .networks import (
    FlowBase,
    FourierFeatures,
    MixtureFlowBase,
    build_base,
    build_energy,
    select_mixture,
)
from .objectives import OBJECTIVES, logmeanexp

# Base samples of the partition estimate that picks one of two trainings (the default
# n_partition_samples; a training-time choice, so not that inference setting).
_HELD_OUT_PARTITION_SAMPLES = 65536
# base_learning_rate="auto": a base trained by maximum likelihood steps this many times
# faster than the energy (measured on the density benchmark; see the user guide).
_MLE_BASE_LR_FACTOR = 3
# energy_fourier_scale="auto": Fourier features of this scale for data of at most this many
# features (measured on the rings, scales 2 to 10, and in 1 to 3 dimensions; see the user
# guide).
_AUTO_FOURIER_SCALE = 3.0
_AUTO_FOURIER_MAX_FEATURES = 2
# energy_min="auto": the reference implementation's clamp, and the tighter one of a sharp
# energy that only corrects a flow, which no gradient penalty keeps from digging narrow
# wells (see the user guide).
_REFERENCE_ENERGY_MIN = -10.0
_SHARP_ENERGY_MIN = -3.0
# validation_fraction="auto" with an explicit base.
_AUTO_VALIDATION_FRACTION = 0.1
# n_iter_no_change="auto": the model's epochs of patience (1,000 iterations), and the
# most of the base's, which are one per 10 training rows (EarlyStopping's
# base_patience="auto"; see the user guide).
_AUTO_PATIENCE = 40
# gradient_penalty="auto" of the image energy: the reference implementation's for images.
_IMAGE_GRADIENT_PENALTY = 1.0
# learning_rate="auto": the reference implementation's Adam step for images, and the
# step of every other network (see the parameter's docstring).
_IMAGE_LEARNING_RATE = 1e-4
_DEFAULT_LEARNING_RATE = 1e-3


def _seed_generators(net, seed):
    net.rng_ = torch.Generator(device=net.device).manual_seed(seed)
    net.data_rng_ = torch.Generator(device=net.device).manual_seed(seed + 1)


def _drop_generators(net):
    for name in ("rng_", "data_rng_"):
        net.__dict__.pop(name, None)


def _build_network(
    n_features, *, settings, seed, device, verbose, valid_data=None, n_components=1
):
    """An initialized, untrained :class:`GEBMNet` for ``n_features`` inputs.

    ``valid_data`` (standardized rows held out for early stopping) adds the
    validation split and its early-stopping callback; ``n_components`` > 1 makes a
    built-in flow a :class:`~skgebm.networks.MixtureFlowBase` of that many components.
    """
    s = settings
    # the networks are built and drawn on the CPU, then moved: torch draws a CPU
    # tensor only from a CPU generator, and the start is then the same on every device
    generator = torch.Generator().manual_seed(seed)
    on_gpu = torch.device(device).type == "cuda"
    autocast_dtype = _autocast_dtype(s, on_gpu)
    # tensor cores take bfloat16 convolutions channels-last; in float32 cuDNN's
    # channels-last kernels are the slower ones (H200: sampling at 0.59 of a contiguous loop)
    channels_last = autocast_dtype is not None and on_gpu
    layout = torch.channels_last if channels_last else torch.contiguous_format
    base = build_base(
        s["base"],
        n_features,
        flow=s["flow"],
        n_flow_transforms=s["n_flow_transforms"],
        latent_dim=s["latent_dim"],
        hidden_layer_sizes=s["base_hidden_layer_sizes"],
        neutral_start=s["start_at_data_fit"],
        image_shape=s["image_shape"],
        channels_last=channels_last,
        n_components=n_components,
        generator=generator,
    ).to(device, memory_format=layout)
    fourier_scale = _energy_fourier_scale(s, n_features)
    energy = build_energy(
        s["energy"],
        n_features,
        hidden_layer_sizes=s["energy_hidden_layer_sizes"],
        spectral_norm=s["spectral_norm"],
        minimum=_energy_min(s, base, sharp=fourier_scale is not None),
        fourier_scale=fourier_scale,
        neutral_start=s["start_at_data_fit"],
        image_shape=s["image_shape"],
        channels_last=channels_last,
        generator=generator,
    ).to(device, memory_format=layout)
    callbacks, train_split, n_valid_batches = [], None, 0
    if valid_data is not None:
        held_out = torch.as_tensor(valid_data, device=device)  # on the device once, too
        train_split = predefined_split(TensorDataset(held_out))
        patience, base_patience = _patience(s)
        callbacks.append(EarlyStopping(patience=patience, base_patience=base_patience))
        n_valid_batches = math.ceil(len(valid_data) / max(s["batch_size"], VALIDATION_SAMPLES))
    if verbose:  # an epoch is a fixed number of iterations, not a pass over the data
        callbacks.insert(0, ProgressBar(batches_per_epoch=ITERATIONS_PER_EPOCH + n_valid_batches))
    betas = (s["beta_1"], s["beta_2"])
    graphs = on_gpu and s["cuda_graphs"]
    objective = _build_objective(s, base, sharp_energy=_fourier_scale(energy) is not None)
    objective.to(device)  # before the fused optimizers see its log-partition
    net = GEBMNet(
        energy,
        objective,
        base=base,
        max_iter=s["max_iter"],
        n_energy_steps=s["n_energy_steps"],
        n_burst_steps=s["n_burst_steps"],
        burst_every=s["burst_every"],
        ema_decay=s["ema_decay"],
        autocast_dtype=autocast_dtype,
        cuda_graphs=graphs,
        optimizer=torch.optim.Adam,
        lr=_learning_rate(s),
        optimizer_base__lr=_base_learning_rate(s, objective),
        optimizer__betas=betas,
        optimizer_base__betas=betas,
        optimizer__fused=on_gpu,  # one kernel per step for all parameters
        optimizer_base__fused=on_gpu,
        optimizer__capturable=graphs,
        optimizer_base__capturable=graphs,
        batch_size=s["batch_size"],
        max_epochs=math.ceil(s["max_iter"] / ITERATIONS_PER_EPOCH),
        train_split=train_split,
        callbacks=callbacks,
        device=device,
        verbose=verbose,
    )
    net.initialize()
    return net


def _train_network(X, *, settings, seed, device, verbose, n_jobs=None):
    """Build and train a :class:`GEBMNet` on standardized ``X`` (the cached unit).

    A built-in flow that starts at the data's fit is trained twice when a Gaussian
    mixture scores clearly better than one Gaussian on the held-out rows
    (:func:`~skgebm.networks.select_mixture`): from the data's Gaussian fit, and from
    that mixture (:class:`~skgebm.networks.MixtureFlowBase`), in ``n_jobs`` processes;
    the network with the higher held-out log-likelihood (:func:`_held_out_loss`) is
    kept, the first on a tie. An interrupted training raises
    :class:`_TrainingInterrupted`, so that ``joblib.Memory`` does not cache it.
    """
    X_valid, fraction = None, _validation_fraction(settings)
    if fraction is not None:
        X, X_valid = _split_rows(X, fraction, seed)
    mixture = _mixture_start(X, X_valid, settings, seed)
    starts = [None] if mixture is None else [None, mixture]
    options = {"settings": settings, "seed": seed, "device": device, "verbose": verbose}
    n_jobs = min(effective_n_jobs(n_jobs), len(starts))
    nets = Parallel(n_jobs=n_jobs)(
        delayed(_fit_network)(X, X_valid, mixture=start, **options) for start in starts
    )
    if len(nets) == 1:
        return nets[0]
    losses = [_held_out_loss(net, X_valid, seed) for net in nets]
    return nets[int(np.argmin(losses))]


def _split_rows(X, fraction, seed):
    """Training and held-out rows, about ``fraction`` of them held out at random.

    Copies of a row fall on the same side, since a held-out row that is also a
    training row does not show overfitting. On 100 rows of three standard normal
    features, each ten times, early stopping on such rows kept a flow that had learnt
    them by heart (-11.4 nats per new row; -4.29 with copies held out together, the
    truth's -4.26). A row with more copies than the held-out part is to hold always
    trains, unless no row has fewer: drawn first, it would be the whole held-out part
    (on zero-inflated data, the zero row: 60% of the rows, one point), drawn later it
    would leave that part short. Distinct rows are split by a permutation of them;
    rows that are all copies of one, as if distinct.
    """
    # rows as opaque bytes: sorted faster than by np.unique(axis=0), field by field
    X = np.ascontiguousarray(X)
    rows = X.view(np.dtype((np.void, X.itemsize * X.shape[1]))).reshape(-1)
    _, first, groups = np.unique(rows, return_index=True, return_inverse=True)
    # groups numbered by first appearance: distinct rows are their own indices
    groups = np.argsort(np.argsort(first))[groups]
    sizes = np.bincount(groups)
    if len(sizes) < 2:
        groups, sizes = np.arange(len(X)), np.ones(len(X), dtype=np.intp)
    n_valid = max(1, int(round(fraction * len(X))))
    permutation = np.random.RandomState(seed).permutation(len(sizes))
    position = np.empty_like(permutation)
    position[permutation] = np.arange(len(permutation))
    # groups that always train come after every group that may be held out
    position[sizes > max(n_valid, sizes.min())] += len(sizes)
    order = np.argsort(position[groups], kind="stable")  # rows, group by group
    cumulative = sizes[np.argsort(position)].cumsum()
    n_valid = cumulative[max(np.searchsorted(cumulative, n_valid, side="right"), 1) - 1]
    if n_valid >= len(X):
        raise ValueError("validation_fraction leaves no training data.")
    return X[order[n_valid:]], X[order[:n_valid]]


def _held_out_loss(net, X_valid, seed):
    """Negative held-out log-likelihood of a trained net, as :meth:`score` computes it.

    The two trainings of :func:`_train_network` are compared on this, not on their
    early-stopping losses: those estimate the partition on the few fixed base samples
    of the training loop, and an energy that is sharp on the base (a blurred start,
    Fourier features) makes that estimate noisy, so the epoch early stopping keeps is
    partly the one where it errs low. On the rings (seed 0) the training from one
    Gaussian stopped at 1.903 nats by its own estimate, 1.921 by this one, and was kept
    over the mixture's 1.919 (test log-likelihood -1.922 against -1.897).
    """
    energy, base, base_energies = _scoring_networks(net, _HELD_OUT_PARTITION_SAMPLES, seed)
    total = 0.0
    with torch.no_grad():
        for start in range(0, len(X_valid), _CHUNK):  # bounded memory for any number of rows
            x = torch.as_tensor(X_valid[start : start + _CHUNK], dtype=torch.float64)
            x = x.to(net.device)
            total += float((base.log_prob(x) - energy(x)).sum())
    return -(total / len(X_valid) - float(logmeanexp(-base_energies)))


def _mixture_start(X, X_valid, settings, seed):
    """The Gaussian mixture a second training starts from, or None (see _train_network)."""
    if X_valid is None or settings["base"] != "flow" or not settings["start_at_data_fit"]:
        return None
    return select_mixture(X, X_valid, random_state=seed)


def _fit_network(X, X_valid, *, settings, seed, device, verbose, mixture=None):
    """One training from the data's fit (or ``mixture``)."""
    net = _build_network(
        X.shape[1], settings=settings, seed=seed, device=device, verbose=verbose,
        valid_data=X_valid, n_components=1 if mixture is None else mixture.n_components,
    )
    builtin_explicit = isinstance(settings["base"], str) and net.base_.has_density
    if mixture is not None:
        net.base_.initialize_from_mixture(mixture)
    elif settings["start_at_data_fit"] and builtin_explicit:
        net.base_.initialize_from_data(torch.as_tensor(X, device=device))
    _seed_generators(net, seed)
    try:
        net.initialize_log_partition()
        net.partial_fit(X)
    finally:
        _drop_generators(net)
    if X_valid is not None:  # as in scikit-learn, partial_fit does not stop early
        net.set_params(train_split=None, callbacks__EarlyStopping=None)
        net.initialize_callbacks()
    if net.interrupted_:
        raise _TrainingInterrupted(net)
    return net


class _TrainingInterrupted(Exception):
    """Carries the network of a training stopped by ``KeyboardInterrupt``."""

    def __init__(self, net):
        super().__init__(net)
        self.net = net


def _learning_rate(settings):
    """The energy's step size: ``"auto"`` is the reference's for the image networks."""
    rate = settings["learning_rate"]
    if rate != "auto":
        return rate
    return _IMAGE_LEARNING_RATE if _is_convolutional(settings) else _DEFAULT_LEARNING_RATE


def _base_learning_rate(settings, objective):
    """The base's step size: ``"auto"`` triples it for a maximum-likelihood base."""
    rate = settings["base_learning_rate"]
    if rate == "auto":
        factor = _MLE_BASE_LR_FACTOR if objective.base_loss_kind == "mle" else 1
        return factor * _learning_rate(settings)
    return _learning_rate(settings) if rate is None else rate


def _validation_fraction(settings):
    """The held-out fraction: ``"auto"`` is 0.1 for an explicit base, None for a generator."""
    fraction = settings["validation_fraction"]
    if fraction != "auto":
        return fraction
    return _AUTO_VALIDATION_FRACTION if _has_density(settings["base"]) else None


def _patience(settings):
    """The model's and the base's patience for :class:`EarlyStopping`."""
    patience = settings["n_iter_no_change"]
    return (_AUTO_PATIENCE, "auto") if patience == "auto" else (patience, patience)


def _has_density(base):
    """Whether the base of parameter ``base`` has a density (known before building it)."""
    if isinstance(base, str):
        return base in ("flow", "gaussian")
    return isinstance(base, zuko.flows.Flow) or getattr(base, "has_density", False)


def _autocast_dtype(settings, on_gpu):
    """The networks' autocast dtype, ``precision="auto"`` resolved; None is float32.

    ``"auto"`` is bfloat16 for the convolutional networks on a GPU that supports it.
    """
    precision = settings["precision"]
    if precision == "auto":
        supported = on_gpu and torch.cuda.is_bf16_supported()
        precision = "bfloat16" if _is_convolutional(settings) and supported else "float32"
    return torch.bfloat16 if precision == "bfloat16" else None


def _is_convolutional(settings):
    """Whether the settings name one of the paper's convolutional networks."""
    return _is_named(settings["base"], "dcgan") or _is_named(settings["energy"], "sngan")


def _is_named(network, name):
    return isinstance(network, str) and network == name


def _fourier_scale(energy):
    """The scale of ``energy``'s Fourier features, or None: a sharp energy has them.

    The "auto" penalty and sampler ask, and ``energy_fourier_scale_`` reports it.
    """
    return next((m.scale for m in energy.modules() if isinstance(m, FourierFeatures)), None)


def _energy_fourier_scale(settings, n_features):
    """The Fourier scale of a built-in energy: ``"auto"`` is 3 for at most 2 features."""
    scale = settings["energy_fourier_scale"]
    if not isinstance(settings["energy"], str):
        return None
    if scale == "auto":
        return _AUTO_FOURIER_SCALE if n_features <= _AUTO_FOURIER_MAX_FEATURES else None
    return scale


def _energy_min(settings, base, *, sharp):
    """The energy's lower clamp: ``"auto"`` is tighter where a sharp energy only corrects
    a flow trained by maximum likelihood.

    There the flow carries the data's modes and the energy, which starts at 0, stays
    near it except at lone rows. A weak base (a Gaussian, a generator) or an objective
    that leaves the energy's level free (score matching) may need it far lower.
    """
    if settings["energy_min"] != "auto":
        return settings["energy_min"]
    corrects_a_flow = (
        sharp
        and settings["objective"] == "kale"
        and settings["base_loss"] in ("auto", "mle")
        and isinstance(base, (FlowBase, MixtureFlowBase))
    )
    return _SHARP_ENERGY_MIN if corrects_a_flow else _REFERENCE_ENERGY_MIN


def _build_objective(settings, base, *, sharp_energy=False):
    """The objective named by ``settings["objective"]``, checked against the base.

    ``gradient_penalty="auto"`` is 0.1, or 0 for the KALE of an energy with Fourier
    features (``sharp_energy``) on a base trained by maximum likelihood.
    """
    name, base_loss = settings["objective"], settings["base_loss"]
    if base_loss == "auto":
        base_loss = "adversarial" if name == "fce" else "mle" if base.has_density else "kale"
    if name == "fce" and base_loss != "adversarial":
        raise ValueError(
            "objective='fce' trains the base adversarially: base_loss must be 'auto' or "
            f"'adversarial', got {base_loss!r} (objective='nce' keeps the base fixed)."
        )
    if base_loss == "mle" and not base.has_density:
        raise ValueError("base_loss='mle' needs a base with a density (a flow or 'gaussian').")
    penalty = settings["gradient_penalty"]
    if penalty == "auto":
        if sharp_energy and name == "kale" and base_loss == "mle":
            penalty = 0.0
        else:
            penalty = _IMAGE_GRADIENT_PENALTY if _is_named(settings["energy"], "sngan") else 0.1
    options = {"gradient_penalty": penalty, "base_loss": base_loss}
    if name == "cd":
        options.update(
            n_steps=settings["n_cd_steps"],
            step_size=settings["cd_step_size"],
            reinit_prob=settings["cd_reinit_prob"],
        )
    elif name == "dsm":
        options["noise_scale"] = settings["dsm_noise_scale"]
    objective = OBJECTIVES[name](**options)
    if objective.needs_base_density and not base.has_density:
        raise ValueError(
            f"objective={name!r} matches the model's score, which needs a base with a "
            "density: use base='flow' or base='gaussian'."
        )
    return objective
