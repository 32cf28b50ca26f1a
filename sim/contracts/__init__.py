"""Two-sided claims (:mod:`.claims`) and the register of compute contracts (:mod:`.register`)."""

from .claims import Backstop, ChipOrder, ComputeContract, EquityStake, Loan
from .register import ActiveContracts, ContractRegister, totals_by_party

__all__ = ["Backstop", "ChipOrder", "ComputeContract", "EquityStake", "Loan", "ActiveContracts", "ContractRegister",
           "totals_by_party"]
