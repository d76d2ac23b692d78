"""pycloudsigma (PyPI `cloudsigma` 2.0.0) against a live drivesd.

Every call goes through the library's public API (cloudsigma.resource, cloudsigma.bulk) and every
assertion is on what the library returns or raises. Statuses are awaited the way the library's
own acceptance tests do it: GET the drive until it has the wanted status (here every 50 ms).
"""
import json
import types
import time

import pytest

import cloudsigma.bulk
import cloudsigma.resource as cr
from cloudsigma import errors
from cloudsigma.bulk import DrivesBulk
from cloudsigma.resource import ResourceBase

from helpers import FULL_KEYS, GiB, MiB, SHORT_KEYS, drive_uri, wait_for_status, wait_until


def wait_status(client, uuid, status, pending, timeout=30):
    obj, _ = wait_for_status(client.get, uuid, status, pending, timeout)
    return obj


def created(client, name, size=GiB, media="disk", **extra):
    """Create one drive and wait until it is unmounted (PT's create + _wait_for_status)."""
    d = dict(name=name, size=size, media=media, **extra)
    drive = client.create(d)
    assert drive["status"] == "creating"
    return wait_status(client, drive["uuid"], "unmounted", {"creating"})


def assert_deleted(client, uuid):
    """PT's _wait_deleted: a GET must raise ClientError with status_code 404."""
    with pytest.raises(errors.ClientError) as exc:
        client.get(uuid)
    assert exc.value.status_code == 404
    assert not isinstance(exc.value, (errors.PermissionError, errors.AuthError))
    body = json.loads(exc.value.message)
    assert body[0]["error_type"] == "notexist"


def error_body(exc):
    body = json.loads(exc.value.message)
    assert isinstance(body, list) and body, body
    assert set(body[0]) == {"error_type", "error_message", "error_point"}
    return body[0]


@pytest.fixture
def dc(cs):
    """cr.Drive() for user 1, configured by the $CLOUDSIGMA_CONFIG file."""
    return cs.Drive()


# ---------------------------------------------------------------------------------------------
# create, get, list


class TestCreateAndList:
    def test_drive_cycle(self, dc, user1, name):
        """PT test_drive_cycle: create, wait, get, update meta through the full GET body, delete."""
        drive = dc.create({"name": name, "size": 1024000000, "media": "disk"})
        assert isinstance(drive, dict)  # {"objects":[x]} unwrapped by the client
        assert drive["status"] == "creating"
        assert drive["name"] == name
        assert drive["size"] == 1024000000 and isinstance(drive["size"], int)
        assert drive["media"] == "disk"
        assert FULL_KEYS <= set(drive)
        assert drive["owner"] == {"uuid": user1.uuid,
                                  "resource_uri": "/api/2.0/user/%s/" % user1.uuid}
        assert drive["resource_uri"] == drive_uri(drive["uuid"])
        assert drive["meta"] == {} and drive["tags"] == [] and drive["jobs"] == []
        assert drive["mounted_on"] == [] and drive["licenses"] == []
        assert drive["storage_type"] == "dssd"

        got, seen = wait_for_status(dc.get, drive["uuid"], "unmounted", {"creating"})
        assert seen[-1] == "unmounted"
        assert got["uuid"] == drive["uuid"] and got["size"] == 1024000000
        assert got["runtime"]["storage_type"] == "dssd"

        got["meta"] = {"meta_key1": "value", "meta_key2": "value\nwith\nnew lines"}
        updated = dc.update(got["uuid"], got)  # PUT of the whole GET body, readonly keys included
        assert updated["meta"] == got["meta"]
        assert updated["name"] == name and updated["status"] == "unmounted"
        assert dc.get(got["uuid"])["meta"] == got["meta"]

        assert dc.delete(got["uuid"]) is None  # 204: the client returns None
        assert_deleted(dc, got["uuid"])

    @pytest.mark.parametrize("storage_type", ["dssd", "zadara", "nvme"])
    def test_create_with_storage_type(self, dc, name, storage_type):
        drive = dc.create({"name": name, "size": 2 * GiB, "media": "disk",
                           "storage_type": storage_type})
        assert drive["storage_type"] == storage_type
        drive = wait_status(dc, drive["uuid"], "unmounted", {"creating"})
        assert drive["storage_type"] == storage_type
        assert drive["runtime"]["storage_type"] == storage_type
        dc.delete(drive["uuid"])

    def test_create_bulk_and_listing(self, dc, name):
        """PT test_drive_listing: bulk create of 5 with size as a string, short list,
        fields=uuid,status, detail list; filters."""
        req = [{"name": "%s_%d" % (name, i), "size": "1024000000", "media": "disk"}
               for i in range(5)]
        drives = dc.create(req)
        assert isinstance(drives, list) and len(drives) == 5
        assert [d["name"] for d in drives] == [r["name"] for r in req]  # request order
        for d in drives:
            assert d["status"] == "creating"
            assert d["size"] == 1024000000 and isinstance(d["size"], int)
        for d in drives:
            wait_status(dc, d["uuid"], "unmounted", {"creating"})
        uuids = {d["uuid"] for d in drives}

        short = dc.list()
        assert uuids <= {d["uuid"] for d in short}
        for d in short:
            assert set(d) == SHORT_KEYS

        just = dc.list(query_params={"fields": "uuid,status"})
        assert uuids <= {d["uuid"] for d in just}
        for el in just:
            assert set(el.keys()) == {"uuid", "status"}

        detail = dc.list_detail()
        mine = [d for d in detail if d["uuid"] in uuids]
        assert len(mine) == 5
        for d in mine:
            assert FULL_KEYS <= set(d)
            assert d["status"] == "unmounted"

        # filters the clients send: name__contains, name=a,b (OR), uuid=
        by_prefix = dc.list_detail(query_params={"name__contains": name.upper()})
        assert {d["uuid"] for d in by_prefix} == uuids
        two = dc.list_detail(query_params={"name": "%s_1,%s_3" % (name, name)})
        assert sorted(d["name"] for d in two) == ["%s_1" % name, "%s_3" % name]
        one = dc.list(query_params={"uuid": drives[2]["uuid"]})
        assert [d["uuid"] for d in one] == [drives[2]["uuid"]]
        # a page (PT passes limit=5 to lists); the client returns the objects only
        page = dc.list_detail(query_params={"limit": 2, "name__contains": name})
        assert len(page) == 2

        for d in drives:
            dc.delete(d["uuid"])
        for d in drives:
            assert_deleted(dc, d["uuid"])

    def test_create_objects_envelope_and_single_item_list(self, dc, name):
        """The client passes {"objects": [...]} through and wraps a list; one result comes back
        unwrapped, several as a list."""
        two = dc.create({"objects": [{"name": name + "_a", "size": GiB, "media": "disk"},
                                     {"name": name + "_b", "size": GiB, "media": "cdrom"}]})
        assert [d["name"] for d in two] == [name + "_a", name + "_b"]
        assert [d["media"] for d in two] == ["disk", "cdrom"]
        one = dc.create([{"name": name + "_c", "size": GiB, "media": "disk"}])
        assert isinstance(one, dict) and one["name"] == name + "_c"
        for d in two + [one]:
            wait_status(dc, d["uuid"], "unmounted", {"creating"})
            dc.delete(d["uuid"])

    def test_empty_and_unicode_names(self, dc, name):
        """PT's websocket test creates a drive named ""; names are Unicode."""
        empty = dc.create({"name": "", "size": GiB, "media": "disk"})
        assert empty["name"] == ""
        uni = dc.create({"name": name + "_диск_ü_✓", "size": GiB, "media": "disk"})
        assert uni["name"] == name + "_диск_ü_✓"
        for d in (empty, uni):
            got = wait_status(dc, d["uuid"], "unmounted", {"creating"})
            assert got["name"] == d["name"]
        assert [d["uuid"] for d in dc.list_detail(query_params={"name": uni["name"]})] == \
            [uni["uuid"]]
        for d in (empty, uni):
            dc.delete(d["uuid"])

    def test_filter_on_a_name_with_spaces(self, dc, name):
        drive = dc.create({"name": name + " two words", "size": GiB, "media": "disk"})
        try:
            wait_status(dc, drive["uuid"], "unmounted", {"creating"})
            found = dc.list_detail(query_params={"name": name + " two words"})
            assert [d["uuid"] for d in found] == [drive["uuid"]]
            found = dc.list(query_params={"name__contains": "two words"})
            assert drive["uuid"] in {d["uuid"] for d in found}
        finally:
            dc.delete(drive["uuid"])

    def test_get_schema(self, dc):
        schema = dc.get_schema()
        assert schema["default_limit"] == 20
        assert "size" in schema["fields"] and "storage_type" in schema["fields"]
        assert schema["fields"]["media"]["choices"] == ["cdrom", "disk"]
        assert "name__contains" in schema["filtering"]


