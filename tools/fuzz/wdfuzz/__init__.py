"""Mutation fuzzer for the weightdrift CLI (run it as tools/fuzz/fuzz.py; see tools/fuzz/README.md)."""
