"""Regime features and models."""
