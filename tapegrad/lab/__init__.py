"""The lab: the micrograd-style closure engine, engine comparisons and the report, for learners and benchmarks.

The top layer beside the CLI: it may import everything below.
"""
