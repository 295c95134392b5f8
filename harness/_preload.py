"""What the suite runner's fork server imports once, so that no run pays for it
(:mod:`harness.launcher`): torch with ``torch._dynamo``, the run process's code
(:mod:`harness.runner` with the training loop), and the built-in tasks and methods (whose heavy
packages, PySDD, ProbLog and the others, each import when a run first needs them). Importing starts
no thread, so forks of the server are safe."""

import torch  # noqa: F401
import torch._dynamo  # noqa: F401

from harness import loop, registry, runner  # noqa: F401

registry.load_builtins()
