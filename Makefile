# gpucredit build helpers. Python >= 3.12 is located by .ci/find-python.

VENV     := .venv
VPY      := $(VENV)/bin/python
VBIN     := $(VENV)/bin
STAMP    := $(VENV)/.installed

SCENARIO ?= baseline
SEED     ?= 7
OUT      ?= results/$(SCENARIO)

REPORT_OUT ?= results/report
DEMO_OUT   ?= results/demo

.PHONY: venv run demo report test fuzz bench calibration clean

venv: $(STAMP)

# Rebuild the venv whenever pyproject.toml is newer than the stamp.
$(STAMP): pyproject.toml
	@PY=$$(sh .ci/find-python) || exit 1; \
	if ! $(VPY) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null; then \
		echo "Creating $(VENV) with $$PY"; \
		rm -rf $(VENV) && "$$PY" -m venv $(VENV) || exit 1; \
	fi
	$(VPY) -m pip install --upgrade pip
	$(VPY) -m pip install -e ".[test,dask]"
	touch $@

# one run of one scenario: results/<scenario>/ (time series, events, balance sheets, networks, figures)
run: $(STAMP)
	$(VBIN)/gpucredit run --scenario $(SCENARIO) --seed $(SEED) --out $(OUT)

# the main job: a small report (baseline and two counterfactuals, 5 seeds, 2023-2032); prints the PDF's path
demo: $(STAMP)
	@start=$$(date +%s); \
	$(VBIN)/gpucredit report --spec experiments/report/specs/demo.toml --out $(DEMO_OUT) || exit $$?; \
	echo "make demo took $$(( $$(date +%s) - start )) s"

# the full report: every shipped scenario over 50 seeds, the phase diagram and the Sobol indices (1,520 runs)
report: $(STAMP)
	$(VBIN)/gpucredit report --spec experiments/report/specs/full.toml --out $(REPORT_OUT)

test: $(STAMP)
	$(VPY) -m pytest

# Property-based fuzzing of the parameter space (tests/test_fuzz.py) with a large budget of fresh random draws, on
# both cores: FUZZ_EXAMPLES parameter sets split over FUZZ_JOBS shards (pytest-xdist). A failure prints the parameter
# set and a hypothesis blob to reproduce it.
FUZZ_EXAMPLES ?= 2000
FUZZ_JOBS     ?= 2

fuzz: $(STAMP)
	GPUCREDIT_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) GPUCREDIT_FUZZ_SHARDS=$(FUZZ_JOBS) \
		$(VPY) -m pytest tests/test_fuzz.py -k every_admissible -n $(FUZZ_JOBS) -p no:warnings -p no:cacheprovider

bench: $(STAMP)
	$(VBIN)/gpucredit bench --engine

calibration: $(STAMP)
	$(VBIN)/gpucredit calibration

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .hypothesis
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