# ---------------------------------------------------------------------------------------------
# edit and resize


class TestEditAndResize:
    def test_resize_by_put(self, dc, name):
        """PT test_drive_resize: a PUT of {name, size, media} that grows the size answers
        `resizing` (with the old size); the new size shows once the drive is unmounted again."""
        size0 = 2 * GiB
        drive_def = {"name": name, "size": size0, "media": "disk"}
        drive = dc.create(drive_def)
        wait_status(dc, drive["uuid"], "unmounted", {"creating"})

        new_size = size0 + 3 * GiB
        drive_def["size"] = new_size
        resizing = dc.update(drive["uuid"], drive_def)
        assert resizing["status"] == "resizing"
        assert resizing["size"] == size0
        resized, seen = wait_for_status(dc.get, drive["uuid"], "unmounted", {"resizing"})
        assert resized["size"] == new_size

        odd = new_size + 1 * GiB + 7 * MiB + 3 * 1024
        drive_def["size"] = odd
        resizing = dc.update(drive["uuid"], drive_def)
        assert resizing["status"] == "resizing"
        resized = wait_status(dc, drive["uuid"], "unmounted", {"resizing"})
        assert resized["size"] != new_size
        # PT allows 64 KiB of rounding; Terraform needs the exact size back.
        assert resized["size"] == odd
        dc.delete(drive["uuid"])

    def test_resize_action(self, dc, name):
        """PT test_drive_resize_action: the full drive with the size doubled."""
        drive = created(dc, name, size=2 * GiB)
        drive["size"] = 2 * drive["size"]
        res = dc.resize(drive["uuid"], drive)
        assert isinstance(res, dict)  # {"objects":[drive]} unwrapped
        assert res["uuid"] == drive["uuid"]
        assert res["status"] == "resizing"
        wait_status(dc, drive["uuid"], "unmounted", {"resizing"})
        assert dc.get(drive["uuid"])["size"] == drive["size"]
        dc.delete(drive["uuid"])

    def test_resize_action_partial_body(self, dc, name):
        """drive.resize with only {name, size, media} (what libcloud and the CSI driver send)."""
        drive = created(dc, name)
        res = dc.resize(drive["uuid"], {"name": name, "size": 3 * GiB, "media": "disk"})
        assert res["status"] == "resizing"
        assert wait_status(dc, drive["uuid"], "unmounted", {"resizing"})["size"] == 3 * GiB
        dc.delete(drive["uuid"])

    def test_edit_name_and_media(self, dc, name):
        """PT test_drive_edit: partial PUT that renames and turns the disk into a cdrom."""
        drive_def = {"name": name, "size": 1024000000, "media": "disk"}
        drive = dc.create(drive_def)
        wait_status(dc, drive["uuid"], "unmounted", {"creating"})
        drive_def["name"] = name + "_y"
        drive_def["media"] = "cdrom"
        updated = dc.update(drive["uuid"], drive_def)
        for k, v in drive_def.items():  # assertDictContainsSubset
            assert updated[k] == v
        assert updated["status"] == "unmounted"
        dc.delete(drive["uuid"])

    def test_licenses_on_a_drive(self, cs, dc, name):
        """Licenses given as a URI, a nested object or an id come back nested in full;
        update(get()) sends them back nested; a clone keeps them."""
        catalogue = {l["resource_uri"]: l for l in cs.Licenses().list()}
        uris = sorted(catalogue)[:3]
        drive = created(dc, name)
        drive["licenses"] = [
            {"amount": 1, "license": uris[0]},
            {"amount": 2, "license": {"resource_uri": uris[1]}},
            {"license": int(uris[2].rstrip("/").split("/")[-1])},
        ]
        updated = dc.update(drive["uuid"], drive)
        assert [(l["amount"], l["license"]) for l in updated["licenses"]] == \
            [(1, catalogue[uris[0]]), (2, catalogue[uris[1]]), (1, catalogue[uris[2]])]
        assert all(l["user"] is None for l in updated["licenses"])
        again = dc.update(drive["uuid"], dc.get(drive["uuid"]))
        assert again["licenses"] == updated["licenses"]
        clone = dc.clone(drive["uuid"], {"name": name + "_c"})
        assert clone["licenses"] == updated["licenses"]
        clone = wait_status(dc, clone["uuid"], "unmounted", {"cloning_dst"})
        # the clone now has a job ref: update(get()) still goes through
        assert dc.update(clone["uuid"], clone)["jobs"] == clone["jobs"]
        wait_status(dc, drive["uuid"], "unmounted", {"cloning_src"})
        for d in (drive, clone):
            dc.delete(d["uuid"])

    def test_update_full_object_and_partial_keeps_rest(self, dc, name):
        drive = created(dc, name)
        drive["name"] = name + "_renamed"
        drive["meta"] = {"description": "interop", "os": "linux"}
        drive["allow_multimount"] = True
        drive["affinities"] = ["ssd"]
        updated = dc.update(drive["uuid"], drive)
        assert updated["name"] == name + "_renamed"
        assert updated["meta"] == {"description": "interop", "os": "linux"}
        assert updated["allow_multimount"] is True
        assert updated["affinities"] == ["ssd"]
        # a PUT that leaves keys out keeps them (Terraform never sends meta)
        partial = dc.update(drive["uuid"], {"name": name, "size": GiB, "media": "disk"})
        assert partial["name"] == name
        assert partial["meta"] == {"description": "interop", "os": "linux"}
        assert partial["allow_multimount"] is True
        # meta is replaced whole when present
        again = dc.update(drive["uuid"], {"name": name, "size": GiB, "media": "disk",
                                          "meta": {"k": "v"}})
        assert again["meta"] == {"k": "v"}
        dc.delete(drive["uuid"])


