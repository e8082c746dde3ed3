"""A fuzz test of tape files (tapegrad.formats.io): thousands of random mutations of valid files,
of numbers and of arrays, give either a tape whose ``dumps`` is stable (and that replays) or
``TapeFormatError``, nothing else.
"""

from __future__ import annotations

import copy
import json
import random
from typing import Any

from support import json_paths, load_mutated

from tapegrad import io

from .tapes import BUILDERS, make, make_array, small, small_array

# ---------------------------------------------------------------- 4. fuzz

POOL: list[Any] = [0, 1, -1, 2, 3, 6, 7, 100, 10**20, 2**53, True, False, None, "", "x", "1.0", "-0.0", "nan", "-inf",
                   "1e999", "add", "input", "const", "guard", "pow_const", "where", "tanh", "smul", "0", "01", "١",
                   [], [0], [0, 1], [[]], {}, {"0": "1"}, {"1": "x"}, 1.5, -0.0, "a" * 50, "tapegrad.tape", "value",
                   "tuple", "list"]  # fmt: skip


def mutate_document(document: Any, rng: random.Random) -> str:
    """One to three random edits of a parsed document: replace, delete, insert, nudge."""
    document = copy.deepcopy(document)
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        path = rng.choice(json_paths(document))
        parent = document
        for key in path[:-1]:
            parent = parent[key]
        key, r = path[-1], rng.random()
        if r < 0.5:
            parent[key] = rng.choice(POOL)
        elif r < 0.65:
            del parent[key]
        elif r < 0.8 and isinstance(parent, list):
            parent.insert(key, rng.choice(POOL))
        elif r < 0.9 and isinstance(parent, dict):
            parent[rng.choice(["0", "1", "2", "99", "x", "00"])] = rng.choice(POOL)
        elif isinstance(parent[key], int) and not isinstance(parent[key], bool):
            parent[key] += rng.choice([-1, 1, -parent[key] - 1, 1000])
        elif isinstance(parent[key], str):
            parent[key] = parent[key][: rng.randrange(len(parent[key]) + 1)]
        else:
            parent[key] = rng.choice(POOL)
    return json.dumps(document, ensure_ascii=False)


def mutate_bytes(text: str, rng: random.Random) -> bytes:
    """One to three random byte edits: overwrite, delete, insert a JSON character."""
    raw = bytearray(text.encode("utf-8"))
    for _ in range(rng.randint(1, 3)):
        i, r = rng.randrange(len(raw)), rng.random()
        if r < 0.4:
            raw[i] = rng.randrange(256)
        elif r < 0.7:
            del raw[i]
        else:
            raw.insert(i, rng.choice(b'0123456789[]{},:"-.eE'))
    return bytes(raw)


def test_random_mutations_load_stably_or_raise_tape_format_error() -> None:
    rng = random.Random(20240601)
    documents = [json.loads(io.dumps(make(name))) for name in BUILDERS] + [small()]
    outcomes = {"tape": 0, "error": 0}
    for _ in range(5_000):
        base = rng.choice(documents)
        text: str | bytes = mutate_document(base, rng) if rng.random() < 0.7 else mutate_bytes(json.dumps(base), rng)
        outcomes[load_mutated(text)] += 1
    assert outcomes["tape"] > 300 and outcomes["error"] > 3_000


# ---------------------------------------------------------------- 5. fuzz

ARRAY_POOL: list[Any] = [0, 1, -1, 2, 3, 5, 100, 10**6, 2**53, True, False, None, "", "1.0", "-0.0", "nan", "inf",
                   "1e999", "float64", "float32", "int64", "bool", "...", "sum", "getitem", "scatter", "concat",
                   "reshape", "matmul", [], [0], [1, 0], [-1], [2, 2], [[]], {}, {"slice": [None, None, -1]},
                   {"axes": None, "keepdims": True}, {"axes": [0], "keepdims": False},
                   {"dtype": "int64", "shape": [1], "data": [0]}, {"dtype": "float64", "shape": [], "data": ["2.0"]},
                   {"dtype": "bool", "shape": [2], "data": [True, False]}, 1.5, "a" * 50]  # fmt: skip


def mutate(document: Any, rng: random.Random) -> str:
    """One to three random edits: replace, delete, insert, nudge an integer (a size, an axis, an index)."""
    document = copy.deepcopy(document)
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        path = rng.choice(json_paths(document))
        parent = document
        for key in path[:-1]:
            parent = parent[key]
        key, r = path[-1], rng.random()
        if isinstance(parent[key], int) and not isinstance(parent[key], bool) and r < 0.4:
            parent[key] += rng.choice([-2, -1, 1, 2, 100])
        elif r < 0.7:
            parent[key] = copy.deepcopy(rng.choice(ARRAY_POOL))
        elif r < 0.85:
            del parent[key]
        elif isinstance(parent, list):
            parent.insert(key, copy.deepcopy(rng.choice(ARRAY_POOL)))
        else:
            parent[key] = copy.deepcopy(rng.choice(ARRAY_POOL))
    return json.dumps(document, ensure_ascii=False)


def test_random_mutations_of_array_files_load_stably_or_raise_tape_format_error() -> None:
    rng = random.Random(20240607)
    documents = [small_array()] + [
        json.loads(io.dumps(make_array(n))) for n in ["every op", "embedding", "special values"]
    ]
    outcomes = {"tape": 0, "error": 0}
    for _ in range(4_000):
        outcomes[load_mutated(mutate(rng.choice(documents), rng))] += 1
    assert outcomes["tape"] > 150 and outcomes["error"] > 2_000, outcomes
