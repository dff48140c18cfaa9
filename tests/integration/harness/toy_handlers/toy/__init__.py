"""Toy Lambda handlers for the harness tests (not the product's)."""
