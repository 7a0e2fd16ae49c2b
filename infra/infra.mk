# Omnihub deployment (CDK, infra/). Included from the top-level Makefile: `include infra/infra.mk`.
#   make synth [STAGE=dev|prod]   offline: no credentials, no CDK CLI (chalice package + CDK + cdk-nag)
#   make diff  STAGE=prod         needs AWS credentials
#   make deploy STAGE=prod        needs AWS credentials and a bootstrapped account (README, "Deploying to AWS")
# Every target depends on `venv` (the top-level Makefile's stamp): each works as the first command
# after `git clone` (tests/infra/test_fresh_clone_targets.py checks it).
STAGE ?= dev
AWS_REGION ?= us-east-1
INFRA_PYTHON ?= $(abspath $(BIN)/python)
CDK ?= npx --yes aws-cdk@2
INFRA_ENV = JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 CDK_DEFAULT_REGION=$(AWS_REGION) AWS_REGION=$(AWS_REGION)
CDK_CONTEXT ?=
CDK_ARGS = --app "$(INFRA_PYTHON) cdk_app.py" -c stage=$(STAGE) -c region=$(AWS_REGION) $(CDK_CONTEXT)

.PHONY: synth diff deploy infra-test cost infra-check-stage
infra-check-stage:
	@case "$(STAGE)" in dev|prod) ;; *) echo "STAGE must be dev or prod, got '$(STAGE)'" >&2; exit 2;; esac

# The stage is checked before the virtualenv is built: a typo fails in a second, not after the install.
synth: infra-check-stage venv
	$(INFRA_ENV) STAGE=$(STAGE) $(INFRA_PYTHON) infra/cdk_app.py

diff: infra-check-stage venv
	cd infra && $(INFRA_ENV) $(CDK) diff $(CDK_ARGS)

deploy: infra-check-stage venv
	cd infra && $(INFRA_ENV) $(CDK) deploy $(CDK_ARGS) --require-approval broadening --outputs-file cdk.out/outputs-$(STAGE).json

infra-test: venv
	$(INFRA_ENV) $(BIN)/python -m pytest tests/infra

cost: venv
	$(INFRA_PYTHON) infra/cost_estimate.py
