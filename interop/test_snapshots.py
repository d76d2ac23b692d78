"""pycloudsigma's `Snapshot` resource (PyPI `cloudsigma` 2.0.0, unmodified) against drivesd's
snapshots: the contract of shared/spec/snapshots-bytes-events-auth.md §1 (S1–S14).

What the client sends (§1.7): `list()` GET /snapshots/?limit=0, `list_detail(q)` GET
/snapshots/detail/?limit=0&…, `get`, `create(d)` POST {"objects": [d]}, `update(uuid, d)` PUT of
the bare `d`, `delete`, `clone(uuid, data, avoid)` POST /snapshots/<uuid>/action/?do=clone with
`data or {}`. Only 200, 201 and 202 are success for it; a 403 raises PermissionError, any other
4xx ClientError.

Snapshots are awaited the way pycloudsigma's samples/snapshot.py does it, `get` until `status`
is `available` (here every 50 ms, with a timeout the sample does not have); the suite runs at
time scale 0, so that is the worker's next tick. Snapshots held in `creating` and drives held in
`creating` come from the admin API's manual transition mode (helpers.held_transitions).

`samples/snapshot_purge.py` is reproduced as a test: list, parse `timestamp`, compare
`s['drive']['uuid']`, delete.

The status codes pycloudsigma hides (201, 202, 204) and whether an answer was wrapped in
`objects` are read from the client's own last response, `Snapshot().c.resp`.
"""
import hashlib
import json
import os
import random
import re
from datetime import datetime, timedelta, timezone

import pytest
import requests

import cloudsigma.resource as cr
from cloudsigma import errors

from conftest import UUID_RE
from helpers import (MIN_DISK, GiB, MiB, advance, curl_download, drive_uri, held_transitions,
                     sha256_file, storage_stats, wait_for_status, write_random_file)

try:
    import iso8601  # what samples/snapshot_purge.py parses timestamps with
except ImportError:  # pragma: no cover - installed with the clients
    iso8601 = None

# The twelve keys of a snapshot (§1.3, dumps snapshot_create, snapshot_edit).
SNAP_KEYS = {"allocated_size", "drive", "grantees", "meta", "name", "owner", "permissions",
             "resource_uri", "status", "tags", "timestamp", "uuid"}
# `YYYY-MM-DD HH:MM:SS.ffffff+00:00`, with the space (S12).
TIMESTAMP_RE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}\+00:00$")
DRIVE_DEF_SIZE = 1024000000  # pycloudsigma's test_snapshots.py drive


def snap_uri(uuid):
    return "/api/2.0/snapshots/%s/" % uuid


def ref(collection, uuid):
    return {"uuid": uuid, "resource_uri": "/api/2.0/%s/%s/" % (collection, uuid)}


def wait_available(sc, uuid, timeout=30):
    """samples/snapshot.py: `get` until the status is `available`."""
    snap, seen = wait_for_status(sc.get, uuid, "available", {"creating"}, timeout)
    return snap


def wait_drive(dc, uuid, status="unmounted", pending=("creating",), timeout=30):
    return wait_for_status(dc.get, uuid, status, set(pending), timeout)[0]


def created_drive(dc, name, size=DRIVE_DEF_SIZE, media="disk"):
    drive = dc.create({"name": name, "size": size, "media": media})
    assert drive["status"] == "creating"
    return wait_drive(dc, drive["uuid"])


def default_name(drive_uuid, timestamp):
    """`<drive uuid>__<YYYY-MM-DD>__<HH_MM_SS>` of the creation time (dump
    snapshot_create_another)."""
    return "%s__%s__%s" % (drive_uuid, timestamp[:10], timestamp[11:19].replace(":", "_"))


def parse_timestamp(text):
    """The sample's iso8601.parse_date, and the standard library's reading of the same text."""
    ours = datetime.fromisoformat(text)
    if iso8601 is not None:
        theirs = iso8601.parse_date(text)
        assert theirs == ours, (text, theirs, ours)
    assert ours.utcoffset() == timedelta(0), text
    return ours


def assert_snapshot_404(sc, uuid):
    """A GET of a snapshot that is gone: the client's ClientError, 404 `notexist`."""
    with pytest.raises(errors.ClientError) as exc:
        sc.get(uuid)
    assert exc.value.status_code == 404
    assert not isinstance(exc.value, (errors.PermissionError, errors.AuthError))
    body = error_body(exc)
    assert body["error_type"] == "notexist"
    assert uuid in body["error_message"]


