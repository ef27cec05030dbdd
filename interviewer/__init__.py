"""Mianshi (面试): a mock interviewer for LLM, ML and backend engineering interviews."""

__version__ = "0.1.0"
