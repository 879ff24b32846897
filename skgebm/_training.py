"""The training loop of a GEBM, on skorch.

:class:`GEBMNet` is a :class:`skorch.NeuralNet` whose ``module_`` is the energy, with a
second module ``base_`` and a second optimizer ``optimizer_base_``. One training
iteration is one energy step on a minibatch; a base step follows every
``n_energy_steps`` energy steps, and every ``n_burst_steps`` at the start and after every
``burst_every``-th base step (the reference recipe's energy bursts). With a base trained
by maximum likelihood, a base step follows every energy step. An epoch of the history is
:data:`ITERATIONS_PER_EPOCH` iterations.

With ``ema_decay``, the networks that validation sees, that early stopping keeps and
that training ends with are exponential moving averages of the trained weights (Polyak
averaging): the last iterate of Adam at a constant step size jitters around its optimum,
and its average sits closer to it. Between the training steps of an epoch the live
modules hold the trained weights; from validation to the next epoch, the averages.

Base samples for the energy steps are drawn ``n_energy_steps`` minibatches at a time:
one large pass through the base costs about as much as a small one on a CPU, where
small passes are dominated by per-call overhead. The pool is redrawn after every
KALE or adversarial base step, so energy steps see the current base; a base trained by maximum likelihood
moves a little within a pool, an error far below the minibatch noise.

The held-out loss that early stopping reads estimates the partition on
:data:`VALIDATION_SAMPLES` base samples whose latents are drawn once per training: with
fresh latents at every epoch (1,024 of them), its noise was as large as the differences
between epochs, and early stopping kept the luckiest draw (eight Gaussians, seed 2:
epoch 9 of 159, about 0.01 nats below what fixed latents gave at that stage). Once
early stopping freezes the base, those samples stop changing and are computed once: the
same losses to the bit, and a flow on small tabular data is frozen for most epochs.
"""

import copy
import math
from contextlib import contextmanager

import torch
from skorch import NeuralNet
from skorch.callbacks import Callback, EpochTimer, PrintLog
from skorch.utils import to_device
from torch.utils.data import TensorDataset

from ._graphs import CapturedStep
from ._warn import warn
from .exceptions import TrainingDivergedError

__all__ = [
    "ITERATIONS_PER_EPOCH",
    "VALIDATION_SAMPLES",
    "EarlyStopping",
    "GEBMNet",
    "MinibatchIterator",
]

#: Training iterations (energy steps) summarised by one row of the history.
ITERATIONS_PER_EPOCH = 25

#: Base samples of the partition estimate in the held-out loss, and rows per
#: validation pass: one pass, one estimate, the same latents at every epoch.
VALIDATION_SAMPLES = 4096


class MinibatchIterator:
    """Minibatches of a tensor dataset, random or in order.

    With a ``generator``, yields random minibatches (a fresh permutation per pass over the
    data) until ``n_batches`` are spent, at most ``per_epoch`` per iteration over it, so
    training length does not depend on the data size. Without one, yields the data in
    order once (validation). Rows are gathered by indexing, never copying the data set.

    Parameters
    ----------
    dataset : torch.utils.data.TensorDataset
    batch_size : int
    n_batches : int or None
        Total random batches; ``None`` with no generator.
    per_epoch : int or None
        Batches per ``iter()``.
    generator : torch.Generator or None
        Generator of the permutations, on the data's device (no host round trip).
    """

    def __init__(self, dataset, batch_size, n_batches=None, per_epoch=None, generator=None):
        self.data = dataset.tensors[0]
        self.batch_size = min(batch_size, len(self.data))
        self.remaining = n_batches
        self.per_epoch = per_epoch
        self.generator = generator
        self._order = torch.empty(0, dtype=torch.long, device=self.data.device)

    def __iter__(self):
        if self.generator is None:
            yield from (
                (batch, None) for batch in torch.split(self.data, self.batch_size)
            )
            return
        for _ in range(min(self.per_epoch, self.remaining)):
            if len(self._order) < self.batch_size:
                permutation = torch.randperm(
                    len(self.data), generator=self.generator, device=self.data.device
                )
                self._order = torch.cat([self._order, permutation])
            index, self._order = self._order[: self.batch_size], self._order[self.batch_size :]
            self.remaining -= 1
            yield self.data[index], None

    def __len__(self):
        if self.generator is None:
            return math.ceil(len(self.data) / self.batch_size)
        return min(self.per_epoch, self.remaining)


