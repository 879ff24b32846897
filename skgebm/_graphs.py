"""Training steps replayed from CUDA graphs.

A GEBM's energy step launches about a thousand small kernels (three passes through
the energy, the gradient penalty's double backward, spectral norm's power iterations,
the optimizer), and on a GPU the host launching them, not the kernels, sets the pace:
profiled on an H200, the paper's image recipe kept the GPU busy for 230 of 970 ms. A
CUDA graph records a step's launches once and replays them in one call, so the GPU
runs at the speed of its kernels.

A captured step must be the same kernels on the same memory every time: fixed input
shapes (the minibatches are), no host synchronisation (the training step has none), no
data-dependent control flow. Its inputs are copied into tensors the graph owns, its
outputs are overwritten by the next replay, the optimizer is ``capturable``, and the
random numbers it draws come from a generator registered with the graph, which each
replay advances as an eager call would.

The latent MCMC of :meth:`~skgebm.GEBMEstimator.sample` is the same: a thousand chains
of the image networks make a step of a few hundred small kernels, which the host
launches slower than the GPU runs them.
"""

import torch

from ._warn import warn

__all__ = ["GRAPH_WARMUP_STEPS", "CapturedStep", "GraphedStep"]

#: Eager runs of a step before it is captured: they create the optimizer's state and
#: the libraries' workspaces, which a capture must find in place.
GRAPH_WARMUP_STEPS = 3


class GraphedStep:
    """``step(*inputs)`` captured in a CUDA graph, run by replaying it.

    Capturing records the step's kernels without running them; call the instance to
    run a step, the first one included.

    Parameters
    ----------
    step : callable
        Tensors in, tensors out, the optimizer's ``step`` included: the kernels to
        record. Its gradients must not be accumulated from an earlier step.
    inputs : sequence of torch.Tensor
        Inputs like those of every later call: their shapes, dtypes and device are
        the graph's.
    generator : torch.Generator
        The CUDA generator the step draws its random numbers from.
    optimizers : sequence of torch.optim.Optimizer
        The optimizers whose gradients the step computes (with ``capturable=True``);
        their gradients are set to None, so that the graph allocates and owns them.

    Raises
    ------
    RuntimeError
        When the step cannot be captured (it synchronises with the host, or an
        optimizer is not capturable).
    """

    def __init__(self, step, inputs, generator, optimizers):
        self._inputs = [x.detach().clone() for x in inputs]
        # a graph records the current device's stream: on another device's tensors the
        # kernels would run once, uncaptured
        self._device = self._inputs[0].device
        for optimizer in optimizers:
            optimizer.zero_grad(set_to_none=True)
        with torch.cuda.device(self._device):
            self._graph = torch.cuda.CUDAGraph()
            self._graph.register_generator_state(generator)
            with torch.cuda.graph(self._graph):
                self._outputs = step(*self._inputs)

    def __call__(self, *inputs):
        """Run the step on ``inputs``; the outputs hold until the next call."""
        for static, x in zip(self._inputs, inputs, strict=True):
            static.copy_(x)
        with torch.cuda.device(self._device):
            self._graph.replay()
        return self._outputs


class CapturedStep:
    """``step(*inputs)``, run eagerly for a warm-up, then replayed from a CUDA graph.

    The eager runs zero the optimizers' gradients first, as a training step does. A
    step on CPU tensors, or drawing from torch's global generator, stays eager; one
    that cannot be captured warns once and stays eager.

    Parameters
    ----------
    step : callable
        As for :class:`GraphedStep`.
    generator : torch.Generator or None
        As for :class:`GraphedStep`; None (the global generator) is not captured.
    optimizers : sequence of torch.optim.Optimizer, default=()
        As for :class:`GraphedStep`.
    enabled : bool, default=True
        Whether to capture at all; ``False`` runs every call eagerly.
    warmup : int, default=GRAPH_WARMUP_STEPS
        Eager calls before the capture.
    """

    def __init__(self, step, generator, optimizers=(), *, enabled=True, warmup=GRAPH_WARMUP_STEPS):
        self.step = step
        self.generator = generator
        self.optimizers = optimizers
        self.enabled = enabled
        self.warmup = warmup
        self.n_eager = 0
        self.graph = None

    def __call__(self, *inputs):
        """Run the step on ``inputs``; with a graph, the outputs hold until the next call."""
        if self.enabled and self.graph is None and self.n_eager >= self.warmup:
            self.graph = self._capture(inputs)
            self.enabled = self.graph is not None
        if self.graph is not None:
            return self.graph(*inputs)
        self.n_eager += 1
        for optimizer in self.optimizers:
            optimizer.zero_grad(set_to_none=True)
        return self.step(*inputs)

    def _capture(self, inputs):
        """The step as a :class:`GraphedStep`, or None where it stays eager."""
        if not inputs[0].is_cuda or self.generator is None:
            return None
        try:
            return GraphedStep(self.step, inputs, self.generator, self.optimizers)
        except (RuntimeError, AttributeError) as error:
            name = getattr(self.step, "__name__", "step").strip("_").replace("_", " ")
            warn(
                f"The {name} could not be captured in a CUDA graph ({error}); it runs "
                "eagerly. Set cuda_graphs=False to skip the attempt.",
                RuntimeWarning,
            )
            return None
