"""What a run reports: the monthly series and their data dictionary (:mod:`.series`), the financial network and
its metrics (:mod:`.network`)."""
