"""The benchmark of redistoken against its peers: ``python bench/run.py``."""
