# Thin wrappers; the scripts in scripts/ are the real thing and need no make.
.PHONY: setup course test bench lint
setup:
	bash scripts/setup.sh
course:
	bash scripts/course.sh
test:
	bash scripts/test.sh
bench:
	bash scripts/bench.sh
lint:
	.venv/bin/ruff check taskq_lib tests benchmarks scripts && .venv/bin/mypy && .venv/bin/mypy scripts/lab.py
