"""A complete task plug-in: two MNIST digits labelled only with their product (``mnist-mul``).

    nesybench check --plugin examples/my_task.py --task mnist-mul
    nesybench run --plugin examples/my_task.py --task mnist-mul --method cl-ste --epochs 1

docs/adding-a-task.md walks through it. Atoms: ``digit(i,k)`` (the network's 20 outputs), a derived
``pair(a,b)`` = digit(0,a) AND digit(1,b) per digit pair (100), and ``prod(r)`` per product r (37
values); clauses ``-prod(r) | OR pair(a,b) with a * b = r``. The evidence sets ``prod(r)`` of the label.
"""
import numpy as np
import torch

from harness.api import Batch, Constraint, NeuralGroup, Program, Task, shuffled_batches
from harness.cnf import CNFBuilder
from harness.registry import register_task
from tasks.mnist_data import load_mnist, to_float
from tasks.nets import LeNet, PerImage

PRODUCTS = sorted({a * b for a in range(10) for b in range(10)})


@register_task
class MnistMul(Task):
    key = "mnist-mul"
    params = {"n_pairs": 0}  # training pairs; 0: every training digit once
    main_metric = "prod_acc"
    tiny_params = {"n_pairs": 32}

    def constraint(self) -> Constraint:
        b = CNFBuilder()
        b.atoms(f"digit({i},{k})" for i in range(2) for k in range(10))
        derived = [(b.atom(f"pair({x},{y})") - 1, x, 10 + y) for x in range(10) for y in range(10)]
        for r in PRODUCTS:
            b.clause(f"-prod({r})", *[f"pair({x},{y})" for x in range(10) for y in range(10) if x * y == r])
        self.cnf_ = b.build()
        program = ("nn(mnist_net,[X],Y,[0,1,2,3,4,5,6,7,8,9]) :: digit(X,Y).\n"
                   "product(X,Y,Z) :- digit(X,A), digit(Y,B), Z is A*B.\n")
        asp = "img(0..1).\n1 { digit(I, K) : K = 0..9 } 1 :- img(I).\nprod(A * B) :- digit(0, A), digit(1, B).\n"
        return Constraint(self.cnf_, [NeuralGroup("digit", torch.arange(20).reshape(2, 10))], derived=derived,
                          programs={"problog": Program(program, "product", PRODUCTS), "asp": Program(asp)})

    def setup(self, seed: int, device: torch.device) -> None:
        data = load_mnist(self.data_dirs.get("mnist"))
        pairs = np.random.default_rng(seed).permutation(len(data.train_y) // 2 * 2).reshape(-1, 2)
        self.pairs_ = torch.as_tensor(pairs[: self.tp["n_pairs"] or None]).to(device)  # (P, 2)
        self.x_, self.y_ = to_float(data.train_x).to(device), torch.as_tensor(data.train_y).long().to(device)
        self.test_x_, self.test_y_ = to_float(data.test_x).to(device), torch.as_tensor(data.test_y).long().to(device)
        self.constraint()
        self.prod_col_ = torch.tensor([self.cnf_.index(f"prod({r})") - 1 if r in PRODUCTS else -1 for r in range(82)])

    def network(self) -> torch.nn.Module:
        return PerImage(LeNet(10, xavier=True), "digit")

    def train_batches(self, batch_size: int, generator: torch.Generator, epoch: int = 1):
        for o in shuffled_batches(len(self.pairs_), batch_size, generator, self.pairs_.device):
            digits = self.y_[self.pairs_[o]]  # (B, 2): read for the product label and the supervised ceiling
            products = digits[:, 0] * digits[:, 1]
            evidence = torch.zeros(len(o), self.cnf_.n_atoms, device=digits.device)
            evidence[torch.arange(len(o)), self.prod_col_.to(digits.device)[products]] = 1.0
            yield Batch(x=self.x_[self.pairs_[o]], evidence=evidence, labels={"digit": digits},
                        target=products.tolist())

    @torch.no_grad()
    def evaluate(self, net: torch.nn.Module, device: torch.device) -> dict[str, float]:
        pred = net(self.test_x_.unsqueeze(1))["digit"].squeeze(1).argmax(-1)  # (T,)
        n = len(pred) // 2 * 2
        prod_ok = pred[:n:2] * pred[1:n:2] == self.test_y_[:n:2] * self.test_y_[1:n:2]
        return {"digit_acc": 100.0 * (pred == self.test_y_).float().mean().item(),
                "prod_acc": 100.0 * prod_ok.float().mean().item()}
