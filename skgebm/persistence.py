"""Save and load fitted estimators without pickle, for sharing models.

``pickle``/``joblib.dump`` round-trips an estimator exactly, but loading a pickle
runs arbitrary code. :func:`save` writes one file that holds only data: the
estimator's parameters and fitted attributes as JSON, and the networks' and
optimizers' state as tensors. :func:`load` reads it with
``torch.load(weights_only=True)``, which refuses anything else, rebuilds the
networks from the parameters and fills in the weights.
"""

import json

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

from . import __version__
from ._fitting import _build_network
from ._gebm import GEBMEstimator, _resolve_device
from .outlier import GEBMOutlierDetector, _Member

__all__ = ["load", "save"]

# skgebm-2: a detector holds its members, each saved as an estimator
# skgebm-3: a detector holds its training rows' score terms, not a fixed threshold
# skgebm-4: an estimator holds its heavy-tailed component (tail_weight)
_FORMAT = "skgebm-4"
_CLASSES = {cls.__name__: cls for cls in (GEBMEstimator, GEBMOutlierDetector)}
_MEMBER_CLASSES = {**_CLASSES, _Member.__name__: _Member}
_NETWORK_PARTS = ("module_", "base_", "criterion_", "optimizer_", "optimizer_base_")
# the training schedule's position, so that partial_fit continues where it was
_NET_COUNTERS = (
    "n_iter_", "n_base_steps_", "_since_base_step", "n_restarts_", "base_frozen_"
)
# derived state, rebuilt on demand after loading; a detector's members are saved apart
_NOT_SAVED = {"net_", "_scoring_cache", "estimators_"}


def save(estimator, path):
    """Write a fitted estimator to ``path`` as data only (no pickle).

    Parameters
    ----------
    estimator : GEBMEstimator or GEBMOutlierDetector
        A fitted estimator with named architectures (``base`` and ``energy`` given
        as strings) and a named ``sampler``; custom modules and sampler objects are
        code, which only ``pickle`` or ``joblib.dump`` can store; so is a
        ``RandomState`` ``random_state`` (give an int instead). NumPy numbers are saved
        as Python numbers and a ``torch.device`` as its name. ``memory`` is a local
        cache and is saved as ``None``.
    path : str or path-like
        The file to write, conventionally ``*.pt``.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from skgebm import GEBMEstimator
    >>> from skgebm.persistence import load, save
    >>> X = np.random.RandomState(0).normal(size=(100, 2))
    >>> est = GEBMEstimator(max_iter=20, n_partition_samples=1024, random_state=0).fit(X)
    >>> path = os.path.join(tempfile.mkdtemp(), "model.pt")
    >>> save(est, path)
    >>> np.allclose(load(path).score_samples(X), est.score_samples(X))
    True
    """
    if type(estimator).__name__ not in _CLASSES:
        raise TypeError(
            f"save stores {sorted(_CLASSES)} estimators, got {type(estimator).__name__}."
        )
    check_is_fitted(estimator)
    state = {"format": _FORMAT, "skgebm_version": __version__, **_state(estimator)}
    torch.save(state, path)


def load(path, *, device=None):
    """Read an estimator written by :func:`save`.

    Parameters
    ----------
    path : str or path-like
        The file written by :func:`save`.
    device : str, torch.device or None, default=None
        Where to put the networks; ``None`` uses the saved ``device`` parameter
        (``"auto"``: CUDA when available). A model fitted on a GPU loads on a
        CPU-only machine with ``device="cpu"``.

    Returns
    -------
    estimator : GEBMEstimator or GEBMOutlierDetector
        The fitted estimator: the same scores and samples as the saved one, and
        ``partial_fit`` continues its training (optimizer state, schedule and
        contrastive divergence's chains included). The training log
        ``net_.history`` is not saved: it starts empty.
    """
    not_a_model = f"{path!r} is not a model written by skgebm.persistence.save."
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except OSError:
        raise  # a file that cannot be read, not one of another kind
    except Exception as error:
        # torch raises UnpicklingError, RuntimeError, EOFError, KeyError... on other
        # files, and its advice, weights_only=False, would run the file's code
        raise ValueError(not_a_model) from error
    if not isinstance(state, dict) or not str(state.get("format")).startswith("skgebm-"):
        raise ValueError(not_a_model)
    if state["format"] != _FORMAT:
        raise ValueError(
            f"{path!r} is in the file format {state['format']!r} of skgebm "
            f"{state.get('skgebm_version')}; this version reads {_FORMAT!r}."
        )
    return _restore(state, device)


