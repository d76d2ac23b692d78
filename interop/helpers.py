"""Waiting the way the clients wait, small shared constants, and the byte helpers: random
images, sha256, curl downloads and the admin storage statistics."""
import os
import subprocess
import time

GiB = 1024 ** 3
MiB = 1024 ** 2

# GET /drives/ (short list) returns exactly these keys per drive (real dump drive_list).
SHORT_KEYS = {"owner", "resource_uri", "status", "uuid"}

# Every key of a full drive object (reference §3.3; FOG's format check needs most of them).
FULL_KEYS = {
    "affinities", "allow_multimount", "backup_scheduler", "grantees", "iops", "jobs", "licenses",
    "media", "meta", "mounted_on", "name", "owner", "permissions", "remote_snapshots",
    "resource_uri", "runtime", "size", "snapshots", "status", "storage_type", "tags", "uuid",
}


def drive_uri(uuid):
    return "/api/2.0/drives/%s/" % uuid


def wait_for_status(get, uuid, status, pending, timeout=30.0, step=0.05):
    """Poll get(uuid) until its status is `status`, as pycloudsigma's acceptance tests do
    (_wait_for_status: GET every few seconds; here every 50 ms since transitions take ms).

    Like Terraform's waiters, any status outside `pending` + the target fails at once.
    Returns (final object, list of the distinct statuses seen in order).
    """
    deadline = time.time() + timeout
    seen = []
    while True:
        obj = get(uuid)
        s = obj["status"]
        if not seen or seen[-1] != s:
            seen.append(s)
        assert s == status or s in pending, \
            "status %r while waiting for %r (allowed %s); seen %s" % (s, status, pending, seen)
        if s == status:
            return obj, seen
        assert time.time() < deadline, \
            "%s did not reach %r within %.0f s; seen %s" % (uuid, status, timeout, seen)
        time.sleep(step)


def wait_until(predicate, timeout=30.0, step=0.05, what="condition"):
    deadline = time.time() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.time() < deadline, "%s not met within %.0f s" % (what, timeout)
        time.sleep(step)


# ---------------------------------------------------------------------------------------------
# Drive bytes: random images, sha256, curl (the tool CloudSigma's docs and pycloudsigma's
# test_upload_download.py use to upload and download) and the admin storage statistics.

MIN_DISK = 536870912  # capabilities: the minimum size of the default storage type (dssd)

# drivesd's default admin credentials (admin.username / admin.password); the suite sets no config
# on the main instance.
ADMIN = ("admin", "admin")


def write_random_file(path, size, text=False):
    """`size` bytes from os.urandom; with text=True, base64 characters of random bytes instead.

    pycloudsigma's Drive.upload_chunk opens the image in text mode (`open(path, 'r')`) and reads
    characters, so under Python 3 only a file of single-byte characters with no '\\r' (which
    universal newlines would rewrite) reaches the server unaltered; random bytes make it raise
    UnicodeDecodeError. Returns the sha256 hex digest of the file.
    """
    import base64
    import hashlib
    h = hashlib.sha256()
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(left, MiB)
            block = base64.b64encode(os.urandom(n))[:n] if text else os.urandom(n)
            f.write(block)
            h.update(block)
            left -= n
    return h.hexdigest()


def sha256_file(path):
    import hashlib
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(MiB), b""):
            h.update(block)
    return h.hexdigest()


def verbose_headers(stderr, direction="<"):
    """Header lines of `curl -v` output: '<' the responses' (every block, interim 100 Continue
    included), '>' the request's. Returns the list of (line) with the marker stripped."""
    return [line[2:].rstrip("\r") for line in stderr.splitlines()
            if line.startswith(direction + " ")]