def error_body(exc):
    body = json.loads(exc.value.message)
    assert isinstance(body, list) and body, body
    assert set(body[0]) == {"error_type", "error_message", "error_point"}
    return body[0]


def assert_snapshot_shape(snap, user, drive_uuid):
    assert SNAP_KEYS <= set(snap), SNAP_KEYS - set(snap)
    assert UUID_RE.match(snap["uuid"])
    assert snap["resource_uri"] == snap_uri(snap["uuid"])
    assert snap["drive"] == ref("drives", drive_uuid)  # always an object (§1.3)
    assert snap["owner"] == ref("user", user.uuid)
    assert snap["grantees"] == [] and snap["permissions"] == []
    assert TIMESTAMP_RE.match(snap["timestamp"]), snap["timestamp"]
    assert isinstance(snap["meta"], dict) and isinstance(snap["tags"], list)


@pytest.fixture
def sc(cs):
    """cr.Snapshot() for user 1, configured by the $CLOUDSIGMA_CONFIG file."""
    return cs.Snapshot()


@pytest.fixture
def dc(cs):
    return cs.Drive()


# ---------------------------------------------------------------------------------------------
# the rotation: create, wait, list, rename, clone, delete, delete the drive


class TestRotation:
    def test_full_rotation(self, cs, sc, dc, user1, name):
        """pycloudsigma's test_snapshot_cycle, test_snapshot_listing and test_snapshot_clone in
        one rotation, with the order, the clone size after a resize and the cascade checked."""
        drives = [created_drive(dc, "%s_%d" % (name, i)) for i in range(2)]
        assert all(d["snapshots"] == [] for d in drives)
        t0 = datetime.now(timezone.utc)

        snaps = {}  # drive uuid -> [first, second] as create answered them
        for d in drives:
            first = sc.create({"drive": d["uuid"], "name": name + "_first",
                               "meta": {"key": "val"}})
            assert sc.c.resp.status_code == 201
            assert list(sc.c.resp.json()) == ["objects"]  # the client unwrapped one object
            second = sc.create({"drive": d["uuid"]})
            snaps[d["uuid"]] = [first, second]
            for s in (first, second):
                assert_snapshot_shape(s, user1, d["uuid"])
                assert s["status"] == "creating"
                assert s["allocated_size"] is None
                assert s["tags"] == []
            assert first["name"] == name + "_first" and first["meta"] == {"key": "val"}
            assert second["meta"] == {}
            assert second["name"] == default_name(d["uuid"], second["timestamp"]), second
            # drive['snapshots'] lists them at once, creating or not (§1.4)
            assert {s["uuid"] for s in dc.get(d["uuid"])["snapshots"]} == \
                {first["uuid"], second["uuid"]}

        for d in drives:
            for s in snaps[d["uuid"]]:
                got = wait_available(sc, s["uuid"])
                assert got["allocated_size"] == 0  # S10
                assert got["timestamp"] == s["timestamp"]  # it never changes
                assert got["name"] == s["name"] and got["drive"] == s["drive"]
                ts = parse_timestamp(got["timestamp"])
                assert t0 - timedelta(seconds=5) <= ts <= datetime.now(timezone.utc) + \
                    timedelta(seconds=5)

        # list_detail(drive=): exactly that drive's snapshots, newest first (S11); the drive's
        # own list is the same, in the same order
        for d in drives:
            first, second = snaps[d["uuid"]]
            listed = sc.list_detail(query_params={"drive": d["uuid"]})
            assert [s["uuid"] for s in listed] == [second["uuid"], first["uuid"]]
            assert parse_timestamp(listed[0]["timestamp"]) > \
                parse_timestamp(listed[1]["timestamp"])
            for s in listed:
                assert_snapshot_shape(s, user1, d["uuid"])
                assert s["status"] == "available"
            assert dc.get(d["uuid"])["snapshots"] == [ref("snapshots", s["uuid"]) for s in listed]
        # list() answers full objects too (dump snapshot_list); every one of ours is there
        everything = sc.list()
        mine = {s["uuid"]: s for s in everything
                if s["drive"]["uuid"] in {d["uuid"] for d in drives}}
        assert set(mine) == {s["uuid"] for pair in snaps.values() for s in pair}
        for s in mine.values():
            assert SNAP_KEYS <= set(s)
        assert len(sc.list_detail()) >= 4

        drive = drives[0]
        first, second = snaps[drive["uuid"]]

        # rename: PUT the whole create answer back (§1.5: status `creating`, allocated_size null,
        # timestamp, owner, resource_uri and `drive` as an object included)
        second["name"] = name + "_renamed"
        renamed = sc.update(second["uuid"], second)
        assert sc.c.resp.status_code == 200
        assert renamed["uuid"] == second["uuid"] and renamed["name"] == name + "_renamed"
        assert renamed["status"] == "available" and renamed["allocated_size"] == 0
        assert renamed["timestamp"] == second["timestamp"]
        assert renamed["drive"] == ref("drives", drive["uuid"])
        assert sc.get(second["uuid"])["name"] == name + "_renamed"
        # meta is replaced as a whole (dump snapshot_edit)
        edited = sc.update(first["uuid"], dict(first, name=name + "_first_renamed",
                                               meta={"key": "val_changed",
                                                     "new_key": "new_key_value"}))
        assert edited["meta"] == {"key": "val_changed", "new_key": "new_key_value"}
        assert edited["name"] == name + "_first_renamed"
        assert sc.get(first["uuid"])["meta"] == edited["meta"]

        # the drive grows after the snapshots were taken
        resizing = dc.resize(drive["uuid"], dict(dc.get(drive["uuid"]), size=2 * GiB))
        assert resizing["status"] == "resizing"
        assert wait_drive(dc, drive["uuid"], pending=("resizing",))["size"] == 2 * GiB

        # clone without a body: a bare drive, 202, named as the snapshot, at its size
        clone1 = sc.clone(second["uuid"])
        assert sc.c.resp.status_code == 202
        raw = sc.c.resp.json()
        assert "objects" not in raw and raw["uuid"] == clone1["uuid"]  # S1: bare
        assert clone1["status"] == "cloning_dst"
        assert clone1["uuid"] not in {drive["uuid"], second["uuid"]}
        assert clone1["resource_uri"] == drive_uri(clone1["uuid"])  # a string (S1)
        assert clone1["name"] == name + "_renamed"
        assert clone1["size"] == DRIVE_DEF_SIZE  # the size when the snapshot was taken
        assert clone1["media"] == "disk" and clone1["storage_type"] == drive["storage_type"]
        assert clone1["owner"] == ref("user", user1.uuid)
        assert clone1["snapshots"] == [] and clone1["tags"] == []
        assert len(clone1["jobs"]) == 1
        job = cs.Jobs().get(clone1["jobs"][0]["uuid"])
        assert job["operation"] == "drive_clone"
        # the source drive is not busy (S2)
        assert dc.get(drive["uuid"])["status"] == "unmounted"

        # clone with a body (and PT's avoid=drive uuid)
        clone2 = sc.clone(second["uuid"], {"name": "x"})
        assert clone2["status"] == "cloning_dst" and clone2["name"] == "x"
        assert clone2["size"] == DRIVE_DEF_SIZE
        clone3 = sc.clone(first["uuid"], data={"media": "cdrom", "name": name + "_cd"},
                          avoid=drive["uuid"])
        assert clone3["media"] == "cdrom" and clone3["name"] == name + "_cd"
        assert clone3["size"] == DRIVE_DEF_SIZE
        clones = [clone1, clone2, clone3]
        for c in clones:
            done = wait_drive(dc, c["uuid"], pending=("cloning_dst",))
            assert done["size"] == DRIVE_DEF_SIZE
        assert dc.get(drive["uuid"])["size"] == 2 * GiB
        # cloning leaves the snapshots as they were
        assert [s["uuid"] for s in sc.list_detail(query_params={"drive": drive["uuid"]})] == \
            [second["uuid"], first["uuid"]]
        assert sc.get(second["uuid"])["status"] == "available"

        # delete one snapshot: 204, None, then 404; the drive lists the other
        assert sc.delete(first["uuid"]) is None
        assert sc.c.resp.status_code == 204
        assert_snapshot_404(sc, first["uuid"])
        assert dc.get(drive["uuid"])["snapshots"] == [ref("snapshots", second["uuid"])]
        assert [s["uuid"] for s in sc.list_detail(query_params={"drive": drive["uuid"]})] == \
            [second["uuid"]]

        # delete the drives with snapshots left: they go too (§1.4); ?drive= is an empty list
        for d in drives:
            assert dc.delete(d["uuid"]) is None
        for d in drives:
            with pytest.raises(errors.ClientError) as exc:
                dc.get(d["uuid"])
            assert exc.value.status_code == 404
            for s in snaps[d["uuid"]]:
                assert_snapshot_404(sc, s["uuid"])
            assert sc.list_detail(query_params={"drive": d["uuid"]}) == []
            assert sc.list(query_params={"drive": d["uuid"]}) == []
        gone = {s["uuid"] for pair in snaps.values() for s in pair}
        assert not gone & {s["uuid"] for s in sc.list_detail()}

        # the clones of the snapshots are drives of their own: still there
        for c in clones:
            assert dc.get(c["uuid"])["status"] == "unmounted"
            dc.delete(c["uuid"])

    def test_filters_order_and_schema(self, sc, dc, name):
        """The filters the schema names (name, name__contains, uuid, tag) and `drive`, order_by
        on name, timestamp and uuid, the schema itself."""
        drive = created_drive(dc, name)
        made = [sc.create({"drive": drive["uuid"], "name": "%s_%s" % (name, n)})
                for n in ("b", "a", "c")]
        for s in made:
            wait_available(sc, s["uuid"])
        uuids = [s["uuid"] for s in made]
        q = {"drive": drive["uuid"]}

        assert [s["uuid"] for s in sc.list_detail(q)] == uuids[::-1]  # newest first
        by = lambda order: [s["uuid"] for s in sc.list_detail(dict(q, order_by=order))]
        assert by("name") == [uuids[1], uuids[0], uuids[2]]
        assert by("-name") == [uuids[2], uuids[0], uuids[1]]
        assert by("timestamp") == uuids
        assert by("-timestamp") == uuids[::-1]
        assert by("uuid") == sorted(uuids)
        assert by("-uuid") == sorted(uuids, reverse=True)
        with pytest.raises(errors.ClientError) as exc:
            sc.list_detail(dict(q, order_by="size"))
        assert exc.value.status_code == 400
        assert error_body(exc)["error_type"] == "validation"

        assert [s["uuid"] for s in sc.list_detail({"name": name + "_a"})] == [uuids[1]]
        assert [s["uuid"] for s in sc.list({"name": "%s_a,%s_c" % (name, name),
                                            "order_by": "name"})] == [uuids[1], uuids[2]]
        assert {s["uuid"] for s in sc.list_detail({"name__contains": name})} == set(uuids)
        assert [s["uuid"] for s in sc.list_detail({"uuid": uuids[2]})] == [uuids[2]]
        page = sc.list_detail(dict(q, limit=2))
        assert len(page) == 2

        schema = sc.get_schema()
        assert schema["default_limit"] == 20
        assert set(schema["fields"]) == SNAP_KEYS
        assert schema["fields"]["drive"]["required"] is True
        assert schema["fields"]["timestamp"]["readonly"] is True
        assert schema["allowed_list_http_methods"] == ["get", "put", "delete", "post"]
        assert schema["allowed_detail_http_methods"] == ["get", "put", "delete"]
        assert {"name", "name__contains", "tag", "uuid"} <= set(schema["filtering"])
        assert "ordering" not in schema  # unlike the drive schema (§1.2)

        dc.delete(drive["uuid"])
        assert sc.list_detail(q) == []

    def test_bulk_update_and_delete(self, drivesd, sc, dc, user1, name):
        """S13: PUT and DELETE /snapshots/ with {"objects": [...]}. pycloudsigma's Snapshot has
        no bulk method: the PUT goes through its GenericClient (`Snapshot().c.put`), the DELETE
        (GenericClient.delete sends no body) through requests with the same credentials."""
        drive = created_drive(dc, name)
        made = [wait_available(sc, sc.create({"drive": drive["uuid"]})["uuid"])
                for _ in range(3)]
        updated = sc.c.put("/snapshots/", {"objects": [
            {"uuid": made[0]["uuid"], "name": name + "_0", "meta": {"n": "0"}},
            {"uuid": made[1]["uuid"], "name": name + "_1"},
        ]}, return_list=True)
        assert sc.c.resp.status_code == 200
        assert [(s["uuid"], s["name"]) for s in updated] == \
            [(made[0]["uuid"], name + "_0"), (made[1]["uuid"], name + "_1")]
        assert sc.get(made[0]["uuid"])["meta"] == {"n": "0"}
        assert sc.get(made[1]["uuid"])["meta"] == {}
        assert sc.get(made[2]["uuid"])["name"] == made[2]["name"]

        resp = requests.delete(
            drivesd.api_endpoint + "snapshots/",
            data=json.dumps({"objects": [{"uuid": made[0]["uuid"]},
                                         {"uuid": made[2]["uuid"]}]}),
            headers={"Content-Type": "application/json"},
            auth=(user1.email, user1.password), timeout=30)
        assert resp.status_code == 204, resp.text
        assert_snapshot_404(sc, made[0]["uuid"])
        assert_snapshot_404(sc, made[2]["uuid"])
        assert [s["uuid"] for s in sc.list_detail({"drive": drive["uuid"]})] == \
            [made[1]["uuid"]]
        dc.delete(drive["uuid"])


