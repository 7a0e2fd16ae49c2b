# Omnihub deployment (CDK, infra/). Included from the top-level Makefile: `include infra/infra.mk`.
#   make synth [STAGE=dev|prod]   offline: no credentials, no CDK CLI (chalice package + CDK + cdk-nag)
#   make diff  STAGE=prod         needs AWS credentials
#   make deploy STAGE=prod        needs AWS credentials and a bootstrapped account (docs/deploy.md)
STAGE ?= dev
AWS_REGION ?= us-east-1
INFRA_PYTHON ?= $(abspath .venv/bin/python)
CDK ?= npx --yes aws-cdk@2
INFRA_ENV = JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 CDK_DEFAULT_REGION=$(AWS_REGION) AWS_REGION=$(AWS_REGION)
CDK_CONTEXT ?=
CDK_ARGS = --app "$(INFRA_PYTHON) cdk_app.py" -c stage=$(STAGE) -c region=$(AWS_REGION) $(CDK_CONTEXT)

.PHONY: synth diff deploy infra-test cost infra-check-stage
infra-check-stage:
	@case "$(STAGE)" in dev|prod) ;; *) echo "STAGE must be dev or prod, got '$(STAGE)'" >&2; exit 2;; esac

synth: infra-check-stage
	$(INFRA_ENV) STAGE=$(STAGE) $(INFRA_PYTHON) infra/cdk_app.py

diff: infra-check-stage
	cd infra && $(INFRA_ENV) $(CDK) diff $(CDK_ARGS)

deploy: infra-check-stage
	cd infra && $(INFRA_ENV) $(CDK) deploy $(CDK_ARGS) --require-approval broadening --outputs-file cdk.out/outputs-$(STAGE).json

infra-test:
	$(INFRA_ENV) .venv/bin/pytest tests/infra

cost:
	$(INFRA_PYTHON) infra/cost_estimate.py
