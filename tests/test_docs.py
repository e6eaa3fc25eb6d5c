"""The docs site says what the code does: every setting and its default,
every system check, every example run or marked illustrative, every
system-check hint pointing at its heading."""

import re
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from django.contrib.auth import get_user_model
from django.core import checks
from django.utils import timezone

from redistoken import store
from redistoken.settings import DEFAULTS, DOCS_URL, check_hint

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))

FENCE = re.compile(r"^```(\w*)[^\n]*\n.*?^```\s*$", re.M | re.S)
MARKER = re.compile(r"<!-- (illustrative|tested: [\w/.]+) -->\s*$")
EXAMPLE_LANGUAGES = {"python", "py", "sh", "shell", "bash", "console"}


def examples(page: Path):
    """(language, marker or None, code) for each fenced block of a page."""
    text = page.read_text()
    for match in FENCE.finditer(text):
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        marker = MARKER.search(before)
        code = match.group(0).split("\n", 1)[1].rsplit("```", 1)[0]
        yield match.group(1), (marker.group(1) if marker else None), code


def test_every_page_is_in_the_nav_and_the_site_url_is_docs_url():
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    assert config["site_url"] == DOCS_URL
    listed = set(re.findall(r"[\w-]+\.md", str(config["nav"])))
    assert listed == {page.name for page in PAGES}


def test_settings_page_has_every_setting_with_its_default():
    text = (DOCS / "settings.md").read_text()
    documented = dict(re.findall(r"^### `([A-Z_]+)`\n\nDefault: `([^`]+)`$", text, re.M))
    headings = re.findall(r"^### `([A-Z_]+)`", text, re.M)
    assert len(headings) == len(set(headings)), "a setting documented twice"
    assert set(headings) == set(DEFAULTS), set(headings) ^ set(DEFAULTS)
    assert set(documented) == set(DEFAULTS), "every heading is followed by its Default: line"
    for name, default in documented.items():
        assert eval(default, {"timedelta": timedelta}) == DEFAULTS[name], name  # noqa: S307 (our own page)


def test_checks_page_has_every_check_the_code_can_emit():
    codes = set()
    for path in (ROOT / "redistoken").rglob("*.py"):
        codes |= set(re.findall(r'id="(redistoken\.[EW]\d{3})"', path.read_text()))
    text = (DOCS / "checks.md").read_text()
    assert codes and set(re.findall(r"^### `(redistoken\.[EW]\d{3})`", text, re.M)) == codes
    for code in codes:
        section = text.split(f"### `{code}`", 1)[1].split("\n### ", 1)[0]
        assert "**Cause:**" in section and "**Fix:**" in section, code


@pytest.mark.django_db
def test_check_hints_link_to_their_heading(settings):
    settings.REDISTOKEN = {"IDLE_TIMEOUT": -1, "EMBEDDED_STORE": True}  # E001, and W001 (embedded store)
    messages = [m for m in checks.run_checks(tags=["redistoken"]) if m.id.startswith("redistoken.")]
    settings.REDISTOKEN = {"IDLE_TIMEOUT": -1}  # with DEBUG off: E002 (embedded store refused)
    messages += [m for m in checks.run_checks(tags=["redistoken"]) if m.id == "redistoken.E002"]
    assert {m.id for m in messages} >= {"redistoken.E001", "redistoken.W001", "redistoken.E002"}
    for message in messages:
        anchor = message.id.replace(".", "").lower()
        assert message.hint.endswith(f"{DOCS_URL}checks/#{anchor}"), message.hint
    assert check_hint("redistoken.W012", "Fix it.") == f"Fix it. See {DOCS_URL}checks/#redistokenw012"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_example_is_tested_or_illustrative(page):
    for language, marker, code in examples(page):
        if language in EXAMPLE_LANGUAGES:
            assert marker is not None, f"{page.name}: unmarked {language} example:\n{code}"
        if marker and marker.startswith("tested:"):
            assert (ROOT / marker.split(": ", 1)[1]).exists(), marker


HERE = "tested: tests/test_docs.py"
TESTED = [(page, code) for page in PAGES for _, marker, code in examples(page) if marker == HERE]


@pytest.mark.django_db
@pytest.mark.parametrize("page,code", TESTED, ids=[f"{page.name}-{i}" for i, (page, _) in enumerate(TESTED)])
def test_tested_python_examples_run(backend, page, code):
    """Each runs with a ``user`` last seen long ago (for the bulk example's
    ``cutoff``) who holds a session unless the example issues its own; each
    must leave that user with none."""
    User = get_user_model()
    user = User.objects.create_user("docs-example", password="pw", last_login=timezone.now() - timedelta(days=400))
    if "issue_token" not in code:
        store.issue_token(user, device="before the example")
    exec(compile(code, str(page), "exec"), {"user": user, "User": User, "cutoff": timezone.now() - timedelta(days=365)})
    assert store.list_sessions(user) == []


def test_readme_is_a_front_door():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.encode()) <= 8 * 1024
    for command in ("python3 dev.py demo", "python3 dev.py test", "docker compose up --build"):
        assert command in readme
    assert "docker-compose " not in readme
    for link in re.findall(r"\]\((docs/[\w-]+\.md)", readme):
        assert (ROOT / link).exists(), link