# ---------------------------------------------------------------------------------------------
# samples/snapshot_purge.py


class TestPurgeSample:
    KEEP = 2

    def test_keep_newest_per_drive(self, sc, dc, name):
        """The sample's pattern: `Snapshot().list()`, parse each `timestamp`, group by
        `s['drive']['uuid']`, delete all but the newest KEEP of each drive."""
        drives = [created_drive(dc, "%s_%d" % (name, i)) for i in range(3)]
        counts = {drives[0]["uuid"]: 4, drives[1]["uuid"]: 3, drives[2]["uuid"]: 1}
        order = {}  # drive -> uuids in creation order
        for d, n in counts.items():
            order[d] = [sc.create({"drive": d})["uuid"] for _ in range(n)]
        for uuids in order.values():
            for u in uuids:
                wait_available(sc, u)

        # the sample: list, parse, compare the drive's uuid, delete
        by_drive = {}
        for s in sc.list():
            if s["drive"]["uuid"] in counts:
                by_drive.setdefault(s["drive"]["uuid"], []).append(
                    (parse_timestamp(s["timestamp"]), s))
        assert {d: len(v) for d, v in by_drive.items()} == counts
        deleted = set()
        for d, items in by_drive.items():
            items.sort(key=lambda item: item[0], reverse=True)
            for _, s in items[self.KEEP:]:
                assert sc.delete(s["uuid"]) is None
                deleted.add(s["uuid"])

        # what remains: the newest KEEP of each drive, newest first, on both sides
        for d, uuids in order.items():
            kept = uuids[::-1][:self.KEEP]
            assert [s["uuid"] for s in sc.list_detail({"drive": d})] == kept
            assert [s["uuid"] for s in dc.get(d)["snapshots"]] == kept
        assert deleted == set(order[drives[0]["uuid"]][:2] + order[drives[1]["uuid"]][:1])
        for u in deleted:
            assert_snapshot_404(sc, u)

        # the sample's own cut-off: older than the newest snapshot of drive 0 goes
        newest = parse_timestamp(sc.get(order[drives[0]["uuid"]][-1])["timestamp"])
        for s in sc.list():
            if s["drive"]["uuid"] == drives[0]["uuid"] and \
                    parse_timestamp(s["timestamp"]) < newest:
                sc.delete(s["uuid"])
        assert [s["uuid"] for s in sc.list_detail({"drive": drives[0]["uuid"]})] == \
            [order[drives[0]["uuid"]][-1]]
        for d in drives:
            dc.delete(d["uuid"])


