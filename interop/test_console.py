"""The web console in a real browser: headless Chromium (Debian's `chromium` and
`chromium-driver`) driven by Selenium, against its own drivesd (time scale 1, creates take a few
seconds, an 8 MiB minimum drive size so that an uploaded image is downloaded as it was sent).

The steps run in order in one browser: log in; watch a drive created through the API appear in
`creating` and turn `unmounted` without a reload; hold creates (manual mode, set on the page), see
the held transition and advance it from the page; upload an image through the page (chunks,
progress bar to 100%), download it from the drive's page and compare bytes. Each step saves a
screenshot under $CONSOLE_SCREENSHOTS (default interop/artifacts/console/).
"""
import base64
import hashlib
import json
import os
import shutil
import tempfile
import time
import urllib.error
import urllib.request

import pytest

from conftest import HERE, launch, new_user

selenium = pytest.importorskip("selenium")  # in requirements.txt: a missing one is an install bug
from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.options import Options  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

MiB = 1024 * 1024
CREATE_SECONDS = 4.0
SCREENSHOTS = os.environ.get("CONSOLE_SCREENSHOTS") or os.path.join(HERE, "artifacts", "console")
CHROMIUM = os.environ.get("CHROMIUM_BIN", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER_BIN", "/usr/bin/chromedriver")


@pytest.fixture(scope="module")
def console_drivesd(tmp_path_factory):
    workdir = str(tmp_path_factory.mktemp("console"))
    config = os.path.join(workdir, "drivesd.yaml")
    with open(config, "w") as f:
        f.write("durations:\n"
                "  create_seconds: %s\n"
                "storage:\n"
                "  dssd:\n"
                "    min_size: %d\n"
                "    max_size: 15492389427364\n" % (CREATE_SECONDS, 8 * MiB))
    d = launch(workdir, "1", [new_user("console")], config=config)
    yield d
    rc = d.stop()
    assert rc == 0, "console drivesd exited with %r after SIGTERM; log:\n%s" % (rc, d.log_tail())


@pytest.fixture(scope="module")
def downloads(tmp_path_factory):
    return str(tmp_path_factory.mktemp("downloads"))


@pytest.fixture(scope="module")
def browser(downloads):
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        pytest.fail("chromium and chromedriver are needed (apt-get install chromium chromium-driver): .ci/run installs them")
    os.environ["SE_OFFLINE"] = "true"  # never let Selenium Manager look for a browser online
    options = Options()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,1000", "--no-first-run", "--disable-extensions"):
        options.add_argument(arg)
    options.add_experimental_option("prefs", {
        "download.default_directory": downloads, "download.prompt_for_download": False,
        "safebrowsing.enabled": False,
    })
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": downloads})
    os.makedirs(SCREENSHOTS, exist_ok=True)
    yield driver
    driver.quit()


def shot(driver, name):
    path = os.path.join(SCREENSHOTS, name + ".png")
    assert driver.save_screenshot(path), "could not save " + path
    return path


def api(d, user, method, path, body=None):
    """A call to the account API as `user`: (status, parsed JSON)."""
    req = urllib.request.Request(d.api_endpoint + path, method=method,
                                 data=json.dumps(body).encode() if body is not None else None)
    req.add_header("Authorization", "Basic " + base64.b64encode(
        ("%s:%s" % (user.email, user.password)).encode()).decode())
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def create_drive(d, user, name):
    status, body = api(d, user, "POST", "drives/", {"objects": [{"name": name, "size": 8 * MiB, "media": "disk"}]})
    assert status == 201, body
    drive = body["objects"][0]
    assert drive["status"] == "creating"
    return drive["uuid"]


def wait(driver, what, predicate, timeout=20):
    # A live update or a form's redirect replaces elements between a look-up and its use.
    return WebDriverWait(driver, timeout, poll_frequency=0.05,
                         ignored_exceptions=(StaleElementReferenceException, NoSuchElementException)
                         ).until(lambda _: predicate(), message=what)


def read(driver, selector, prop=None):
    """An element's text (or property) as the page shows it now, read in one step inside the page:
    a live update may replace the element between a WebDriver look-up and a second call's read
    (a stale element), but not within one script."""
    value = driver.execute_script(
        "const e = document.querySelector(arguments[0]);"
        "if (!e) return null;"
        "return arguments[1] ? String(e[arguments[1]]) : e.innerText.trim();", selector, prop)
    assert value is not None, "no element %s on the page" % selector
    return value


def mark_page(driver):
    """Marks the loaded document: the mark survives live updates, not a reload."""
    driver.execute_script("window.__drivesdMark = 'kept';")


def page_kept(driver):
    return driver.execute_script("return window.__drivesdMark === 'kept';")


def status_of(driver, uuid):
    cells = driver.find_elements(By.CSS_SELECTOR, 'tr[data-uuid="%s"] [data-status]' % uuid)
    return cells[0].get_attribute("data-status") if cells else None


def live(driver):
    wait(driver, "the page's websocket to connect",
         lambda: driver.find_element(By.ID, "live-status").text == "live", timeout=10)
    # The page refreshes once when its websocket opens: let that pass, so that what the test
    # sees next can only come from a change event.
    time.sleep(0.5)


def test_login(console_drivesd, browser):
    d = console_drivesd
    browser.get(d.base + "/_drivesd/console/")
    wait(browser, "the login form", lambda: browser.current_url.startswith(d.base + "/_drivesd/console/login"))
    browser.find_element(By.ID, "username").send_keys("admin")
    browser.find_element(By.ID, "password").send_keys("wrong")
    browser.find_element(By.ID, "login").click()
    wait(browser, "the refusal", lambda: "Wrong username or password" in browser.page_source)
    browser.find_element(By.ID, "username").send_keys("admin")
    browser.find_element(By.ID, "password").send_keys("admin")
    shot(browser, "01-login")
    browser.find_element(By.ID, "login").click()
    wait(browser, "the overview", lambda: browser.current_url == d.base + "/_drivesd/console/")
    assert read(browser, "h1") == "Overview"
    accounts = read(browser, "#accounts")
    assert d.users[0].email in accounts
    cookie = browser.get_cookie("drivesd_console")
    assert cookie and cookie["httpOnly"] and cookie["path"] == "/_drivesd"
    shot(browser, "02-overview")


def test_drive_appears_and_turns_unmounted_without_reload(console_drivesd, browser):
    d = console_drivesd
    user = d.users[0]
    browser.get(d.base + "/_drivesd/console/accounts/" + user.uuid)
    live(browser)
    mark_page(browser)
    uuid = create_drive(d, user, "console-live")
    wait(browser, "the new drive's row in creating", lambda: status_of(browser, uuid) == "creating", timeout=CREATE_SECONDS)
    assert page_kept(browser)
    shot(browser, "03-drive-creating")
    wait(browser, "the drive to turn unmounted", lambda: status_of(browser, uuid) == "unmounted", timeout=CREATE_SECONDS + 10)
    assert page_kept(browser), "the page was reloaded"
    shot(browser, "04-drive-unmounted")


def test_hold_creates_and_advance_from_the_page(console_drivesd, browser):
    d = console_drivesd
    user = d.users[0]
    browser.get(d.base + "/_drivesd/console/transitions")
    row = browser.find_element(By.CSS_SELECTOR, 'tr[data-operation="create"]')
    Select(row.find_element(By.NAME, "mode")).select_by_value("manual")
    row.find_element(By.ID, "set-create").click()
    wait(browser, "create in manual mode", lambda: browser.find_element(
        By.CSS_SELECTOR, 'tr[data-operation="create"] .mode').text == "manual")
    live(browser)
    mark_page(browser)
    uuid = create_drive(d, user, "console-held")
    wait(browser, "the held transition on the page",
         lambda: browser.find_elements(By.CSS_SELECTOR, '#held tr[data-uuid="%s"]' % uuid))
    assert page_kept(browser)
    held_row = read(browser, '#held tr[data-uuid="%s"]' % uuid)
    assert "console-held" in held_row and "create" in held_row
    shot(browser, "05-held-transition")
    # Held: it stays creating however long the configured duration would have taken.
    time.sleep(CREATE_SECONDS + 0.5)
    assert api(d, user, "GET", "drives/%s/" % uuid)[1]["status"] == "creating"
    browser.find_element(By.CSS_SELECTOR, '#held tr[data-uuid="%s"] button.advance' % uuid).click()
    wait(browser, "the release message", lambda: "Released 1 transition" in browser.page_source)
    deadline = time.time() + 10
    while api(d, user, "GET", "drives/%s/" % uuid)[1]["status"] != "unmounted":
        assert time.time() < deadline, "the advanced drive did not turn unmounted"
        time.sleep(0.05)
    wait(browser, "the held list to empty",
         lambda: not browser.find_elements(By.CSS_SELECTOR, '#held tr[data-uuid="%s"]' % uuid))
    shot(browser, "06-advanced")
    # Back to the configured durations.
    row = browser.find_element(By.CSS_SELECTOR, 'tr[data-operation="create"]')
    Select(row.find_element(By.NAME, "mode")).select_by_value("configured")
    row.find_element(By.ID, "set-create").click()
    wait(browser, "create in configured mode", lambda: browser.find_element(
        By.CSS_SELECTOR, 'tr[data-operation="create"] .mode').text == "configured")


def test_upload_through_the_page_and_download(console_drivesd, browser, downloads, tmp_path):
    d = console_drivesd
    user = d.users[0]
    size = 10 * MiB + 777
    image = tmp_path / "console-image.raw"
    data = os.urandom(size)
    image.write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()

    browser.get(d.base + "/_drivesd/console/upload")
    Select(browser.find_element(By.ID, "upload-account")).select_by_value(user.uuid)
    browser.find_element(By.ID, "upload-name").send_keys("console-upload")
    browser.find_element(By.ID, "upload-file").send_keys(str(image))
    assert read(browser, "#upload-percent") == "0%"
    # Every value the percentage shows, as the page sets it.
    browser.execute_script("""
        window.__percents = [];
        const el = document.getElementById('upload-percent');
        new MutationObserver(() => window.__percents.push(el.textContent))
            .observe(el, {childList: true, characterData: true, subtree: true});""")
    browser.find_element(By.ID, "upload-start").click()
    wait(browser, "the upload to finish", lambda: browser.find_elements(By.ID, "upload-done"), timeout=60)
    assert read(browser, "#upload-percent") == "100%"
    assert read(browser, "#upload-progress", "value") == "100"
    seen = [int(p.rstrip("%")) for p in browser.execute_script("return window.__percents;")]
    assert seen == sorted(seen), "the progress went backwards: %r" % seen
    assert any(0 < p < 100 for p in seen), "no progress between 0 and 100%%: %r" % seen
    shot(browser, "07-upload-done")

    uuid = read(browser, "#upload-done").split()[-1]
    status, drive = api(d, user, "GET", "drives/%s/" % uuid)
    assert status == 200 and drive["name"] == "console-upload" and drive["size"] == size
    assert drive["status"] == "unmounted"
    browser.find_element(By.ID, "upload-done").click()
    wait(browser, "the drive's page", lambda: browser.find_elements(By.ID, "drive-status"))
    assert read(browser, "#drive-status") == "unmounted"
    assert read(browser, "#stored-bytes") == "10.0 MiB"
    shot(browser, "08-drive-page")

    for name in os.listdir(downloads):
        os.remove(os.path.join(downloads, name))
    browser.find_element(By.ID, "download").click()
    target = os.path.join(downloads, uuid)
    wait(browser, "the download", lambda: os.path.exists(target) and os.path.getsize(target) == size, timeout=60)
    with open(target, "rb") as f:
        assert hashlib.sha256(f.read()).hexdigest() == digest