def response_headers(stderr):
    """The final response of a `curl -v` run: (status, {lower-case name: value}). A field sent
    on several lines (a 401's `WWW-Authenticate` Basic and Digest challenges) is combined into
    one value, in order, joined by ", " (RFC 9110 §5.3)."""
    lines = verbose_headers(stderr)
    starts = [i for i, line in enumerate(lines) if line.startswith("HTTP/")]
    assert starts, "no response in curl output:\n" + stderr
    block = lines[starts[-1]:]
    status = int(block[0].split()[1])
    headers = {}
    for line in block[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            k, v = k.strip().lower(), v.strip()
            headers[k] = headers[k] + ", " + v if k in headers else v
    return status, headers


def curl(*args, timeout=120):
    res = subprocess.run(["curl", *args], capture_output=True, timeout=timeout)
    res.out = res.stdout.decode(errors="replace")
    res.err = res.stderr.decode(errors="replace")
    return res


def curl_download(d, user, uuid, out, byte_range=None, extra=()):
    """pycloudsigma's do_download: `curl -L -u user:pass -o out -w '%{http_code}' -r 0-N -v
    <api>/drives/<uuid>/download/`. Returns (http_code, headers of the final response)."""
    url = "%s/drives/%s/download/" % (d.api_endpoint.rstrip("/"), uuid)
    args = ["-L", "-u", "%s:%s" % (user.email, user.password), "-o", out, "-w", "%{http_code}"]
    if byte_range is not None:
        args += ["-r", byte_range]
    res = curl(*args, *extra, "-v", url)
    assert res.returncode == 0, "curl download failed (%d): %s" % (res.returncode, res.err)
    code = int(res.out.strip())
    status, headers = response_headers(res.err)
    assert status == code
    return code, headers


def curl_stream_digest(d, user, uuid, prefix_len):
    """Download a whole drive through curl, streamed: (http_code, headers, total bytes, sha256 of
    the first prefix_len bytes, whether every byte after them is zero). Nothing is kept."""
    import hashlib
    import tempfile
    url = "%s/drives/%s/download/" % (d.api_endpoint.rstrip("/"), uuid)
    h = hashlib.sha256()
    total = 0
    zeros = True
    zero_block = bytes(MiB)
    with tempfile.TemporaryFile() as err:
        p = subprocess.Popen(["curl", "-sS", "-L", "-u", "%s:%s" % (user.email, user.password),
                              "-v", "-o", "-", url], stdout=subprocess.PIPE, stderr=err)
        try:
            for block in iter(lambda: p.stdout.read(MiB), b""):
                head = max(0, min(len(block), prefix_len - total))
                h.update(block[:head])
                rest = block[head:]
                if rest and zeros and rest != zero_block[:len(rest)]:
                    zeros = False
                total += len(block)
        finally:
            rc = p.wait(timeout=120)
        err.seek(0)
        stderr = err.read().decode(errors="replace")
    assert rc == 0, "curl download failed (%d): %s" % (rc, stderr[-2000:])
    status, headers = response_headers(stderr)
    return status, headers, total, h.hexdigest(), zeros


def storage_stats(d):
    """GET /_drivesd/storage with the admin credentials: logical_bytes, stored_bytes,
    shared_bytes, pieces, images (the whole instance, every user)."""
    import base64
    import json
    import urllib.request
    req = urllib.request.Request(d.base + "/_drivesd/storage")
    req.add_header("Authorization", "Basic " + base64.b64encode(
        ("%s:%s" % ADMIN).encode()).decode())
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 200
        return json.loads(resp.read())


# ---------------------------------------------------------------------------------------------
# The admin API's transition control (PUT /_drivesd/transitions/<operation>, POST
# /_drivesd/advance), to hold a drive or a snapshot in a transient status on the main instance.


def admin_request(d, method, path, body=None):
    """A JSON request to /_drivesd/<path> with the admin credentials; the decoded answer."""
    import base64
    import json
    import urllib.request
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(d.base + "/_drivesd/" + path, data=data, method=method)
    req.add_header("Authorization", "Basic " + base64.b64encode(
        ("%s:%s" % ADMIN).encode()).decode())
    if data is not None:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 200, (method, path, resp.status)
        return json.loads(resp.read())


def advance(d, **which):
    """POST /_drivesd/advance: release held transitions (all, or {operation} / {uuid} only).
    Returns how many were released."""
    return admin_request(d, "POST", "advance", which or {})["released"]


class held_transitions:
    """`with held_transitions(d, "create"):` puts the operation in manual mode, so what it
    starts stays in its transient status until advance(d, ...). On the way out the mode goes
    back to `configured` and whatever is still held is released, so a failing test leaves the
    shared instance as it found it."""

    def __init__(self, d, operation):
        self.d = d
        self.operation = operation

    def __enter__(self):
        mode = admin_request(self.d, "PUT", "transitions/" + self.operation, {"mode": "manual"})
        assert mode == {"mode": "manual"}, mode
        return self

    def __exit__(self, *exc):
        admin_request(self.d, "PUT", "transitions/" + self.operation, {"mode": "configured"})
        advance(self.d, operation=self.operation)
        return False
