# The two entry points of the README, plus lint. Both run scripts/setup.sh first; it is a
# no-op when the machine and .venv are already set up.
VENV := .venv

.PHONY: setup demo demo-stop test lint

setup:
	bash scripts/setup.sh

# `make demo DEMO_ARGS="--keep-running"` leaves Airflow and the sandbox up afterwards.
demo: setup
	$(VENV)/bin/aurora-bluegreen demo $(DEMO_ARGS)

demo-stop: setup
	$(VENV)/bin/aurora-bluegreen demo --stop

test: setup
	$(VENV)/bin/pytest $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
