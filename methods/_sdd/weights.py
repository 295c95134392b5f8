"""Per-example literal log weights of the compiled SDD's variables: the network's probabilities
and the example's evidence (the package docstring, "Semantics")."""

from __future__ import annotations

import numpy as np
import torch

from harness.api import Constraint

from .compile import CompiledConstraint


def literal_log_weights(
    cc: CompiledConstraint, outputs: dict[str, torch.Tensor], constraint: Constraint, evidence: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-example log weights of both literals of every SDD variable.

    outputs: {group: logits (B, G, K)}; evidence: (B, n) in {-1, 0, 1}.
    Returns (pos, neg), each (B, n_vars + 1); column 0 is unused (variables are 1-based).

    Network part: a categorical atom's positive literal weighs its softmax probability, its
    negative 1; a bernoulli atom's (p, 1 - p); every other variable (1, 1). Evidence then sets
    literals to weight 0 (-inf), per variable by the value e of its evidence column: a neural or
    defined atom's positive literal when e < 0, its negative when e > 0; an o variable's positive
    when e = 0 (unobserved), its negative when e != 0; a v variable's positive when e < 0, its
    negative when e >= 0; a quantified h's negative always. All of these are one test per literal,
    c1 * e + c2 * |e| + c3 < 0, with per-literal constants (``_static``).
    """
    first = next(iter(outputs.values()))
    B, dev, dt = first.shape[0], first.device, first.dtype
    st = _static(cc, dev)
    lp, ln = [], []
    for grp in constraint.groups:
        logits = outputs[grp.name]  # (B, G, K)
        if grp.kind == "categorical":
            lp.append(torch.log_softmax(logits, -1).reshape(B, -1))
            ln.append(None)
        else:
            lp.append(torch.nn.functional.logsigmoid(logits).reshape(B, -1))
            ln.append(torch.nn.functional.logsigmoid(-logits).reshape(B, -1))
    nn_ = len(cc.neural_cols)
    out = first.new_zeros(B, 2, cc.n_vars + 1)  # [pos, neg] per variable, neural ones at 1..nn_
    out[:, 0, 1 : 1 + nn_] = lp[0] if len(lp) == 1 else torch.cat(lp, 1)
    if any(x is not None for x in ln):
        out[:, 1, 1 : 1 + nn_] = torch.cat([x if x is not None else torch.zeros_like(y) for x, y in zip(ln, lp)], 1)
    e = evidence.index_select(1, st["src_col"])  # (B, n_vars + 1): each variable's evidence
    if not e.is_floating_point():
        e = e.to(dt)
    c = st["coef"].get(e.dtype)
    if c is None:
        c = st["coef"][e.dtype] = st["coef_np"].to(dev, e.dtype)
    test = torch.addcmul(c[2], e[:, None], c[0]).addcmul_(e.abs()[:, None], c[1])  # (B, 2, n_vars + 1)
    out = out.masked_fill(test < 0, float("-inf"))
    return out[:, 0], out[:, 1]


def _static(cc: CompiledConstraint, dev) -> dict:
    cache = getattr(cc, "_static_cache", None)
    if cache is None or cache["dev"] != dev:
        nv, nn_, nd = cc.n_vars, len(cc.neural_cols), len(cc.defined_cols)
        src = np.zeros(nv + 1, dtype=np.int64)  # each variable's evidence column (0: none)
        coef = np.zeros((3, 2, nv + 1))  # (c1, c2, c3) x (pos, neg) x variable; see literal_log_weights
        coef[2, :, 0] = 1.0  # column 0: never
        src[1 : 1 + nn_] = cc.neural_cols
        src[1 + nn_ : 1 + nn_ + nd] = cc.defined_cols
        coef[0, 0, 1 : 1 + nn_ + nd] = 1.0  # e < 0 kills pos
        coef[0, 1, 1 : 1 + nn_ + nd] = -1.0  # e > 0 kills neg
        src[cc.obs_vars] = src[cc.val_vars] = cc.hidden_cols
        coef[1, 0, cc.obs_vars], coef[2, 0, cc.obs_vars] = 1.0, -0.5  # e = 0 kills pos
        coef[1, 1, cc.obs_vars], coef[2, 1, cc.obs_vars] = -1.0, 0.5  # e != 0 kills neg
        coef[0, 0, cc.val_vars] = 1.0  # e < 0 kills pos
        coef[0, 1, cc.val_vars], coef[2, 1, cc.val_vars] = -1.0, -0.5  # e >= 0 kills neg
        coef[2, 0, cc.quant_vars], coef[2, 1, cc.quant_vars] = 1.0, -1.0  # pos never, neg always
        cache = {"dev": dev, "src_col": torch.as_tensor(src, device=dev), "coef_np": torch.as_tensor(coef), "coef": {}}
        cc._static_cache = cache
    return cache
