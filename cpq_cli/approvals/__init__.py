"""Approvals: the workflow (submit, decide, settle), smart re-evaluation, identity, signed decisions,
approver replacement and escalation."""
