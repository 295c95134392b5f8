"""The harness's optimizer: fused Adam makes the same update as torch's reference Adam."""
import torch

from harness.loop import make_optimizer


def test_fused_adam_matches_reference_adam():
    torch.manual_seed(0)
    a = torch.nn.Linear(5, 3)
    b = torch.nn.Linear(5, 3)
    b.load_state_dict(a.state_dict())
    w0 = a.weight.detach().clone()
    opt_a = make_optimizer(list(a.parameters()), 1e-2)
    opt_b = torch.optim.Adam(b.parameters(), lr=1e-2)
    x = torch.randn(8, 5)
    for _ in range(5):
        for net, opt in ((a, opt_a), (b, opt_b)):
            opt.zero_grad()
            net(x).pow(2).sum().backward()
            opt.step()
    for pa, pb in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(pa, pb, rtol=1e-5, atol=1e-6)
    assert not torch.equal(a.weight, w0)  # it did train
