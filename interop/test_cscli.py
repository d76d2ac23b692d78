"""cscli 0.7.1 (the `cscli` command line, on pycloudsigma) against a live drivesd.

cscli hard-codes https://{region}.cloudsigma.com/api/2.0/; cscli_local.py patches
GenericClient.api_endpoint and runs cscli's own click entry point in a subprocess. Output is
cscli's JSON envelope {"status": true|false, "result": ...}; a failure prints status false with
"<ExceptionClass>: <message>" (and still exits 0). cscli never waits on a status, so neither do
these tests beyond what a user would do: `drive NAME show` until the status is unmounted.
"""
import pytest

from helpers import (FULL_KEYS, MIN_DISK, GiB, MiB, SHORT_KEYS, curl_download, sha256_file,
                     wait_until, write_random_file)


def shown(cli, name_or_uuid):
    return cli.ok("drive", name_or_uuid, "show")


def wait_shown(cli, name_or_uuid, status="unmounted", timeout=30):
    return wait_until(lambda: (lambda d: d if d["status"] == status else None)(
        shown(cli, name_or_uuid)), timeout=timeout, what="%s %s" % (name_or_uuid, status))


def failed(res, exc_name):
    assert res.json["status"] is False, res.stdout
    assert res.json["result"].startswith(exc_name + ":"), res.json["result"]
    return res.json["result"]


class TestDrives:
    def test_create_list_resize_rename_destroy(self, cscli, user1, name):
        """The issue's path: create, list, resize, rename and destroy a drive."""
        drive = cscli.ok("drive", name, "create", "-s", "1G")
        assert drive["name"] == name and drive["status"] == "creating"
        assert drive["size"] == GiB and drive["media"] == "disk"
        assert drive["storage_type"] == "dssd"  # cscli maps its "ssd" to dssd
        assert drive["allow_multimount"] is False
        assert drive["owner"]["uuid"] == user1.uuid
        uuid = drive["uuid"]

        # list drives (no format): the short list GET drives/?limit=0
        short = cscli.ok("list", "drives")["drives"]
        assert uuid in {d["uuid"] for d in short}
        assert all(set(d) == SHORT_KEYS for d in short)
        assert uuid in cscli.ok("list", "drives", "--uuid")["drives"]
        detail = {d["uuid"]: d for d in cscli.ok("list", "drives", "--detail")["drives"]}
        assert FULL_KEYS <= set(detail[uuid]) and detail[uuid]["name"] == name

        drive = wait_shown(cscli, name)
        assert drive["uuid"] == uuid and drive["size"] == GiB

        brief = cscli.ok("list", "drives", "--brief")["drives"]
        mine = [b[uuid] for b in brief if uuid in b][0]
        assert mine == [{"name": name}, {"size": "1G"}, {"media": "disk"},
                        {"storage_type": "dssd"}, {"mounted": []}]

        text = cscli.run("list", "drives", "--text", check_json=False)
        assert text.returncode == 0
        assert "drive %s" % uuid in text.stdout
        assert "name=%s  size=1G  media=disk  storage_type=dssd" % name in text.stdout

        # resize: POST drives/{uuid}/action/?do=resize with the full drive from the detail list
        resizing = cscli.ok("drive", name, "resize", "-s", "2G", "-f")
        assert resizing["uuid"] == uuid and resizing["status"] == "resizing"
        assert wait_shown(cscli, uuid)["size"] == 2 * GiB

        # rename: PUT drives/{uuid}/ with the full drive from the detail list
        renamed = cscli.ok("drive", name, "modify", "-r", name + "_new")
        assert renamed["uuid"] == uuid and renamed["name"] == name + "_new"
        assert renamed["size"] == 2 * GiB and renamed["status"] == "unmounted"
        assert shown(cscli, name + "_new")["uuid"] == uuid
        failed(cscli.run("drive", name, "show"), "ResourceNotFound")

        gone = cscli.ok("drive", name + "_new", "destroy", "-f")
        assert gone == "drive %s '%s' destroyed" % (uuid, name + "_new")
        failed(cscli.run("drive", uuid, "show"), "ResourceNotFound")
        assert uuid not in cscli.ok("list", "drives", "--uuid")["drives"]

    def test_create_options(self, cscli, name):
        d = cscli.ok("drive", name, "create", "-s", "2G", "-m", "cdrom", "-M", "enable",
                     "-t", "magnetic")
        assert d["storage_type"] == "zadara" and d["media"] == "cdrom"
        assert d["allow_multimount"] is True and d["size"] == 2 * GiB
        wait_shown(cscli, d["uuid"])
        cscli.ok("drive", d["uuid"], "destroy", "-f")

    def test_modify_media_and_multimount(self, cscli, name):
        d = cscli.ok("drive", name, "create", "-s", "1G")
        wait_shown(cscli, name)
        m = cscli.ok("drive", name, "modify", "-m", "cdrom", "-M", "enable")
        assert m["media"] == "cdrom" and m["allow_multimount"] is True
        assert m["name"] == name and m["uuid"] == d["uuid"]
        m = cscli.ok("drive", d["uuid"], "modify", "-m", "disk")
        assert m["media"] == "disk"
        cscli.ok("drive", d["uuid"], "destroy", "-f")

    def test_clone(self, cscli, name):
        src = cscli.ok("drive", name, "create", "-s", "1G")
        wait_shown(cscli, src["uuid"])
        clone = cscli.ok("drive", name + "_c", "clone", "-u", src["uuid"], "-s", "1G")
        assert clone["name"] == name + "_c" and clone["status"] == "cloning_dst"
        assert clone["size"] == GiB and clone["storage_type"] == "dssd"
        assert len(clone["jobs"]) == 1
        wait_shown(cscli, clone["uuid"])
        wait_shown(cscli, src["uuid"])
        for u in (clone["uuid"], src["uuid"]):
            cscli.ok("drive", u, "destroy", "-f")

    def test_destroy_needs_confirmation(self, cscli, name):
        d = cscli.ok("drive", name, "create", "-s", "1G")
        wait_shown(cscli, name)
        res = cscli.run("drive", name, "destroy", input="n\n", check_json=False)
        assert "destruction averted" in res.stdout
        assert shown(cscli, name)["uuid"] == d["uuid"]
        res = cscli.run("drive", name, "destroy", input="y\n", check_json=False)
        assert "destroyed" in res.stdout
        failed(cscli.run("drive", d["uuid"], "show"), "ResourceNotFound")

    def test_list_capabilities(self, cscli):
        caps = cscli.ok("list", "capabilities")["capabilities"]
        assert caps[0]["drives"]["dssd"]["min_size"] == 536870912


