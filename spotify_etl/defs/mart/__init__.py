"""Mart layer: the views answering the common questions, and the listening report built on them."""

from spotify_etl.defs.mart.listening_report import listening_report
from spotify_etl.defs.mart.views import mart_views

assets = [*mart_views, listening_report]
asset_checks: list = []
