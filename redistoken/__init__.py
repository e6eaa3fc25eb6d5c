"""redistoken: Redis-backed sliding-session tokens for Django REST framework."""

__version__ = "0.1.0"