def _state(estimator):
    """An estimator's parameters, fitted attributes and networks, as data."""
    params = estimator.get_params(deep=False)
    params["memory"] = None
    for name, value in params.items():
        try:
            params[name] = _as_data(value)
        except TypeError:
            advice = (
                "set an int random_state" if name == "random_state"
                else "use pickle or joblib.dump for custom modules or objects"
            )
            raise TypeError(
                f"Parameter {name!r} holds a {type(value).__name__}, which cannot be "
                f"stored as data without pickle: {advice}."
            ) from None
    attributes = {
        name: _encode(value)
        for name, value in vars(estimator).items()
        if name not in _NOT_SAVED and name not in params
    }
    state = {
        "estimator": type(estimator).__name__,
        "params": json.dumps(params),
        "attributes": json.dumps(attributes),
    }
    if hasattr(estimator, "estimators_"):
        state["members"] = [_state(member) for member in estimator.estimators_]
        return state
    net = estimator.net_
    state["net_counters"] = json.dumps({name: getattr(net, name) for name in _NET_COUNTERS})
    state["tensors"] = {part: _cpu(getattr(net, part).state_dict()) for part in _NETWORK_PARTS}
    # contrastive divergence's persistent chains: in no state_dict, None before a step
    chains = getattr(net.criterion_, "chains", None)
    if chains is not None:
        state["chains"] = _cpu(chains)
    return state


def _restore(state, device):
    """The estimator of :func:`_state`'s ``state``, its networks on ``device``."""
    params = {
        name: tuple(value) if isinstance(value, list) else value
        for name, value in json.loads(state["params"]).items()
    }
    if device is not None:
        params["device"] = device
    estimator = _MEMBER_CLASSES[state["estimator"]](**params)
    for name, value in json.loads(state["attributes"]).items():
        setattr(estimator, name, _decode(value))
    if "members" in state:
        estimator.estimators_ = [_restore(member, device) for member in state["members"]]
        estimator.net_ = estimator.estimators_[0].net_
        return estimator
    base_state = state["tensors"]["base_"]
    net = _build_network(
        estimator.n_features_in_,
        settings=estimator._training_settings(),
        seed=0,  # the weights are overwritten below
        device=str(_resolve_device(params["device"])),
        verbose=params["verbose"],
        # a base started at a Gaussian mixture has its components' weights
        n_components=len(base_state["logits"]) if "logits" in base_state else 1,
    )
    for part, tensors in state["tensors"].items():
        _load_state(getattr(net, part), tensors)
    for name, value in json.loads(state["net_counters"]).items():
        setattr(net, name, value)
    if "chains" in state:
        net.criterion_.chains = state["chains"].to(net.criterion_.log_partition.device)
    estimator.net_ = net
    return estimator


def _load_state(part, state_dict):
    """Load a saved state; an optimizer keeps the ``fused`` setting of this device.

    An optimizer's ``load_state_dict`` takes the saved settings of its parameter
    groups, and a GPU's fused Adam would then run on a CPU's parameters.
    """
    fused = [group.get("fused") for group in getattr(part, "param_groups", ())]
    part.load_state_dict(state_dict)
    for group, flag in zip(getattr(part, "param_groups", ()), fused):
        group["fused"] = flag


def _as_data(value):
    """``value`` as JSON data: numpy scalars (from ``np.arange`` grids, say) as Python
    numbers, a device as its name, which the estimators accept; TypeError otherwise.
    """
    if isinstance(value, np.generic):
        return _as_data(value.item())
    if isinstance(value, torch.device):
        return str(value)
    if isinstance(value, (tuple, list)):
        return type(value)(_as_data(item) for item in value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"{value!r} cannot be stored as data.")


def _encode(value):
    if isinstance(value, np.ndarray):
        return {"ndarray": value.tolist(), "dtype": str(value.dtype)}
    try:
        return _as_data(value)
    except TypeError:
        raise TypeError(
            f"Cannot save the fitted attribute value {value!r} without pickle."
        ) from None


def _decode(value):
    if isinstance(value, dict) and "ndarray" in value:
        return np.asarray(value["ndarray"], dtype=value["dtype"])
    return value


def _cpu(state_dict):
    """A state dict with its tensors on the CPU, so that any machine can load it."""
    if isinstance(state_dict, dict):
        return {key: _cpu(value) for key, value in state_dict.items()}
    if isinstance(state_dict, torch.Tensor):
        return state_dict.detach().cpu()
    return state_dict
