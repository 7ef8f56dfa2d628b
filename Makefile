# The two commands: `make demo` and `make test`. Both set everything up first (idempotent).
.PHONY: setup demo test test-fast lint bench clean

setup:
	@bash scripts/setup.sh

demo: setup
	.venv/bin/voice-agent demo

test: setup
	bash scripts/services.sh
	.venv/bin/ruff check .
	.venv/bin/lint-imports
	.venv/bin/pytest -q -ra

test-fast: setup
	.venv/bin/pytest -q -m "not slow"

lint: setup
	.venv/bin/ruff check .
	.venv/bin/lint-imports
	.venv/bin/ruff format --check .

clean:
	rm -rf var .pytest_cache .ruff_cache
