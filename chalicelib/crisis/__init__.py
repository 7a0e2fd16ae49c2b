"""Crisis communication: incidents, their updates broadcast exactly once to each recipient on the
channel they use, pacing per channel and sender, and the progress of each update.

``requests`` validates the API's bodies, ``audience`` holds the pure targeting and channel rules,
``incidents`` the API's use cases, ``planner`` pages the audience onto the broadcast queue,
``delivery`` sends one recipient through the outbox, ``config`` reads ``crisis.v1.json``.
"""
