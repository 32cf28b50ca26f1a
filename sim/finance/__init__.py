"""Equity finance: stakes, funding rounds and their marks (:mod:`.equity`); Nvidia's circular-financing
agreements, capacity backstops and rent-backs (:mod:`.circular`)."""
