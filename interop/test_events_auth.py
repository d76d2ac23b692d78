"""Websocket change events and the authentication methods
(shared/spec/snapshots-bytes-events-auth.md §3 and §4) through real clients: pycloudsigma's
`Websocket` (PyPI `cloudsigma` 2.0.0, unmodified, on websocket-client), its session login
(`login_method='session'`), requests' `HTTPDigestAuth`, curl's `--digest` and
`Authorization: Bearer` with tokens from drivesd's CLI.

pycloudsigma's `Websocket()` takes everything from its configuration: `Accounts()` (the config's
`api_endpoint`, `username`, `password`) POSTs `do=authenticate_asynchronous`, reads the
`async_auth` cookie of that answer and connects to `ws_endpoint` with it. `wait_obj_uri(uri, cls)`
waits (10 s, W1) for a frame with that `resource_uri` and then GETs it with `cls()`;
`wait_obj_wrapper(wait_obj_uri, (uri, cls), extra_filter=f)` repeats that until `f(object)`
holds. The waits are used exactly as pycloudsigma's own `test_websocket.py` uses them. A socket
for another user or another instance is opened the same way, with the configuration keys set
for the time of the test (`monkeypatch.setitem` on `cloudsigma.conf.config`).

To assert on the frames themselves, `FrameLog` wraps the client's `WebsocketClient.recv` and
keeps a copy of every frame it returns; nothing the client sees is changed.

On a receive timeout websocket-client 1.9 raises `WebSocketTimeoutException`, which is not the
`socket.timeout` that `Websocket.wait` catches, so the client's own `WebsocketTimeoutError` is not
what a quiet socket raises (a client quirk; the tests expect what the client really raises).
"""
import base64
import json
import re
import time
import uuid as uuidlib

import pytest
import requests
import websocket
from requests.auth import HTTPDigestAuth

import cloudsigma.conf
import cloudsigma.resource as cr
from cloudsigma import errors
from cloudsigma.generic import GenericClient

from conftest import USER_PASSWORD, UUID_RE, User
from helpers import GiB, curl, drive_uri, response_headers, verbose_headers, wait_for_status

