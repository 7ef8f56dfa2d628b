"""What happens to a booking once the policy has decided: the outbox (intent first, connector
second), review routing, the reconciler that finishes what a call left pending, and the
per-business connector each operation goes through."""
