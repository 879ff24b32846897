"""GEBMEstimator: a Generalized Energy-Based Model as a scikit-learn density estimator."""

import math
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, DensityMixin, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    StrOptions,
    validate_parameter_constraints,
)
from sklearn.utils.validation import check_is_fitted, check_memory, validate_data
from torch import nn

from ._degenerate import warn_collinear_features, warn_discrete_features
from ._fitting import (
    _drop_generators,
    _fourier_scale,
    _has_density,
    _seed_generators,
    _train_network,
    _TrainingInterrupted,
)
from ._scoring import _CHUNK, _log_mean_standard_error, _scoring_networks
from ._tail import fit_tail, sample_tail, tail_log_density
from ._training import ITERATIONS_PER_EPOCH
from ._warn import warn
from .exceptions import PartitionEstimateWarning, SamplingDivergenceWarning
from .objectives import OBJECTIVES, logmeanexp
from .samplers import BaseSampler, make_sampler

__all__ = ["GEBMEstimator"]

_FLOAT_DTYPES = (np.float64, np.float32)
# Standardized coordinates are scored at most this far out (see _density_terms).
_FAR = 1e150
# The standard error of the log-partition estimate, in nats, above which scoring warns
# (an effective sample size of about 400).
_MAX_PARTITION_ERROR = 0.05
# Chains per sampler run: their states and gradients are held at once.
_MCMC_CHUNK = 4096
# sample() warns when more chains than both of these end _ESCAPE_MARGIN nats below
# every start (see _count_escaped): on 2-D and tabular fits, a sampler that targets
# the model left none there (of 16 to 2,000 chains), unadjusted ones with too large a
# step up to half of them (see the user guide).
_ESCAPE_MARGIN = 10.0
_MAX_ESCAPED_FRACTION = 0.01
_MAX_ESCAPED_CHAINS = 2
# sample() starts its chains at this many base latents per chain, resampled by their
# weights exp(-E(G(z))/T) (see _resampled_latents).
_RESAMPLING_POOL_FACTOR = 8
# Parameters that shape training; everything else (temperature, sampling, scoring) is
# read at inference, so a fitted network can be reused when only those change.
_TRAINING_PARAMS = (
    "objective",
    "base",
    "energy",
    "flow",
    "n_flow_transforms",
    "base_hidden_layer_sizes",
    "latent_dim",
    "image_shape",
    "energy_hidden_layer_sizes",
    "energy_fourier_scale",
    "spectral_norm",
    "energy_min",
    "base_loss",
    "gradient_penalty",
    "n_cd_steps",
    "cd_step_size",
    "cd_reinit_prob",
    "dsm_noise_scale",
    "max_iter",
    "batch_size",
    "learning_rate",
    "base_learning_rate",
    "beta_1",
    "beta_2",
    "n_energy_steps",
    "n_burst_steps",
    "burst_every",
    "ema_decay",
    "validation_fraction",
    "n_iter_no_change",
    "precision",
    "cuda_graphs",
)


