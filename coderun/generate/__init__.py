"""Generators behind one small interface (base.Backend), one module per backend, found by name."""
