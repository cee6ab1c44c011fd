# The two commands a newcomer needs (README): `make demo` and `make test`.
.PHONY: demo test bench

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
