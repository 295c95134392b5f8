"""The settings the CL-STE paper (and the peer papers) tuned for each (task, method) pair, as data.

``run``, the suites and the conformance checks read them from here: a run gets its task's and
method's preset unless it names a value itself (``--hp``, ``--epochs``, ...). Tasks never name
method hyper-parameters in their code.

``PRESETS[task key][variant]`` is a dict of hyper-parameters, plus an optional ``"_train"`` dict of
training settings (epochs, batch_size, lr) that override the task's ``train_defaults``. A variant
is a method key, optionally followed by conditions ``|k=value`` that select it for some runs only:
``k`` is a hyper-parameter (the value the run ends up with: given, preset or the method's default)
or else a task parameter, compared as text; e.g. ``"cl-ste|ste=b-iste|n=5"``. Every matching
variant applies, the plain method key first, then the others in the order listed.

An out-of-tree task keeps its own presets in its ``method_defaults`` class attribute (same layout);
the sources and reasons of the built-in ones are in docs/method.md ("The paper's settings").
"""

from __future__ import annotations

from typing import Any

_BP = {"w_cnf": 1.0, "w_bound": 0.1}  # b_p + iSTE on the NeuroLog tasks (docs/method.md)
_B_ADD = {"w_cnf": 1.0, "w_bound": 5.0}  # b(x) variants on add2x2 and apply2x2
_RRN_TRAIN = {"epochs": 100, "batch_size": 16, "lr": 1e-4}

PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    # batch 16, lr 1e-3, one epoch (the task's defaults); L_cnf and L_bound weights (3, 0.4). The
    # paper's own mnistAdd2 and mnistAdd3 (its index files, pairs_file=paper): batch 1, weights
    # (1, 0.01) and (1, 0.001)
    "mnist-add": {
        "cl-ste": {"w_cnf": 3.0, "w_bound": 0.4},
        "cl-ste|pairs_file=paper|digits=2": {"w_cnf": 1.0, "w_bound": 0.01, "_train": {"batch_size": 1, "lr": 1e-3}},
        "cl-ste|pairs_file=paper|digits=3": {"w_cnf": 1.0, "w_bound": 0.001, "_train": {"batch_size": 1, "lr": 1e-3}},
    },
    # the MLP baseline is binary cross-entropy with lr 5e-4; CL-STE adds 0.2 L_cnf + 1 L_bound on the
    # full CNF (no clause filtering) with lr 2e-3; the semantic loss adds 0.5 SL, compiled with a
    # balanced, minimised vtree (about a second; over a minute with the default split vtree)
    "shortest-path": {
        "supervised": {"_train": {"lr": 5e-4}},
        "cl-ste": {"w_cnf": 0.2, "w_bound": 1.0, "w_label": 1.0, "filter_clauses": False, "_train": {"lr": 2e-3}},
        "semantic-loss": {"w_label": 1.0, "w_sl": 0.5, "vtree": "balanced", "minimize": True},
        "neurasp": {"_train": {"lr": 1e-3, "batch_size": 1}},  # NeurASP's shortest-path training script: no labels
    },
    # Park's CNN: L_cnf + 0.1 L_bound on the full CNF, no solution labels. Palm's RRN: cross-entropy
    # on every step (w_label 1), L_cnf on step 0 with the all-pairs normalisation, L_cont, and
    # 0.1 L_bound over all steps; Adam lr 1e-4, batch 16, 100 epochs (the paper's weight decay 1e-4
    # is not applied: the harness's Adam has none)
    "sudoku": {
        "cl-ste": {"w_cnf": 1.0, "w_bound": 0.1, "filter_clauses": False, "w_label": 0.0},
        "cl-ste|net=rrn": {"w_label": 1.0, "cnf_step": 0, "cnf_norm": "all", "w_cont": 1.0, "_train": dict(_RRN_TRAIN)},
        "supervised|net=rrn": {"_train": dict(_RRN_TRAIN)},
    },
    # the NeuroLog tasks (batch 1, lr 5e-4, 3 epochs: the tasks' defaults); weights per STE variant
    "add2x2": {"cl-ste": dict(_BP), "cl-ste|ste=b-iste": dict(_B_ADD), "cl-ste|ste=b-sste": dict(_B_ADD)},
    "member": {
        "cl-ste": dict(_BP),
        "cl-ste|ste=b-iste|n=3": {"w_cnf": 0.1, "w_bound": 0.1},
        "cl-ste|ste=b-sste|n=3": {"w_cnf": 0.1, "w_bound": 0.1},
        "cl-ste|ste=b-iste|n=5": {"w_cnf": 1.0, "w_bound": 0.4, "_train": {"epochs": 10}},
        "cl-ste|ste=b-sste|n=5": {"w_cnf": 1.0, "w_bound": 0.4, "_train": {"epochs": 10}},
    },
    "apply2x2": {"cl-ste": dict(_BP), "cl-ste|ste=b-iste": dict(_B_ADD), "cl-ste|ste=b-sste": dict(_B_ADD)},
}


def task_presets(task_cls: type) -> dict[str, dict[str, Any]]:
    """The variants of a task: the built-in table, else the task's own ``method_defaults``."""
    return PRESETS.get(task_cls.key, getattr(task_cls, "method_defaults", {}) or {})


def method_preset(task_cls: type, method_cls: type) -> dict[str, Any]:
    """The plain (unconditional) preset hyper-parameters of a pair, without training settings."""
    md = task_presets(task_cls).get(method_cls.key, {})
    return {k: v for k, v in md.items() if not k.startswith("_")}


def resolve(task_cls: type, method_cls: type, hp: dict[str, Any], tp: dict[str, Any]) -> tuple[dict, dict]:
    """(hyper-parameters, training settings) of a run from the presets that match it (module
    docstring); ``hp`` are the run's own hyper-parameters (they win), ``tp`` its resolved task
    parameters. The training settings still yield to the run's own."""
    table = task_presets(task_cls)
    md = dict(table.get(method_cls.key, {}))

    def value(k):
        if k in hp or k in md or k in method_cls.hparams:
            return hp.get(k, md.get(k, method_cls.hparams.get(k)))
        return tp.get(k)

    for vkey, vdefaults in table.items():
        mkey, *conds = vkey.split("|")
        if (
            conds
            and mkey == method_cls.key
            and all(str(value(k)) == want for k, _, want in (c.partition("=") for c in conds))
        ):
            md = {**md, **vdefaults, "_train": {**md.get("_train", {}), **vdefaults.get("_train", {})}}
    train = md.pop("_train", {})
    return {**md, **hp}, train
