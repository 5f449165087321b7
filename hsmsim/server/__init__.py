"""``hsmsim serve``: the vendors' REST APIs (Securosys TSB, Azure Managed HSM) over the emulated HSM."""
