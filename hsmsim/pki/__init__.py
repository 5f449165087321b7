"""Simulated manufacturer PKIs: seeded keys, byte-exact builders, chain validation, one module per vendor."""
