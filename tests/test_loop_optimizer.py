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


def test_cosine_schedule_by_hand():
    """Epoch e of E at lr (1 + cos(pi (e - 1) / E)) / 2: E = 4 gives lr, 0.854 lr, lr / 2, 0.146 lr."""
    import math

    from harness.loop import epoch_lr

    train = {"lr": 0.01, "epochs": 4, "lr_schedule": "cosine"}
    got = [epoch_lr(train, e) for e in range(1, 5)]
    want = [0.01, 0.01 * (1 + math.sqrt(0.5)) / 2, 0.005, 0.01 * (1 - math.sqrt(0.5)) / 2]
    assert all(abs(a - b) < 1e-12 for a, b in zip(got, want))
    assert [epoch_lr({"lr": 0.01, "epochs": 4}, e) for e in (1, 4)] == [0.01, 0.01]  # constant


def test_a_cosine_run_trains_each_epoch_at_its_rate_and_keeps_constant_run_ids(tmp_path, monkeypatch):
    """The run's optimizer is at the schedule's rate in every epoch and the rows name the schedule;
    --lr-schedule constant is the same run (the same id) as no schedule, cosine another."""
    import json

    import harness.loop as loop

    seen = []
    real_step = loop.train_step

    def step(task, method, net, opt, batch, w_label, *rest):
        seen.append(opt.param_groups[0]["lr"])
        return real_step(task, method, net, opt, batch, w_label, *rest)

    monkeypatch.setattr(loop, "train_step", step)
    cfg = dict(task="mnist-add", method="supervised", epochs=3, batch_size=50, lr=0.002, tp={"n_pairs": 100})
    row = loop.run(loop.RunConfig(**cfg, lr_schedule="cosine"), str(tmp_path))
    want = [0.002] * 2 + [0.0015] * 2 + [0.0005] * 2  # 2 steps an epoch
    assert len(seen) == 6 and all(abs(a - b) < 1e-12 for a, b in zip(seen, want))
    rows = [json.loads(l) for l in open(tmp_path / "mnist-add" / "supervised" / f"{row['run_id']}.jsonl")]
    assert [r["lr_schedule"] for r in rows] == ["cosine"] * 3
    ids = {loop.run_identity(loop.RunConfig(**cfg, lr_schedule=s), str(tmp_path)).run_id for s in (None, "constant")}
    assert len(ids) == 1 and row["run_id"] not in ids
