"""The NeuroLog benchmarks of the CL-STE paper, one module each: :mod:`tasks.add2x2`,
:mod:`tasks.member` and :mod:`tasks.apply2x2`, over the shared base :mod:`tasks._neurolog`.
This module gathers them under one name."""

from ._neurolog import paper_subset, resolve_data_file
from .add2x2 import Add2x2
from .apply2x2 import Apply2x2
from .member import Member

__all__ = ["Add2x2", "Apply2x2", "Member", "paper_subset", "resolve_data_file"]
