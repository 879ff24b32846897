"""The spline flow's faster splines are zuko's splines."""

import pytest
import torch
import zuko
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.testing import assert_close
from zuko.transforms import MonotonicRQSTransform

from skgebm.networks._spline import NSF, RationalQuadraticSpline


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), scale=st.floats(0.01, 3.0))
def test_spline_is_zukos_spline(seed, scale):
    generator = torch.Generator().manual_seed(seed)
    widths, heights, derivatives = (
        scale * torch.randn(256, 3, k, generator=generator, dtype=torch.float64)
        for k in (8, 8, 7)
    )
    # inside and outside [-5, 5]
    x = 14 * torch.rand(256, 3, generator=generator, dtype=torch.float64) - 7
    parameters = [p.requires_grad_() for p in (widths, heights, derivatives)]
    ours = RationalQuadraticSpline(*parameters)
    zukos = MonotonicRQSTransform(*parameters)

    y, ladj = ours.call_and_ladj(x)
    y_zuko, ladj_zuko = zukos.call_and_ladj(x)
    # the gradients too (the splines are built with in-place operations)
    gradients = torch.autograd.grad((y + ladj).sum(), parameters)
    gradients_zuko = torch.autograd.grad((y_zuko + ladj_zuko).sum(), parameters)
    assert_close(gradients, gradients_zuko, rtol=1e-8, atol=1e-8)
    y, ladj = y.detach(), ladj.detach()
    # in double precision the two agree to rounding (float32 inverses of steep splines
    # are ill-conditioned: both lose digits there, differently)
    assert_close(y, y_zuko.detach(), rtol=1e-10, atol=1e-10)
    assert_close(ladj, ladj_zuko.detach(), rtol=1e-10, atol=1e-10)
    with torch.no_grad():
        assert_close(ours.inv(y), zukos.inv(y), rtol=1e-8, atol=1e-8)
    # the outer knots are the bound itself, so the spline meets the identity there
    assert torch.all(ours.horizontal[..., 0] == -5) and torch.all(ours.horizontal[..., -1] == 5)
    assert torch.all(ours.vertical[..., 0] == -5) and torch.all(ours.vertical[..., -1] == 5)
    assert torch.all(ours.derivatives[..., [0, -1]] == 1)


@pytest.mark.parametrize("passes", [None, 2])
def test_nsf_is_zukos_nsf_with_faster_splines(passes):
    reference = zuko.flows.NSF(4, transforms=2, passes=passes, hidden_features=(16,))
    flow = NSF(4, transforms=2, passes=passes, hidden_features=(16,))
    # trained-looking conditioners: zuko's init gives splines near the identity
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for parameter in reference.parameters():
            parameter.normal_(generator=generator)
    flow.load_state_dict(reference.state_dict())  # strict: the same parameters

    flow, reference = flow.double(), reference.double()
    x = torch.randn(512, 4, generator=generator, dtype=torch.float64)
    z = torch.randn(512, 4, generator=generator, dtype=torch.float64)
    with torch.no_grad():
        assert_close(flow().log_prob(x), reference().log_prob(x), rtol=1e-9, atol=1e-9)
        assert_close(flow().transform.inv(z), reference().transform.inv(z), rtol=1e-8, atol=1e-8)