# ---------------------------------------------------------------------------------------------
# errors as the client raises them


class TestErrors:
    def test_snapshot_of_a_creating_drive_is_403(self, drivesd, sc, dc, name):
        """S3: a drive in `creating` cannot be snapshotted (held with the create transition in
        manual mode)."""
        with held_transitions(drivesd, "create"):
            drive = dc.create({"name": name, "size": DRIVE_DEF_SIZE, "media": "disk"})
            assert dc.get(drive["uuid"])["status"] == "creating"
            with pytest.raises(errors.PermissionError) as exc:
                sc.create({"drive": drive["uuid"], "name": name})
            assert exc.value.status_code == 403
            assert error_body(exc)["error_type"] == "permission"
            assert dc.get(drive["uuid"])["snapshots"] == []
            assert advance(drivesd, uuid=drive["uuid"]) == 1
        wait_drive(dc, drive["uuid"])
        snap = sc.create({"drive": drive["uuid"], "name": name})
        wait_available(sc, snap["uuid"])
        dc.delete(drive["uuid"])
        assert_snapshot_404(sc, snap["uuid"])

    def test_creating_snapshot_refuses_delete_and_clone(self, drivesd, sc, dc, name):
        """S7, S8: DELETE and clone of a `creating` snapshot are 403 (PermissionError); once
        released it becomes `available` and both work."""
        drive = created_drive(dc, name)
        with held_transitions(drivesd, "snapshot"):
            snap = sc.create({"drive": drive["uuid"], "name": name})
            assert sc.get(snap["uuid"])["status"] == "creating"
            for what, call in {"delete": lambda: sc.delete(snap["uuid"]),
                               "clone": lambda: sc.clone(snap["uuid"]),
                               "clone with body": lambda: sc.clone(snap["uuid"],
                                                                   {"name": name + "_c"})
                               }.items():
                with pytest.raises(errors.PermissionError) as exc:
                    call()
                assert exc.value.status_code == 403, what
                assert error_body(exc)["error_type"] == "permission", what
            # still there, still creating; a rename is allowed in any status (S6)
            got = sc.get(snap["uuid"])
            assert got["status"] == "creating" and got["allocated_size"] is None
            assert sc.update(snap["uuid"], dict(got, name=name + "_r"))["name"] == name + "_r"
            assert advance(drivesd, operation="snapshot") == 1
            got = wait_available(sc, snap["uuid"])
            assert got["allocated_size"] == 0

        clone = sc.clone(snap["uuid"])
        assert clone["name"] == name + "_r"
        wait_drive(dc, clone["uuid"], pending=("cloning_dst",))
        assert sc.delete(snap["uuid"]) is None
        assert_snapshot_404(sc, snap["uuid"])
        assert dc.get(drive["uuid"])["snapshots"] == []
        for d in (drive, clone):
            dc.delete(d["uuid"])

    def test_admin_advance_releases_one_snapshot_by_uuid(self, drivesd, sc, dc, name):
        """The suite's own tool: `POST /_drivesd/advance {"uuid": <snapshot>}` releases that
        snapshot's held transition and no other, as it does for a drive's."""
        drive = created_drive(dc, name)
        with held_transitions(drivesd, "snapshot"):
            one = sc.create({"drive": drive["uuid"]})
            two = sc.create({"drive": drive["uuid"]})
            assert advance(drivesd, uuid=one["uuid"]) == 1
            wait_available(sc, one["uuid"])
            assert sc.get(two["uuid"])["status"] == "creating"
            assert advance(drivesd, uuid=two["uuid"]) == 1
            wait_available(sc, two["uuid"])
        dc.delete(drive["uuid"])

    def test_drive_delete_takes_a_creating_snapshot(self, drivesd, sc, dc, name):
        """S7: the cascade removes snapshots in any status, and the drive delete does not fail."""
        drive = created_drive(dc, name)
        with held_transitions(drivesd, "snapshot"):
            snap = sc.create({"drive": drive["uuid"]})
            assert sc.get(snap["uuid"])["status"] == "creating"
            assert dc.delete(drive["uuid"]) is None
            assert_snapshot_404(sc, snap["uuid"])
            assert sc.list_detail({"drive": drive["uuid"]}) == []

    def test_other_users_drive_and_snapshot_are_404(self, sc, dc, cs_as, user2, name):
        drive = created_drive(dc, name)
        snap = wait_available(sc, sc.create({"drive": drive["uuid"]})["uuid"])
        other = cs_as(cr.Snapshot, user2)
        calls = {
            "create on the other's drive": lambda: other.create({"drive": drive["uuid"]}),
            "get": lambda: other.get(snap["uuid"]),
            "update": lambda: other.update(snap["uuid"], {"name": "mine"}),
            "delete": lambda: other.delete(snap["uuid"]),
            "clone": lambda: other.clone(snap["uuid"]),
        }
        for what, call in calls.items():
            with pytest.raises(errors.ClientError) as exc:
                call()
            assert exc.value.status_code == 404, what
            assert error_body(exc)["error_type"] == "notexist", what
        assert snap["uuid"] not in {s["uuid"] for s in other.list_detail()}
        assert other.list_detail({"drive": drive["uuid"]}) == []
        assert sc.get(snap["uuid"])["name"] == snap["name"]  # untouched
        dc.delete(drive["uuid"])

    def test_create_validation(self, sc, dc, name):
        """S5: no drive → 400 `validation` on `drive`; an unknown drive → 404 `notexist`."""
        with pytest.raises(errors.ClientError) as exc:
            sc.create({"name": name})
        assert exc.value.status_code == 400
        body = error_body(exc)
        assert body["error_type"] == "validation" and body["error_point"] == "drive"
        unknown = "00000000-0000-4000-8000-000000000000"
        with pytest.raises(errors.ClientError) as exc:
            sc.create({"drive": unknown, "name": name})
        assert exc.value.status_code == 404
        assert error_body(exc)["error_type"] == "notexist"
        with pytest.raises(errors.ClientError) as exc:
            sc.clone(unknown)
        assert exc.value.status_code == 404