@contextmanager
def autotuned_convolutions(device):
    """cuDNN's autotuner on while training on a GPU, the caller's setting restored after.

    A training's convolutions keep their shapes for thousands of steps, so timing each
    one's algorithms once pays, once the steps are replayed from CUDA graphs and the GPU
    rather than the host sets their pace: the paper's 32x32 iteration on an H200 took
    49 ms instead of 62 in bfloat16, 56 instead of 71 in float32. Sampling keeps
    cuDNN's heuristics: there the autotuner slowed bfloat16 chains by a quarter.
    """
    if torch.device(device).type != "cuda":
        yield
        return
    previous = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = True
    try:
        yield
    finally:
        torch.backends.cudnn.benchmark = previous


# EarlyStopping(base_patience="auto"): one epoch of patience per this many training rows,
# and at least this many epochs (measured on 81 to 4,500 rows; see the user guide).
_ROWS_PER_BASE_PATIENCE_EPOCH = 10
_MIN_AUTO_BASE_PATIENCE = 10


class EarlyStopping(Callback):
    """Stop when ``valid_loss`` has not improved for ``patience`` epochs; keep the best.

    skorch's own ``EarlyStopping`` restores only ``module_``; a GEBM is the energy,
    the base and the log-partition together, so this one snapshots and restores all
    of them (and their optimizers) at the best epoch. The model before training is
    the first candidate, so training that only overfits gives the start back.

    A base trained by maximum likelihood may stop on its own first: when its held-out
    log-likelihood (``valid_base_loss``) has not improved for ``base_patience`` epochs, it
    goes back to its best weights and is frozen, and the energy, with a fresh
    patience, keeps correcting it. On small data a flow overfits long before an
    energy held smooth by its gradient penalty does; on large data the model as a
    whole stops improving first, and training ends there.

    Parameters
    ----------
    patience : int
        Epochs without improvement before stopping.
    base_patience : int or "auto"
        Epochs without improvement of the base's own loss before freezing it.
        ``"auto"`` is one per 10 training rows, at least 10 and at most ``patience``:
        an epoch is a fixed number of batches, so on small data it is many passes
        over the rows. Resolved when training begins, as ``base_patience_``.
    """

    def __init__(self, patience, base_patience):
        self.patience = patience
        self.base_patience = base_patience

    def _resolve_base_patience(self, n_train_rows):
        if self.base_patience != "auto":
            return self.base_patience
        per_rows = math.ceil(n_train_rows / _ROWS_PER_BASE_PATIENCE_EPOCH)
        return min(self.patience, max(_MIN_AUTO_BASE_PATIENCE, per_rows))

    def initialize(self):
        self.best_loss_ = math.inf
        self.best_state_ = None
        self.misses_ = 0
        self.stopped_ = False
        return self

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        self.base_patience_ = self._resolve_base_patience(len(X))
        _, dataset_valid = net.get_split_datasets(X, y)
        losses = net.evaluate(dataset_valid)
        self.best_loss_, self.best_state_ = losses["valid_loss"], net._snapshot()
        self.misses_, self.stopped_ = 0, False
        self.best_base_loss_ = losses.get("valid_base_loss")
        self.best_base_state_ = net._snapshot(("base", "optimizer_base"))
        self.base_misses_, net.base_frozen_ = 0, False

    def on_epoch_end(self, net, **kwargs):
        if self.best_base_loss_ is not None and not net.base_frozen_ and self._froze_base(net):
            return  # the energy gets a fresh patience on the restored base
        loss = net.history[-1, "valid_loss"]
        if loss < self.best_loss_:
            self.best_loss_, self.best_state_, self.misses_ = loss, net._snapshot(), 0
            return
        self.misses_ += 1
        if self.misses_ >= self.patience:
            self.stopped_ = True
            raise KeyboardInterrupt  # skorch's way of ending training early

    def _froze_base(self, net):
        """Track the base's validation loss; whether the base was frozen now."""
        loss = net.history[-1, "valid_base_loss"]
        if loss < self.best_base_loss_:
            self.best_base_loss_, self.base_misses_ = loss, 0
            self.best_base_state_ = net._snapshot(("base", "optimizer_base"))
            return False
        self.base_misses_ += 1
        if self.base_misses_ < self.base_patience_:
            return False
        net._restore(self.best_base_state_)
        net._good_state = net._snapshot()  # a later recovery must not bring back the overfit base
        net.base_frozen_ = True
        self.best_base_state_, self.misses_ = None, 0
        return True

    def on_train_end(self, net, **kwargs):
        if self.best_state_ is not None:  # dropped once used: it doubles the model's size
            net._restore(self.best_state_)
            self.best_state_ = self.best_base_state_ = None


