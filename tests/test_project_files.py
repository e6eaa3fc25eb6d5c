"""The repository's deployment files say what the README says."""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def test_docker_compose_runs_the_demo_on_redis_with_gunicorn():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert services["web"]["environment"]["REDIS_URL"] == "redis://redis:6379/0"
    assert services["web"]["depends_on"]["redis"]["condition"] == "service_healthy"
    assert "noeviction" in services["redis"]["command"]
    assert "appendonly" in " ".join(services["redis"]["command"])
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "gunicorn --pythonpath site" in dockerfile and "demo.wsgi" in dockerfile
    assert (ROOT / "site" / "demo" / "wsgi.py").exists()


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    assert "python3 dev.py test" in readme and "python3 dev.py demo" in readme
    assert "python3 dev.py test" in (ROOT / ".ci" / "run").read_text()
