"""Omnihub's AWS deployment: a CDK app around Chalice's CDK construct (see infra/cdk_app.py)."""
