"""Notifications to patients and staff by e-mail and SMS, never with health information."""
