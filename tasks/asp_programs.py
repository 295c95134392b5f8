"""ASP programs (clingo syntax) of the tasks, for methods that reason with stable models (neurasp).

Conventions shared by every program here (``Constraint.programs["asp"]``):

- **Neural atoms** are the CNF's atom names (``digit(i,k)``, ``sp(e)``) made free by a choice rule:
  ``1 { digit(I,K) : K = 0..9 } 1`` per image, ``{ sp(E) }`` per edge. That is the translation of
  NeurASP's ``nn(...)`` rule (Yang, Ishay, Lee, IJCAI 2020): one value per neural variable.
- **The label** is observed on atoms the program derives, named as the CNF atoms the task's evidence
  sets (``sum(r)``, ``in(d,v)``, ``sum(p,l)``, ``sdig(j,s)``): evidence 1 keeps the stable models
  where the atom holds, -1 those where it does not (NeurASP's observation ``:- not sum(s).``).
- **Inputs** that are not the network's (shortest path's terminals, removed edges) are
  ``#external`` atoms, set true or false by the evidence.
- Every program has at most one stable model per choice of the neural atoms (the rules beyond the
  choice rules are stratified), so a stable model's probability is the product of its neural atoms'.
"""

from __future__ import annotations

DIGIT_CHOICE = "1 { digit(I, K) : K = 0..9 } 1 :- img(I)."


def mnist_add_asp(n_digits: int, encoding: str) -> str:
    """N-digit addition: images 0..N-1 are the first number (most significant first), N..2N-1 the
    second. ``paper`` observes ``sum(r)``; ``compact`` observes the sum's decimal digits
    ``sdig(j,s)`` (j = 0 least significant, j = N the final carry), computed column by column so
    that grounding stays linear in N (the enumeration of models is what grows: up to 10^N a label)."""
    N = n_digits
    lines = [f"img(0..{2 * N - 1}).", DIGIT_CHOICE]
    if encoding == "paper":
        for side, first in ((1, 0), (2, N)):
            body = ", ".join(f"digit({first + i}, D{i})" for i in range(N))
            value = " + ".join(f"{10 ** (N - 1 - i)}*D{i}" for i in range(N))
            lines.append(f"num({side}, {value}) :- {body}.")
        lines.append("sum(X + Y) :- num(1, X), num(2, Y).")
    else:
        lines += [
            f"pos(0..{N - 1}).",
            f"col(J, A + B) :- pos(J), digit({N - 1} - J, A), digit({2 * N - 1} - J, B).",
            "cin(0, 0).",
            "cin(J + 1, (S + C) / 10) :- col(J, S), cin(J, C).",
            "sdig(J, (S + C) \\ 10) :- col(J, S), cin(J, C).",
            f"sdig({N}, C) :- cin({N}, C).",
        ]
    return "\n".join(lines) + "\n"


def member_asp(n: int) -> str:
    """member(n): ``in(d,1)`` when some image shows d, ``in(d,0)`` otherwise."""
    return (
        "\n".join(
            [f"img(0..{n - 1}).", DIGIT_CHOICE, "in(D, 1) :- digit(_, D).", "in(D, 0) :- D = 0..9, not in(D, 1)."]
        )
        + "\n"
    )


def add2x2_asp(pairs: tuple[tuple[int, int], ...]) -> str:
    """add2x2: ``sum(p, l)`` for pair p of images (i, j) (rows, then columns)."""
    lines = ["img(0..3).", DIGIT_CHOICE]
    lines += [f"sum({p}, A + B) :- digit({i}, A), digit({j}, B)." for p, (i, j) in enumerate(pairs)]
    return "\n".join(lines) + "\n"


def shortest_path_asp(edges: list[tuple[int, int]], n_nodes: int) -> str:
    """Shortest path on a grid: NeurASP's program for it (its constraints p, r and o, which its
    training used): the predicted edges ``sp(e)`` form one simple path between the two
    ``terminal(k)`` nodes, with the fewest edges (a weak constraint: only optimal models count).
    A removed edge is excluded where the evidence gives ``removed(e)`` (the simple-path encoding);
    the paper encoding's evidence has no removed edges, as NeurASP's training program had none."""
    lines = [f"node(0..{n_nodes - 1})."]
    lines += [f"edge({e}, {a}, {b})." for e, (a, b) in enumerate(edges)]
    lines += [
        "{ sp(E) } :- edge(E, _, _).",
        "#external terminal(X) : node(X).",
        "#external removed(E) : edge(E, _, _).",
        "adj(A, B) :- sp(E), edge(E, A, B).",
        "adj(B, A) :- adj(A, B).",
        # p: a terminal has one path edge, any other node none or two
        ":- terminal(X), #count { Y : adj(X, Y) } != 1.",
        ":- node(X), not terminal(X), #count { Y : adj(X, Y) } = 1.",
        ":- node(X), not terminal(X), #count { Y : adj(X, Y) } >= 3.",
        # r: every node on the path is reached from a terminal (no detached cycles)
        "reach(X) :- terminal(X).",
        "reach(Y) :- reach(X), adj(X, Y).",
        ":- adj(X, _), not reach(X).",
        # a removed edge is not on the path (removed(e) only where the evidence gives it)
        ":- sp(E), removed(E).",
        # o: the fewest edges
        ":~ sp(E). [1@0, E]",
    ]
    return "\n".join(lines) + "\n"