# ---------------------------------------------------------------------------------------------
# bytes: a snapshot of an uploaded drive, cloned, reads the uploaded bytes


class TestSnapshotBytes:
    def test_clone_of_snapshot_reads_uploaded_bytes(self, drivesd, user1, sc, dc, tmp_path,
                                                    name):
        """§2.1: a snapshot freezes the drive's bytes and shares them. Upload a few MiB
        (`POST /drives/upload/`, raw bytes → the uuid as text), snapshot, clone the snapshot,
        download the clone's first n bytes: same sha256. The data directory stores nothing
        more for the snapshot or the clone (`/_drivesd/storage` stored_bytes)."""
        size = 3 * MiB + random.randrange(1, 1024)
        path = str(tmp_path / "snapshot_upload")
        digest = write_random_file(path, size)
        s0 = storage_stats(drivesd)

        with open(path, "rb") as f:
            resp = requests.post(drivesd.api_endpoint + "drives/upload/", data=f,
                                 auth=(user1.email, user1.password),
                                 headers={"Content-Type": "application/octet-stream"},
                                 timeout=120)
        assert resp.status_code == 200, resp.text
        src = resp.text.strip()
        assert UUID_RE.match(src), resp.text
        drive = dc.get(src)
        assert drive["status"] == "unmounted" and drive["size"] == MIN_DISK
        s1 = storage_stats(drivesd)
        assert s1["stored_bytes"] - s0["stored_bytes"] >= size

        snap = sc.create({"drive": src, "name": name})
        snap = wait_available(sc, snap["uuid"])
        assert snap["allocated_size"] == 0
        s2 = storage_stats(drivesd)
        assert s2["stored_bytes"] == s1["stored_bytes"], (s1, s2)

        clone = sc.clone(snap["uuid"])
        assert clone["status"] == "cloning_dst"
        assert clone["size"] == MIN_DISK and clone["name"] == name
        clone = wait_drive(dc, clone["uuid"], pending=("cloning_dst",))
        s3 = storage_stats(drivesd)
        assert s3["stored_bytes"] == s1["stored_bytes"], (s1, s3)

        def clone_digest():
            out = str(tmp_path / ("download-%s" % clone["uuid"]))
            code, headers = curl_download(drivesd, user1, clone["uuid"], out,
                                          "0-%d" % (size - 1))
            assert code == 206, (code, headers)
            assert headers["content-range"] == "bytes 0-%d/%d" % (size - 1, MIN_DISK)
            assert os.path.getsize(out) == size
            got = sha256_file(out)
            os.remove(out)
            return got

        assert clone_digest() == digest
        # past the uploaded bytes: zeros, as on the drive
        out = str(tmp_path / "tail")
        code, _ = curl_download(drivesd, user1, clone["uuid"], out,
                                "%d-%d" % (size, size + 4095))
        with open(out, "rb") as f:
            assert code == 206 and f.read() == bytes(4096)

        # the drive (and with it the snapshot) goes: the clone keeps its bytes
        dc.delete(src)
        assert_snapshot_404(sc, snap["uuid"])
        assert clone_digest() == digest
        dc.delete(clone["uuid"])
        s4 = storage_stats(drivesd)
        for key in ("stored_bytes", "shared_bytes", "logical_bytes"):
            assert s4[key] == s0[key], (key, s0, s4)


