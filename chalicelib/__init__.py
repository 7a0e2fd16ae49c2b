"""Omnihub: a serverless omnichannel hub for customer care."""
