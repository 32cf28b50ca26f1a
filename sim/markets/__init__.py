"""The four markets, each an object with its own state and clearing rule; institutions place orders, offers and
requests, and the markets clear them:

* :mod:`.compute`   -- :class:`~.compute.SpotMarket`: compute spot clearing, contracts served first, running costs;
* :mod:`.term`      -- :class:`~.term.TermMarket`: contract price, matching of term requests and offers, forward sales;
* :mod:`.chips`     -- :class:`~.chips.ChipMarket`: the chipmakers' order books, allocation and delivery;
* :mod:`.used_gpus` -- :class:`~.used_gpus.UsedGpuMarket`: appraisal, used-GPU prices, fire sales.
"""
