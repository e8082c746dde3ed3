"""Einstein summation subscripts: numpy's notation, and the one normal form a tape stores.

numpy accepts many spellings of one contraction: spaces, an implicit output
(``"ij,jk"``), an ellipsis (``"...ij,...jk->...ik"``), named axes of size 1
that broadcast.  A tape stores one spelling only, the *normal form*: letters,
commas and one ``->`` with the output written out, each letter of one size
in every operand that has it (``"abij,bjk->abik"``).  :func:`normalize` turns
what a user wrote into it at record time, from the operands' shapes (so the
ellipsis becomes letters and broadcast axes of size 1 are marked to be
dropped); :func:`parse_normal` reads it back strictly, which is all a tape
file may hold, so no other text ever reaches numpy's parser.

The backward rule of ``einsum`` is again an einsum: the cotangent of operand
``k`` contracts the adjoint with the other operands to ``k``'s letters
(:func:`cotangent_subscripts`).  Two cases need more than that: a letter
repeated within ``k`` (``"ii->"``, a trace) puts the result on a diagonal
(:func:`diagonal_subscripts`, an einsum with identity tensors), and a
letter only ``k`` has (``"ij->i"``) broadcasts the result along it.
"""

from __future__ import annotations

import math
import string
from collections.abc import Sequence

from ..errors import InputTypeError, ShapeError

__all__ = [
    "LETTERS",
    "MAX_OPERANDS",
    "MAX_LENGTH",
    "parse_normal",
    "normal_text",
    "letter_sizes",
    "normalize",
    "term_count",
    "cotangent_subscripts",
    "diagonal_subscripts",
]

LETTERS = string.ascii_uppercase + string.ascii_lowercase  # numpy's labels, in its (ASCII) order
MAX_OPERANDS = 32
MAX_LENGTH = 1_200  # 32 operands of 32 axes, with commas and an output: a tape file may not ask for more


def normal_text(inputs: Sequence[str], output: str) -> str:
    return ",".join(inputs) + "->" + output