# Every frame is one of these resource types (§3.3), with exactly these keys at most.
FRAME_TYPES = {"drives", "servers", "jobs", "snapshots", "tags"}
FRAME_KEYS = {"resource_type", "resource_uri", "object"}
FRAME_URI_RE = re.compile(r"^/api/2\.0/(drives|servers|jobs|snapshots|tags)/"
                          r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/$")

# How long a socket that must stay silent is listened to.
QUIET_SECONDS = 1.5

BASIC_CHALLENGE = 'Basic realm="users"'
DIGEST_CHALLENGE_RE = re.compile(
    r'^Digest realm="users", nonce="\d+\.\d\d:[0-9A-F]{4}:[0-9a-f]+", opaque="[0-9a-f]+", '
    r'algorithm="MD5", qop="auth"$')
BEARER_CHALLENGE = 'Bearer realm="users", error="invalid_token"'


def server_uri(uuid):
    return "/api/2.0/servers/%s/" % uuid


# ---------------------------------------------------------------------------------------------
# pycloudsigma's Websocket, and a record of the frames it receives


class FrameLog:
    """Keeps every frame `ws.ws.recv` returns (after the client's own json decoding) and checks
    the shape of each: a JSON object with `resource_type` and `resource_uri`, and `object` only
    as the resource itself (W4)."""

    def __init__(self, ws):
        self.ws = ws
        self.frames = []
        recv = ws.ws.recv

        def recorded(*args, **kwargs):
            frame = recv(*args, **kwargs)
            self.frames.append(frame)
            assert_frame_shape(frame)
            return frame

        ws.ws.recv = recorded

    def for_uri(self, uri):
        return [f for f in self.frames if f["resource_uri"] == uri]

    def statuses(self, uri):
        """The statuses the frames for `uri` carried, consecutive repeats merged."""
        out = []
        for f in self.for_uri(uri):
            if "object" in f and (not out or out[-1] != f["object"]["status"]):
                out.append(f["object"]["status"])
        return out


def assert_frame_shape(frame):
    assert isinstance(frame, dict), frame
    assert set(frame) <= FRAME_KEYS and {"resource_type", "resource_uri"} <= set(frame), frame
    assert frame["resource_type"] in FRAME_TYPES, frame
    m = FRAME_URI_RE.match(frame["resource_uri"])
    assert m and m.group(1) == frame["resource_type"], frame
    if "object" in frame:
        assert frame["object"]["resource_uri"] == frame["resource_uri"], frame


def open_websocket(monkeypatch, d, user):
    """`cr.Websocket()` as a program configured for `user` on instance `d` would open it: the
    configuration keys are set while it authenticates and connects, then restored."""
    with monkeypatch.context() as m:
        configure(m, d, user)
        ws = cr.Websocket()
    return ws


def configure(m, d, user):
    config = cloudsigma.conf.config
    m.setitem(config, "api_endpoint", d.api_endpoint)
    m.setitem(config, "ws_endpoint", d.ws_endpoint)
    m.setitem(config, "username", user.email)
    m.setitem(config, "password", user.password)


@pytest.fixture
def sockets():
    """Closes every websocket a test opened."""
    opened = []
    yield opened
    for ws in opened:
        ws.ws.conn.close()


@pytest.fixture
def ws1(cs, sockets):
    """User 1's socket on the main instance, from the $CLOUDSIGMA_CONFIG file as it stands."""
    ws = cr.Websocket()
    sockets.append(ws)
    return ws, FrameLog(ws)


@pytest.fixture
def dc(cs):
    return cs.Drive()


def wait_status(ws, uri, cls, status):
    """pycloudsigma's test_websocket.py: wait_obj_wrapper(wait_obj_uri, (uri, cls), timeout=30,
    extra_filter=status)."""
    return ws.wait_obj_wrapper(ws.wait_obj_uri, (uri, cls), timeout=30,
                               extra_filter=lambda x: x["status"] == status)


def wait_deleted(ws, log, uri, cls):
    """pycloudsigma's test_websocket.py after a delete: a frame for the uri, then the GET is 404
    (ClientError). With no frame the client would time out instead (W3).

    An older frame for the uri still unread also leads to that 404, so the frames are then read
    on (`Websocket.wait`, 10 s each) until the deletion's own: no `object` (W-a), and the last
    one for the uri. Returns the frames for the uri."""
    with pytest.raises(errors.ClientError) as exc:
        ws.wait_obj_wrapper(ws.wait_obj_uri, (uri, cls), timeout=30,
                            extra_filter=lambda x: False)
    assert exc.value.status_code == 404
    assert not isinstance(exc.value, (errors.PermissionError, errors.AuthError))
    while "object" in log.for_uri(uri)[-1]:
        ws.wait({"resource_uri": uri})
    frames = log.for_uri(uri)
    assert frames[-1] == {"resource_type": uri.split("/")[3], "resource_uri": uri}
    return frames


def assert_silent(ws, seconds=QUIET_SECONDS):
    """No frame at all within `seconds`: the client's wait ends in websocket-client's timeout."""
    with pytest.raises(websocket.WebSocketTimeoutException):
        events = ws.wait(timeout=seconds)
        pytest.fail("unexpected frames: %r" % (events,))


def read_until_quiet(ws, seconds=QUIET_SECONDS):
    """Read frames (into the FrameLog) until none comes for `seconds`."""
    while True:
        try:
            ws.wait({"resource_uri": "none"}, timeout=seconds)
        except websocket.WebSocketTimeoutException:
            return


def server_def(name):
    # pycloudsigma's test_websocket.py test_guest
    return {"cpu": 1000, "name": name, "mem": 256 * 1024 ** 2, "vnc_password": "foo"}


# ---------------------------------------------------------------------------------------------
# websocket: waiting for statuses


class TestWebsocketWaits:
    def test_drive_created_then_deleted_on_slow_instance(self, slow_drivesd, monkeypatch,
                                                         sockets, name):
        """pycloudsigma's WebsocketTest.test_drive on the time-scale-1 instance, where the drive
        stays `creating` for 2 s: the wait returns only once the GET after a frame says
        `unmounted`; after the delete a frame comes and the GET is 404."""
        user = slow_drivesd.users[0]
        configure(monkeypatch, slow_drivesd, user)  # Accounts(), Drive() and ws_endpoint
        ws = cr.Websocket()
        sockets.append(ws)
        log = FrameLog(ws)
        dc = cr.Drive()

        t0 = time.time()
        d = dc.create({"size": 1000 ** 3, "name": name, "media": "disk"})
        assert d["status"] == "creating"
        uri = d["resource_uri"]
        assert uri == drive_uri(d["uuid"])

        got = wait_status(ws, uri, cr.Drive, "unmounted")
        waited = time.time() - t0
        assert got["uuid"] == d["uuid"] and got["status"] == "unmounted"
        assert 1.0 <= waited < 10, waited  # the create takes 2 s here
        # The create and the transition each sent a frame (W2: the transition's after commit,
        # since the GET it led to already read `unmounted`).
        assert log.statuses(uri) == ["creating", "unmounted"], log.for_uri(uri)
        # The `object` of the last frame is what GET answers (nothing changed since).
        assert log.for_uri(uri)[-1]["object"] == dc.get(d["uuid"])

        dc.delete(d["uuid"])
        wait_deleted(ws, log, uri, cr.Drive)
        with pytest.raises(errors.ClientError) as exc:
            dc.get(d["uuid"])
        assert exc.value.status_code == 404

    def test_server_start_stop_delete(self, cs, ws1, name):
        """pycloudsigma's WebsocketTest.test_guest: create (`stopped`), start (`running`), stop
        (`stopped`), delete (404), each awaited through the websocket."""
        ws, log = ws1
        sc = cs.Server()
        g = sc.create(server_def(name))
        uri = g["resource_uri"]
        assert uri == server_uri(g["uuid"])
        ret = wait_status(ws, uri, cr.Server, "stopped")
        assert ret["uuid"] == g["uuid"]

        assert sc.start(g["uuid"])["result"] == "success"
        assert wait_status(ws, uri, cr.Server, "running")["status"] == "running"

        assert sc.stop(g["uuid"])["result"] == "success"
        assert wait_status(ws, uri, cr.Server, "stopped")["status"] == "stopped"

        sc.delete(g["uuid"])
        wait_deleted(ws, log, uri, cr.Server)
        # Every status the server went through came in a frame, in order (the GETs may have
        # run ahead of the frames; the frames themselves are all read by now).
        statuses = log.statuses(uri)
        assert statuses[0] == "stopped" and statuses[-1] == "stopped", statuses
        assert "running" in statuses, statuses
        running = statuses.index("running")
        assert set(statuses[1:running]) <= {"starting"}, statuses
        assert set(statuses[running + 1:-1]) <= {"stopping"}, statuses

    def test_server_with_drive(self, cs, ws1, dc, name):
        """pycloudsigma's WebsocketTest.test_guest_drive: a server update that attaches a drive
        sends a frame for the server (wait_obj_uri returns it with the drive), and the drive's
        change to `mounted` one for the drive."""
        ws, log = ws1
        sc = cs.Server()
        g = sc.create(server_def(name))
        wait_status(ws, g["resource_uri"], cr.Server, "stopped")
        d = dc.create({"size": 1000 ** 3, "name": name, "media": "disk"})
        wait_status(ws, d["resource_uri"], cr.Drive, "unmounted")

        sc.update(g["uuid"], dict(server_def(name), drives=[
            {"dev_channel": "0:0", "device": "virtio", "drive": d["uuid"]}]))
        got = ws.wait_obj_uri(g["resource_uri"], cr.Server)
        assert [x["drive"]["uuid"] for x in got["drives"]] == [d["uuid"]]
        mounted = wait_status(ws, d["resource_uri"], cr.Drive, "mounted")
        assert [m["uuid"] for m in mounted["mounted_on"]] == [g["uuid"]]
        assert log.statuses(d["resource_uri"])[-1] == "mounted"

        sc.delete(g["uuid"])  # detaches the drive
        wait_deleted(ws, log, g["resource_uri"], cr.Server)
        wait_status(ws, d["resource_uri"], cr.Drive, "unmounted")
        dc.delete(d["uuid"])
        wait_deleted(ws, log, d["resource_uri"], cr.Drive)


# ---------------------------------------------------------------------------------------------
# websocket: isolation, order, handshake


class TestLocations:
    def test_a_client_configured_from_locations_only(self, drivesd, user1, monkeypatch, sockets, name):
        """`GET /locations/` (no credentials, as the Go SDK's `Locations.List` reads it) names this
        daemon's own listener: pycloudsigma configured with nothing but its `api_endpoint` and
        `websocket_url` creates a drive and sees it through the websocket."""
        reply = requests.get(drivesd.api_endpoint + "locations/", timeout=10)
        assert reply.status_code == 200, reply.text
        body = reply.json()
        assert body["meta"]["total_count"] == 1
        location = body["objects"][0]
        assert location["api_endpoint"] == drivesd.api_endpoint
        assert location["upload_url"] == drivesd.api_endpoint
        assert location["websocket_url"] == drivesd.ws_endpoint
        with monkeypatch.context() as m:
            config = cloudsigma.conf.config
            m.setitem(config, "api_endpoint", location["api_endpoint"])
            m.setitem(config, "ws_endpoint", location["websocket_url"])
            m.setitem(config, "username", user1.email)
            m.setitem(config, "password", user1.password)
            ws = cr.Websocket()
            sockets.append(ws)
            made = cr.Drive().create({"name": name, "size": 1024 ** 3, "media": "disk"})
            uri = made["resource_uri"]
            assert wait_status(ws, uri, cr.Drive, "unmounted")["uuid"] == made["uuid"]


class TestWebsocketFrames:
    def test_each_user_sees_only_its_own(self, cs, cs_as, drivesd, user1, user2, ws1, dc,
                                         monkeypatch, sockets, name):
        """Both users connected: user 1's drive changes reach user 1's socket only, and user 2's
        drive reaches user 2's socket only."""
        ws, log = ws1
        ws2 = open_websocket(monkeypatch, drivesd, user2)
        sockets.append(ws2)
        log2 = FrameLog(ws2)

        d = dc.create({"size": GiB, "name": name, "media": "disk"})
        wait_status(ws, d["resource_uri"], cr.Drive, "unmounted")
        dc.update(d["uuid"], {"name": name + "_renamed", "size": GiB, "media": "disk"})
        got = ws.wait_obj_uri(d["resource_uri"], cr.Drive)
        assert got["name"] == name + "_renamed"
        while log.for_uri(d["resource_uri"])[-1]["object"]["name"] != name + "_renamed":
            ws.wait({"resource_uri": d["resource_uri"]})  # user 1's frames have all come
        assert_silent(ws2)
        assert log2.frames == []

        # The other way round; this also shows user 2's socket does receive.
        dc2 = cs_as(cr.Drive, user2)
        d2 = dc2.create({"size": GiB, "name": name + "_2", "media": "disk"})
        events = ws2.wait({"resource_uri": d2["resource_uri"]})
        assert {e["resource_uri"] for e in events} == {d2["resource_uri"]}
        assert events[-1]["object"]["owner"]["uuid"] == user2.uuid
        read_until_quiet(ws2)
        read_until_quiet(ws)
        assert {f["resource_uri"] for f in log2.frames} == {d2["resource_uri"]}
        assert {f["resource_uri"] for f in log.frames} == {d["resource_uri"]}

        dc.delete(d["uuid"])
        dc2.delete(d2["uuid"])

    def test_frames_of_one_drive_in_commit_order(self, cs, ws1, dc, name):
        """Ten renames, one after the other: the frames for the drive (from its create on) carry
        the names in that order (§3.7 W-d: de-duplication may skip some, never reorder), ending
        with the last; the delete's frame comes after them."""
        ws, log = ws1
        d = dc.create({"size": GiB, "name": name, "media": "disk"})
        uri = d["resource_uri"]
        wait_status(ws, uri, cr.Drive, "unmounted")

        names = [name] + ["%s_%02d" % (name, i) for i in range(10)]
        for n in names[1:]:
            assert dc.update(d["uuid"], {"name": n, "size": GiB, "media": "disk"})["name"] == n
        dc.delete(d["uuid"])

        deadline = time.time() + 10
        while not log.for_uri(uri) or "object" in log.for_uri(uri)[-1]:
            assert time.time() < deadline, "no delete frame; frames: %r" % log.for_uri(uri)
            ws.wait({"resource_uri": uri})
        frames = log.for_uri(uri)
        assert frames[-1] == {"resource_type": "drives", "resource_uri": uri}
        seen = [f["object"]["name"] for f in frames[:-1]]
        assert all("object" in f for f in frames[:-1]), frames
        assert seen and seen[-1] == names[-1], seen
        positions = [names.index(n) for n in seen]
        assert positions == sorted(positions), seen

    def test_handshake_needs_the_async_auth_cookie(self, drivesd, user1, cs, sockets):
        """The upgrade is refused with HTTP 401 without a valid `async_auth` cookie (a garbage
        value, a cookie with its signature changed, none, or Basic credentials instead); with
        the cookie `Accounts().authenticate_asynchronous()` got, all three paths connect."""
        acc = cs.Accounts()
        assert acc.authenticate_asynchronous() == {}
        resp = acc.c.resp
        assert resp.status_code == 200
        cookie = resp.cookies["async_auth"]
        set_cookie = resp.headers["Set-Cookie"]
        assert "Max-Age=120" in set_cookie and "Path=/" in set_cookie, set_cookie
        assert "secure" not in set_cookie.lower(), set_cookie

        value, stamp, sig = cookie.split("|")
        forged = "|".join([value, stamp, ("0" if sig[0] != "0" else "1") + sig[1:]])
        basic = base64.b64encode(("%s:%s" % (user1.email, user1.password)).encode()).decode()
        refused = [
            ["Cookie: async_auth=not-a-cookie"],
            ["Cookie: async_auth=%s" % forged],
            [],
            ["Authorization: Basic %s" % basic],
        ]
        for header in refused:
            with pytest.raises(websocket.WebSocketBadStatusException) as exc:
                websocket.create_connection(drivesd.ws_endpoint, timeout=10, header=header)
            assert exc.value.status_code == 401, header

        for path in ("/websocket", "/2.0/websocket", "/api/2.0/websocket"):
            conn = websocket.create_connection(
                "ws://127.0.0.1:%d%s" % (drivesd.port, path), timeout=10,
                header=["Cookie: async_auth=%s" % cookie])
            assert conn.getstatus() == 101
            conn.close()


# ---------------------------------------------------------------------------------------------
# sessions


class TestSession:
    def test_pycloudsigma_session_login(self, cs, user1, name):
        """`Drive(login_method='session')`: the client logs in (`do=login`, no credentials on
        later requests), lists and creates with its `X-CSRFToken`; without the header an unsafe
        request is 403 "CSRF verification failed" while GET works; after `do=logout` the old
        session is 401."""
        dc = cs.Drive(login_method="session")
        client = dc.c
        assert client.login_method == GenericClient.LOGIN_METHOD_SESSION
        assert client._get_req_args().get("auth") is None  # no Basic credentials from now on
        jar = client._session.cookies
        assert set(jar.keys()) >= {"sessionid", "csrftoken"}
        assert client._session.headers["X-CSRFToken"] == jar["csrftoken"]

        assert isinstance(dc.list(), list)
        assert "Authorization" not in client.resp.request.headers
        d = dc.create({"size": GiB, "name": name, "media": "disk"})
        assert client.resp.status_code == 201
        assert d["owner"]["uuid"] == user1.uuid
        assert client.post("/accounts/action/", {}, query_params={"do": "check_login"}) == {}
        assert client.post("/accounts/action/", {},
                           query_params={"do": "check_login_with_return_uuid"}) \
            == {"uuid": user1.uuid}

        token = client._session.headers.pop("X-CSRFToken")
        with pytest.raises(errors.PermissionError) as exc:
            dc.update(d["uuid"], {"name": name + "_x", "size": GiB, "media": "disk"})
        assert exc.value.status_code == 403
        assert json.loads(exc.value.message)[0] == {
            "error_point": None, "error_type": "permission",
            "error_message": "CSRF verification failed"}
        client._session.headers["X-CSRFToken"] = "x" + token[1:] if token[0] != "x" else "y"
        with pytest.raises(errors.PermissionError):
            dc.delete(d["uuid"])
        assert dc.get(d["uuid"])["name"] == name  # GET needs no CSRF; nothing changed
        client._session.headers["X-CSRFToken"] = token

        old = jar["sessionid"]
        assert client.post("/accounts/action/", {}, query_params={"do": "logout"}) == {}
        assert client.resp.status_code == 200
        with pytest.raises(errors.AuthError):
            dc.list()
        r = requests.get(dc.c._get_full_url("/drives/"), cookies={"sessionid": old})
        assert r.status_code == 401
        cs.Drive().delete(d["uuid"])

    def test_login_answer_and_check_login(self, drivesd, user1, user2):
        """`do=login` as requests sends it: 200 `{"uuid"}`, `sessionid` HttpOnly and `csrftoken`
        readable; `check_login` 200 `{}` with the session and 401 without; a wrong password 401
        and pycloudsigma's session login raises AuthError."""
        url = drivesd.api_endpoint + "accounts/action/"
        s = requests.Session()
        r = s.post(url, params={"do": "login"},
                   json={"username": user1.email, "password": user1.password})
        assert r.status_code == 200 and r.json() == {"uuid": user1.uuid}
        cookies = {c.name: c for c in s.cookies}
        assert set(cookies) >= {"sessionid", "csrftoken"}
        assert cookies["sessionid"].has_nonstandard_attr("HttpOnly")
        assert not cookies["csrftoken"].has_nonstandard_attr("HttpOnly")
        assert not any(c.secure for c in cookies.values())
        csrf = {"X-CSRFToken": s.cookies["csrftoken"]}
        r = s.post(url, params={"do": "check_login"}, json={}, headers=csrf)
        assert r.status_code == 200 and r.json() == {}
        r = requests.post(url, params={"do": "check_login"}, json={})
        assert r.status_code == 401

        r = requests.post(url, params={"do": "login"},
                          json={"username": user2.email, "password": "not-the-password"})
        assert r.status_code == 401
        with pytest.raises(errors.AuthError):
            GenericClient(api_endpoint=drivesd.api_endpoint, username=user2.email,
                          password="not-the-password", login_method="session")
        # The right one still works (two failures are far from the throttle's five).
        c2 = GenericClient(api_endpoint=drivesd.api_endpoint, username=user2.email,
                           password=user2.password, login_method="session")
        assert c2.post("/accounts/action/", {},
                       query_params={"do": "check_login_with_return_uuid"}) \
            == {"uuid": user2.uuid}


# ---------------------------------------------------------------------------------------------
# Digest


class TestDigest:
    def test_requests_http_digest_auth(self, drivesd, user1):
        """requests' HTTPDigestAuth: the first request is answered by the two challenges, the
        retry is 200; the next request reuses the nonce (nc=2) without a new challenge; a POST
        with a query string works; a wrong password ends in 401."""
        url = drivesd.api_endpoint + "drives/"
        auth = HTTPDigestAuth(user1.email, user1.password)
        r = requests.get(url, params={"limit": 0}, auth=auth)
        assert r.status_code == 200, r.text
        assert isinstance(r.json()["objects"], list)
        assert [h.status_code for h in r.history] == [401]
        challenge = r.history[0].raw.headers.getlist("WWW-Authenticate")
        assert challenge[0] == BASIC_CHALLENGE
        assert DIGEST_CHALLENGE_RE.match(challenge[1]), challenge
        assert len(challenge) == 2, challenge
        assert "nc=00000001" in r.request.headers["Authorization"]

        r = requests.get(drivesd.api_endpoint + "drives/detail/", auth=auth)
        assert r.status_code == 200 and r.history == []
        assert "nc=00000002" in r.request.headers["Authorization"]

        r = requests.post(url, params={"do": "nothing"}, auth=auth,
                          json={"objects": [{"name": "digest", "size": GiB, "media": "disk"}]})
        assert r.status_code == 201, r.text
        uuid = r.json()["objects"][0]["uuid"]
        assert r.json()["objects"][0]["owner"]["uuid"] == user1.uuid
        # The drive answers `creating` and is busy (403) until the worker's next tick: wait for
        # it through the same digest session (PostgreSQL's worker is woken a little later).
        wait_for_status(lambda u: requests.get(url + u + "/", auth=auth).json(),
                        uuid, "unmounted", ["creating"])
        r = requests.delete(url + uuid + "/", auth=auth)
        assert r.status_code == 204

        r = requests.get(url, auth=HTTPDigestAuth(user1.email, "not-the-password"))
        assert r.status_code == 401
        assert len(r.history) == 1  # requests tried once with the digest
        assert r.request.headers["Authorization"].startswith("Digest ")
        # and the right one works right after
        assert requests.get(url, auth=auth).status_code == 200

    def test_curl_digest(self, drivesd, user1, user2):
        """`curl --digest -u email:pw`: the challenge has a Basic then a Digest line, the retry
        lists the user's drives; a wrong password is 401."""
        url = drivesd.api_endpoint + "drives/?limit=0"
        res = curl("-sS", "-v", "--digest", "-u", "%s:%s" % (user2.email, user2.password),
                   "-w", "%{http_code}", "-o", "/dev/null", url)
        assert res.returncode == 0, res.err
        assert res.out == "200", res.err
        lines = verbose_headers(res.err)
        starts = [i for i, l in enumerate(lines) if l.startswith("HTTP/")]
        assert len(starts) == 2, lines  # the challenge, then the answer
        first = lines[starts[0]:starts[1]]
        assert first[0].split()[1] == "401"
        challenges = [l.split(":", 1)[1].strip() for l in first
                      if l.lower().startswith("www-authenticate:")]
        assert len(challenges) == 2 and challenges[0] == BASIC_CHALLENGE, challenges
        assert DIGEST_CHALLENGE_RE.match(challenges[1]), challenges
        status, _ = response_headers(res.err)
        assert status == 200
        sent = [l for l in verbose_headers(res.err, ">") if l.startswith("Authorization:")]
        assert sent and sent[-1].startswith("Authorization: Digest username=\"%s\"" % user2.email)

        res = curl("-sS", "--digest", "-u", "%s:%s" % (user2.email, user2.password), url)
        assert res.returncode == 0 and "objects" in json.loads(res.out)

        res = curl("-sS", "--digest", "-u", "%s:wrong" % user2.email,
                   "-w", "%{http_code}", "-o", "/dev/null", url)
        assert res.out == "401"


# ---------------------------------------------------------------------------------------------
# Bearer tokens from the CLI


def bearer_get(d, token, path="drives/"):
    """curl -H 'Authorization: Bearer …': (status, WWW-Authenticate lines, body)."""
    res = curl("-sS", "-v", "-H", "Authorization: Bearer %s" % token, d.api_endpoint + path)
    assert res.returncode == 0, res.err
    status, _ = response_headers(res.err)
    challenges = [l.split(":", 1)[1].strip() for l in verbose_headers(res.err)
                  if l.lower().startswith("www-authenticate:")]
    return status, challenges, res.out


def assert_bearer_refused(d, token):
    status, challenges, body = bearer_get(d, token)
    assert status == 401, body
    assert challenges[0] == BASIC_CHALLENGE and DIGEST_CHALLENGE_RE.match(challenges[1])
    assert challenges[2:] == [BEARER_CHALLENGE], challenges
    assert json.loads(body)[0]["error_type"] == "permission"


class TestBearer:
    def test_token_create_use_revoke(self, drivesd, user1, user2):
        """`drivesd token create` prints a token that curl's `Authorization: Bearer` uses as
        that user; `token list` shows it without the token; `token revoke` (CLI, daemon
        running) makes it 401 within 3 s (the daemon notices in about 0.5 s), with the Bearer
        challenge."""
        token = drivesd.cli("token", "create", user1.email).strip()
        assert token and len(token.split()) == 1, token
        listed = drivesd.cli("token", "list", user1.email)
        assert token not in listed
        assert listed.strip(), listed

        status, challenges, body = bearer_get(drivesd, token)
        assert status == 200, body
        res = curl("-sS", "-H", "Authorization: Bearer %s" % token, "-H",
                   "Content-Type: application/json", "-X", "POST", "-d", "{}",
                   drivesd.api_endpoint + "accounts/action/?do=check_login_with_return_uuid")
        assert json.loads(res.out) == {"uuid": user1.uuid}
        res = curl("-sS", "-H", "Authorization: Bearer %s" % token, "-H",
                   "Content-Type: application/json", "-X", "POST", "-d",
                   json.dumps({"objects": [{"name": "bearer", "size": GiB, "media": "disk"}]}),
                   drivesd.api_endpoint + "drives/")
        created = json.loads(res.out)["objects"][0]
        assert created["owner"]["uuid"] == user1.uuid  # a POST, and no CSRF check for Bearer
        res = curl("-sS", "-H", "Authorization: Bearer %s" % token,
                   drivesd.api_endpoint + "drives/?limit=0")
        assert created["uuid"] in {d["uuid"] for d in json.loads(res.out)["objects"]}

        other = drivesd.cli("token", "create", user2.email).strip()
        assert bearer_get(drivesd, other)[0] == 200

        drivesd.cli("token", "revoke", token)
        t0 = time.time()
        while bearer_get(drivesd, token)[0] == 200:
            assert time.time() - t0 < 3, "the revoked token still works after 3 s"
            time.sleep(0.1)
        assert_bearer_refused(drivesd, token)
        assert bearer_get(drivesd, other)[0] == 200  # only that token
        drivesd.cli("token", "revoke", other)

        res = curl("-sS", "-o", "/dev/null", "-w", "%{http_code}", "-u",
                   "%s:%s" % (user1.email, user1.password), "-X", "DELETE",
                   drivesd.api_endpoint + "drives/%s/" % created["uuid"])
        assert res.out == "204"

    def test_unknown_and_expired_tokens(self, drivesd, user1):
        """An unknown token is 401 with the third challenge; `--expires-in 1` works at once and is
        401 two seconds later."""
        assert_bearer_refused(drivesd, "dsd_" + uuidlib.uuid4().hex)
        token = drivesd.cli("token", "create", user1.email, "--expires-in", "1").strip()
        assert bearer_get(drivesd, token)[0] == 200
        time.sleep(2)
        assert_bearer_refused(drivesd, token)


# ---------------------------------------------------------------------------------------------
# throttling of wrong passwords (its own user, so no other test is affected)


# Failed logins of one account from one address before the back-off (`auth.throttle_burst`).
BURST = 20


class TestThrottle:
    @staticmethod
    def fresh_user(d):
        u = User("interop-throttle-%s@drivesd.test" % uuidlib.uuid4().hex[:8], USER_PASSWORD)
        u.uuid = d.cli("user", "add", u.email, "--password", u.password).split()[-1]
        assert UUID_RE.match(u.uuid)
        return u

    @staticmethod
    def login(d, user, password=None):
        return requests.post(d.api_endpoint + "accounts/action/", params={"do": "login"},
                             json={"username": user.email,
                                   "password": password or user.password})

    def test_wrong_passwords_back_off(self, drivesd, user2):
        """BURST (20, the default `auth.throttle_burst`) wrong passwords for a new account from
        127.0.0.1: the last answer says
        `Retry-After: 1`, and the right password (Basic, or `do=login`) is then 401 with
        `Retry-After: 1`; another account logs in; one more wrong password after the second
        doubles the back-off (`Retry-After: 2`); after it the right password works."""
        u = self.fresh_user(drivesd)
        url = drivesd.api_endpoint + "drives/"
        for _ in range(BURST - 1):
            r = requests.get(url, auth=(u.email, "not-the-password"))
            assert r.status_code == 401 and "Retry-After" not in r.headers
        r = requests.get(url, auth=(u.email, "not-the-password"))
        assert r.status_code == 401 and r.headers["Retry-After"] == "1"  # the back-off starts

        r = requests.get(url, auth=(u.email, u.password))
        assert r.status_code == 401 and r.headers["Retry-After"] == "1"
        assert r.json() == [{"error_point": None, "error_type": "permission",
                             "error_message": "Too many failed logins for this account from "
                                              "this address; retry in 1 s"}]
        r = self.login(drivesd, u)
        assert r.status_code == 401 and r.headers["Retry-After"] == "1"
        assert self.login(drivesd, user2).status_code == 200

        time.sleep(1.1)
        r = requests.get(url, auth=(u.email, "not-the-password"))
        assert r.status_code == 401 and r.headers["Retry-After"] == "2"
        assert self.login(drivesd, u).status_code == 401
        time.sleep(2.1)
        assert requests.get(url, auth=(u.email, u.password)).status_code == 200

    def test_back_off_holds_for_a_recently_used_password(self, drivesd):
        """The same back-off for an account that had just used the right password: the right
        password during the back-off is 401 with Retry-After, like `do=login` is."""
        u = self.fresh_user(drivesd)
        url = drivesd.api_endpoint + "drives/"
        assert requests.get(url, auth=(u.email, u.password)).status_code == 200
        for _ in range(BURST):
            assert requests.get(url, auth=(u.email, "not-the-password")).status_code == 401
        assert self.login(drivesd, u).status_code == 401  # the back-off is on
        r = requests.get(url, auth=(u.email, u.password))
        assert (r.status_code, r.headers.get("Retry-After")) == (401, "1")
