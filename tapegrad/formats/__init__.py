"""Formats: generated Python/numpy source, sympy both ways, tape files, DOT pictures, the expression parser.

Imports ``core``, ``values`` and ``functional``.
"""