# ---------------------------------------------------------------------------------------------
# capabilities


class TestCapabilities:
    def test_snapshots_current_follows_creates_and_deletes(self, cs, cs_as, user2, sc, dc,
                                                           name):
        """§1.4: capabilities.snapshots = {current, max 700, max_per_drive 90}; `current`
        counts the caller's snapshots."""
        caps = cs.Capabilites()
        other = cs_as(cr.Capabilites, user2)

        def current():
            snaps = caps.list()["snapshots"]
            assert snaps["max"] == 700 and snaps["max_per_drive"] == 90
            return snaps["current"]

        base, other_base = current(), other.list()["snapshots"]["current"]
        assert base == len(sc.list())
        drive = created_drive(dc, name)
        a = sc.create({"drive": drive["uuid"]})
        assert current() == base + 1  # counted while creating
        b = sc.create({"drive": drive["uuid"]})
        c = sc.create({"drive": drive["uuid"]})
        assert current() == base + 3
        for s in (a, b, c):
            wait_available(sc, s["uuid"])
        assert current() == base + 3
        assert other.list()["snapshots"]["current"] == other_base
        sc.delete(a["uuid"])
        assert current() == base + 2
        dc.delete(drive["uuid"])  # takes b and c with it
        assert current() == base
        assert current() == len(sc.list())


