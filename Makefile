# `sam build` (template.yaml: BuildMethod makefile) runs `make build-DeployBotFunction` with
# ARTIFACTS_DIR set. The package holds our three packages, deploybot.toml (if you have one) and
# the pure-Python dependencies pinned in uv.lock; boto3 and its own dependencies come with the
# Lambda runtime, so they stay out and the package stays small.
RUNTIME_PROVIDED := boto3|botocore|jmespath|python-dateutil|s3transfer|six|urllib3
# uv, through scripts/uv.py: it runs the uv on PATH, or the one it installed in .uv-bootstrap/
# (Debian's system Python), or installs one. SAM runs this Makefile from a scratch copy of the
# source (`make --makefile <source>/Makefile`), so the script is found next to this file, not in
# the working directory, and finds the uv installed there. `make UV=uv` skips the script.
HERE := $(dir $(abspath $(lastword $(MAKEFILE_LIST))))
UV ?= python3 "$(HERE)scripts/uv.py"
ARTIFACTS_DIR ?= .aws-sam/manual

build-DeployBotFunction:
	mkdir -p "$(ARTIFACTS_DIR)"
	$(UV) export --frozen --no-dev --no-emit-project --no-hashes --format requirements-txt \
		| grep -Ev '^($(RUNTIME_PROVIDED))==' > "$(ARTIFACTS_DIR)/requirements.txt"
	$(UV) pip install --quiet --target "$(ARTIFACTS_DIR)" --python-version 3.13 \
		--python-platform aarch64-manylinux2014 --only-binary :all: --no-deps -r "$(ARTIFACTS_DIR)/requirements.txt"
	rm "$(ARTIFACTS_DIR)/requirements.txt"
	cp -R bot handlers blocks "$(ARTIFACTS_DIR)/"
	if [ -f deploybot.toml ]; then cp deploybot.toml "$(ARTIFACTS_DIR)/"; else : > "$(ARTIFACTS_DIR)/deploybot.toml"; fi
	find "$(ARTIFACTS_DIR)" -name __pycache__ -prune -exec rm -rf {} +

.PHONY: build-DeployBotFunction
