"""Reads for the monitors app."""