# ---------------------------------------------------------------------------------------------
# clone, avoid, jobs


def wait_job_done(jc, job_uuid, timeout=30):
    """gosigma's Job.Wait: poll the job until data.progress reaches 100."""
    return wait_until(lambda: (lambda j: j if j["data"]["progress"] >= 100 else None)(
        jc.get(job_uuid)), timeout=timeout, what="job %s done" % job_uuid)


class TestClone:
    def test_clone_with_body(self, cs, dc, user1, name):
        """PT test_drive_clone: {name, media: cdrom, affinities: []}; then the job."""
        src = dc.create({"name": name, "size": "1024000000", "media": "disk"})
        src = wait_status(dc, src["uuid"], "unmounted", {"creating"})
        src = dc.update(src["uuid"], dict(src, meta={"origin": "source"}))

        clone = dc.clone(src["uuid"], {"name": name + "_y", "media": "cdrom", "affinities": []})
        assert isinstance(clone, dict)
        assert clone["status"] == "cloning_dst"
        assert clone["uuid"] != src["uuid"]
        assert clone["name"] == name + "_y"
        assert clone["media"] == "cdrom"
        assert clone["size"] == 1024000000
        assert clone["storage_type"] == src["storage_type"]
        assert clone["owner"]["uuid"] == user1.uuid
        assert clone["meta"] == {"origin": "source"}
        assert len(clone["jobs"]) == 1
        job_ref = clone["jobs"][0]
        assert job_ref["resource_uri"] == "/api/2.0/jobs/%s/" % job_ref["uuid"]

        done, seen = wait_for_status(dc.get, clone["uuid"], "unmounted", {"cloning_dst"})
        wait_status(dc, src["uuid"], "unmounted", {"cloning_src"})
        assert job_ref["uuid"] in {j["uuid"] for j in dc.get(src["uuid"])["jobs"]}

        jc = cs.Jobs()
        job = wait_job_done(jc, job_ref["uuid"])
        assert job["operation"] == "drive_clone"
        assert job["state"] == "success"
        assert set(job["resources"]) == {drive_uri(src["uuid"]), drive_uri(clone["uuid"])}
        assert job["resource_uri"] == "/api/2.0/jobs/%s/" % job["uuid"]

        dc.delete(src["uuid"])
        dc.delete(clone["uuid"])
        assert_deleted(dc, clone["uuid"])
        assert_deleted(dc, src["uuid"])

    def test_clone_without_body(self, dc, name):
        """Drive.clone(uuid): the client posts {}; the clone keeps name (clone naming NONE),
        size, media and storage type."""
        src = created(dc, name, size=2 * GiB, media="disk", storage_type="zadara")
        clone = dc.clone(src["uuid"])
        assert clone["status"] == "cloning_dst"
        assert clone["name"] == name
        assert clone["size"] == 2 * GiB
        assert clone["media"] == "disk"
        assert clone["storage_type"] == "zadara"
        wait_status(dc, clone["uuid"], "unmounted", {"cloning_dst"})
        wait_status(dc, src["uuid"], "unmounted", {"cloning_src"})
        for d in (clone, src):
            dc.delete(d["uuid"])

    def test_clone_bigger_string_size_other_storage_type(self, dc, name):
        src = created(dc, name, size=GiB)
        clone = dc.clone(src["uuid"], {"name": name + "_big", "size": str(3 * GiB),
                                       "storage_type": "nvme"})
        assert clone["size"] == 3 * GiB
        assert clone["storage_type"] == "nvme"
        wait_status(dc, clone["uuid"], "unmounted", {"cloning_dst"})
        wait_status(dc, src["uuid"], "unmounted", {"cloning_src"})
        for d in (clone, src):
            dc.delete(d["uuid"])

    def test_avoid(self, dc, name):
        """PT test_drive_avoid: clone and create with avoid= (a string, then a list)."""
        drive = created(dc, name)
        other = created(dc, name + "_o")
        clone = dc.clone(drive["uuid"], {"name": name + "_y", "media": "cdrom",
                                         "affinities": []}, avoid=drive["uuid"])
        another = dc.create({"name": name + "_z", "size": "1024000000", "media": "disk"},
                            avoid=[drive["uuid"], other["uuid"]])
        assert clone["status"] == "cloning_dst" and another["status"] == "creating"
        # avoid is best effort: an unknown uuid never fails the request
        stray = dc.create({"name": name + "_s", "size": GiB, "media": "disk"},
                          avoid="00000000-0000-4000-8000-000000000000")
        assert stray["status"] == "creating"
        wait_status(dc, stray["uuid"], "unmounted", {"creating"})
        dc.delete(stray["uuid"])
        wait_status(dc, clone["uuid"], "unmounted", {"cloning_dst"})
        wait_status(dc, another["uuid"], "unmounted", {"creating"})
        wait_status(dc, drive["uuid"], "unmounted", {"cloning_src"})
        for d in (drive, other, clone, another):
            dc.delete(d["uuid"])
        for d in (drive, other, clone, another):
            assert_deleted(dc, d["uuid"])


