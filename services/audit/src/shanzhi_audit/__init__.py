"""Audit and inspection service (巡察/审计): inspection rounds and the audit schedule."""

SERVICE = "shanzhi.audit"
TOPIC = "shanzhi.audit.v1"
