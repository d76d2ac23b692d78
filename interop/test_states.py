"""Named states (`/_drivesd/states`, `drivesd state`) as a suite uses them between tests, seen
through pycloudsigma (PyPI `cloudsigma` 2.0.0, unmodified): save an account's fixtures, let a
test change them through the client, load, and the client reads every object back as it was,
under the same uuids.

The main instance is shared by every module, so these tests save and load the state of an
account of their own (a per-account state leaves the others untouched), created for them through
the command line.
"""
import pytest
import requests

import cloudsigma.resource as cr

from conftest import new_user
from helpers import ADMIN, GiB, wait_for_status


def admin(d, method, path, body=None):
    r = requests.request(method, d.base + "/_drivesd/" + path, json=body, auth=ADMIN, timeout=60)
    return r.status_code, (r.json() if r.content else None)


@pytest.fixture
def account(drivesd):
    return drivesd.add_user(new_user("states"))


def client(drivesd, cls, user):
    return cls(api_endpoint=drivesd.api_endpoint, username=user.email, password=user.password)


def snapshot_of(drivesd, user):
    """Everything pycloudsigma lists for the account, in full."""
    return {
        "drives": client(drivesd, cr.Drive, user).list_detail(),
        "servers": client(drivesd, cr.Server, user).list_detail(),
        "tags": client(drivesd, cr.Tags, user).list_detail(),
        "snapshots": client(drivesd, cr.Snapshot, user).list_detail(),
    }


def test_a_suite_returns_to_its_fixtures(drivesd, account, user1):
    drives = client(drivesd, cr.Drive, account)
    made = [drives.create({"name": "fixture-%d" % i, "size": GiB, "media": "disk"}) for i in range(3)]
    for d in made:
        wait_for_status(drives.get, d["uuid"], "unmounted", ["creating"])
    client(drivesd, cr.Tags, account).create({"name": "golden", "resources": [made[0]["uuid"]]})
    servers = client(drivesd, cr.Server, account)
    server = servers.create({"name": "web", "cpu": 1000, "mem": 512 * 1024 ** 2, "vnc_password": "pw",
                             "drives": [{"drive": made[1]["uuid"], "dev_channel": "0:0", "device": "virtio",
                                         "boot_order": 1}]})
    snap = client(drivesd, cr.Snapshot, account).create({"drive": made[2]["uuid"], "name": "s"})
    wait_for_status(client(drivesd, cr.Snapshot, account).get, snap["uuid"], "available", ["creating"])
    saved = snapshot_of(drivesd, account)
    other = client(drivesd, cr.Drive, user1).list_detail()

    status, state = admin(drivesd, "POST", "states", {"name": "fixtures-" + account.uuid, "account": account.email})
    assert status == 201, state
    assert state["scope"] == "account" and state["account"]["uuid"] == account.uuid
    assert (state["drives"], state["servers"], state["snapshots"]) == (3, 1, 1)

    # A test changes everything through the client.
    drives.update(made[0]["uuid"], {"name": "renamed", "size": GiB, "media": "disk"})
    servers.delete(server["uuid"])
    drives.delete(made[1]["uuid"])
    extra = drives.create({"name": "extra", "size": GiB, "media": "disk"})
    wait_for_status(drives.get, extra["uuid"], "unmounted", ["creating"])
    assert snapshot_of(drivesd, account) != saved

    status, answer = admin(drivesd, "POST", "states/fixtures-%s/load" % account.uuid)
    assert status == 200, answer
    assert answer["deleted"] > 0 and answer["inserted"] > 0
    assert snapshot_of(drivesd, account) == saved
    # Same uuids: the client finds the fixtures where the suite left them.
    assert drives.get(made[1]["uuid"])["mounted_on"][0]["uuid"] == server["uuid"]
    with pytest.raises(Exception):
        drives.get(extra["uuid"])
    # The other accounts were not touched.
    assert client(drivesd, cr.Drive, user1).list_detail() == other

    status, _ = admin(drivesd, "DELETE", "states/fixtures-" + account.uuid)
    assert status == 204


def test_the_command_line_goes_through_the_running_daemon(drivesd, account):
    drives = client(drivesd, cr.Drive, account)
    kept = drives.create({"name": "kept", "size": GiB, "media": "disk"})
    wait_for_status(drives.get, kept["uuid"], "unmounted", ["creating"])
    name = "cli-" + account.uuid
    out = drivesd.cli("state", "save", name, "--account", account.email, "--url", drivesd.base)
    assert out.startswith("saved %s (account %s, 1 drives" % (name, account.email)), out
    assert any(line.split("\t")[:2] == [name, account.email] for line in
               drivesd.cli("state", "list", "--url", drivesd.base).splitlines())
    drives.delete(kept["uuid"])
    out = drivesd.cli("state", "load", name, "--url", drivesd.base)
    assert "1 inserted" in out, out
    assert drives.get(kept["uuid"])["name"] == "kept"
    assert drivesd.cli("state", "delete", name, "--url", drivesd.base) == "deleted %s\n" % name