class TestErrors:
    def test_bad_credentials(self, cscli, name):
        res = cscli.run("list", "drives", password="not-the-password")
        failed(res, "AuthError")
        assert "401" in res.json["result"]
        failed(cscli.run("drive", name, "create", "-s", "1G", password="wrong"), "AuthError")

    def test_shrink_is_client_error_400(self, cscli, name):
        cscli.ok("drive", name, "create", "-s", "2G")
        wait_shown(cscli, name)
        msg = failed(cscli.run("drive", name, "resize", "-s", "1G", "-f"), "ClientError")
        assert "validation" in msg and "400" in msg
        assert shown(cscli, name)["size"] == 2 * GiB
        cscli.ok("drive", name, "destroy", "-f")

    def test_too_small_is_client_error_400(self, cscli, name):
        msg = failed(cscli.run("drive", name, "create", "-s", "1M"), "ClientError")
        assert "validation" in msg

    def test_other_user_sees_nothing(self, cscli, cscli_as, user2, name):
        d = cscli.ok("drive", name, "create", "-s", "1G")
        other = cscli_as(user2)
        failed(other.run("drive", d["uuid"], "show"), "ResourceNotFound")
        assert d["uuid"] not in other.ok("list", "drives", "--uuid")["drives"]
        wait_shown(cscli, name)
        cscli.ok("drive", name, "destroy", "-f")

    def test_busy_drive_permission_error(self, slow_drivesd, name):
        """On the slow instance a resize lasts 10 minutes: a second resize and a destroy are
        refused with 403, which cscli reports as PermissionError."""
        from conftest import CsCli
        cli = CsCli(slow_drivesd, slow_drivesd.users[0])
        cli.ok("drive", name, "create", "-s", "1G")
        wait_shown(cli, name)
        assert cli.ok("drive", name, "resize", "-s", "2G", "-f")["status"] == "resizing"
        assert shown(cli, name)["status"] == "resizing"
        failed(cli.run("drive", name, "resize", "-s", "3G", "-f"), "PermissionError")
        failed(cli.run("drive", name, "destroy", "-f"), "PermissionError")


class TestUpload:
    """`drive NAME upload FILE`: cscli posts the file with requests (raw body, Basic auth) to
    drives/upload/, then looks the returned uuid up and PUTs the whole drive back with the name,
    media and multimount. cscli_local.py aims its upload endpoint at drivesd."""

    def test_drive_upload(self, cscli, drivesd, user1, name, tmp_path):
        path = str(tmp_path / "image.raw")
        size = 3 * MiB + 333
        digest = write_random_file(path, size)
        drive = cscli.ok("drive", name, "upload", path)
        assert drive["name"] == name and drive["status"] == "unmounted"
        assert drive["size"] == MIN_DISK  # grown to the dssd minimum
        assert drive["media"] == "disk" and drive["allow_multimount"] is False
        assert shown(cscli, name)["uuid"] == drive["uuid"]

        out = str(tmp_path / "downloaded")
        code, _ = curl_download(drivesd, user1, drive["uuid"], out, "0-%d" % (size - 1))
        assert code == 206
        assert sha256_file(out) == digest  # cscli sends the file unaltered
        cscli.ok("drive", drive["uuid"], "destroy", "-f")

    def test_drive_upload_options(self, cscli, drivesd, user1, name, tmp_path):
        path = str(tmp_path / "image.iso")
        size = 1 * MiB + 1
        digest = write_random_file(path, size)
        drive = cscli.ok("drive", name, "upload", path, "-m", "cdrom", "-M", "enable")
        assert drive["name"] == name and drive["status"] == "unmounted"
        assert drive["media"] == "cdrom" and drive["allow_multimount"] is True
        out = str(tmp_path / "downloaded")
        code, _ = curl_download(drivesd, user1, drive["uuid"], out, "0-%d" % (size - 1))
        assert code == 206 and sha256_file(out) == digest
        cscli.ok("drive", name, "destroy", "-f")


