"""An out-of-tree task, complete: ``nesybench check`` passes every task check and every built-in
method's checks on it (docs/adding-a-task.md walks through it).

``mnist-mul``: two MNIST images labelled only with the product of their digits (0..81). The CNF
has the 20 digit atoms, one derived atom ``aux(a,b)`` = digit(0,a) and digit(1,b) per pair, and
one atom ``prod(p)`` per product a pair can have; the evidence sets the label's ``prod`` true and
every other one false. A product of 0 is reached by 19 pairs: a network that reads every image as
0 satisfies every example labelled 0 (about a fifth of them), the one-class collapse the harness's
rows record (``collapsed``).

  nesybench check --plugin examples/my_task.py --task mnist-mul
  nesybench bench --suite smoke --plugin examples/my_task.py --add-task mnist-mul
"""

import itertools

import numpy as np
import torch

from harness.api import Batch, Constraint, NeuralGroup, Program, Task, shuffled_batches
from harness.cnf import CNFBuilder
from harness.registry import register_task
from tasks.mnist_data import load_mnist, to_float
from tasks.nets import LeNet, PerImage

PRODUCTS = sorted({a * b for a, b in itertools.product(range(10), repeat=2)})  # the 37 products
# the same knowledge for the methods that reason in ProbLog (DeepProbLog) and in ASP (NeurASP)
PROBLOG = (
    "nn(mnist_net,[X],Y,[0,1,2,3,4,5,6,7,8,9]) :: digit(X,Y).\nproduct(X,Y,Z) :- digit(X,A), digit(Y,B), Z is A*B.\n"
)
ASP = "img(0..1).\n1 { digit(I, K) : K = 0..9 } 1 :- img(I).\nprod(A * B) :- digit(0, A), digit(1, B).\n"


@register_task
class MnistMul(Task):
    """Two digits, labelled with their product; ``prod_acc`` is the share of test pairs whose
    predicted digits multiply to the label, ``digit_acc`` the share of digits read right."""

    key = "mnist-mul"
    version = 1
    params = {"n_pairs": 1000, "n_test": 500}  # training pairs; test pairs
    param_bounds = {"n_pairs": (1, 2000), "n_test": (1, 500)}  # the embedded split's 4,000 / 1,000 digits
    train_defaults = {"epochs": 1, "batch_size": 16, "lr": 1e-3}
    main_metric = "prod_acc"
    tiny_params = {"n_pairs": 32, "n_test": 32}

    def constraint(self) -> Constraint:
        if getattr(self, "constraint_", None) is None:
            b = CNFBuilder()
            digit = [[f"digit({i},{k})" for k in range(10)] for i in range(2)]
            b.atoms(digit[0] + digit[1])
            for names in digit:
                b.exactly_one(names)
            derived = []
            for x, y in itertools.product(range(10), repeat=2):
                aux = f"aux({x},{y})"
                b.define("and", aux, [digit[0][x], digit[1][y]])
                derived.append((b.atom(aux) - 1, x, 10 + y))
            for p in PRODUCTS:
                b.clause(
                    f"-prod({p})", *[f"aux({x},{y})" for x, y in itertools.product(range(10), repeat=2) if x * y == p]
                )
                for x, y in itertools.product(range(10), repeat=2):
                    if x * y == p:
                        b.clause(f"-aux({x},{y})", f"prod({p})")
            cnf = b.build()
            self.prod0_ = cnf.index("prod(0)") - 1  # the prod atoms are consecutive, in PRODUCTS' order
            self.constraint_ = Constraint(
                cnf,
                [NeuralGroup("digit", torch.arange(20).reshape(2, 10))],
                derived=torch.tensor(derived),
                programs={"problog": Program(PROBLOG, "product", PRODUCTS), "asp": Program(ASP)},
            )
        return self.constraint_

    def setup(self, seed: int, device: torch.device) -> None:
        data = load_mnist(self.data_dirs.get("mnist"))
        rng = np.random.default_rng(seed)
        train = rng.integers(0, len(data.train_y), (self.tp["n_pairs"], 2))
        test = np.random.default_rng(0).integers(0, len(data.test_y), (self.tp["n_test"], 2))  # fixed
        self.x_ = to_float(data.train_x[train.reshape(-1)]).reshape(len(train), 2, 1, 28, 28).to(device)
        self.y_ = torch.as_tensor(data.train_y[train]).to(device)
        self.test_x_ = to_float(data.test_x[test.reshape(-1)]).reshape(len(test), 2, 1, 28, 28).to(device)
        self.test_y_ = torch.as_tensor(data.test_y[test]).to(device)
        c = self.constraint()
        ev = torch.zeros(len(train), c.n_atoms)
        ev[:, self.prod0_ : self.prod0_ + len(PRODUCTS)] = -1.0
        col = torch.as_tensor([PRODUCTS.index(int(p)) for p in (self.y_[:, 0] * self.y_[:, 1]).tolist()])
        ev[torch.arange(len(train)), self.prod0_ + col] = 1.0
        self.evidence_ = ev.to(device)

    def network(self) -> torch.nn.Module:
        return PerImage(LeNet(), "digit")

    def train_batches(self, batch_size: int, generator: torch.Generator, epoch: int = 1):
        for o in shuffled_batches(len(self.y_), batch_size, generator, self.y_.device):
            yield Batch(
                x=self.x_[o],
                evidence=self.evidence_[o],
                labels={"digit": self.y_[o]},
                target=(self.y_[o, 0] * self.y_[o, 1]).tolist(),
            )

    @torch.no_grad()
    def evaluate(self, net: torch.nn.Module, device: torch.device) -> dict[str, float]:
        pred = net(self.test_x_)["digit"].argmax(-1)  # (n, 2)
        prod = pred[:, 0] * pred[:, 1] == self.test_y_[:, 0] * self.test_y_[:, 1]
        return {
            "digit_acc": 100.0 * (pred == self.test_y_).float().mean().item(),
            "prod_acc": 100.0 * prod.float().mean().item(),
        }