# Constructor arguments that are the fitted modules themselves (module_, base_, ...).
_LINKED_PARAMS = ("module", "base", "criterion")
# State a training builds for itself and a pickle leaves out (None until then).
_DERIVED_STATE = (
    "_good_state", "_base_pool", "_valid_latents", "_valid_base", "_averages", "_steps"
)


class GEBMNet(NeuralNet):
    """skorch net that trains a GEBM: energy ``module_``, base ``base_``.

    Parameters
    ----------
    module : Energy
        The energy (an instance, used as is).
    criterion : EnergyObjective
        The objective; its ``log_partition`` is trained with the energy.
    base : FlowBase or GeneratorBase
        The base (an instance, used as is).
    max_iter : int
        Training iterations per call of ``fit``/``partial_fit``.
    n_energy_steps, n_burst_steps, burst_every : int
        Schedule of base steps, see the module docstring.
    autocast_dtype : torch.dtype or None
        Lower precision of the networks' arithmetic in training steps (autocast), see
        :meth:`autocast`; None computes in float32.
    ema_decay : float
        Decay of the moving average of the weights (energy, log-partition and base),
        ramped up as ``min(ema_decay, (1 + t) / (10 + t))`` at iteration ``t`` so the
        average does not remember the initial weights; 0 keeps the last iterate.
    max_restarts : int
        Divergences recovered from (restore the last good state, halve the learning
        rates, warn) before :class:`~skgebm.exceptions.TrainingDivergedError` is raised.
    cuda_graphs : bool
        On a CUDA device, replay the energy step (of an objective that is
        ``capturable``) and a generator's base step from CUDA graphs (see
        :class:`~skgebm._graphs.CapturedStep`); the optimizer must then be built with
        ``capturable=True``. The graphs are captured anew in each training, and after
        the state is restored (a divergence, early stopping), which changes the
        tensors they were recorded on.
    **kwargs
        Passed to :class:`skorch.NeuralNet` (``optimizer``, ``lr``, ``optimizer__*``,
        ``optimizer_base__*``, ``batch_size``, ``callbacks``, ``train_split``,
        ``device``, ``verbose``...).

    Attributes
    ----------
    rng_, data_rng_ : torch.Generator
        Set by the caller for the duration of a fit, on the device: randomness of the
        steps and of the minibatch order. They are not pickled.
    interrupted_ : bool
        Whether the last ``fit``/``partial_fit`` was stopped by ``KeyboardInterrupt``
        (skorch then returns normally with the weights reached).
    base_frozen_ : bool
        Whether early stopping froze the base: no more base steps, in this training
        and in later ``partial_fit`` calls, which have no held-out rows to watch it.
    """

    def __init__(
        self,
        module,
        criterion,
        *,
        base,
        max_iter,
        n_energy_steps=5,
        n_burst_steps=100,
        burst_every=500,
        ema_decay=0.0,
        autocast_dtype=None,
        max_restarts=3,
        cuda_graphs=False,
        **kwargs,
    ):
        # set before NeuralNet.__init__, which forbids setting modules afterwards
        self.base = base
        self.max_iter = max_iter
        self.n_energy_steps = n_energy_steps
        self.n_burst_steps = n_burst_steps
        self.burst_every = burst_every
        self.ema_decay = ema_decay
        self.autocast_dtype = autocast_dtype
        self.max_restarts = max_restarts
        self.cuda_graphs = cuda_graphs
        super().__init__(module, criterion, **kwargs)

    @property
    def _default_callbacks(self):
        return [("epoch_timer", EpochTimer()), ("print_log", PrintLog())]

    def initialize(self):
        super().initialize()
        self.interrupted_ = False
        self.n_iter_ = 0
        self.n_base_steps_ = 0
        self._since_base_step = 0
        self.n_restarts_ = 0
        self._good_state = None
        self._base_pool = self._valid_latents = self._valid_base = None
        self.base_frozen_ = False
        self._averages, self._averages_live = None, False
        self._release_graphs()
        return self

    def initialize_module(self):
        super().initialize_module()
        self.base_ = self.base
        return self

    def initialize_optimizer(self, triggered_directly=None):
        energy_parameters = [
            *self.module_.named_parameters(),
            *self.criterion_.named_parameters(),
        ]
        args, kwargs = self.get_params_for_optimizer("optimizer", energy_parameters)
        self.optimizer_ = self.optimizer(*args, **kwargs)
        args, kwargs = self.get_params_for_optimizer(
            "optimizer_base", self.base_.named_parameters()
        )
        self.optimizer_base_ = self.optimizer(*args, **kwargs)
        return self

    def get_dataset(self, X, y=None):
        # the training data move to the device once, not a minibatch at a time
        if isinstance(X, TensorDataset):
            return X
        return TensorDataset(torch.as_tensor(X, device=self.device))

    def get_iterator(self, dataset, training=False):
        if not training:
            return MinibatchIterator(dataset, max(self.batch_size, VALIDATION_SAMPLES))
        return MinibatchIterator(
            dataset,
            self.batch_size,
            n_batches=self.max_iter,
            per_epoch=ITERATIONS_PER_EPOCH,
            generator=self.data_rng_,
        )

    def fit_loop(self, X, y=None, **fit_params):
        # skorch stops quietly on KeyboardInterrupt, keeping the weights reached;
        # the flag lets the estimator tell an interrupted training from a finished one
        self.interrupted_ = False
        try:
            with autotuned_convolutions(self.device):
                return super().fit_loop(X, y, **fit_params)
        except KeyboardInterrupt:
            self.interrupted_ = not any(
                isinstance(callback, EarlyStopping) and callback.stopped_
                for _, callback in self.callbacks_
            )
            raise

    def autocast(self, cache_enabled=True):
        """Autocast to ``autocast_dtype`` on the net's device; a no-op without one.

        The networks cast their outputs back to float32 (the energy, a generator's
        samples), so the objectives, the log-partition and the sampler's updates keep
        full precision; an explicit base switches autocast off for its density.
        A training step disables the cache of low-precision weights, which a CUDA
        graph cannot hold (and which lasts one step: the weights change).
        """
        dtype = self.autocast_dtype
        device_type = torch.device(self.device).type
        return torch.autocast(
            device_type, dtype=dtype, enabled=dtype is not None, cache_enabled=cache_enabled
        )

    def latent(self, n_samples):
        """Standard normal latents from the fit's generator."""
        return torch.randn(
            n_samples, self.base_.latent_dim, generator=self.rng_, device=self.device
        )

    @torch.no_grad()
    def base_samples(self, n_samples):
        """``n_samples`` base samples from the pool, redrawn when it runs out."""
        pool = self._base_pool
        if pool is None or len(pool) < n_samples:
            n_pool = n_samples * max(self.n_energy_steps, 1)
            pool = self.base_(self.latent(n_pool))
        samples, self._base_pool = pool[:n_samples], pool[n_samples:]
        return samples

    @torch.no_grad()
    def initialize_log_partition(self, n_samples=1024):
        """Set the learned log-partition to its Monte-Carlo optimum.

        The base samples are drawn as the energy steps draw them, in training mode: a
        generator's batch norm then normalizes with batch statistics, and its running
        averages, still at their start, would give other samples and a log-partition
        off by tens of nats, whose ``exp`` overflows in the first step.
        """
        self._set_training(True)
        energy_base = self.module_(self.base_(self.latent(n_samples)))
        self.criterion_.initialize_log_partition(energy_base)

    def _base_step_due(self):
        if self.base_frozen_:
            return False
        if self.criterion_.base_loss_kind == "mle":
            return True  # maximum likelihood does not wait for the energy
        at_burst = self.burst_every and self.n_base_steps_ % self.burst_every == 0
        required = self.n_burst_steps if at_burst else self.n_energy_steps
        return self._since_base_step >= max(required, 1)

    def train_step(self, batch, **fit_params):
        self._set_training(True)
        x_data = to_device(batch[0], self.device)
        objective = self.criterion_
        inputs = (x_data,)
        if objective.uses_base_samples:
            with self.autocast():
                inputs += (self.base_samples(len(x_data)),)
        loss, stat = self._run_step("energy", inputs)
        self.n_iter_ += 1
        self._since_base_step += 1
        self._accumulate("train_loss", loss)
        self._accumulate(objective.stat_name, stat)
        if self._base_step_due():
            base_loss = self._run_step("base", (x_data, self.latent(len(x_data))))
            self.n_base_steps_ += 1
            self._since_base_step = 0
            if objective.base_loss_kind != "mle":
                self._base_pool = None
            self._accumulate("base_loss", base_loss)
        self._update_averages()
        return {"loss": loss}

    def _energy_step(self, x_data, x_base=None):
        """One step of the energy's optimizer; the loss and the statistic, detached."""
        with self.autocast(cache_enabled=False):
            loss, stat = self.criterion_.energy_loss(
                self.module_, self.base_, x_data, x_base, self.rng_
            )
        loss.backward()
        self.optimizer_.step()
        return loss.detach(), stat

    def _base_step(self, x_data, z):
        """One step of the base's optimizer; the loss, detached."""
        with self.autocast(cache_enabled=False):
            loss = self.criterion_.base_loss(self.module_, self.base_, x_data, z)
        loss.backward(inputs=list(self.base_.parameters()))
        self.optimizer_base_.step()
        return loss.detach()

    def _run_step(self, kind, inputs):
        """Run the ``"energy"`` or ``"base"`` step on ``inputs``, eagerly or from a graph.

        With ``cuda_graphs``, a capturable step on a CUDA device is captured after a
        warm-up (see :class:`~skgebm._graphs.CapturedStep`) and replayed from then on.
        """
        if kind not in self._steps:
            if kind == "energy":
                step, optimizer = self._energy_step, self.optimizer_
                capturable = self.criterion_.capturable
            else:
                step, optimizer = self._base_step, self.optimizer_base_
                # a density (maximum likelihood, an explicit base) checks its inputs on the host
                capturable = self.criterion_.base_loss_kind != "mle" and not self.base_.has_density
            enabled = self.cuda_graphs and capturable
            self._steps[kind] = CapturedStep(step, self.rng_, [optimizer], enabled=enabled)
        return self._steps[kind](*inputs)

    def validation_step(self, batch, **fit_params):
        x_data = to_device(batch[0], self.device)
        losses = self._validation_losses(x_data)
        for name, loss in losses.items():
            self._accumulate(name, loss, weight=len(x_data))
        return {"loss": losses["valid_loss"]}

    def evaluate(self, dataset):
        """The validation losses on ``dataset``, averaged over its rows.

        Parameters
        ----------
        dataset : torch.utils.data.TensorDataset
            Held-out data.

        Returns
        -------
        losses : dict of str to float
            ``valid_loss`` (the model's), and ``valid_base_loss`` (the base's negative
            log-likelihood) when the base is trained by maximum likelihood.
        """
        totals = {}
        for x_data, _ in self.get_iterator(dataset):
            x_data = to_device(x_data, self.device)
            for name, loss in self._validation_losses(x_data).items():
                totals[name] = totals.get(name, 0.0) + loss * len(x_data)
        return {name: (total / len(dataset)).item() for name, total in totals.items()}

    @torch.no_grad()
    def _validation_losses(self, x_data):
        self._set_training(False)
        objective = self.criterion_
        losses = {
            "valid_loss": objective.validation_loss(
                self.module_, self.base_, x_data, self._valid_base_samples()
            )
        }
        if objective.base_loss_kind == "mle":
            losses["valid_base_loss"] = -self.base_.log_prob(x_data).mean()
        return losses

    @torch.no_grad()
    def _valid_base_samples(self):
        """The base samples of the held-out partition estimate, computed once per base.

        The batches of one validation pass share them, and a frozen base gives the same
        ones at every epoch (its average is its weights, to the bit): sampling a flow
        is most of a validation pass, and a flow trained on small tabular data spends
        most of its epochs frozen.
        """
        version = "frozen" if self.base_frozen_ else self.n_iter_
        if self._valid_base is None or self._valid_base[0] != version:
            if self._valid_latents is None:
                self._valid_latents = self.latent(VALIDATION_SAMPLES)
            self._valid_base = version, self.base_(self._valid_latents)
        return self._valid_base[1]

    def _averaged_parameters(self):
        """The parameters of every module and criterion (what :meth:`_snapshot` saves)."""
        return [
            parameter
            for name in (*self._modules, *self._criteria)
            for parameter in getattr(self, name + "_").parameters()
        ]

    def _reset_averages(self):
        """Start the averages at the live weights (none without ``ema_decay``)."""
        self._averages, self._averages_live = None, False
        if self.ema_decay:
            self._averages = [p.detach().clone() for p in self._averaged_parameters()]

    @torch.no_grad()
    def _update_averages(self):
        if self._averages is None:
            return
        decay = min(self.ema_decay, (1 + self.n_iter_) / (10 + self.n_iter_))
        torch._foreach_lerp_(self._averages, self._averaged_parameters(), 1 - decay)

    @torch.no_grad()
    def _swap_averages(self, live):
        """Make the live modules hold the averages (``live=True``) or the trained weights."""
        if self._averages is None or self._averages_live == live:
            return
        for parameter, average in zip(self._averaged_parameters(), self._averages):
            swapped = parameter.detach().clone()
            parameter.copy_(average)
            average.copy_(swapped)
        self._averages_live = live

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        super().on_train_begin(net, X=X, y=y, **kwargs)
        self._reset_averages()
        # the validation's latents are drawn afresh from this training's generator
        self._valid_latents = self._valid_base = None
        # a continued training's start is a finished model: a divergence in its first
        # epoch comes back here (a new one has no finite state until an epoch ends)
        self._good_state = self._snapshot() if self.n_iter_ else None
        self._release_graphs()  # recorded with the last training's generator

    def on_train_end(self, net, X=None, y=None, **kwargs):
        super().on_train_end(net, X=X, y=y, **kwargs)
        self._swap_averages(live=True)  # the fitted model is the average
        self._averages = None
        self._release_graphs()  # and their memory

    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        # skorch's loop reads every batch's loss back to the host; this one sums on the
        # device and reads once per epoch, in on_epoch_end.
        if iterator is None:
            return
        self._swap_averages(live=not training)
        batch_count = 0
        for batch in iterator:
            self.notify("on_batch_begin", batch=batch, training=training)
            step = step_fn(batch, **fit_params)
            self.history.record_batch(prefix + "_batch_size", len(batch[0]))
            self.notify("on_batch_end", batch=batch, training=training, **step)
            batch_count += 1
        self.history.record(prefix + "_batch_count", batch_count)

    def _accumulate(self, name, value, weight=1):
        self._epoch_sums[name] = self._epoch_sums[name] + value * weight
        self._epoch_counts[name] += weight

    def on_epoch_begin(self, net, **kwargs):
        super().on_epoch_begin(net, **kwargs)
        zero = torch.zeros((), device=self.device)
        names = (
            "train_loss", self.criterion_.stat_name, "base_loss", "valid_loss", "valid_base_loss"
        )
        self._epoch_sums = {name: zero.clone() for name in names}
        self._epoch_counts = dict.fromkeys(names, 0)

    def on_epoch_end(self, net, **kwargs):
        super().on_epoch_end(net, **kwargs)
        means = {
            name: (total / self._epoch_counts[name]).item()
            for name, total in self._epoch_sums.items()
            if self._epoch_counts[name]
        }
        for name, value in means.items():
            self.history.record(name, value)
        self.history.record("n_iter", self.n_iter_)
        if all(math.isfinite(value) for value in means.values()):
            self._good_state = self._snapshot()
        else:
            self._recover(means)

    def _release_graphs(self):
        """Drop the captured steps; each is captured again after its warm-up."""
        self._steps = {}

    def _snapshot(self, names=None):
        """Deep copies of the state of ``names`` (default: every module and optimizer)."""
        names = names or [*self._modules, *self._criteria, *self._optimizers]
        return copy.deepcopy({name: getattr(self, name + "_").state_dict() for name in names})

    def _restore(self, snapshot):
        """Load a snapshot (of averaged weights, with ``ema_decay``) and average from it.

        The snapshot is copied, not loaded as is: an optimizer's ``load_state_dict``
        keeps the tensors it is given, and its steps would then write into the snapshot.
        """
        for name, state in copy.deepcopy(snapshot).items():
            getattr(self, name + "_").load_state_dict(state)
        self._base_pool = self._valid_base = None
        self._release_graphs()  # an optimizer's state is new tensors
        if self._averages is not None:  # None after training: nothing to average then
            self._reset_averages()

    def _recover(self, means):
        bad = ", ".join(f"{name}={value}" for name, value in means.items())
        if self._good_state is None or self.n_restarts_ >= self.max_restarts:
            raise TrainingDivergedError(
                f"Training diverged at iteration {self.n_iter_} ({bad}) and "
                f"{self.n_restarts_} restart(s) with halved learning rates did not "
                "help. Likely causes: a learning_rate too high for this data, a "
                "gradient_penalty too small to keep the energy Lipschitz, a "
                "cd_step_size too large for the energy (objective='cd'), or "
                "unscaled inputs (standardize=False) with large values."
            )
        # halved from the rates in use, not the snapshot's: restarts compound
        rates = {name: [g["lr"] for g in getattr(self, name + "_").param_groups]
                 for name in self._optimizers}
        self._restore(self._good_state)
        for name in self._optimizers:
            for group, rate in zip(getattr(self, name + "_").param_groups, rates[name]):
                group["lr"] = 0.5 * rate
        self.n_restarts_ += 1
        warn(
            f"Training diverged at iteration {self.n_iter_} ({bad}); restored the last "
            "finite state and halved the learning rates.",
            RuntimeWarning,
        )

    def __getstate__(self):
        state = super().__getstate__()
        for name in ("rng_", "data_rng_", "_epoch_sums", *_DERIVED_STATE):
            state.pop(name, None)
        # the networks given at construction are the fitted ones: pickled as links, so
        # that only skorch's device-mapped copy holds their tensors (a model fitted on a
        # GPU then loads on a CPU) and the link survives
        linked = tuple(
            name for name in _LINKED_PARAMS if state.get(name) is getattr(self, name + "_", state)
        )
        for name in linked:
            state[name] = None
        state["_linked_params"] = linked
        return state

    def __setstate__(self, state):
        linked = state.pop("_linked_params", ())
        super().__setstate__(state)
        for name in linked:
            self.__dict__[name] = self.__dict__[name + "_"]
        for name in _DERIVED_STATE:  # as after training: rebuilt when needed
            self.__dict__.setdefault(name, None)
        self._release_graphs()
