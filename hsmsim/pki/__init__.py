"""Generic seeded PKI: key derivation (with a versioned cache), byte-exact builders, chain validation.

Each format family keeps its emulated manufacturer PKI in ``hsmsim/formats/<family>/pki.py``.
"""