class TestLibrary:
    def test_list_libdrives(self, cscli):
        libs = cscli.ok("list", "libdrives")["libdrives"]
        assert libs
        for d in libs:
            assert {"os", "version", "image_type", "media", "description"} <= set(d)
        brief = cscli.ok("list", "libdrives", "--brief")["libdrives"]
        assert len(brief) == len(libs)
        pre = cscli.ok("list", "libdrives", "-f", "image_type=preinst")["libdrives"]
        assert pre and all(d["image_type"] == "preinst" for d in pre)

    def test_clone_libdrive(self, cscli, name):
        lib = [d for d in cscli.ok("list", "libdrives")["libdrives"] if d["media"] == "disk"][0]
        size = "%dG" % max(1, -(-lib["size"] // GiB))
        clone = cscli.ok("drive", name, "clone", "-u", lib["uuid"], "-s", size)
        assert clone["status"] == "cloning_dst" and clone["name"] == name
        wait_shown(cscli, clone["uuid"])
        cscli.ok("drive", clone["uuid"], "destroy", "-f")


class TestServers:
    def test_server_attach_detach_destroy(self, cscli, name):
        d1 = cscli.ok("drive", name + "_d1", "create", "-s", "1G")
        d2 = cscli.ok("drive", name + "_d2", "create", "-s", "1G")
        wait_shown(cscli, d1["uuid"])
        wait_shown(cscli, d2["uuid"])
        srv = cscli.ok("server", name + "_srv", "create", "-a", name + "_d1")
        assert [x["drive"]["uuid"] for x in srv["drives"]] == [d1["uuid"]]
        assert wait_shown(cscli, d1["uuid"], "mounted")["mounted_on"][0]["uuid"] == srv["uuid"]

        # attach sends the whole drive object as "drive"
        srv = cscli.ok("server", name + "_srv", "attach", name + "_d2", "-c", "0:1")
        assert {x["drive"]["uuid"] for x in srv["drives"]} == {d1["uuid"], d2["uuid"]}
        wait_shown(cscli, d2["uuid"], "mounted")
        brief = cscli.ok("list", "drives", "--brief")["drives"]
        mounted = [b[d2["uuid"]] for b in brief if d2["uuid"] in b][0][-1]
        assert mounted == {"mounted": [name + "_srv"]}

        srv = cscli.ok("server", name + "_srv", "detach", name + "_d2")
        assert [x["drive"]["uuid"] for x in srv["drives"]] == [d1["uuid"]]
        assert wait_shown(cscli, d2["uuid"])["mounted_on"] == []

        gone = cscli.ok("server", name + "_srv", "destroy", "-f")  # ?recurse=disks
        assert gone == "server %s '%s' destroyed" % (srv["uuid"], name + "_srv")
        failed(cscli.run("drive", d1["uuid"], "show"), "ResourceNotFound")
        cscli.ok("drive", d2["uuid"], "destroy", "-f")

    def test_server_create_with_new_drive_keep_drives(self, cscli, name):
        srv = cscli.ok("server", name, "create", "-d", "1G")
        system = [x["drive"]["uuid"] for x in srv["drives"]]
        assert len(system) == 1
        d = wait_shown(cscli, system[0], "mounted")
        assert d["name"] == "%s-system" % name and d["storage_type"] == "dssd"
        cscli.ok("server", name, "destroy", "-k", "-f")
        assert wait_shown(cscli, system[0])["mounted_on"] == []
        cscli.ok("drive", system[0], "destroy", "-f")

    def test_list_servers_brief(self, cscli, name):
        srv = cscli.ok("server", name, "create", "-d", "1G")
        try:
            brief = cscli.ok("list", "servers", "--brief")["servers"]
            mine = [b[srv["uuid"]] for b in brief if srv["uuid"] in b][0]
            assert mine[0] == {"name": name}
            assert list(mine[-1]) == ["nics"]
        finally:
            cscli.run("server", name, "destroy", "-f")
