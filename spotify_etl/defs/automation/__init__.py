"""Automation: the jobs a user launches by name, the sensor on the raw directory, the
declarative automation that reloads changed months, the schedule that retries pending
enrichment, and the clean-up of runs whose process died."""
