"""The micrograd-style front end: :class:`Value`, recording onto tapes, array functions, eager backward.

Imports ``core`` only.
"""
