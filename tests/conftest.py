import pytest

from gpucredit.sim import GPUEconomy


def run(months=24, seed=1, **kw):
    model = GPUEconomy(rng=seed, **{"run.months": months}, **kw)
    while model.running:
        model.step()
    return model


@pytest.fixture(scope="session")
def baseline_24():
    """A baseline economy run to December 2024 (shared, read-only)."""
    return run(24, seed=3)


@pytest.fixture
def fresh_24():
    """A baseline economy at December 2024 that a test may modify."""
    return run(24, seed=3)
