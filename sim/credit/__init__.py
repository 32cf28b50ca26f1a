"""Credit: GPU-backed loan facilities and their collateral marks (:mod:`.loans`, a columnar table; what a party's
facilities add up to, :mod:`.loan_books`); covenants, breaches, waivers and cures (:mod:`.covenants`); default
resolution in named steps (:mod:`.default`); the failure of a credit fund (:mod:`.lender_failure`)."""
