"""Provider simulators: build webhook requests signed exactly as each provider signs them."""
