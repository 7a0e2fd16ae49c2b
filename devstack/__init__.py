"""The embedded local stack: moto server, resource provisioning, stream/queue pump, CLI, sandboxes."""
