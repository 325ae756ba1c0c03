"""The listening report (HTML with embedded charts) built from the mart views."""
