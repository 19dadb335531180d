"""Shared runtime of the Shanzhi (善治) services.

Small and free of domain code: settings, database engine and sessions, the
transactional outbox and its relay, the idempotent consumer runner, the gRPC
server bootstrap, the caller's identity and region scope, and telemetry.
"""
