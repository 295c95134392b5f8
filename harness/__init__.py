"""nesybench harness: contracts, registry, CNF core, training loop, records and reports."""

__version__ = "0.1.0"
