"""Fixtures for the interop suite: a live drivesd and each real client aimed at it.

drivesd runs from DRIVESD_BIN (the `run` script builds a release binary and sets it). It binds a
port the system picks (`--port 0`) and writes it to a file (`--port-file`), which `start` reads: no
port is picked here and bound later, so two runs on one machine never reach each other's daemon.
It has a temporary database and `--time-scale 0`, so every transition completes on
the worker's next tick while answers still show the transient status. Two users are created
through the CLI before it starts. At the end it gets SIGTERM and must exit with status 0.

pycloudsigma reads its configuration file once, when it is imported, so the file (endpoint and
the first user's credentials) is written in pytest_configure, before any test module imports it,
and CLOUDSIGMA_CONFIG points at it. Other credentials go through GenericClient's constructor.
"""
import base64
import os
import re
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid as uuidlib
from dataclasses import dataclass, field

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)

USER_PASSWORD = "interop-pw-1"
# A PostgreSQL server where the role may create databases (scripts/test-postgres starts a
# private one): each drivesd then gets a database of its own there instead of a SQLite file.
POSTGRES_URL = os.environ.get("INTEROP_POSTGRES_URL")
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@dataclass
class User:
    email: str
    password: str
    uuid: str = ""


@dataclass
class Drivesd:
    """One running drivesd process."""

    binary: str
    workdir: str
    # The port it bound (read from its port file by start; 0 before).
    port: int = 0
    time_scale: str = "0"
    config: str = None
    users: list = field(default_factory=list)
    proc: subprocess.Popen = None
    # The certificate authority to trust when the instance serves HTTPS (its configuration sets
    # http.tls.certificate and http.tls.key); None: plain HTTP.
    tls_ca: str = None

    @property
    def base(self):
        return "%s://127.0.0.1:%d" % ("https" if self.tls_ca else "http", self.port)

    @property
    def api_endpoint(self):
        # pycloudsigma needs the trailing slash (urljoin).
        return self.base + "/api/2.0/"

    @property
    def ws_endpoint(self):
        # pycloudsigma's Websocket connects to config['ws_endpoint'] (the websocket is outside
        # /api/2.0/; the async_auth cookie has Path=/).
        return "ws://127.0.0.1:%d/websocket" % self.port

    @property
    def database(self):
        if not POSTGRES_URL:
            return os.path.join(self.workdir, "drivesd.sqlite")
        marker = os.path.join(self.workdir, "postgres.url")
        if not os.path.exists(marker):
            name = "interop_" + uuidlib.uuid4().hex[:16]
            subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", POSTGRES_URL, "-c", "CREATE DATABASE " + name],
                           check=True, capture_output=True, timeout=60)
            with open(marker, "w") as f:
                f.write(POSTGRES_URL.rsplit("/", 1)[0] + "/" + name)
        with open(marker) as f:
            return f.read().strip()

    @property
    def data_dir(self):
        return os.path.join(self.workdir, "drivesd-data")

    @property
    def port_file(self):
        return os.path.join(self.workdir, "drivesd.port")

    @property
    def log_path(self):
        return os.path.join(self.workdir, "drivesd.log")

    def env(self):
        env = dict(os.environ)
        env["DRIVESD_AUTH_PBKDF2_ITERATIONS"] = "1000"
        return env

    def cli(self, *args):
        res = subprocess.run(
            [self.binary, *args, "--database", self.database, "--data-dir", self.data_dir],
            env=self.env(), capture_output=True, text=True, timeout=120,
        )
        assert res.returncode == 0, "drivesd %s failed (%d): %s%s" % (
            " ".join(args), res.returncode, res.stdout, res.stderr)
        return res.stdout

    def add_user(self, user):
        out = self.cli("user", "add", user.email, "--password", user.password).strip()
        uuid = out.splitlines()[-1].strip()
        assert UUID_RE.match(uuid), "user add printed %r" % out
        user.uuid = uuid
        self.users.append(user)
        return user

    def start(self):
        """Starts serving; False when drivesd exited at start-up."""
        log = open(self.log_path, "ab")
        if os.path.exists(self.port_file):
            os.remove(self.port_file)
        self.port = 0
        self.proc = subprocess.Popen(
            [self.binary, "serve", "--host", "127.0.0.1", "--port", "0", "--port-file", self.port_file,
             "--database", self.database, "--data-dir", self.data_dir, "--time-scale", self.time_scale]
            + (["--config", self.config] if self.config else []),
            env=self.env(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
        log.close()
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                return False
            if not self.port and os.path.exists(self.port_file):
                with open(self.port_file) as f:
                    self.port = int(f.read().strip())
            if self.port and self._answers():
                return True
            time.sleep(0.05)
        # Not left running behind the failure (it would outlive the test run).
        self.proc.kill()
        self.proc.wait()
        raise RuntimeError("drivesd did not answer within 60 s (port file: %s); log:\n%s" % (
            self.port or "none", self.log_tail()))

    def _answers(self):
        user = self.users[0]
        req = urllib.request.Request(self.api_endpoint + "capabilities/")
        token = base64.b64encode(("%s:%s" % (user.email, user.password)).encode()).decode()
        req.add_header("Authorization", "Basic " + token)
        context = ssl.create_default_context(cafile=self.tls_ca) if self.tls_ca else None
        try:
            with urllib.request.urlopen(req, timeout=2, context=context) as resp:
                return resp.status == 200
        except urllib.error.HTTPError:
            return True  # it answers; the tests will judge the answer
        except OSError:
            return False

    def stop(self):
        """SIGTERM, then the exit status, which must be 0."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("drivesd did not exit within 30 s of SIGTERM")

    def log_tail(self, n=40):
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""


def drivesd_binary():
    path = os.environ.get("DRIVESD_BIN")
    candidates = [path] if path else [
        os.path.join(REPO, ".build", "release", "drivesd"),
        os.path.join(REPO, ".build", "debug", "drivesd"),
    ]
    # A development binary may be relinked while we look: wait for it to reappear.
    deadline = time.time() + 300
    while True:
        for c in candidates:
            if c and os.path.isfile(c) and os.access(c, os.X_OK):
                return c
        if time.time() > deadline:
            raise pytest.UsageError(
                "no drivesd binary: set DRIVESD_BIN (tried %s)" % ", ".join(map(str, candidates)))
        time.sleep(2)


def new_user(tag):
    return User("interop-%s-%s@drivesd.test" % (tag, uuidlib.uuid4().hex[:8]), USER_PASSWORD)


def launch(workdir, time_scale, users, config=None, tls_ca=None):
    """Create the users through the CLI, start serving on the port the system gives."""
    binary = drivesd_binary()
    d = Drivesd(binary=binary, workdir=workdir, time_scale=time_scale, config=config, tls_ca=tls_ca)
    for u in users:
        d.add_user(u)
    if d.start():
        return d
    raise RuntimeError("drivesd exited at start-up; log:\n" + d.log_tail())


# ---------------------------------------------------------------------------------------------
# Session set-up: write pycloudsigma's configuration before test modules import cloudsigma (the
# endpoint's port is a placeholder until the main instance has bound its own: the drivesd fixture
# aims the loaded configuration at it).

_SESSION = {}


def pytest_configure(config):
    workdir = tempfile.mkdtemp(prefix="drivesd-interop-")
    port = 9  # discard: nothing answers there until the fixture sets the real port
    users = [new_user("a"), new_user("b")]
    conf = os.path.join(workdir, "cloudsigma.conf")
    with open(conf, "w") as f:
        f.write("api_endpoint = http://127.0.0.1:%d/api/2.0/\n" % port)
        f.write("ws_endpoint = ws://127.0.0.1:%d/websocket\n" % port)
        f.write("username = %s\n" % users[0].email)
        f.write("password = %s\n" % users[0].password)
    os.environ["CLOUDSIGMA_CONFIG"] = conf
    _SESSION.update(workdir=workdir, users=users, conf=conf)


def pytest_unconfigure(config):
    workdir = _SESSION.get("workdir")
    if workdir and not os.environ.get("INTEROP_KEEP"):
        shutil.rmtree(workdir, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# drivesd instances


@pytest.fixture(scope="session")
def drivesd():
    """The main instance: time scale 0, two users; pycloudsigma's configuration names its port."""
    d = launch(os.path.join(_SESSION["workdir"]), "0", _SESSION["users"])
    # Aim the already loaded configuration at the port it bound.
    import cloudsigma.conf
    cloudsigma.conf.config["api_endpoint"] = d.api_endpoint
    cloudsigma.conf.config["ws_endpoint"] = d.ws_endpoint
    listed = d.cli("user", "list")
    for u in d.users:
        assert u.uuid in listed and u.email in listed
    yield d
    rc = d.stop()
    assert rc == 0, "drivesd exited with %r after SIGTERM; log:\n%s" % (rc, d.log_tail())


SLOW_CREATE_SECONDS = 2.0

@pytest.fixture(scope="session")
def slow_drivesd():
    """A second instance (time scale 1) where a create takes 2 s but a resize or a clone takes
    ten minutes.

    It holds drives in `creating`, `resizing`, `cloning_dst` and `cloning_src` long enough to
    see those statuses through each client and to check what each client does with an operation
    refused in them (403), without racing the worker.
    """
    workdir = tempfile.mkdtemp(prefix="slow-", dir=_SESSION["workdir"])
    config = os.path.join(workdir, "drivesd.yaml")
    with open(config, "w") as f:
        f.write("durations:\n"
                "  create_seconds: %s\n"
                "  resize_seconds: 600\n"
                "  clone_base_seconds: 600\n" % SLOW_CREATE_SECONDS)
    d = launch(workdir, "1", [new_user("slow")], config=config)
    yield d
    rc = d.stop()
    assert rc == 0, "slow drivesd exited with %r after SIGTERM; log:\n%s" % (rc, d.log_tail())


@pytest.fixture(scope="session")
def user1(drivesd):
    return drivesd.users[0]


@pytest.fixture(scope="session")
def user2(drivesd):
    return drivesd.users[1]


# ---------------------------------------------------------------------------------------------
# pycloudsigma


@pytest.fixture(scope="session")
def cs(drivesd):
    """pycloudsigma's resource module, configured through $CLOUDSIGMA_CONFIG for user 1."""
    import cloudsigma.conf
    import cloudsigma.resource as cr
    assert cloudsigma.conf.CONFIG_LOCATION == _SESSION["conf"]
    assert cloudsigma.conf.config["api_endpoint"] == drivesd.api_endpoint
    assert cloudsigma.conf.config["ws_endpoint"] == drivesd.ws_endpoint
    return cr


@pytest.fixture
def cs_as(drivesd):
    """Build a pycloudsigma resource through constructor arguments: cs_as(cr.Drive, user)."""
    def make(cls, user, password=None, endpoint=None):
        return cls(api_endpoint=endpoint or drivesd.api_endpoint, username=user.email,
                   password=password if password is not None else user.password)
    return make


# ---------------------------------------------------------------------------------------------
# libcloud


def make_libcloud_driver(d, user, password=None):
    """CloudSigma_2_0_NodeDriver over plain HTTP (the recipe of clients.md: the driver refuses
    secure=False, so build it secure, then switch the connection to HTTP and reconnect)."""
    from libcloud.compute.providers import get_driver
    from libcloud.compute.types import Provider

    cls = get_driver(Provider.CLOUDSIGMA)
    drv = cls(user.email, password if password is not None else user.password,
              secure=True, host="127.0.0.1", port=d.port, api_version="2.0")
    drv.connection.secure = 0
    drv.connection.connect()
    assert drv.connection.api_prefix == "/api/2.0"
    # The driver's own waiter polls every 5 s; transitions here take milliseconds.
    drv.DRIVE_TRANSITION_SLEEP_INTERVAL = 0.05
    return drv


@pytest.fixture(scope="session")
def lc(drivesd):
    drv = make_libcloud_driver(drivesd, drivesd.users[0])
    from libcloud.compute.drivers.cloudsigma import CloudSigma_2_0_NodeDriver
    assert isinstance(drv, CloudSigma_2_0_NodeDriver)
    return drv


@pytest.fixture
def lc_as(drivesd):
    def make(user, password=None, d=None):
        return make_libcloud_driver(d or drivesd, user, password)
    return make


# ---------------------------------------------------------------------------------------------
# cscli


class CsCli:
    """Runs the `cscli` command (its click entry point) in a subprocess, through
    cscli_local.py, which patches GenericClient.api_endpoint to the local drivesd."""

    def __init__(self, d, user):
        self.d = d
        self.user = user

    def run(self, *args, password=None, input=None, check_json=True):
        env = dict(os.environ)
        env.update(
            DRIVESD_API_ENDPOINT=self.d.api_endpoint,
            CLOUDSIGMA_REGION="zrh",
            CLOUDSIGMA_USERNAME=self.user.email,
            CLOUDSIGMA_PASSWORD=password if password is not None else self.user.password,
        )
        res = subprocess.run(
            [sys.executable, os.path.join(HERE, "cscli_local.py"), "--compact", *args],
            env=env, capture_output=True, text=True, timeout=120, input=input,
        )
        res.args_str = " ".join(args)
        if check_json:
            import json
            try:
                res.json = json.loads(res.stdout)
            except ValueError:
                raise AssertionError("cscli %s: not JSON (rc %d)\nstdout: %s\nstderr: %s" % (
                    res.args_str, res.returncode, res.stdout, res.stderr))
        return res

    def ok(self, *args, **kw):
        """Run and require cscli's success envelope {"status": true, "result": ...}."""
        res = self.run(*args, **kw)
        assert res.returncode == 0 and res.json.get("status") is True, \
            "cscli %s -> rc %d %s %s" % (res.args_str, res.returncode, res.stdout, res.stderr)
        return res.json["result"]


@pytest.fixture(scope="session")
def cscli(drivesd):
    return CsCli(drivesd, drivesd.users[0])


@pytest.fixture
def cscli_as(drivesd):
    def make(user):
        return CsCli(drivesd, user)
    return make


# ---------------------------------------------------------------------------------------------
# helpers shared by the test modules


@pytest.fixture
def name(request):
    """A drive name unique to the test: interop-<test>-<random>."""
    base = re.sub(r"[^A-Za-z0-9_]+", "_", request.node.name)[:40]
    return "interop-%s-%s" % (base, uuidlib.uuid4().hex[:6])
