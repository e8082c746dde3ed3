"""The program: shapes, the op table, tapes, the interpreters and the optimiser passes.

The lowest layer: it imports nothing of tapegrad but ``errors`` and ``_version``,
and everything above reads it.
"""