class TestBulkHelpers:
    """cloudsigma.bulk.DrivesBulk: the library's own bulk create / detail / clone / wipe."""

    @pytest.fixture
    def fast_bulk_sleep(self, monkeypatch):
        # DrivesBulk.clone polls list_detail every 10 s while a clone is cloning_dst.
        monkeypatch.setattr(cloudsigma.bulk, "time",
                            types.SimpleNamespace(sleep=lambda s: time.sleep(0.05),
                                                  time=time.time))

    def test_bulk_create_detail_clone(self, cs, dc, name, fast_bulk_sleep):
        bulk = DrivesBulk(id_prefix=name, size=GiB, media="disk", description="bulk")
        made = bulk.create(3)
        assert [d["name"] for d in made] == ["%s-%05d" % (name, i) for i in (1, 2, 3)]
        assert all(d["status"] == "creating" and d["meta"] == {"description": "bulk"}
                   for d in made)
        for d in made:
            wait_status(dc, d["uuid"], "unmounted", {"creating"})
        detail = bulk.get_detail()
        assert {d["uuid"] for d in detail} == {d["uuid"] for d in made}
        by_uuid = bulk.get_by_uuids([made[0]["uuid"], made[2]["uuid"]])
        assert {d["uuid"] for d in by_uuid} == {made[0]["uuid"], made[2]["uuid"]}
        assert all(set(d) == {"name", "uuid", "status"} for d in by_uuid)

        clones = bulk.clone(2, made[0]["uuid"])  # waits until none is cloning_dst
        assert len(clones) == 2
        for c in clones:
            assert c["size"] == GiB and c["meta"] == {"description": "bulk"}
            assert dc.get(c["uuid"])["status"] == "unmounted"
        wait_status(dc, made[0]["uuid"], "unmounted", {"cloning_src"})
        for d in made + clones:
            dc.delete(d["uuid"])
        assert bulk.get_detail() == []

    def test_bulk_get_list_and_wipe(self, dc, name):
        bulk = DrivesBulk(id_prefix=name, size=GiB)
        made = bulk.create(2)
        try:
            for d in made:
                wait_status(dc, d["uuid"], "unmounted", {"creating"})
            listed = bulk.get_list()  # GET drives/?limit=0&fields=name,uuid
            assert sorted(d["uuid"] for d in listed) == sorted(d["uuid"] for d in made)
            assert all(d["name"].startswith(name) for d in listed)
            bulk.wipe()
            assert bulk.get_detail() == []
        finally:
            for d in made:
                try:
                    dc.delete(d["uuid"])
                except errors.ClientError:
                    pass


# ---------------------------------------------------------------------------------------------
# licenses, jobs, capabilities


class TestCatalogues:
    def test_licenses(self, cs):
        lc = cs.Licenses()
        lics = lc.list()
        assert lics, "the license catalogue is empty"
        for lic in lics:
            assert set(lic) >= {"burstable", "long_name", "name", "resource_uri", "type",
                                "user_metric"}
            assert isinstance(lic["burstable"], bool)
            assert lic["type"] in ("install", "instance", "stub")
            lid = lic["resource_uri"].rstrip("/").split("/")[-1]
            assert lic["resource_uri"] == "/api/2.0/licenses/%s/" % lid and lid.isdigit()
            assert lc.get(lid) == lic
        assert "name" in lc.get_schema()["fields"]

    def test_licenses_list_detail(self, cs):
        lc = cs.Licenses()
        assert lc.list_detail() == lc.list()

    def test_license_unknown_is_404(self, cs):
        with pytest.raises(errors.ClientError) as exc:
            cs.Licenses().get("999999")
        assert exc.value.status_code == 404

    def test_jobs(self, cs, dc, name):
        src = created(dc, name)
        clone = dc.clone(src["uuid"], {"name": name + "_c"})
        job_uuid = clone["jobs"][0]["uuid"]
        jc = cs.Jobs()
        wait_job_done(jc, job_uuid)
        listed = jc.list()
        assert job_uuid in {j["uuid"] for j in listed}
        assert job_uuid in {j["uuid"] for j in jc.list_detail()}
        succ = jc.list(query_params={"state": "success"})
        assert job_uuid in {j["uuid"] for j in succ}
        assert all(j["state"] == "success" for j in succ)
        job = jc.get(job_uuid)
        assert set(job) >= {"children", "created", "data", "last_modified", "operation",
                            "resource_uri", "resources", "state", "uuid"}
        assert job["data"]["progress"] == 100
        assert "operation" in jc.get_schema()["fields"]
        wait_status(dc, clone["uuid"], "unmounted", {"cloning_dst"})
        wait_status(dc, src["uuid"], "unmounted", {"cloning_src"})
        for d in (src, clone):
            dc.delete(d["uuid"])

    def test_capabilities(self, cs):
        caps = cs.Capabilites().list()
        assert isinstance(caps, dict)
        assert caps["drives"]["dssd"]["size"]["min"] == 536870912
        assert isinstance(caps["drives"]["dssd"]["size"]["max"], int)


# ---------------------------------------------------------------------------------------------
# client-side error path


