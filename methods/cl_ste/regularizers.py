"""CL-STE's regularizers L_bound and L_cont, and their mean over a recurrent network's steps."""

from __future__ import annotations

import torch

from harness.atoms import cols as _cols


def bound_loss(outputs: dict[str, torch.Tensor]) -> torch.Tensor:
    """L_bound = mean of the squared raw outputs (logits) over every neural variable."""
    if len(outputs) == 1:
        return next(iter(outputs.values())).pow(2).mean()
    flat = torch.cat([o.reshape(o.shape[0], -1) for o in outputs.values()], dim=1)
    return flat.pow(2).mean()


def cont_loss(p: torch.Tensor, families: list[torch.Tensor]) -> torch.Tensor:
    """L_cont (``sudoku_gnn``'s ``reg_sudoku_cont``, docs/method.md "The regularizers") for probabilities p (B,
    n_neural)
    and families of (E, k) positions into p: the sum over families of the mean over sets of
    (sum of the set's probabilities - 1)^2. For Sudoku's row family this is the paper's
    mean(((A_row + I) y - 1)^2): the 9 cells of a row share the value of its (row, digit) set."""
    return sum((_cols(p, f).sum(-1) - 1).pow(2).mean() for f in families)


def _step_mean(steps: list[dict[str, torch.Tensor]], fn) -> torch.Tensor:
    """The mean of ``fn`` over a network's steps (no extra operation for a network without steps)."""
    if len(steps) == 1:
        return fn(steps[0])
    return torch.stack([fn(o) for o in steps]).mean()
