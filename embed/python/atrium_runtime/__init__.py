"""Python half of Atrium's execution engine, embedded into the kernel binary.

The C++ side (module `_atrium`) owns output routing, stdin and comms; these modules hold what is
simplest to express in Python: compiling cells, rich reprs, completion and introspection.
"""