class TestErrors:
    def test_bad_credentials_auth_error(self, cs_as, user1):
        bad = cs_as(cr.Drive, user1, password="not-the-password")
        for call in (bad.list, bad.list_detail,
                     lambda: bad.create({"name": "x", "size": GiB, "media": "disk"})):
            with pytest.raises(errors.AuthError) as exc:
                call()
            assert exc.value.status_code == 401

    def test_unknown_user_auth_error(self, cs_as, user1):
        from conftest import User
        with pytest.raises(errors.AuthError) as exc:
            cs_as(cr.Jobs, User("nobody@drivesd.test", "pw")).list()
        assert exc.value.status_code == 401

    def test_deleted_drive_404(self, dc, name):
        drive = created(dc, name)
        dc.delete(drive["uuid"])
        calls = {
            "get": lambda: dc.get(drive["uuid"]),
            "update": lambda: dc.update(drive["uuid"], {"name": name, "size": GiB,
                                                        "media": "disk"}),
            "delete": lambda: dc.delete(drive["uuid"]),
            "resize": lambda: dc.resize(drive["uuid"], dict(drive, size=2 * GiB)),
            "clone": lambda: dc.clone(drive["uuid"]),
        }
        for what, call in calls.items():
            with pytest.raises(errors.ClientError) as exc:
                call()
            assert exc.value.status_code == 404, what
            assert exc.value.request_id, "no X-Request-ID on the %s error" % what
            body = error_body(exc)
            assert body["error_type"] == "notexist"
            assert drive["uuid"] in body["error_message"]

    def test_other_users_drive_is_404(self, dc, cs_as, user2, name):
        drive = created(dc, name)
        other = cs_as(cr.Drive, user2)
        with pytest.raises(errors.ClientError) as exc:
            other.get(drive["uuid"])
        assert exc.value.status_code == 404
        with pytest.raises(errors.ClientError) as exc:
            other.delete(drive["uuid"])
        assert exc.value.status_code == 404
        assert drive["uuid"] not in {d["uuid"] for d in other.list_detail()}
        theirs = other.create({"name": name, "size": GiB, "media": "disk"})
        assert theirs["owner"]["uuid"] == user2.uuid
        assert theirs["uuid"] not in {d["uuid"] for d in dc.list()}
        wait_status(other, theirs["uuid"], "unmounted", {"creating"})
        other.delete(theirs["uuid"])
        dc.delete(drive["uuid"])

    def test_validation_errors_400(self, dc, name):
        drive = created(dc, name, size=2 * GiB)
        cases = {
            "size": lambda: dc.create({"name": name, "size": 1024, "media": "disk"}),
            "media": lambda: dc.create({"name": name, "size": GiB}),
            "shrink": lambda: dc.resize(drive["uuid"], dict(drive, size=GiB)),
            "storage_type": lambda: dc.update(drive["uuid"], dict(drive, storage_type="zadara")),
            "clone smaller": lambda: dc.clone(drive["uuid"], {"size": GiB}),
        }
        for what, call in cases.items():
            with pytest.raises(errors.ClientError) as exc:
                call()
            assert exc.value.status_code == 400, what
            assert error_body(exc)["error_type"] == "validation", what
        assert dc.get(drive["uuid"])["size"] == 2 * GiB
        # a bulk create with one bad object creates nothing
        before = {d["uuid"] for d in dc.list()}
        with pytest.raises(errors.ClientError) as exc:
            dc.create([{"name": name + "_ok", "size": GiB, "media": "disk"},
                       {"name": name + "_bad", "size": GiB, "media": "floppy"}])
        assert exc.value.status_code == 400
        assert {d["uuid"] for d in dc.list()} == before
        dc.delete(drive["uuid"])


class TestTransientStatuses:
    """On the slow instance (create 2 s, resize and clone 10 min): what the client sees while a
    drive is busy, and PermissionError (403) for what is refused then."""

    @pytest.fixture
    def sdc(self, slow_drivesd):
        u = slow_drivesd.users[0]
        return cr.Drive(api_endpoint=slow_drivesd.api_endpoint, username=u.email,
                        password=u.password)

    def test_refused_while_creating(self, sdc, name):
        drive = sdc.create({"name": name, "size": GiB, "media": "disk"})
        for what, call in {
            "delete": lambda: sdc.delete(drive["uuid"]),
            "resize": lambda: sdc.resize(drive["uuid"], dict(drive, size=2 * GiB)),
            "clone": lambda: sdc.clone(drive["uuid"]),
        }.items():
            with pytest.raises(errors.PermissionError) as exc:
                call()
            assert exc.value.status_code == 403, what
            assert error_body(exc)["error_type"] == "permission"
        # name and meta may change while creating (PT tags drives that are still creating)
        got = sdc.get(drive["uuid"])
        got["meta"] = {"k": "v"}
        assert sdc.update(drive["uuid"], got)["meta"] == {"k": "v"}
        wait_status(sdc, drive["uuid"], "unmounted", {"creating"}, timeout=30)
        sdc.delete(drive["uuid"])

    def test_clone_shows_cloning_src_and_refuses(self, sdc, name):
        src = sdc.create({"name": name, "size": GiB, "media": "disk"})
        wait_status(sdc, src["uuid"], "unmounted", {"creating"}, timeout=30)
        clone = sdc.clone(src["uuid"], {"name": name + "_c"})
        assert clone["status"] == "cloning_dst"
        assert sdc.get(src["uuid"])["status"] == "cloning_src"
        assert sdc.get(clone["uuid"])["status"] == "cloning_dst"
        for what, call in {
            "delete source": lambda: sdc.delete(src["uuid"]),
            "resize source": lambda: sdc.resize(src["uuid"], {"name": name, "size": 2 * GiB,
                                                              "media": "disk"}),
            "delete clone": lambda: sdc.delete(clone["uuid"]),
            "clone the clone": lambda: sdc.clone(clone["uuid"]),
        }.items():
            with pytest.raises(errors.PermissionError) as exc:
                call()
            assert exc.value.status_code == 403, what
        # a source that is being cloned may be cloned again
        second = sdc.clone(src["uuid"])
        assert second["status"] == "cloning_dst"

    def test_resizing_refuses_second_resize(self, sdc, name):
        drive = sdc.create({"name": name, "size": GiB, "media": "disk"})
        drive = wait_status(sdc, drive["uuid"], "unmounted", {"creating"}, timeout=30)
        res = sdc.update(drive["uuid"], {"name": name, "size": 2 * GiB, "media": "disk"})
        assert res["status"] == "resizing" and res["size"] == GiB
        got = sdc.get(drive["uuid"])
        assert got["status"] == "resizing" and got["size"] == GiB
        with pytest.raises(errors.PermissionError):
            sdc.resize(drive["uuid"], dict(got, size=4 * GiB))
        with pytest.raises(errors.PermissionError):
            sdc.delete(drive["uuid"])
        # update(get()) while resizing: same size, new name: accepted
        got["name"] = name + "_r"
        assert sdc.update(drive["uuid"], got)["name"] == name + "_r"


