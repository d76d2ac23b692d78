"""Waiting the way the clients wait, plus small shared constants."""
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
