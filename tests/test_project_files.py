"""The repository's deployment files say what the README and the docs say."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def dockerfile_env() -> dict[str, str]:
    """The ``ENV`` of the Dockerfile (``KEY=value`` pairs, continued lines)."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    env: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("ENV "):
            env.update(pair.split("=", 1) for pair in line[4:].split())
    return env


def test_docker_compose_runs_the_demo_on_redis_with_gunicorn():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    web, redis = services["web"], services["redis"]
    assert web["environment"]["REDIS_URL"] == "redis://redis:6379/0"
    assert web["depends_on"]["redis"]["condition"] == "service_healthy"
    assert "noeviction" in redis["command"]
    assert "appendonly" in " ".join(redis["command"])
    # Users and the demo password outlive the container, as Redis's sessions do.
    volumes = {mount.split(":")[0]: mount.split(":")[1] for mount in web["volumes"] + redis["volumes"]}
    assert volumes == {"demo-data": "/data", "redis-data": "/data"}
    assert set(compose["volumes"]) == {"demo-data", "redis-data"}
    env = dockerfile_env()
    assert Path(env["DEMO_DB_PATH"]).parent == Path(env["DEMO_PASSWORD_FILE"]).parent == Path("/data")
    assert env["DJANGO_DEBUG"] == "0"
    assert "/health/" in " ".join(web["healthcheck"]["test"])
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "gunicorn --pythonpath site" in dockerfile and "demo.wsgi" in dockerfile
    assert "demo_user &&" in dockerfile and "--reset" not in dockerfile  # never a new password on restart


def test_the_image_installs_runtime_dependencies_only():
    dockerfile = (ROOT / "Dockerfile").read_text()
    installed = re.findall(r"pip install [^\n]*-r (\S+)", dockerfile)
    assert installed == ["site/requirements.txt"]
    runtime = (ROOT / "site" / "requirements.txt").read_text()
    for tool in ("pytest", "hypothesis", "schemathesis", "ruff", "mypy", "selenium", "build"):
        assert not re.search(rf"^{tool}\b", runtime, re.M), tool
    assert "whitenoise" in runtime and "gunicorn" in runtime
    # requirements.txt (the README's two commands) still installs the runtime too.
    assert "-r site/requirements.txt" in (ROOT / "requirements.txt").read_text()


def test_the_dockerfile_references_files_that_exist():
    dockerfile = (ROOT / "Dockerfile").read_text()
    for path in ("site/requirements.txt", "manage.py", "site/demo/wsgi.py"):
        assert (ROOT / path).exists(), path
    assert "COPY . ." in dockerfile
    ignored = (ROOT / ".dockerignore").read_text().split()
    for needed in ("site", "redistoken", "manage.py", "pyproject.toml", "README.md", "LICENSE"):
        assert needed not in ignored


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    assert "python3 dev.py test" in readme and "python3 dev.py demo" in readme
    ci = (ROOT / ".ci" / "run").read_text()
    assert "python3 dev.py test" in ci
    assert "mkdocs" in ci or "dev.py docs build --strict" in ci
