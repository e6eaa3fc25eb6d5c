"""The admin's sessions page in a real browser: Debian's Chromium, headless,
driven by Selenium through the admin against a live server and a real Redis.

Skipped with the reason where Chromium or its driver is missing, unless
``REDISTOKEN_REQUIRE_BROWSER=1`` (set by ``.ci/run``), where that fails.
Screenshots go to ``tests/artifacts/`` (ignored by git); docs/img/ holds a
copy of the best one.
"""

import json
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from redistoken import store

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
REQUIRE_BROWSER = os.environ.get("REDISTOKEN_REQUIRE_BROWSER") == "1"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.servers,  # Chromium and its driver
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("backend"),
    pytest.mark.parametrize("backend", ["redis"], indirect=True),  # a real server
]


@pytest.fixture
def browser():
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not os.path.exists(path)]
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        missing.append("selenium (pip install -r requirements.txt)")
    if missing:
        message = f"no {', '.join(missing)}: apt-get install chromium chromium-driver to run the browser tests"
        if REQUIRE_BROWSER:
            pytest.fail(message)
        pytest.skip(message)
    profile = tempfile.mkdtemp(prefix="redistoken-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--no-first-run", f"--user-data-dir={profile}", "--window-size=1280,1000",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.implicitly_wait(5)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def http(url, *, data=None, token="", agent="curl/8"):
    headers = {"User-Agent": agent, "Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Token {token}"
    body = json.dumps(data).encode() if data is not None else None
    request = urllib.request.Request(url, data=body, headers=headers, method="POST" if body else "GET")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def log_in_over_http(live_server, username, password, device, agent):
    status, body = http(
        f"{live_server.url}/auth/login/", data={"username": username, "password": password, "device": device},
        agent=agent,
    )
    assert status == 200, body
    return body


def screenshot(driver, name, element_id=""):
    """The window, scrolled to show an element of the page first."""
    from selenium.webdriver.common.by import By

    ARTIFACTS.mkdir(exist_ok=True)
    if element_id:
        driver.execute_script("arguments[0].scrollIntoView({block: 'end'})", driver.find_element(By.ID, element_id))
    assert driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))


def admin_login(driver, live_server):
    from selenium.webdriver.common.by import By

    driver.get(f"{live_server.url}/admin/login/")
    driver.find_element(By.NAME, "username").send_keys("root")
    driver.find_element(By.NAME, "password").send_keys("root-pw")
    driver.find_element(By.CSS_SELECTOR, "input[type=submit], button[type=submit]").click()
    assert driver.find_element(By.ID, "user-tools")  # logged in


def session_rows(driver):
    from selenium.webdriver.common.by import By

    rows = driver.find_elements(By.CSS_SELECTOR, "#redistoken-sessions tr.redistoken-session")
    return [[cell.text for cell in row.find_elements(By.TAG_NAME, "td")] for row in rows]


def test_a_staff_user_sees_and_revokes_a_session_in_the_browser(browser, live_server):
    from selenium.webdriver.common.by import By

    User = get_user_model()
    User.objects.create_superuser("root", password="root-pw")
    alice = User.objects.create_user("alice", password="correct horse")
    phone = log_in_over_http(live_server, "alice", "correct horse", "Pixel 8", "AliceApp/2.0 (Android 14)")
    laptop = log_in_over_http(live_server, "alice", "correct horse", "ThinkPad", "Mozilla/5.0 (X11; Linux)")
    assert http(f"{live_server.url}/api/me/", token=laptop["access_token"])[0] == 200  # used: a last use

    admin_login(browser, live_server)
    browser.get(f"{live_server.url}/admin/auth/user/{alice.pk}/change/")
    rows = session_rows(browser)
    by_device = {row[0]: row for row in rows}
    assert set(by_device) == {"Pixel 8", "ThinkPad"}
    device, label, agent, address, created, last_used, expires = by_device["ThinkPad"][:7]
    assert by_device["Pixel 8"][1] == "AliceApp 2.0 on Android 14"  # the device label, beside the name
    assert label and agent == "—" and address == "127.0.0.1"  # the raw user agent is not kept by default
    assert created and last_used and expires  # shown, whatever the locale's format
    assert phone["access_token"] not in browser.page_source and laptop["access_token"] not in browser.page_source
    screenshot(browser, "admin-user-sessions", "redistoken-sessions")

    button = browser.find_element(By.CSS_SELECTOR, f"button[name=session][value='{laptop['session']['id']}']")
    button.click()
    assert "Session revoked." in browser.find_element(By.CSS_SELECTOR, ".messagelist").text
    assert [row[0] for row in session_rows(browser)] == ["Pixel 8"]
    screenshot(browser, "admin-user-session-revoked", "redistoken-sessions")

    status, body = http(f"{live_server.url}/api/me/", token=laptop["access_token"])
    assert status == 401 and body["code"] == "token_not_found"
    assert http(f"{live_server.url}/api/me/", token=phone["access_token"])[0] == 200


def test_the_bulk_action_ends_every_session_of_the_selected_users(browser, live_server):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    User = get_user_model()
    User.objects.create_superuser("root", password="root-pw")
    users = [User.objects.create_user(name, password="pw") for name in ("alice", "bob", "carol")]
    tokens = {
        user.username: [log_in_over_http(live_server, user.username, "pw", f"device {i}", "App/1")["access_token"]
                        for i in range(2)]
        for user in users
    }

    admin_login(browser, live_server)
    browser.get(f"{live_server.url}/admin/auth/user/")
    for user in users[:2]:  # alice and bob, not carol
        browser.find_element(By.CSS_SELECTOR, f"input[name=_selected_action][value='{user.pk}']").click()
    Select(browser.find_element(By.NAME, "action")).select_by_visible_text("Revoke all sessions")
    screenshot(browser, "admin-bulk-action")
    browser.find_element(By.CSS_SELECTOR, "button[name=index], input[name=index]").click()
    assert "Revoked 4 session(s) of 2 user(s)." in browser.find_element(By.CSS_SELECTOR, ".messagelist").text

    for name, expected in (("alice", 401), ("bob", 401), ("carol", 200)):
        for token in tokens[name]:
            assert http(f"{live_server.url}/api/me/", token=token)[0] == expected, name
    assert store.list_sessions(users[0]) == [] and len(store.list_sessions(users[2])) == 2