def parse_normal(text: object, operands: int | None = None) -> tuple[tuple[str, ...], str]:
    """The operands' subscripts and the output's, from a normal form; ValueError saying what is wrong.

    The strict reader of tape files: only letters, commas and one ``->``,
    the output's letters each once and each among the operands'.
    """
    if not isinstance(text, str):
        raise ValueError(f"einsum subscripts must be a string, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ValueError(f"einsum subscripts of {len(text):,} characters; the limit is {MAX_LENGTH:,}")
    if text.count("->") != 1:
        raise ValueError("einsum subscripts in a tape have one '->' and the output after it")
    left, output = text.split("->")
    inputs = tuple(left.split(","))
    for term in (*inputs, output):
        bad = [ch for ch in term if ch not in LETTERS]
        if bad:
            raise ValueError(f"einsum subscripts in a tape hold only letters, commas and '->', not {bad[0]!r}")
        if len(term) > 32:
            raise ValueError(f"einsum term {term!r} has more than 32 axes")
    if len(inputs) > MAX_OPERANDS:
        raise ValueError(f"einsum of {len(inputs)} operands; the limit is {MAX_OPERANDS}")
    if operands is not None and len(inputs) != operands:
        raise ValueError(f"einsum subscripts {text!r} name {len(inputs)} operand(s), but the record has {operands}")
    if len(set(output)) != len(output):
        raise ValueError(f"einsum output {output!r} repeats a letter")
    missing = set(output) - set(left)
    if missing:
        raise ValueError(f"einsum output letter {sorted(missing)[0]!r} is in no operand")
    return inputs, output


def letter_sizes(inputs: Sequence[str], shapes: Sequence[tuple[int, ...]]) -> dict[str, int]:
    """Each letter's size; ValueError where an operand's axes and letters disagree (normal form: no broadcasting)."""
    sizes: dict[str, int] = {}
    for k, (term, shape) in enumerate(zip(inputs, shapes)):
        if len(term) != len(shape):
            raise ValueError(f"operand {k} has {len(shape)} axes, but its subscripts {term!r} name {len(term)}")
        for letter, n in zip(term, shape):
            if sizes.setdefault(letter, n) != n:
                raise ValueError(f"letter {letter!r} stands for axes of sizes {sizes[letter]} and {n}")
    return sizes


def term_count(inputs: Sequence[str], shapes: Sequence[tuple[int, ...]]) -> int:
    """How many products the contraction adds up: the product of every letter's size."""
    return math.prod(letter_sizes(inputs, shapes).values())


# ---------------------------------------------------------------- what a user writes


def _split_term(term: str, ndim: int, k: int) -> tuple[str, str, int]:
    """(letters before ``...``, letters after, axes the ellipsis stands for) of operand ``k``."""
    if term.count("...") > 1 or "." in term.replace("...", ""):
        raise InputTypeError(f"einsum: operand {k}'s subscripts {term!r} hold '.' outside one '...'")
    for ch in term.replace("...", ""):
        if ch not in LETTERS:
            raise InputTypeError(f"einsum: subscripts are letters a-z, A-Z, ',', '->' and '...', not {ch!r}")
    before, _, after = term.partition("...")
    named = len(before) + len(after)
    if "..." not in term:
        if named != ndim:
            raise ShapeError(f"einsum: operand {k} has {ndim} axes, but its subscripts {term!r} name {named}")
        return term, "", 0
    if named > ndim:
        raise ShapeError(f"einsum: operand {k} has {ndim} axes, fewer than its subscripts {term!r} name ({named})")
    return before, after, ndim - named


def normalize(subscripts: str, shapes: Sequence[tuple[int, ...]]) -> tuple[str, list[tuple[int, ...] | None]]:
    """numpy's subscripts for operands of ``shapes`` in normal form, and how to reshape each operand first.

    The ellipsis becomes fresh letters (right-aligned, broadcasting as
    numpy's does), an implicit output the letters used once in ASCII order
    after the ellipsis' axes.  An axis of size 1 whose letter is larger
    elsewhere is broadcast by numpy; here it is dropped from that operand
    (the second result: the shape to reshape it to, ``None`` to keep it),
    so every letter of the normal form has one size.
    """
    if not isinstance(subscripts, str):
        raise InputTypeError(f"einsum: subscripts must be a string, got {type(subscripts).__name__}")
    if len(subscripts) > MAX_LENGTH:
        raise InputTypeError(f"einsum: subscripts of {len(subscripts):,} characters; the limit is {MAX_LENGTH:,}")
    text = subscripts.replace(" ", "")
    if text.count("->") > 1 or text.count("-") != text.count("->") or text.count(">") != text.count("->"):
        raise InputTypeError(f"einsum: subscripts {subscripts!r} must hold '->' at most once, and no other '-' or '>'")
    left, arrow, right = text.partition("->")
    terms = left.split(",")
    if len(terms) != len(shapes):
        raise InputTypeError(f"einsum: subscripts {subscripts!r} name {len(terms)} operand(s), but {len(shapes)} given")
    if len(shapes) > MAX_OPERANDS:
        raise InputTypeError(f"einsum of {len(shapes)} operands; tapegrad takes at most {MAX_OPERANDS}")
    parts = [_split_term(term, len(shape), k) for k, (term, shape) in enumerate(zip(terms, shapes))]
    width = max((extra for _, _, extra in parts), default=0)
    used = set(text)
    fresh = [ch for ch in LETTERS if ch not in used][:width]
    if len(fresh) < width:
        raise InputTypeError("einsum: the ellipsis needs more letters than remain unused (52 in all)")
    inputs = [before + "".join(fresh[width - extra :]) + after for before, after, extra in parts]
    ellipsis = "".join(fresh)
    if arrow:
        output = _explicit_output(right, ellipsis, inputs)
    else:
        counts = "".join(before + after for before, after, _ in parts)
        output = ellipsis + "".join(sorted(ch for ch in set(counts) if counts.count(ch) == 1))
    return _drop_broadcast_axes(inputs, output, shapes)


def _explicit_output(right: str, ellipsis: str, inputs: Sequence[str]) -> str:
    if right.count("...") > 1 or "." in right.replace("...", ""):
        raise InputTypeError(f"einsum: the output {right!r} holds '.' outside one '...'")
    for ch in right.replace("...", ""):
        if ch not in LETTERS:
            raise InputTypeError(f"einsum: subscripts are letters a-z, A-Z, ',', '->' and '...', not {ch!r}")
    if "..." not in right and ellipsis:
        raise ShapeError(
            f"einsum: the operands' '...' stands for {len(ellipsis)} axes, but the output {right!r} has no '...' "
            "to keep them (numpy refuses this too); sum them afterwards"
        )
    output = right.replace("...", ellipsis)
    if len(set(output)) != len(output):
        raise InputTypeError(f"einsum: the output {right!r} names a letter more than once (numpy refuses this too)")
    missing = sorted(set(output) - set("".join(inputs)))
    if missing:
        raise InputTypeError(f"einsum: output letter {missing[0]!r} is in no operand's subscripts")
    return output


def _drop_broadcast_axes(
    inputs: list[str], output: str, shapes: Sequence[tuple[int, ...]]
) -> tuple[str, list[tuple[int, ...] | None]]:
    sizes: dict[str, int] = {}
    for k, (term, shape) in enumerate(zip(inputs, shapes)):
        for letter, n in zip(term, shape):
            if sizes.get(letter, 1) == 1:
                sizes[letter] = n
            elif n not in (1, sizes[letter]):
                raise ShapeError(
                    f"einsum: letter {letter!r} stands for axes of sizes {sizes[letter]} and {n} "
                    f"(operand {k}, shape {list(shape)}); sizes must agree or be 1"
                )
    reshapes: list[tuple[int, ...] | None] = []
    for k, (term, shape) in enumerate(zip(inputs, shapes)):
        for letter in set(term):
            if len({n for ch, n in zip(term, shape) if ch == letter}) > 1:
                raise ShapeError(
                    f"einsum: operand {k}'s repeated letter {letter!r} names axes of different sizes "
                    f"(shape {list(shape)}); a diagonal needs equal sizes"
                )
        keep = [d for d, (letter, n) in enumerate(zip(term, shape)) if n == sizes[letter]]
        reshapes.append(None if len(keep) == len(term) else tuple(shape[d] for d in keep))
        inputs[k] = "".join(term[d] for d in keep)
    text = normal_text(inputs, output)
    try:
        parse_normal(text)  # what a tape file may hold: so every recorded tape saves and loads
    except ValueError as error:
        raise ShapeError(f"einsum: {error}") from None
    return text, reshapes


# ---------------------------------------------------------------- the backward rule's subscripts


def cotangent_subscripts(inputs: Sequence[str], output: str, k: int) -> tuple[str, str]:
    """The einsum giving operand ``k``'s cotangent from the adjoint and the other operands, and its letters.

    Its operands are the adjoint (letters ``output``) then the other
    operands in order; its result has each of ``k``'s letters once, in
    order of first appearance, except those nowhere else (the rule
    broadcasts along them).
    """
    others = [term for j, term in enumerate(inputs) if j != k]
    available = set(output).union(*others)
    letters = "".join(dict.fromkeys(ch for ch in inputs[k] if ch in available))
    return normal_text([output, *others], letters), letters


def diagonal_subscripts(term: str) -> tuple[str, list[int]]:
    """The einsum placing an array of ``term``'s distinct letters on its repeated letters' diagonals.

    ``"ii"`` gives ``("i,iA->iA", [2])``: the array times an identity matrix
    (one per repeated letter; its order in the list); the positions of the
    repeats get fresh letters so the output names each axis once.
    """
    unique = "".join(dict.fromkeys(term))
    fresh = iter(ch for ch in LETTERS if ch not in term)
    out, deltas, orders = [], [], []
    for letter in unique:
        count = term.count(letter)
        if count > 1:
            names = [next(fresh) for _ in range(count - 1)]
            deltas.append(letter + "".join(names))
            orders.append(count)
            renamed = iter([letter, *names])
            out.append((letter, renamed))
    replaced = {letter: renamed for letter, renamed in out}
    output = "".join(next(replaced[ch]) if ch in replaced else ch for ch in term)
    return normal_text([unique, *deltas], output), orders