# ---------------------------------------------------------------------------------------------
# tags


class TestTags:
    def test_tags_on_snapshots_both_ways(self, cs, sc, dc, name):
        """S14: a tag's `resources` may name a snapshot (res_type `snapshots`), the snapshot's
        `tags` lists the tag; a snapshot PUT with `tags` changes the tag's resources."""
        tc = cs.Tags()
        drive = created_drive(dc, name)
        snap = sc.create({"drive": drive["uuid"], "name": name})

        tag1 = tc.create({"name": name + "_t1", "resources": [snap["uuid"]]})
        res = tag1["resources"]
        assert [r["uuid"] for r in res] == [snap["uuid"]]
        assert res[0]["res_type"] == "snapshots"
        assert res[0]["resource_uri"] == snap_uri(snap["uuid"])
        snap = wait_available(sc, snap["uuid"])
        assert snap["tags"] == [ref("tags", tag1["uuid"])]
        assert [s["uuid"] for s in sc.list_detail({"tag": tag1["uuid"]})] == [snap["uuid"]]
        assert tc.get(tag1["uuid"])["resources"][0]["res_type"] == "snapshots"

        # the other side: a snapshot created with a tag, and a PUT with tags as uuid strings
        tag2 = tc.create({"name": name + "_t2"})
        assert tag2["resources"] == []
        tagged = sc.create({"drive": drive["uuid"], "tags": [tag2["uuid"]]})
        assert tagged["tags"] == [ref("tags", tag2["uuid"])]
        assert [(r["uuid"], r["res_type"]) for r in tc.get(tag2["uuid"])["resources"]] == \
            [(tagged["uuid"], "snapshots")]
        updated = sc.update(snap["uuid"], dict(snap, tags=[tag1["uuid"], tag2["uuid"]]))
        assert {t["uuid"] for t in updated["tags"]} == {tag1["uuid"], tag2["uuid"]}
        assert {r["uuid"] for r in tc.get(tag2["uuid"])["resources"]} == \
            {snap["uuid"], tagged["uuid"]}
        # tags: [] clears them (§1.5)
        assert sc.update(snap["uuid"], {"tags": []})["tags"] == []
        assert tc.get(tag1["uuid"])["resources"] == []
        assert sc.list_detail({"tag": tag1["uuid"]}) == []

        # a tag on a drive and on a snapshot at once: each with its own res_type
        tc.update(tag1["uuid"], {"name": name + "_t1",
                                 "resources": [drive["uuid"], snap["uuid"]]})
        kinds = {r["uuid"]: r["res_type"] for r in tc.get(tag1["uuid"])["resources"]}
        assert kinds == {drive["uuid"]: "drives", snap["uuid"]: "snapshots"}
        assert [t["uuid"] for t in sc.get(snap["uuid"])["tags"]] == [tag1["uuid"]]
        assert [t["uuid"] for t in dc.get(drive["uuid"])["tags"]] == [tag1["uuid"]]

        # deleting the tag clears the snapshot's tags; deleting a snapshot clears the tag's
        tc.delete(tag1["uuid"])
        assert sc.get(snap["uuid"])["tags"] == []
        wait_available(sc, tagged["uuid"])
        sc.delete(tagged["uuid"])
        assert tc.get(tag2["uuid"])["resources"] == []
        dc.delete(drive["uuid"])
        tc.delete(tag2["uuid"])
