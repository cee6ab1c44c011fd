# The two commands a newcomer needs (README): `make demo` and `make test`.
.PHONY: demo test bench docs

demo:
	python3 -m venv .venv
	.venv/bin/python -m pip install -q .
	cd /tmp && $(CURDIR)/.venv/bin/archiver demo --dir $(CURDIR)/archiver-demo

test:
	bash scripts/test-env.sh
	.venv/bin/python -m pytest -q

bench:
	bash scripts/test-env.sh
	.venv/bin/python bench/bench_collect.py

# The generated reference pages (docs/commands.md, the settings table in docs/admin.md) and the
# README's screenshots (headless Chromium against the demo archive).
docs:
	bash scripts/test-env.sh
	.venv/bin/python scripts/gen_command_reference.py
	.venv/bin/python scripts/screenshots.py
