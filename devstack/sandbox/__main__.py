"""``python -m devstack.sandbox --port 4580``: run the provider sandbox (devstack/sandbox/server.py)."""

from devstack.sandbox.server import main

if __name__ == "__main__":
    main()
