"""The Omnihub stack and its parts; build_app assembles a stage with cdk-nag."""
