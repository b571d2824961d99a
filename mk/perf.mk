# Performance: `make bench` measures (figures only, never pass/fail: this machine is shared and
# noisy), `make load` drives the local cloud with a realistic mix and checks nothing was lost.
# Included by the main Makefile, which defines BIN and STAMP; mk/aws.mk defines PYTHON313 and the
# build targets. Reports go to .local/reports/.

.PHONY: bench load

BENCH_ARGS ?=
# build: the deployed (arm64) artifact, for its size; build-x86: the copy this machine can run
bench: $(STAMP) build build-x86  ## cold start, warm latency, DB round trips, sizes -> docs/benchmarks.md
	$(BIN)/python -m devtools.bench --python "$(PYTHON313)" $(BENCH_ARGS)
	$(BIN)/python -m devtools.bench.report

LOAD_ARGS ?=
# e.g. make load LOAD_ARGS="--duration 60 --environments 3 --users 12"
load: $(STAMP)  ## the local cloud under a realistic mix (~30 s); fails on any 5xx or lost write
	$(BIN)/python -m devtools.load $(LOAD_ARGS)
