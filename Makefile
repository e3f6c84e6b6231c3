# Two entry points do all set-up from the project's own files:
#   make run   - create .venv, install wsgw (+ the CDK CLI from npm), start `wsgw run-local` on the bundled chat app
#   make test  - create .venv, install wsgw with test tools, run the whole test suite (+ mypy, + the docs build)
# `make docs` builds the documentation site (mkdocs.yml, docs/) strictly into site/, offline.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: run test docs bench soak snapshot typecheck clean bytecode

NODE_STAMP := deploy/node_modules/.installed

$(STAMP): pyproject.toml $(NODE_STAMP)
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[dev,cdk,docs,bench]'
	touch $(STAMP)

# The AWS CDK CLI (npm aws-cdk, pinned in deploy/package-lock.json) for synth/deploy.
$(NODE_STAMP): deploy/package.json deploy/package-lock.json
	npm ci --prefix deploy --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

# Bytecode for wsgw's own modules. pip writes it for what it installs, not for this
# editable checkout; Python writes it on first import, unless PYTHONDONTWRITEBYTECODE
# is set (it is on some machines): then every process compiles every module it
# imports again, about 0.2 s per gateway start. Only changed files are compiled.
bytecode: $(STAMP)
	$(VENV)/bin/python -m compileall -q cli.py emulator bench

run: bytecode
	$(VENV)/bin/wsgw run-local $(ARGS)

# Whole test files spread over two pytest-xdist workers (the machines have 2 cores);
# `make test TEST_WORKERS=0` runs them in one process.
TEST_WORKERS ?= 2

test: bytecode
	$(VENV)/bin/python -m pytest -n $(TEST_WORKERS) --dist loadfile $(ARGS)
	$(VENV)/bin/python -m mypy
	$(MAKE) --no-print-directory docs

# Strict: any warning (a broken link or anchor, a missing included file) fails the build.
# NO_MKDOCS_2_WARNING silences the Material theme's notice about MkDocs 2.0.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/python -m mkdocs build --strict --clean --site-dir site

# serverless-offline 13 (npm, pinned in bench/peers/package-lock.json), the bench's peer column.
PEERS_STAMP := bench/peers/node_modules/.installed
$(PEERS_STAMP): bench/peers/package.json bench/peers/package-lock.json
	npm ci --prefix bench/peers --no-audit --no-fund --loglevel=error
	touch $(PEERS_STAMP)

bench: bytecode $(PEERS_STAMP)
	$(VENV)/bin/python -m bench $(ARGS)

# The bounded load/soak check (5,000 connections, 2 minutes of traffic, leak checks).
soak: bytecode
	$(VENV)/bin/python -m bench.soak $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache site

# Write deploy/snapshot.out again (the bundled app's template, served when the CDK tools
# are missing); tests/test_deploy_stack.py says when it is out of date.
snapshot: $(STAMP)
	$(VENV)/bin/python -c "from emulator.template import bundled_app, cdk_cli; \
	print(bundled_app.write_snapshot(cdk_cli.synth(), cdk_cli.DEFAULT_STACK_NAME))"