class GEBMEstimator(DensityMixin, BaseEstimator):
    r"""Generalized Energy-Based Model (Arbel, Zhou & Gretton, ICLR 2021).

    The model is a base distribution :math:`B` (a normalizing flow or a generator
    :math:`x = G(z)`, :math:`z \sim N(0, I)`) reweighted by an energy :math:`E`:

    .. math:: Q_T(dx) \propto \exp(-E(x) / T)\, B(dx).

    Training alternates energy steps on the KALE lower bound of the generalized
    likelihood (or another ``objective``) with base steps; the temperature :math:`T`
    is read only at inference, so ``set_params(temperature=...)`` needs no refit.
    Samples come from MCMC on the base's latent space, whose target is
    :math:`\eta(z) \exp(-E(G(z)) / T)`, pushed through the base.

    Parameters
    ----------
    base : {"flow", "gaussian", "generator", "dcgan"} or nn.Module, default="flow"
        The base. ``"flow"``: a zuko normalizing flow (family ``flow``) with an exact
        density, so :meth:`score_samples` is a normalized log-density; on clustered
        data it may start from, and keep, a Gaussian mixture under the flow
        (``n_base_components_``). ``"gaussian"``: a full-covariance Gaussian, exact
        and cheap in high dimension. ``"generator"``: an implicit MLP generator from a
        ``latent_dim`` normal latent. ``"dcgan"``: the paper's convolutional generator
        of images of ``image_shape`` (:func:`~skgebm.networks.dcgan_generator`). A zuko
        flow is used as an explicit base; another module is a generator and needs
        ``latent_dim``. Modules are deep-copied at fit and keep their own weights.
    energy : {"mlp", "sngan"} or torch.nn.Module, default="mlp"
        The energy network, mapping ``(n, n_features)`` to ``(n,)``: an MLP, or the
        paper's spectrally normalised convolutional critic of images of
        ``image_shape`` (:func:`~skgebm.networks.sngan_energy`); a module is
        deep-copied at fit.
    objective : {"kale", "cd", "dsm", "ssm", "nce", "fce"}, default="kale"
        How the energy learns (see :mod:`skgebm.objectives`); all train the same model
        and are scored the same way. ``"kale"``: the GEBM's KALE bound.
        ``"cd"``: contrastive divergence, maximum likelihood with negatives from
        persistent latent Langevin chains in a replay buffer. ``"dsm"``/``"ssm"``:
        denoising / sliced score matching of the model's score (an explicit base is
        needed). ``"nce"``: noise-contrastive estimation with the base as the noise.
        ``"fce"``: flow-contrastive estimation, NCE whose base is trained
        adversarially to confuse the classifier.
    temperature : float, default=1.0
        :math:`T` in :math:`(0, \infty]`, applied by :meth:`score_samples`,
        :meth:`score` and :meth:`sample`. ``float("inf")`` is the base alone.
    flow : {"nsf", "maf", "realnvp"}, default="nsf"
        Family of the built-in flow: neural spline (:class:`~skgebm.networks.NSF`,
        zuko's with splines built twice as fast on a CPU), affine autoregressive or
        RealNVP, all with two-pass (coupling) inverses so sampling stays cheap in any
        dimension.
    n_flow_transforms : int, default=3
        Number of transforms of the built-in flow.
    base_hidden_layer_sizes : tuple of int, default=(64, 64)
        Hidden widths of the flow's conditioners or of the generator.
    latent_dim : int or None, default=None
        Latent dimension of a generator base; ``None`` is ``n_features``, or 128 (the
        paper's) for ``base="dcgan"``.
    image_shape : tuple of int or None, default=None
        ``(channels, height, width)`` of the images of ``base="dcgan"`` and
        ``energy="sngan"``. Images are flat rows, as in scikit-learn
        (``load_digits().data``), each pixel a feature in the order of
        ``images.reshape(n, -1)`` for ``images`` of shape ``(n, C, H, W)``. The
        networks' depth follows the size: three stride-2 stages for 32x32 images (the
        paper's CIFAR-10 networks), one for 8x8.
    energy_hidden_layer_sizes : tuple of int, default=(128, 128)
        Hidden widths of the MLP energy.
    energy_fourier_scale : float, "auto" or None, default="auto"
        Feed the built-in MLP energy random Fourier features ``sin(x W), cos(x W)`` besides
        ``x``, with Gaussian frequencies ``W`` of this standard deviation (in
        standardized units) and half as many of them as the first hidden layer has
        units. On a few coordinates an MLP hardly learns sharp functions, and sharp is
        what a maximum-likelihood flow leaves for the energy to correct (thin rings,
        gaps between modes). ``"auto"`` is 3 for data of one or two features and
        ``None`` (raw features) above, where the data resolve no such detail.
    spectral_norm : bool, default=False
        Spectrally normalise the MLP energy's layers (a hard Lipschitz control, beside
        the soft ``gradient_penalty``).
    energy_min : float, None or "auto", default="auto"
        Lower clamp of the energy; ``None`` disables it. ``"auto"`` is -10 (the
        reference implementation's), or -3 where the energy only corrects a flow: the
        KALE of the built-in energy with Fourier features on a flow trained by maximum
        likelihood (the defaults on one or two features), whose narrow wells at lone
        training rows would otherwise weigh up to :math:`e^{10}` in the partition
        function (see the user guide).
    base_loss : {"auto", "kale", "mle", "adversarial"}, default="auto"
        Base objective: ``"kale"`` is the paper's ``-logmeanexp(-E(G(z)))``; ``"mle"``
        trains an explicit base by maximum likelihood while the energy corrects it;
        ``"adversarial"`` trains it to confuse the NCE classifier. ``"auto"`` is
        ``"adversarial"`` for ``objective="fce"``, otherwise ``"mle"`` for an explicit
        base and ``"kale"`` for a generator.
    gradient_penalty : float or "auto", default="auto"
        Weight of the penalty ``mean ||grad E||^2`` at interpolates of data and base
        samples (0.1 for tabular data in the reference implementation). ``"auto"`` is
        0.1, or 0 for the KALE of an energy with Fourier features on a base trained by
        maximum likelihood: such a base needs no Lipschitz control to train, and the
        penalty would forbid the sharp energies the features are there for (early
        stopping on held-out data keeps the energy from overfitting). The other
        objectives keep 0.1, their only control of a sharp energy. The image energy
        ``"sngan"`` gets 1, the reference value for images.
    n_cd_steps : int, default=20
        Langevin steps per energy step of ``objective="cd"``.
    cd_step_size : float, default=0.05
        Latent Langevin step size of ``objective="cd"``.
    cd_reinit_prob : float, default=0.05
        Probability that a persistent chain of ``objective="cd"`` restarts from the base.
    dsm_noise_scale : float, default=0.3
        Noise scale (standardized units) of ``objective="dsm"``.
    max_iter : int, default=5000
        Training iterations; each is one energy step on a minibatch. A flow on
        thousands of low-dimensional points still improves after thousands of steps;
        early stopping ends the fit sooner once nothing improves.
    batch_size : int, default=256
        Minibatch size of data and of base samples.
    learning_rate : float or "auto", default="auto"
        Adam learning rate of the energy; the base's follows it unless
        ``base_learning_rate`` is a number. ``"auto"`` is 1e-4 for the paper's
        convolutional networks (``base="dcgan"`` or ``energy="sngan"``), the reference
        implementation's step for images, and 1e-3 otherwise. A generator and its
        energy play a game that a large step loses: on the gallery's 8x8 digits, the
        convolutional pair's samples after MCMC reach an MMD² to held-out digits of
        0.0016 to 0.0018 at 1e-4 over three seeds, and 0.0079 to 0.056 at 1e-3.
    base_learning_rate : float, "auto" or None, default="auto"
        Adam learning rate of the base; ``None`` uses ``learning_rate``. ``"auto"`` is
        three times ``learning_rate`` for a base trained by maximum likelihood
        (``base_loss="mle"``, the default with an explicit base) and ``learning_rate``
        otherwise, as in the paper. Two time scales (Heusel et al., 2017): a flow fitted
        by maximum likelihood gains from the larger step, and early stopping freezes it
        at its best where it would overfit.
    beta_1, beta_2 : float, default=0.5, 0.999
        Adam's betas (the paper's).
    n_energy_steps : int, default=5
        Energy steps per base step.
    n_burst_steps : int, default=100
        Energy steps before the first base step and after every ``burst_every``-th.
    burst_every : int, default=500
        Base steps between energy bursts; 0 disables the later bursts.
    ema_decay : float, default=0.99
        Decay of an exponential moving average of the trained weights (energy and
        base), which is what validation scores, early stopping keeps and the fitted
        model is (Polyak averaging); 0 keeps the last iterate. Adam at a constant step
        size jitters around its optimum and the average sits closer to it. The decay
        ramps up from 0 over the first iterations, so the average follows a model
        that overfits within tens of steps.
    sampler : {"auto", "kinetic", "ula", "mala", "hmc"} or sampler, default="auto"
        Latent MCMC sampler (see :mod:`skgebm.samplers`); ``"kinetic"`` is the paper's
        underdamped Langevin. ``"auto"`` is ``"kinetic"``, or ``"mala"`` for an energy
        with Fourier features: their steep walls make an unadjusted step overshoot,
        and MALA's Metropolis correction rejects those moves. An instance from
        :mod:`skgebm.samplers` is used as given and overrides ``n_mcmc_steps`` and
        ``mcmc_step_size``.
    n_mcmc_steps : int, default=100
        MCMC steps per :meth:`sample`; 0 returns plain base samples.
    mcmc_step_size : float, default=0.05
        MCMC step size (the initial one for samplers that adapt it).
    n_partition_samples : int, default=65536
        Base samples of the Monte-Carlo estimate of :math:`\log Z_T`.
    tail_weight : float in [0, 1) or "auto", default="auto"
        Weight :math:`w` of a heavy-tailed component mixed into the density of an
        explicit base: the model is :math:`(1 - w)\, Q_T + w\, C`, with :math:`C` a
        multivariate Cauchy at the training rows' mean, scaled by their (Ledoit-Wolf)
        covariance. A flow trained by maximum likelihood keeps no mass beyond its
        training rows, and a test point there can score hundreds of nats low (one at 30
        standard deviations of a 5-D Student t: -980 against a Gaussian mixture's
        -255); the mixture costs at most :math:`-\log(1 - w)` nats anywhere and makes
        the log-density fall off logarithmically far out. ``"auto"`` is
        :math:`1 / (n + 1)` for :math:`n` training rows, the chance that a new row lies
        beyond all of them in a given direction. ``0`` leaves the GEBM's density
        alone. A generator base has no density, and the component is not used.
        Read at inference, as :meth:`sample` draws from the same mixture.
    standardize : bool, default=True
        Standardize the features internally; samples and densities come back in the
        input's units (the log-density includes the Jacobian of the scaling).
    validation_fraction : float, "auto" or None, default="auto"
        Fraction of the data held out to monitor a validation loss for early
        stopping; ``None`` trains on everything for ``max_iter`` iterations. With an
        explicit base the loss is the negative held-out log-likelihood, and the
        untrained model (the data's Gaussian fit for a built-in base) is the first
        candidate, so stopping never ends below it on validation; with a generator,
        the MMD² between the held-out rows and base samples weighted by ``exp(-E)``.
        ``"auto"`` is 0.1 for an explicit base, which a flow needs since it overfits
        small tabular data within tens of steps, and ``None`` for a generator, which
        trains with its energy as in a GAN, for a fixed number of iterations as in the
        paper: their held-out scores swing before they settle, and stopping on them
        kept worse samples (MMD² to held-out data 0.0109 against 0.0032 on digits,
        0.32e-3 against 0.10e-3 on eight Gaussians). The held-out rows also decide
        whether the built-in flow trains a second time, from the data's Gaussian
        mixture fit (see ``n_base_components_``). Copies of a row are held out
        together, so that the held-out rows show overfitting on data whose rows repeat.
    n_iter_no_change : int or "auto", default="auto"
        Epochs of 25 iterations without validation improvement before stopping; the
        best weights are restored. Validating often finds a flow's best weights on
        small data; waiting long is robust to the noise of the held-out loss on data
        that keeps improving slowly. A base trained by maximum likelihood is frozen at
        its own best after as many epochs without improvement of its own likelihood,
        while the energy goes on (with a fresh patience). ``"auto"`` is 40 (1,000
        iterations), and for the base's freeze one per 10 training rows, from 10 to
        40: an epoch is 25 batches of 256 rows at any size, so 40 are 3,160 passes
        over ``load_iris``' 81 rows, long after its flow has overfitted, and the
        energy spends them on a base it will lose (see the user guide). Used with
        ``validation_fraction``.
    precision : {"auto", "float32", "bfloat16"}, default="auto"
        Arithmetic of the networks in training steps and in :meth:`sample`.
        ``"bfloat16"`` runs the energy and a generator base under bfloat16 autocast
        (mixed precision: the objectives, the optimizer and the sampler's updates stay
        in float32, and so does an explicit base, whose density must stay exact);
        the model sampled is then the bfloat16 network, a deterministic function of
        the latent, so MALA's and HMC's corrections stay exact for it.
        :meth:`score_samples` always computes in float64. ``"auto"`` is
        ``"bfloat16"`` for the convolutional networks (``"dcgan"``, ``"sngan"``) on a
        GPU that supports it, where tensor cores run them, and ``"float32"``
        otherwise: small MLPs are bound by kernel launches, and a CPU computes
        bfloat16 convolutions slower than float32 ones.
    cuda_graphs : bool, default=True
        On a GPU, replay each energy step (of ``objective="kale"``), each base step of
        a generator and each step of :meth:`sample`'s chains (after their warm-up) from
        a CUDA graph, captured after three eager steps: one launch instead of hundreds
        of small ones, which otherwise leave the GPU waiting for the host (the paper's
        32x32 training iteration on an H200: 60 to 71 ms against 122 to 190 ms
        eagerly). The steps compute the same, with the same random numbers; a step
        that cannot be captured warns and runs eagerly. Ignored on a CPU; ``False``
        runs every step eagerly (to profile or debug one).
    device : str or torch.device, default="auto"
        ``"auto"`` uses CUDA when available, otherwise the CPU. On a GPU the training
        data are copied to it once, the optimizers are fused, bfloat16 convolutions
        use the channels-last layout, and cuDNN's autotuner is on while training (the
        caller's setting restored after).
    n_jobs : int, default=None
        Trainings run at once by :class:`joblib.Parallel` when a built-in flow trains
        twice (see ``n_base_components_``), in separate processes, each with its share
        of the cores; ``None`` means 1 unless in a :func:`joblib.parallel_config`
        context (which can also send them to a ``dask.distributed`` cluster). The fitted
        model does not depend on it; with more than one, an interruption raises
        ``KeyboardInterrupt`` and keeps no weights.
    memory : str, joblib.Memory or None, default=None
        Caches trained networks keyed on the training parameters and the data, so that
        refits differing only in inference parameters (``temperature``, sampling) train
        once: a grid search over ``temperature`` trains once per fold. Set an integer
        ``random_state``; with ``None`` every fit draws a new seed and reuses nothing.
        An interrupted training is never cached.
    warm_start : bool, default=False
        Continue training the fitted networks on the next :meth:`fit`, as
        :meth:`partial_fit` does.
    verbose : int, default=0
        Print a progress bar and the per-epoch losses when positive.
    random_state : int, RandomState instance or None, default=None
        Seeds initialisation, training, the partition estimate and, by default,
        :meth:`sample`. Global torch RNG state is never used.

    Attributes
    ----------
    net_ : skorch.NeuralNet
        The training net: ``net_.module_`` is the energy, ``net_.base_`` the base,
        ``net_.criterion_`` the objective, ``net_.history`` the per-epoch losses
        (``train_loss``, ``kale``, ``base_loss``, ``valid_loss``).
    n_iter_ : int
        Training iterations run.
    energy_, base_ : torch.nn.Module
        The fitted energy (``net_.module_``) and base (``net_.base_``).
    n_base_components_ : int
        Components of the Gaussian mixture the base started from: more than one when
        the built-in flow's training from the data's mixture fit scored better on the
        held-out rows than its training from the data's Gaussian fit (see the user
        guide), else 1.
    gradient_penalty_, base_loss_, learning_rate_, base_learning_rate_, precision_
        The training settings as used, ``"auto"`` resolved (as ``bandwidth_`` in
        :class:`~sklearn.neighbors.KernelDensity`).
    energy_fourier_scale_, energy_min_
        The energy's Fourier scale (None without Fourier features) and lower clamp
        (None without one), ``"auto"`` resolved.
    tail_weight_ : float
        The weight of the heavy-tailed component, ``"auto"`` resolved (0 with a
        generator base).
    location_, scale_ : ndarray of shape (`n_features_in_`,)
        The internal standardization.
    n_features_in_ : int
        Number of features seen during :meth:`fit`.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :meth:`fit`, when they are all strings.

    See Also
    --------
    sklearn.mixture.GaussianMixture : A parametric density estimator.
    sklearn.neighbors.KernelDensity : A nonparametric density estimator.

    References
    ----------
    M. Arbel, L. Zhou and A. Gretton, "Generalized Energy Based Models", ICLR 2021.

    Examples
    --------
    >>> from sklearn.datasets import make_moons
    >>> from skgebm import GEBMEstimator
    >>> X, _ = make_moons(500, noise=0.1, random_state=0)
    >>> est = GEBMEstimator(max_iter=200, random_state=0).fit(X)
    >>> est.sample(5, random_state=0).shape
    (5, 2)
    >>> est.score_samples(X[:3]).shape
    (3,)
    """

    #: Whether a built-in explicit base starts at the training data's Gaussian fit
    #: (flow transforms at the identity, energy at zero).
    _start_at_data_fit = True
    #: Whether fit warns of discrete or collinear features (a density's likelihood
    #: degenerates there).
    _warn_on_degenerate_features = True

    _parameter_constraints = {
        "objective": [StrOptions(set(OBJECTIVES))],
        "base": [StrOptions({"flow", "gaussian", "generator", "dcgan"}), nn.Module],
        "energy": [StrOptions({"mlp", "sngan"}), nn.Module],
        "temperature": [Interval(Real, 0, None, closed="right")],
        "flow": [StrOptions({"nsf", "maf", "realnvp"})],
        "n_flow_transforms": [Interval(Integral, 1, None, closed="left")],
        "base_hidden_layer_sizes": ["array-like"],
        "latent_dim": [Interval(Integral, 1, None, closed="left"), None],
        "image_shape": ["array-like", None],
        "energy_hidden_layer_sizes": ["array-like"],
        "energy_fourier_scale": [
            Interval(Real, 0, None, closed="neither"), StrOptions({"auto"}), None
        ],
        "spectral_norm": ["boolean"],
        "energy_min": [Real, None, StrOptions({"auto"})],
        "base_loss": [StrOptions({"auto", "kale", "mle", "adversarial"})],
        "gradient_penalty": [Interval(Real, 0, None, closed="left"), StrOptions({"auto"})],
        "n_cd_steps": [Interval(Integral, 1, None, closed="left")],
        "cd_step_size": [Interval(Real, 0, None, closed="neither")],
        "cd_reinit_prob": [Interval(Real, 0, 1, closed="both")],
        "dsm_noise_scale": [Interval(Real, 0, None, closed="neither")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "base_learning_rate": [
            Interval(Real, 0, None, closed="neither"), StrOptions({"auto"}), None
        ],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "n_energy_steps": [Interval(Integral, 1, None, closed="left")],
        "n_burst_steps": [Interval(Integral, 0, None, closed="left")],
        "burst_every": [Interval(Integral, 0, None, closed="left")],
        "ema_decay": [Interval(Real, 0, 1, closed="left")],
        "sampler": [
            StrOptions({"auto", "kinetic", "ula", "mala", "hmc"}), HasMethods(["sample"])
        ],
        "n_mcmc_steps": [Interval(Integral, 0, None, closed="left")],
        "mcmc_step_size": [Interval(Real, 0, None, closed="neither")],
        "n_partition_samples": [Interval(Integral, 1, None, closed="left")],
        "tail_weight": [Interval(Real, 0, 1, closed="left"), StrOptions({"auto"})],
        "standardize": ["boolean"],
        "validation_fraction": [
            Interval(Real, 0, 1, closed="neither"), StrOptions({"auto"}), None
        ],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "precision": [StrOptions({"auto", "float32", "bfloat16"})],
        "cuda_graphs": ["boolean"],
        "device": [str, torch.device],
        "n_jobs": [Integral, None],
        "memory": [None, str, HasMethods(["cache"])],
        "warm_start": ["boolean"],
        "verbose": ["verbose"],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        base="flow",
        energy="mlp",
        *,
        objective="kale",
        temperature=1.0,
        flow="nsf",
        n_flow_transforms=3,
        base_hidden_layer_sizes=(64, 64),
        latent_dim=None,
        image_shape=None,
        energy_hidden_layer_sizes=(128, 128),
        energy_fourier_scale="auto",
        spectral_norm=False,
        energy_min="auto",
        base_loss="auto",
        gradient_penalty="auto",
        n_cd_steps=20,
        cd_step_size=0.05,
        cd_reinit_prob=0.05,
        dsm_noise_scale=0.3,
        max_iter=5000,
        batch_size=256,
        learning_rate="auto",
        base_learning_rate="auto",
        beta_1=0.5,
        beta_2=0.999,
        n_energy_steps=5,
        n_burst_steps=100,
        burst_every=500,
        ema_decay=0.99,
        sampler="auto",
        n_mcmc_steps=100,
        mcmc_step_size=0.05,
        n_partition_samples=65536,
        tail_weight="auto",
        standardize=True,
        validation_fraction="auto",
        n_iter_no_change="auto",
        precision="auto",
        cuda_graphs=True,
        device="auto",
        n_jobs=None,
        memory=None,
        warm_start=False,
        verbose=0,
        random_state=None,
    ):
        self.objective = objective
        self.base = base
        self.energy = energy
        self.temperature = temperature
        self.flow = flow
        self.n_flow_transforms = n_flow_transforms
        self.base_hidden_layer_sizes = base_hidden_layer_sizes
        self.latent_dim = latent_dim
        self.image_shape = image_shape
        self.energy_hidden_layer_sizes = energy_hidden_layer_sizes
        self.energy_fourier_scale = energy_fourier_scale
        self.spectral_norm = spectral_norm
        self.energy_min = energy_min
        self.base_loss = base_loss
        self.gradient_penalty = gradient_penalty
        self.n_cd_steps = n_cd_steps
        self.cd_step_size = cd_step_size
        self.cd_reinit_prob = cd_reinit_prob
        self.dsm_noise_scale = dsm_noise_scale
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.base_learning_rate = base_learning_rate
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.n_energy_steps = n_energy_steps
        self.n_burst_steps = n_burst_steps
        self.burst_every = burst_every
        self.ema_decay = ema_decay
        self.sampler = sampler
        self.n_mcmc_steps = n_mcmc_steps
        self.mcmc_step_size = mcmc_step_size
        self.n_partition_samples = n_partition_samples
        self.tail_weight = tail_weight
        self.standardize = standardize
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.precision = precision
        self.cuda_graphs = cuda_graphs
        self.device = device
        self.n_jobs = n_jobs
        self.memory = memory
        self.warm_start = warm_start
        self.verbose = verbose
        self.random_state = random_state

    # ------------------------------------------------------------------ fitting
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fit the energy and the base to ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data, at least two rows of finite numbers.
        y : None
            Ignored.

        Returns
        -------
        self : GEBMEstimator
            The fitted estimator.

        Warns
        -----
        DiscreteFeaturesWarning
            With a base that has a density, when features of ``X`` hold a few values
            far apart, repeated many times (binary flags, counts): the density can
            spike there. Issued before training, which can then be stopped.
        CollinearFeaturesWarning
            With a base that has a density, when the rows of ``X`` span fewer
            dimensions than its varying features (a feature that is a sum of others,
            fewer rows than features): the density degenerates onto the subspace.
        """
        if self.warm_start and hasattr(self, "net_"):
            return self._continue_fit(X)
        X = validate_data(self, X, dtype=_FLOAT_DTYPES, ensure_min_samples=2)
        rng = check_random_state(self.random_state)
        train_seed, self._partition_seed = (int(s) for s in rng.randint(2**31 - 1, size=2))
        if self._warn_on_degenerate_features and _has_density(self.base):
            # before training, which can take minutes, so that it can be stopped
            names = getattr(self, "feature_names_in_", None)
            warn_discrete_features(X, names)
            warn_collinear_features(X, names)
        self._set_standardization(X)
        X_train = self._standardized(X)
        self._n_fit_rows = len(X)
        self._tail_location, self._tail_scale_tril = fit_tail(
            (X - self.location_) / self.scale_
        )
        train = check_memory(self.memory).cache(_train_network, ignore=["verbose", "n_jobs"])
        try:
            self.net_ = train(
                X_train,
                settings=self._training_settings(),
                seed=train_seed,
                device=str(_resolve_device(self.device)),
                verbose=self.verbose,
                n_jobs=self.n_jobs,
            )
        except _TrainingInterrupted as interruption:
            self.net_ = interruption.net
        return self._finish_fit()

    def partial_fit(self, X, y=None):
        """Continue training on ``X`` for ``max_iter`` more iterations.

        The first call fits from scratch; later calls keep the networks, optimizers
        (learning rates included), standardization and training settings of the
        first, reading only ``max_iter`` again, and, as in scikit-learn, do not stop
        early (a base that early stopping froze stays frozen).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : None
            Ignored.

        Returns
        -------
        self : GEBMEstimator
            The fitted estimator.
        """
        if not hasattr(self, "net_"):
            return self.fit(X)
        return self._continue_fit(X)

    def _training_settings(self):
        """What training depends on: the training parameters and the start."""
        return {
            **{name: getattr(self, name) for name in _TRAINING_PARAMS},
            "start_at_data_fit": self._start_at_data_fit,
        }

    def _continue_fit(self, X):
        # scikit-learn's _fit_context does not check again on later partial_fit calls;
        # parameters set in between (max_iter) must still be valid
        self._validate_params()
        X = validate_data(self, X, dtype=_FLOAT_DTYPES, ensure_min_samples=2, reset=False)
        seed = int(check_random_state(self.random_state).randint(2**31 - 1)) + self.n_iter_
        # max_iter more iterations, as set now (set_params between calls included)
        self.net_.max_iter = self.max_iter
        self.net_.max_epochs = math.ceil(self.max_iter / ITERATIONS_PER_EPOCH)
        _seed_generators(self.net_, seed)
        try:
            self.net_.partial_fit(self._standardized(X))
        finally:
            _drop_generators(self.net_)
        return self._finish_fit()

    def _finish_fit(self):
        self.n_iter_ = self.net_.n_iter_
        self._scoring_cache = None
        if self.net_.interrupted_:
            warn(
                f"Training was interrupted at iteration {self.n_iter_}; the estimator "
                "keeps the weights reached so far (partial_fit continues from them).",
                UserWarning,
            )
        return self

    def _set_standardization(self, X):
        n_features = X.shape[1]
        if self.standardize:
            self.location_ = X.mean(axis=0)
            # constant: a variance within the rounding error of the mean (StandardScaler's
            # rule), relative to the data, so that any units are standardized alike
            with np.errstate(over="ignore", invalid="ignore"):  # reported by _standardized
                mean, var = X.mean(axis=0, dtype=np.float64), X.var(axis=0, dtype=np.float64)
                eps, n_rows = np.finfo(X.dtype).eps, len(X)
                constant = var <= n_rows * eps * var + (n_rows * mean * eps) ** 2
                self.scale_ = np.where(constant, 1.0, X.std(axis=0))
        else:
            self.location_, self.scale_ = np.zeros(n_features), np.ones(n_features)

    def _standardized(self, X):
        """``X`` standardized in float32, the networks' input, or a ValueError naming the
        features out of its range (or whose variance overflows float64)."""
        with np.errstate(over="ignore", invalid="ignore"):
            Z = np.asarray((X - self.location_) / self.scale_, dtype=np.float32)
        out_of_range = np.flatnonzero(~np.isfinite(Z).all(axis=0))
        if out_of_range.size:
            raise ValueError(
                f"Features {out_of_range.tolist()} of X are too large: standardized, "
                "they overflow float32, in which the networks compute (or their "
                "variance overflows float64). Divide them by a constant first."
            )
        return Z

    # ---------------------------------------------------------------- inference
    @property
    def energy_(self):
        """The fitted energy module (``net_.module_``)."""
        return self.net_.module_

    @property
    def base_(self):
        """The fitted base module (``net_.base_``)."""
        return self.net_.base_

    @property
    def n_base_components_(self):
        """Components of the Gaussian mixture the base started from (1: one Gaussian)."""
        return getattr(self.base_, "n_components", 1)

    @property
    def gradient_penalty_(self):
        """The weight of the energy's gradient penalty, ``"auto"`` resolved."""
        return self.net_.criterion_.gradient_penalty

    @property
    def base_loss_(self):
        """How the base was trained (``"kale"``, ``"mle"`` or ``"adversarial"``)."""
        return self.net_.criterion_.base_loss_kind

    @property
    def learning_rate_(self):
        """The energy's Adam learning rate at the start of training, ``"auto"`` resolved."""
        return self.net_.lr

    @property
    def base_learning_rate_(self):
        """The base's Adam learning rate at the start of training, ``"auto"`` resolved."""
        return self.net_.optimizer_base__lr

    @property
    def precision_(self):
        """The networks' arithmetic in training and sampling, ``"auto"`` resolved."""
        return "float32" if self.net_.autocast_dtype is None else "bfloat16"

    @property
    def energy_fourier_scale_(self):
        """The scale of the energy's Fourier features; None for an energy without them."""
        return _fourier_scale(self.energy_)

    @property
    def energy_min_(self):
        """The energy's lower clamp, ``"auto"`` resolved (None: no clamp)."""
        return self.energy_.minimum

    @property
    def tail_weight_(self):
        """The heavy-tailed component's weight, ``"auto"`` resolved (0 with no density)."""
        check_is_fitted(self)
        if not self.base_.has_density:
            return 0.0
        weight = self._inference_parameter("tail_weight")
        return 1.0 / (self._n_fit_rows + 1) if weight == "auto" else float(weight)

    def _inference_parameter(self, name):
        """Parameter ``name``, checked: read at inference, it may be set after fitting,
        which does not validate it."""
        value = getattr(self, name)
        validate_parameter_constraints(
            {name: self._parameter_constraints[name]},
            {name: value},
            caller_name=type(self).__name__,
        )
        return value

    def _check_temperature(self, temperature=None):
        """``temperature`` (default: the parameter) as a float, checked: set after
        fitting, it is not validated by ``fit``."""
        temperature = self.temperature if temperature is None else temperature
        if not (isinstance(temperature, Real) and temperature > 0):
            raise ValueError(f"temperature must be a positive number or inf, got {temperature!r}.")
        return float(temperature)

    def _eval_mode(self):
        self.net_._set_training(False)
        return torch.no_grad()

    def _scoring_state(self):
        """Float64 copies of the networks and the energies of the partition samples.

        Densities are evaluated in double precision, so a point's score does not depend
        on the batch it comes in and the partition estimate carries no float32 error.
        The ``n_partition_samples`` base samples come from a fixed CPU generator, once
        per fit, so the scores do not depend on the device; every temperature's
        partition function is a logsumexp over their energies.
        """
        n_samples = self._inference_parameter("n_partition_samples")
        cache = getattr(self, "_scoring_cache", None)
        if cache is None or cache[0] != n_samples:
            networks = _scoring_networks(self.net_, n_samples, self._partition_seed)
            self._scoring_cache = (n_samples, networks)
        return self._scoring_cache[1]

    def log_partition(self, temperature=None):
        r"""Monte-Carlo estimate of :math:`\log Z_T = \log E_B[\exp(-E(x)/T)]`.

        The estimate uses ``n_partition_samples`` base samples drawn once per fit with a
        fixed generator, so it is the same for every call and every temperature.

        Parameters
        ----------
        temperature : float or None, default=None
            :math:`T`; ``None`` uses the ``temperature`` parameter.

        Returns
        -------
        log_partition : float
            Zero for :math:`T = \infty`.

        Warns
        -----
        PartitionEstimateWarning
            When a few samples carry the estimate: its standard error,
            :math:`\sqrt{1/N_{\mathrm{eff}} - 1/N}` for the weights' effective sample
            size :math:`N_{\mathrm{eff}}`, is above 0.05 nats. Every score shares it.
        """
        check_is_fitted(self)
        temperature = self._check_temperature(temperature)
        if math.isinf(temperature):
            return 0.0
        _, _, base_energies = self._scoring_state()
        log_weights = -base_energies / temperature
        error = _log_mean_standard_error(log_weights)
        if error > _MAX_PARTITION_ERROR:
            warn(
                f"At temperature {temperature:g} a few of the {len(log_weights)} base "
                f"samples carry the estimate of the log-partition function: its "
                f"standard error is {error:.2g} nats, and every score shares it. Raise "
                "n_partition_samples; if that does not help, the energy has narrow "
                "wells (see energy_min).",
                PartitionEstimateWarning,
            )
        return float(logmeanexp(log_weights))

    def score_samples(self, X):
        r"""Log-density of the model at ``X`` (in ``X``'s units).

        With an explicit base (a flow) this is the normalized log-density

        .. math:: \log q_T(x) = \log b(x) - E(x)/T - \log \hat Z_T,

        with :math:`\hat Z_T` from :meth:`log_partition`, mixed with the heavy-tailed
        component :math:`c` of weight :math:`w` (``tail_weight``):
        :math:`\log((1 - w)\, q_T(x) + w\, c(x))`. With a generator base, which has no
        density, it is the log density ratio of the model to its base,
        :math:`\log \frac{dQ_T}{dB}(x) = -E(x)/T - \log \hat Z_T`: finite everywhere,
        with :math:`E_B[\exp(\cdot)] = 1` up to Monte-Carlo error, and exactly 0 at
        :math:`T = \infty`. The density includes the Jacobian of the internal
        standardization, so a change of units shifts every score by the same constant;
        the ratio, a ratio of two densities, has no units.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Points to score.

        Returns
        -------
        log_density : ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=_FLOAT_DTYPES, reset=False)
        self._check_temperature()
        return self._log_density(*self._density_terms(X))

    def _density_terms(self, X):
        """The terms of the log-density of validated ``X`` that do not depend on the
        temperature, in float64: ``log b(x)`` (zero for a generator base), ``E(x)`` and
        the tail component's ``log c(x)``, the densities with the standardization's
        Jacobian."""
        energy, base, _ = self._scoring_state()
        tail = self._tail_location, self._tail_scale_tril
        log_base, energies, log_tail = [], [], []
        with torch.no_grad(), np.errstate(over="ignore"):
            for start in range(0, len(X), _CHUNK):  # bounded memory for any number of rows
                rows = (X[start : start + _CHUNK] - self.location_) / self.scale_
                # scored at most _FAR standard deviations out, where the networks' squares
                # and sums stay finite: a log-density near -1e300, not NaN from overflow
                rows = np.clip(rows, -_FAR, _FAR)
                x = torch.as_tensor(rows, dtype=torch.float64, device=self.net_.device)
                if base.has_density:
                    log_base.append(base.log_prob(x).cpu().numpy())
                    log_tail.append(tail_log_density(rows, *tail))
                else:
                    log_base.append(np.zeros(len(x)))
                    log_tail.append(np.zeros(len(x)))
                energies.append(energy(x).cpu().numpy())
        jacobian = np.log(self.scale_).sum() if base.has_density else 0.0
        log_base, log_tail = np.concatenate(log_base), np.concatenate(log_tail)
        return log_base - jacobian, np.concatenate(energies), log_tail - jacobian

    def _log_density(self, log_base, energies, log_tail):
        """:meth:`score_samples` from :meth:`_density_terms`, at the current temperature."""
        temperature = self._check_temperature()
        log_model = log_base
        if not math.isinf(temperature):
            log_model = log_base - energies / temperature - self.log_partition(temperature)
        weight = self.tail_weight_
        if weight == 0:
            return log_model
        return np.logaddexp(math.log1p(-weight) + log_model, math.log(weight) + log_tail)

    def score(self, X, y=None):
        """Mean log-density of ``X`` (see :meth:`score_samples`).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Points to score.
        y : None
            Ignored.

        Returns
        -------
        score : float
        """
        return float(np.mean(self.score_samples(X)))

    def _make_sampler(self):
        if not isinstance(self.sampler, str):
            return self.sampler
        name = self.sampler
        if name == "auto":  # an unadjusted step overshoots a sharp energy's steep walls
            name = "mala" if _fourier_scale(self.net_.module_) is not None else "kinetic"
        return make_sampler(name, step_size=self.mcmc_step_size, n_steps=self.n_mcmc_steps)

    def sample(self, n_samples=1, random_state=None, return_diagnostics=False):
        r"""Draw samples from the model at the current temperature.

        The chains start at latents :math:`z \sim N(0, I)` resampled by their weights
        :math:`\exp(-E(G(z))/T)` (eight candidates per chain), so that they hold the
        model's share of each mode from the start; the sampler moves them on
        :math:`\log \pi(z) = -\|z\|^2/2 - E(G(z))/T` and they are pushed through the base;
        with an explicit base, each sample is then replaced, with probability
        ``tail_weight_``, by a draw of the heavy-tailed component, so that samples and
        :meth:`score_samples` describe the same mixture.

        Parameters
        ----------
        n_samples : int, default=1
            Number of samples (and of parallel chains).
        random_state : int, RandomState instance or None, default=None
            Seed of the latents and of the chains; ``None`` uses ``random_state``.
        return_diagnostics : bool, default=False
            Also return the sampler's :class:`~skgebm.samplers.SamplerDiagnostics`
            (acceptance rate, step size, ESS, R-hat) of the first run of at most
            4,096 chains (more samples run in chunks of that size); ``None`` when no
            chain ran.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
            Samples in the input's units.
        diagnostics : SamplerDiagnostics or None
            Only with ``return_diagnostics=True``.
        """
        check_is_fitted(self)
        _check_n_samples(n_samples)
        temperature, tail_weight = self._check_temperature(), self.tail_weight_
        rng = check_random_state(self.random_state if random_state is None else random_state)
        device = self.net_.device
        generator = torch.Generator(device=device).manual_seed(int(rng.randint(2**31 - 1)))
        sampler = self._make_sampler()
        run_chains = not math.isinf(temperature) and sampler.n_steps > 0
        X, diagnostics, n_escaped = np.empty((n_samples, self.n_features_in_)), None, 0
        log_weight = self._latent_log_weight(temperature)
        log_prob = _latent_log_prob(log_weight)
        # a sampler of the user's own takes the three arguments of the protocol only
        graphs = {"cuda_graphs": self.cuda_graphs} if isinstance(sampler, BaseSampler) else {}
        with self._eval_mode(), self.net_.autocast():
            for start in range(0, n_samples, _MCMC_CHUNK):
                size = min(_MCMC_CHUNK, n_samples - start)
                if run_chains:
                    z = _resampled_latents(size, log_weight, self.base_.latent_dim, generator)
                    lowest_start = log_prob(z).min()
                    z, chunk_diagnostics = sampler.sample(log_prob, z, generator=generator, **graphs)
                    diagnostics = diagnostics or chunk_diagnostics
                    n_escaped += _count_escaped(log_prob(z), lowest_start)
                else:
                    z = torch.randn(size, self.base_.latent_dim, generator=generator, device=device)
                x = torch.cat([self.base_(chunk) for chunk in torch.split(z, _CHUNK)])
                X[start : start + size] = x.double().cpu().numpy()
        if self.verbose and diagnostics is not None:
            print(diagnostics)
        if n_escaped > max(_MAX_ESCAPED_FRACTION * n_samples, _MAX_ESCAPED_CHAINS):
            warn(
                f"{n_escaped} of {n_samples} MCMC chains ended at a log-density "
                f"{_ESCAPE_MARGIN:g} nats or more below that of every start (resampled "
                "base draws): "
                f"the {type(sampler).__name__} sampler's steps (step size "
                f"{sampler.step_size:g}) overshoot this energy's walls, and its samples are "
                "not the model's. Use sampler='mala' or 'hmc', whose Metropolis test "
                "rejects such moves, or a smaller mcmc_step_size.",
                SamplingDivergenceWarning,
            )
        # drawn after the chains, which then run the same with any tail weight
        from_tail = torch.rand(n_samples, generator=generator, device=device) < tail_weight
        from_tail = from_tail.cpu().numpy()
        if from_tail.any():
            tail = self._tail_location, self._tail_scale_tril
            X[from_tail] = sample_tail(int(from_tail.sum()), *tail, generator)
        X = X * self.scale_ + self.location_
        return (X, diagnostics) if return_diagnostics else X

    def _latent_log_weight(self, temperature):
        energy, base = self.energy_, self.base_

        def log_weight(z):
            return -energy(base(z)) / temperature

        return log_weight

    def __getstate__(self):
        # the scoring cache is derived state, possibly on a GPU: rebuilt after loading
        state = super().__getstate__()
        state.pop("_scoring_cache", None)
        return state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.non_deterministic = False
        return tags


def _latent_log_prob(log_weight):
    """The sampler's target: the latent's standard normal times the model's weight."""

    def log_prob(z):
        return -0.5 * z.pow(2).sum(dim=1) + log_weight(z)

    return log_prob


def _resampled_latents(n_chains, log_weight, latent_dim, generator):
    """Chain starts: importance resampling of base latents by the model's weights.

    A local sampler moves mass between distant modes slowly: started at base draws, its
    chains keep the base's share of each mode wherever the energy reweights the modes
    against each other (the two moons at temperature 0.1: after 100 MALA steps the mean
    of the first coordinate had moved 0.11 of the 0.26 standard deviations the model
    shifts it). The starts are drawn by systematic resampling from
    ``_RESAMPLING_POOL_FACTOR`` base latents per chain, with probabilities proportional
    to ``exp(log_weight)``, so they already hold the model's shares (sampling importance
    resampling); the chains' moves then spread repeated starts apart (resample-move,
    Gilks & Berzuini, 2001). Non-finite weights count as zero.
    """
    device = generator.device
    n_pool = _RESAMPLING_POOL_FACTOR * n_chains
    pool = torch.randn(n_pool, latent_dim, generator=generator, device=device)
    log_w = torch.cat([log_weight(chunk) for chunk in torch.split(pool, _CHUNK)]).double()
    log_w = torch.where(torch.isfinite(log_w), log_w, -torch.inf)
    if not torch.isfinite(log_w).any():
        return pool[:n_chains]
    cumulative = torch.cumsum(torch.softmax(log_w, dim=0), dim=0)
    offset = torch.rand((), generator=generator, device=device, dtype=torch.float64)
    points = (offset + torch.arange(n_chains, device=device, dtype=torch.float64)) / n_chains
    index = torch.searchsorted(cumulative, points).clamp(max=n_pool - 1)
    return pool[index[torch.randperm(n_chains, generator=generator, device=device)]]


def _count_escaped(end_log_prob, lowest_start):
    """Chains that ended finite but far below the lowest log-density of the starts.

    The starts are base draws resampled by the model's weights, about distributed as
    the model, and a sampler that targets it leaves it invariant: its chains end about
    as likely as those starts (one that starts at the lowest may drift a little lower,
    hence the margin of ``_ESCAPE_MARGIN`` nats). An unadjusted step that overshoots a
    steep energy throws chains far into the latent's tails: on the checkerboard,
    kinetic Langevin at the default step left 1,032 of 2,000 chains more than 10 nats
    below every start, MALA and HMC none.
    """
    escaped = torch.isfinite(end_log_prob) & (end_log_prob < lowest_start - _ESCAPE_MARGIN)
    return int(escaped.sum())


def _check_n_samples(n_samples):
    if not isinstance(n_samples, Integral) or isinstance(n_samples, bool) or n_samples < 1:
        raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}.")


def _resolve_device(device):
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise ValueError(f"device must be 'auto' or a torch device, got {device!r}.") from error
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={str(device)!r} was requested but CUDA is not available.")
    if device.type != "cpu":
        try:  # torch's own errors for a missing backend are a RuntimeError or an assert
            torch.empty(0, device=device)
        except (RuntimeError, AssertionError) as error:
            raise ValueError(f"device={str(device)!r} is not available: {error}") from error
    return device
