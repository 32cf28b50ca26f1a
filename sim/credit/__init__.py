"""Credit: GPU-backed loan facilities and their collateral marks (:mod:`.loans`); covenants, breaches, waivers and
cures (:mod:`.covenants`); default resolution in named steps (:mod:`.default`)."""
