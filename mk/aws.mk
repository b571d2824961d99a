# AWS side of authapi: SAM CLI in its own virtualenv, the arm64 Lambda build, an x86_64 copy of
# it for local smoke tests, and offline validation of both CloudFormation templates.
# Included by the main Makefile, which defines SHELL, PYTHON, BIN (.venv/bin) and STAMP.

# SAM CLI pins click, boto3, pydantic and more exactly, so it never shares a venv with the app.
# The pin is a compatible-release range: `sam validate --lint` runs the cfn-lint that SAM brings,
# and a new cfn-lint rule should arrive by editing this line, not by surprise in CI.
SAM_CLI_SPEC := aws-sam-cli~=1.170.0
SAM_VENV := .venv-sam
SAM := $(SAM_VENV)/bin/sam
SAM_STAMP := $(SAM_VENV)/.installed-$(subst ~=,,$(subst aws-sam-cli,,$(SAM_CLI_SPEC)))
export SAM_CLI_TELEMETRY := 0

# `sam validate` (without --lint) needs a region; linting and building do not. Any region works.
SAM_VALIDATE_REGION ?= us-east-1

# sam build runs pip for the layer with the runtime's own Python, so python3.13 (with pip) must
# be on PATH. pyenv's python3.13 shim exists but fails unless 3.13 is selected, so every
# candidate is run, not just found. Evaluated once, and only by the targets that use it.
ifeq ($(origin PYTHON313),undefined)
PYTHON313 = $(eval PYTHON313 := $(shell \
	for candidate in "$$(command -v python3.13)" \
		$$(ls -d "$$(pyenv root 2>/dev/null)"/versions/3.13.*/bin/python3.13 2>/dev/null | sort -rV); do \
		if [ -n "$$candidate" ] && "$$candidate" -m pip --version >/dev/null 2>&1; then \
			echo "$$candidate"; break; \
		fi; \
	done))$(PYTHON313)
endif

.PHONY: sam-install python313-check build build-x86 validate

$(SAM_STAMP):
	test -x $(SAM_VENV)/bin/python || $(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SAM_VENV)/bin/python -m pip install --quiet '$(SAM_CLI_SPEC)'
	rm -f $(SAM_VENV)/.installed*
	touch $@

sam-install: $(SAM_STAMP)  ## create .venv-sam with the SAM CLI

python313-check:
	@test -n "$(PYTHON313)" || { \
		echo "error: sam build needs python3.13 with pip, the Lambda runtime's Python." >&2; \
		echo "  Install it with 'pyenv install 3.13' (Debian 12 has no python3.13 package)," >&2; \
		echo "  or point to one: make build PYTHON313=/path/to/python3.13" >&2; \
		exit 1; }

build: $(SAM_STAMP) python313-check  ## sam build: arm64 function and layer into .aws-sam/build
	PATH="$(dir $(PYTHON313)):$$PATH" $(SAM) build

# The deployed template stays literally arm64; the x86_64 copy is generated, never committed.
template.x86_64.yaml: template.yaml
	sed 's/arm64/x86_64/g' template.yaml > $@

build-x86: $(SAM_STAMP) python313-check template.x86_64.yaml  ## x86_64 copy of the build, for local smoke tests
	PATH="$(dir $(PYTHON313)):$$PATH" LAYER_ARCH=x86_64 $(SAM) build --config-env x86

validate: $(STAMP) $(SAM_STAMP)  ## cfn-lint both templates, then sam validate --lint (offline)
	$(BIN)/cfn-lint template.yaml infra/data.yaml
	AWS_DEFAULT_REGION=$(SAM_VALIDATE_REGION) $(SAM) validate --lint

# ENV, PHASE: no defaults, a rotation names its environment and its step every time. Each phase
# then copies the keys to the DR region: the data stack's DrRegion, or DR_REGION= instead;
# PHASE=replicate only copies (docs/operations/disaster-recovery.md).
DR_REGION ?=
.PHONY: rotate-signing-key
rotate-signing-key: $(STAMP)  ## one phase of a key rotation, never before its time, then the DR copy: make rotate-signing-key ENV=dev PHASE=publish|promote|retire|replicate [DR_REGION=us-west-2] [TENANT=<id>: that tenant's key]
	@test -n "$(ENV)" -a -n "$(PHASE)" || { echo "usage: make rotate-signing-key ENV=dev|prod PHASE=publish|promote|retire|replicate [DR_REGION=...] [TENANT=...]" >&2; exit 2; }
	$(BIN)/python -m devtools.rotate_signing_key "$(ENV)" "$(PHASE)" $(if $(DR_REGION),--dr-region "$(DR_REGION)") $(if $(TENANT),--tenant "$(TENANT)")