# ---------------------------------------------------------------------------------------------
# library drives


def pick_libdrive(cs, media):
    for d in cs.LibDrive().list():
        if d["media"] == media:
            return d
    pytest.fail("no %s drive in the library" % media)


class TestLibraryDrives:
    def test_libdrive_listing(self, cs, dc):
        """PT test_libdrive_listing: limit=5, pick one with licenses, get it through /libdrives/
        and through /drives/ (owner None)."""
        lib = cs.LibDrive()
        five = lib.list(query_params={"limit": 5})
        assert 1 <= len(five) <= 5
        for d in five:
            assert "licenses" in d and d["owner"] is None
            assert d["resource_uri"] == "/api/2.0/libdrives/%s/" % d["uuid"]
        uuid = five[0]["uuid"]
        for d in five:
            if d["licenses"]:
                uuid = d["uuid"]
                break
        libdrive = lib.get(uuid)
        through = dc.get(uuid)
        assert through["owner"] is None
        assert through["uuid"] == libdrive["uuid"] and through["name"] == libdrive["name"]
        assert through["resource_uri"] == drive_uri(uuid)
        everything = lib.list()
        assert len(everything) >= len(five)
        assert {d["uuid"] for d in lib.list_detail()} == {d["uuid"] for d in everything}
        mine = {d["uuid"] for d in dc.list_detail()} | {d["uuid"] for d in dc.list()}
        assert not mine & {d["uuid"] for d in everything}
        assert "image_type" in lib.get_schema()["fields"]

    def test_libdrive_filters(self, cs):
        lib = cs.LibDrive()
        pre = lib.list(query_params={"image_type": "preinst"})
        assert pre and all(d["image_type"] == "preinst" for d in pre)
        word = pre[0]["name"].split()[0]
        found = lib.list(query_params={"name__icontains": word.lower()})
        assert pre[0]["uuid"] in {d["uuid"] for d in found}
        for d in lib.list():
            assert isinstance(d["arch"], str)
            assert isinstance(d["category"], list)
            assert isinstance(d["favourite"], bool) and isinstance(d["paid"], bool)

    def test_libdrive_unknown_404(self, cs):
        with pytest.raises(errors.ClientError) as exc:
            cs.LibDrive().get("00000000-0000-4000-8000-000000000000")
        assert exc.value.status_code == 404

    def test_clone_libdrive(self, cs, dc, user1, name):
        """PT clones library uuids through Drive.clone."""
        libd = pick_libdrive(cs, "disk")
        clone = dc.clone(libd["uuid"], {"name": name})
        assert clone["status"] == "cloning_dst"
        assert clone["owner"]["uuid"] == user1.uuid
        assert clone["size"] >= libd["size"]
        assert clone["media"] == libd["media"]
        assert len(clone["jobs"]) == 1
        done = wait_status(dc, clone["uuid"], "unmounted", {"cloning_dst"})
        assert [lic["license"]["name"] for lic in done["licenses"]] == \
            [lic["license"]["name"] for lic in libd["licenses"]]
        assert done["uuid"] in {d["uuid"] for d in dc.list_detail()}
        assert cs.LibDrive().get(libd["uuid"])["status"] == "unmounted"
        dc.delete(done["uuid"])


# ---------------------------------------------------------------------------------------------
# servers: attach and detach


def server_def(name, drive_uuids=(), device="virtio"):
    drives = [{"device": device, "dev_channel": "0:%d" % i, "drive": u, "boot_order": i + 1}
              for i, u in enumerate(drive_uuids)]
    return {"name": name, "cpu": 1000, "mem": 512 * MiB, "vnc_password": "testserver",
            "drives": drives}


class TestServers:
    def test_attach_detach_running_rules(self, cs, dc, name):
        sc = cs.Server()
        assert isinstance(sc.list_detail(), list)  # PT's setUp
        drive = created(dc, name)
        server = sc.create(server_def(name + "_srv"))
        assert server["status"] == "stopped"

        server["drives"] = [{"boot_order": 1, "dev_channel": "0:0", "device": "virtio",
                             "drive": drive["uuid"]}]
        server = sc.update(server["uuid"], server)
        assert server["drives"][0]["drive"]["uuid"] == drive["uuid"]
        mounted = wait_status(dc, drive["uuid"], "mounted", {"unmounted"})
        assert [m["uuid"] for m in mounted["mounted_on"]] == [server["uuid"]]
        assert mounted["mounted_on"][0]["resource_uri"] == "/api/2.0/servers/%s/" % server["uuid"]

        # on a stopped server the drive can still grow; it returns to `mounted`
        res = dc.resize(drive["uuid"], dict(mounted, size=2 * GiB))
        assert res["status"] == "resizing"
        grown = wait_status(dc, drive["uuid"], "mounted", {"resizing"})
        assert grown["size"] == 2 * GiB

        res = sc.start(server["uuid"])
        assert res == {"action": "start", "result": "success", "uuid": server["uuid"]}
        wait_status(sc, server["uuid"], "running", {"stopped", "starting"})

        # On a running server a PUT of size is silently ignored; the resize action fails.
        got = dc.get(drive["uuid"])
        assert got["status"] == "mounted"
        got["size"] = 4 * GiB
        got["name"] = name + "_live"
        put = dc.update(drive["uuid"], got)
        assert put["name"] == name + "_live" and put["size"] == 2 * GiB
        assert put["status"] == "mounted"
        with pytest.raises(errors.PermissionError):
            dc.resize(drive["uuid"], dict(got, size=4 * GiB))
        with pytest.raises(errors.PermissionError):
            dc.delete(drive["uuid"])

        res = sc.stop(server["uuid"])
        assert res["action"] == "stop" and res["result"] == "success"
        server = wait_status(sc, server["uuid"], "stopped", {"running", "stopping"})

        server["drives"] = []
        sc.update(server["uuid"], server)
        free = wait_status(dc, drive["uuid"], "unmounted", {"mounted"})
        assert free["mounted_on"] == []

        assert sc.delete(server["uuid"]) is None
        assert_deleted(sc, server["uuid"])
        dc.delete(drive["uuid"])

    def test_delete_server_with_disks(self, cs, dc, name):
        sc = cs.Server()
        disk = created(dc, name + "_disk")
        cdrom = created(dc, name + "_cd", media="cdrom")
        server = sc.create(server_def(name + "_srv", [disk["uuid"], cdrom["uuid"]]))
        for d in (disk, cdrom):
            wait_status(dc, d["uuid"], "mounted", {"unmounted"})
        assert sc.delete_with_disks(server["uuid"]) is None
        assert_deleted(sc, server["uuid"])
        assert_deleted(dc, disk["uuid"])
        kept = wait_status(dc, cdrom["uuid"], "unmounted", {"mounted"})
        assert kept["mounted_on"] == []
        dc.delete(cdrom["uuid"])

    def test_multimount_rules(self, cs, dc, name):
        sc = cs.Server()
        disk = created(dc, name)
        s1 = sc.create(server_def(name + "_s1", [disk["uuid"]]))
        with pytest.raises(errors.PermissionError):
            sc.create(server_def(name + "_s2", [disk["uuid"]]))
        sc.delete(s1["uuid"])
        wait_status(dc, disk["uuid"], "unmounted", {"mounted"})
        dc.delete(disk["uuid"])


