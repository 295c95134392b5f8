"""Readers shared by tasks for the paper's data files."""

from __future__ import annotations

import os

import numpy as np

from harness.errors import UserError


def read_rows(path: str, n_fields: int, what: str) -> np.ndarray:
    """The paper's space-separated integer rows, checked for their field count, as an int64 array."""
    rows = read_int_rows(path, n_fields, what)
    big = next((v for r in rows for v in r if not -(2**63) <= v < 2**63), None)
    if big is not None:
        raise UserError(f"{path}: {what} fields are 64-bit integers; {big} is not")
    return np.asarray(rows, dtype=np.int64)


def read_int_rows(path: str, n_fields: int, what: str) -> list[list[int]]:
    """The paper's space-separated integer rows as Python integers (exact at any size), checked for
    their field count."""
    if not os.path.isfile(path):
        raise UserError(f"{what}: data_file not found: {path}")
    rows = []
    with open(path) as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                vals = [int(t) for t in line.split()]
            except ValueError:
                bad = next(t for t in line.split() if not t.lstrip("-").isdigit())
                raise UserError(
                    f"{path}, line {lineno}: field {bad!r} is not an integer; {what} rows are "
                    f"{n_fields} space-separated integers"
                ) from None
            if len(vals) != n_fields:
                raise UserError(f"{path}, line {lineno}: expected {n_fields} fields for {what}, got {len(vals)}")
            rows.append(vals)
    if not rows:
        raise UserError(f"{path}: no examples")
    return rows
