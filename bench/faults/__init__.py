"""A fault-injection run in the spirit of Jepsen: client processes drive a
mixed workload against the demo under gunicorn while faults play on private
Redis servers; every operation goes to a history that a checker judges.

    .venv/bin/python -m bench.faults --topology single --short

See ``__main__`` for the run, ``checker`` for the rules.
"""
