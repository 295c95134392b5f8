"""CNF core: DIMACS round trip and errors, builder, matrix."""

import pytest
import torch

from harness.cnf import CNF, CNFBuilder, CNFError


def test_dimacs_round_trip_with_names(tmp_path):
    b = CNFBuilder()
    b.clause("-sum(1)", "aux(0,1)", "aux(1,0)")
    b.exactly_one(["x", "y", "z"])
    cnf = b.build()
    path = tmp_path / "f.cnf"
    cnf.write_dimacs(path, comments=["test"])
    back = CNF.read_dimacs(path)
    assert back.n_atoms == cnf.n_atoms == 6
    assert back.clauses == cnf.clauses
    assert back.names == cnf.names
    assert back.index("aux(1,0)") == 3


def test_matrix_and_padded_views():
    cnf = CNF(3, [(1, -3), (-2,)])
    C = cnf.matrix()
    assert C.tolist() == [[1, 0, -1], [0, -1, 0]]
    idx, sign = cnf.padded()
    assert idx.tolist() == [[0, 2], [1, 0]]
    assert sign.tolist() == [[1, -1], [-1, 0]]


def test_normalized_merges_duplicates_and_drops_tautologies():
    cnf = CNF(2, [(1, 1, 2), (1, -1)]).normalized()
    assert cnf.clauses == [(1, 2)]


def test_satisfied_by():
    cnf = CNF(2, [(1, 2), (-1,)])
    assert cnf.satisfied_by([0, 1])
    assert not cnf.satisfied_by([1, 1])


@pytest.mark.parametrize(
    "text,fragment",
    [
        ("1 2 0\n", "line 1: clause before"),
        ("p cnf 2 1\n1 2\n", "line 2: clause does not end with 0"),
        ("p cnf 2 1\n1 x 0\n", "line 2: non-integer literal"),
        ("p cnf 2 1\n1 3 0\n", "line 2: literal 3 exceeds the 2 atoms"),
        ("p cnf 2 2\n1 2 0\n", "header declares 2 clauses but 1"),
        ("p cnf 2\n", "line 1: bad header"),
        ("c only\n", "no 'p cnf"),
        ("p cnf 2 1\np cnf 2 1\n1 0\n", "line 2: a second"),
        ("p cnf 2 1\n1 0 2 0\n", "line 2: 0 inside a clause"),
    ],
)
def test_malformed_dimacs_names_the_line(text, fragment):
    with pytest.raises(CNFError) as e:
        CNF.from_dimacs(text, source="f.cnf")
    assert fragment in str(e.value)
    assert "f.cnf" in str(e.value)


def test_missing_dimacs_file(tmp_path):
    with pytest.raises(CNFError, match="not found"):
        CNF.read_dimacs(tmp_path / "nope.cnf")


def test_invalid_clause_literal():
    with pytest.raises(CNFError):
        CNF(2, [(1, 5)])
    with pytest.raises(CNFError):
        CNFBuilder().clause()


def test_matrix_dtype_device():
    C = CNF(2, [(1, -2)]).matrix(dtype=torch.float64)
    assert C.dtype == torch.float64
