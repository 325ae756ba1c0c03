"""Dagster definitions: one package per layer (raw, enrichment, core, mart), the automation,
the resources and the partitions."""