class TestServersWithLibrary:
    def test_attaching_preinstalled_is_403(self, cs, name):
        """PT test_attaching_preinstalled: a library disk cannot go into a server."""
        libd = pick_libdrive(cs, "disk")
        sc = cs.Server()
        with pytest.raises(errors.PermissionError) as exc:
            sc.create(server_def(name + "_srv", [libd["uuid"]]))
        assert exc.value.status_code == 403
        server = sc.create(server_def(name + "_srv2"))
        server["drives"] = server_def("", [libd["uuid"]])["drives"]
        with pytest.raises(errors.PermissionError):
            sc.update(server["uuid"], server)
        sc.delete(server["uuid"])

    def test_attaching_cdrom(self, cs, name):
        """PT test_attaching_cdrom: a library cdrom can be attached directly."""
        cd = pick_libdrive(cs, "cdrom")
        sc = cs.Server()
        server = sc.create(server_def(name + "_srv", [cd["uuid"]], device="ide"))
        assert server["drives"][0]["drive"]["uuid"] == cd["uuid"]
        sc.delete(server["uuid"])
        assert_deleted(sc, server["uuid"])


# ---------------------------------------------------------------------------------------------
# tags


class TestTags:
    def test_tags_and_drives(self, cs, dc, name):
        tc = cs.Tags()
        drive = dc.create({"name": name, "size": GiB, "media": "disk"})
        # PT tags drives that are still creating
        tag1 = tc.create({"name": name + "_t1"})
        assert tag1["resources"] == [] and tag1["name"] == name + "_t1"
        tag2 = tc.create({"name": name + "_t2", "resources": [drive["uuid"]]})
        res = tag2["resources"]
        assert [r["uuid"] for r in res] == [drive["uuid"]]
        assert res[0]["res_type"] == "drives"
        assert res[0]["resource_uri"] == drive_uri(drive["uuid"])

        drive = wait_status(dc, drive["uuid"], "unmounted", {"creating"})
        assert drive["tags"] == [{"uuid": tag2["uuid"],
                                  "resource_uri": "/api/2.0/tags/%s/" % tag2["uuid"]}]
        assert tc.get(tag2["uuid"])["uuid"] == tag2["uuid"]
        assert {tag1["uuid"], tag2["uuid"]} <= {t["uuid"] for t in tc.list()}
        assert {tag1["uuid"], tag2["uuid"]} <= {t["uuid"] for t in tc.list_detail()}
        assert [d["uuid"] for d in tc.drives(tag2["uuid"])] == [drive["uuid"]]
        assert [d["uuid"] for d in dc.list_detail(query_params={"tag": tag2["uuid"]})] == \
            [drive["uuid"]]
        assert [d["uuid"] for d in dc.list_detail(
            query_params={"tag__name": name + "_t2"})] == [drive["uuid"]]

        # the other side: PUT the drive with tags as uuid strings
        drive["tags"] = [tag1["uuid"], tag2["uuid"]]
        updated = dc.update(drive["uuid"], drive)
        assert {t["uuid"] for t in updated["tags"]} == {tag1["uuid"], tag2["uuid"]}
        assert [r["uuid"] for r in tc.get(tag1["uuid"])["resources"]] == [drive["uuid"]]

        # PUT on the tag replaces its resources
        tc.update(tag2["uuid"], {"name": name + "_t2", "resources": []})
        assert [t["uuid"] for t in dc.get(drive["uuid"])["tags"]] == [tag1["uuid"]]
        assert tc.drives(tag2["uuid"]) == []

        assert tc.delete(tag1["uuid"]) is None
        assert dc.get(drive["uuid"])["tags"] == []
        with pytest.raises(errors.ClientError) as exc:
            tc.get(tag1["uuid"])
        assert exc.value.status_code == 404
        dc.delete(drive["uuid"])
        assert tc.get(tag2["uuid"])["resources"] == []
        tc.delete(tag2["uuid"])
        assert "name" in tc.get_schema()["fields"]


    def test_tag_of_every_kind(self, cs, dc, name):
        """pycloudsigma's own test_tags: two servers, a drive, an IP and a VLAN in one tag."""
        tc, sc = cs.Tags(), cs.Server()
        server1 = sc.create({"name": name + "_s1", "cpu": 1000, "mem": 512 * MiB, "vnc_password": "pass"})
        server2 = sc.create({"name": name + "_s2", "cpu": 1000, "mem": 512 * MiB, "vnc_password": "pass"})
        drive = dc.create({"name": name, "size": 1000 ** 3, "media": "disk"})
        ip = cs.IP().list()[0]
        vlan = cs.VLAN().list()[0]
        assert set(ip) == {"owner", "resource_uri", "server", "uuid"}
        assert set(vlan) == {"owner", "resource_uri", "uuid"}

        tag1 = tc.create({"name": name + "_group"})
        tag2 = tc.create({"name": name + "_with", "resources": [
            server1["uuid"], server2["uuid"], drive["uuid"], ip["uuid"], vlan["uuid"]]})
        types_by_uuid = {r["uuid"]: r["res_type"] for r in tag2["resources"]}
        assert types_by_uuid == {server1["uuid"]: "servers", server2["uuid"]: "servers",
                                 drive["uuid"]: "drives", ip["uuid"]: "ips", vlan["uuid"]: "vlans"}
        got = tc.get(tag2["uuid"])
        assert {r["resource_uri"] for r in got["resources"]} >= {
            "/api/2.0/ips/%s/" % ip["uuid"], "/api/2.0/vlans/%s/" % vlan["uuid"]}
        assert [i["uuid"] for i in tc.list_resource(tag2["uuid"], "ips")] == [ip["uuid"]]
        assert [v["uuid"] for v in tc.list_resource(tag2["uuid"], "vlans")] == [vlan["uuid"]]
        assert [t["uuid"] for t in cs.IP().get(ip["uuid"])["tags"]] == [tag2["uuid"]]

        updated = tc.update(tag2["uuid"], {"name": name + "_with", "resources": [server1["uuid"], drive["uuid"]]})
        assert {r["uuid"] for r in updated["resources"]} == {server1["uuid"], drive["uuid"]}
        assert cs.VLAN().get(vlan["uuid"])["tags"] == []

        # the other side, as the test does it: update(get()) of a server with tags
        server2["tags"] = [tag1["uuid"], tag2["uuid"]]
        sc.update(server2["uuid"], server2)
        assert [s["uuid"] for s in tc.servers(tag1["uuid"])] == [server2["uuid"]]

        dc.delete(drive["uuid"])
        sc.delete(server1["uuid"])
        sc.delete(server2["uuid"])
        tc.delete(tag1["uuid"])
        assert tc.get(tag2["uuid"])["resources"] == []
        tc.delete(tag2["uuid"])


