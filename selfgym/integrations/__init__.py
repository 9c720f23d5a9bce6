"""Thin adapters from selfgym envs to trainers (TRL today).

Each adapter imports its trainer lazily; ``import selfgym.integrations`` loads nothing heavy.
"""
