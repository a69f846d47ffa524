"""Crafted hostile inputs (issue 14), written at test time by make_hostile.py."""