class TestNetworking:
    """pycloudsigma's test_networking: list, detail, get and a meta update of an IP and a VLAN."""

    @pytest.mark.parametrize("resource", ["IP", "VLAN"])
    def test_listing_get_and_update(self, cs, resource):
        client = getattr(cs, resource)()
        schema = client.get_schema()
        assert schema["allowed_detail_http_methods"] == ["get", "put"]
        assert "subscription" in schema["fields"]
        listed = client.list()
        detail = client.list_detail()
        assert [o["uuid"] for o in listed] == [o["uuid"] for o in detail]
        uuid = detail[0]["uuid"]
        assert client.get(uuid) == detail[0]
        updated = client.update(uuid, {"meta": {"name": "my " + resource.lower(), "custom_field": "some custom data"}})
        assert updated["meta"] == {"name": "my " + resource.lower(), "custom_field": "some custom data"}
        assert client.get(uuid)["meta"] == updated["meta"]
        assert client.update(uuid, {"meta": {}})["meta"] == {}

    def test_static_ip_on_a_server(self, cs):
        ip = cs.IP().list()[0]["uuid"]
        vlan = cs.VLAN().list()[0]["uuid"]
        sc = cs.Server()
        server = sc.create({"name": "net", "cpu": 1000, "mem": 512 * MiB, "vnc_password": "pass",
                            "nics": [{"ip_v4_conf": {"conf": "static", "ip": ip}, "model": "virtio"},
                                     {"vlan": vlan, "model": "virtio"}]})
        assert server["nics"][0]["ip_v4_conf"]["ip"] == {"resource_uri": "/api/2.0/ips/%s/" % ip, "uuid": ip}
        assert server["nics"][1]["vlan"]["uuid"] == vlan
        assert cs.IP().get(ip)["server"]["uuid"] == server["uuid"]
        assert [s["uuid"] for s in cs.VLAN().get(vlan)["servers"]] == [server["uuid"]]
        with pytest.raises(errors.ClientError) as exc:
            sc.create({"name": "net2", "cpu": 1000, "mem": 512 * MiB, "vnc_password": "pass",
                       "nics": [{"ip_v4_conf": {"conf": "static", "ip": ip}}]})
        assert exc.value.status_code == 400
        sc.delete(server["uuid"])
        assert cs.IP().get(ip)["server"] is None


# ---------------------------------------------------------------------------------------------
# availability groups


class DrivesAvailabilityGroups(ResourceBase):
    """Built on the client's ResourceBase like its own ServersAvailabilityGroups."""
    resource_name = "drives/availability_groups"


class TestAvailabilityGroups:
    def test_groups_and_avoid(self, dc, name):
        ag = DrivesAvailabilityGroups()
        a = created(dc, name + "_a")
        b = dc.create({"name": name + "_b", "size": GiB, "media": "disk"}, avoid=a["uuid"])
        wait_status(dc, b["uuid"], "unmounted", {"creating"})
        more = [created(dc, "%s_%d" % (name, i)) for i in range(5)]
        mine = {d["uuid"] for d in dc.list()}

        groups = ag.list()
        assert isinstance(groups, list)
        assert groups, "6+ drives on the simulated hosts and no shared host"
        for g in groups:
            assert isinstance(g, list) and len(g) >= 2
            assert set(g) <= mine
            assert not {a["uuid"], b["uuid"]} <= set(g), "avoid was not honoured"

        same = ag.get(a["uuid"])
        assert isinstance(same, list) and a["uuid"] in same and b["uuid"] not in same
        for d in [a, b] + more:
            dc.delete(d["uuid"])


# ---------------------------------------------------------------------------------------------
# profile and clone naming


class TestProfile:
    def test_clone_naming_through_the_profile(self, cs, cs_as, user2, dc, name):
        """cr.Profile().get() / .update(): the profile as the real API answers it; a clone made
        without a name follows clone_naming (COUNTER appends _1); user 2's profile is his own."""
        profile = cs.Profile()
        before = profile.get()
        assert before["clone_naming"] == "NONE"
        assert {"uuid", "email", "signup_time", "state", "first_name", "key_auth", "api_https_only"} <= set(before)
        changed = dict(before, clone_naming="COUNTER", first_name="Jane")
        after = profile.update(changed)
        assert after["clone_naming"] == "COUNTER" and after["first_name"] == "Jane"
        try:
            source = created(dc, name)
            clone = dc.clone(source["uuid"])
            assert clone["name"] == name + "_1"
            named = dc.clone(source["uuid"], {"name": name + "_given"})
            assert named["name"] == name + "_given"
            assert cs_as(cs.Profile, user2).get()["clone_naming"] == "NONE"
            for d in (clone, named):
                wait_status(dc, d["uuid"], "unmounted", {"cloning_dst"})
                dc.delete(d["uuid"])
            wait_status(dc, source["uuid"], "unmounted", {"cloning_src"})
            dc.delete(source["uuid"])
        finally:
            profile.update(dict(changed, clone_naming="NONE", first_name=before["first_name"]))
