# Quality checks longer than `make test` allows: fuzzing the API against its own OpenAPI schema.
# Included by the main Makefile, which defines BIN (.venv/bin) and STAMP.

# `make test` runs tests/fuzz too, with 25 cases per operation and a fixed seed (repeatable);
# `make fuzz` runs many more, with a new seed each time (Schemathesis prints it on a failure):
#   make fuzz FUZZ_EXAMPLES=5000 FUZZ_SEED=1234
FUZZ_EXAMPLES ?= 1000
FUZZ_SEED ?= random

.PHONY: fuzz

fuzz: $(STAMP)  ## Schemathesis on every operation: FUZZ_EXAMPLES cases each (1000), a new seed
	AUTHAPI_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) AUTHAPI_FUZZ_SEED=$(FUZZ_SEED) \
		$(BIN)/pytest -p no:cacheprovider -m fuzz tests/fuzz
