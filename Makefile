# Everything runs from the project's virtualenv (.venv), made by `make install`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: install node js lock run test test-unit lint fmt typecheck audit fuzz bench infra infra-stop schemas clean

$(BIN)/python: pyproject.toml constraints.txt
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	touch $(BIN)/python

install: $(BIN)/python

## The browser side's build and test tools (esbuild, axe-core), exactly as package-lock.json pins them
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --ignore-scripts
	touch $@

node: node_modules/.installed

## Rebuild consent.js (services/consent/static/) from services/consent/js/
js: node
	node scripts/build-consent-js.mjs

## Re-resolve every dependency to the newest version pyproject.toml allows, into constraints.txt
lock:
	rm -rf .lockvenv && $(PY) -m venv .lockvenv
	.lockvenv/bin/pip install -q --upgrade pip
	.lockvenv/bin/pip install -q '.[dev]'
	{ sed -n '1,2p' constraints.txt; .lockvenv/bin/pip freeze --exclude-editable | grep -v '^privacy-backend'; } > constraints.new
	mv constraints.new constraints.txt
	rm -rf .lockvenv

## Run the whole system locally: Kafka, then consent (8001), dsar (8002), breach (8003) on SQLite in ./var/,
## and the demo website (8000) with the consent banner
run: install
	scripts/run.sh

## The whole test suite against a real Kafka broker and a real PostgreSQL server (both started here)
test: install node infra
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

## Only the tests that need neither Kafka nor PostgreSQL
test-unit: install
	$(BIN)/python -m pytest -q tests/unit $(PYTEST_ARGS)

infra:
	scripts/chromium.sh
	scripts/promtool.sh
	scripts/nginx.sh
	scripts/postgres.sh start
	scripts/kafka.sh start
	scripts/wordpress.sh start
	scripts/litewitness.sh build

infra-stop:
	scripts/wordpress.sh stop
	scripts/kafka.sh stop
	scripts/postgres.sh stop

lint: install
	$(BIN)/ruff check services tests scripts benchmarks examples
	$(BIN)/ruff format --check services tests scripts benchmarks examples

fmt: install
	$(BIN)/ruff format services tests scripts benchmarks examples
	$(BIN)/ruff check --fix services tests scripts benchmarks examples

typecheck: install
	$(BIN)/mypy

## Known vulnerabilities in every pinned dependency (pip-audit, in its own virtualenv). It needs PyPI's
## per-version JSON API or api.osv.dev; neither answers on the build machine, so it is not in `lint` yet.
audit:
	test -x .auditvenv/bin/pip-audit || { $(PY) -m venv .auditvenv && .auditvenv/bin/pip install -q pip-audit; }
	.auditvenv/bin/pip-audit --strict -r constraints.txt --no-deps --disable-pip

## Regenerate the JSON Schemas of every event type (checked in under schemas/)
schemas: install
	$(BIN)/python -m services.common.schemagen

## A deeper fuzz run than the suite's: every service, every default check, at least 100 examples per
## operation, a random seed printed first (FUZZ_SEED=... repeats a run; FUZZ_EXAMPLES=... goes deeper)
fuzz: install infra
	@seed=$${FUZZ_SEED:-$$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}; \
	echo "make fuzz: seed $$seed, $${FUZZ_EXAMPLES:-100} examples per operation (repeat with FUZZ_SEED=$$seed)"; \
	FUZZ_SEED=$$seed FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-100} $(BIN)/python -m pytest -q -s -p no:randomly \
	  tests/e2e/test_contract_fuzz.py $(PYTEST_ARGS)

bench: install infra
	scripts/wrk.sh
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
