"""Sign-in, roles and the audit writer."""
