"""Drives that hold bytes: uploads and downloads through CloudSigma's own tools, unmodified.

- curl, exactly as pycloudsigma's acceptance test test_upload_download.py runs it: the single
  upload `curl -X POST -u … -H 'Content-Type: application/octet-stream' -T <file> -v
  <endpoint>/drives/upload/` and the download `curl -L -u … -o <out> -w '%{http_code}' -r 0-N -v
  <api>/drives/<uuid>/download/`;
- pycloudsigma's resumable.js client `cloudsigma.resumable_upload.Upload` (its `TestUpload`);
- pycloudsigma's `InitUpload` and `Drive.get_upload_chunk_link` / `Drive.upload_chunk` (its
  `test_upload_protocol_gen_docs`);
- pycloudsigma's `Drive.clone` and `Drive.delete` on drives with content.

Bytes are compared by sha256 (hashlib) of random data (os.urandom). A drive that was uploaded
smaller than the storage type's minimum (512 MiB) is grown to it: the file's bytes, then zeros.

Not covered, because the client cannot do it (see README): `upload_client.CSUploader` (Python 3
refuses its str request bodies, and it drops the port from upload links), libcloud (no upload or
download), cscli `drive download` (calls a method that does not exist). cscli's `drive upload`
is in test_cscli.py.
"""
import multiprocessing
import os
import random
import re
import shutil
import tempfile
import time
from dataclasses import dataclass

import pytest

import cloudsigma.resource as cr
from cloudsigma import errors

from conftest import UUID_RE
from helpers import (MIN_DISK, MiB, GiB, curl, curl_download, curl_stream_digest,
                     response_headers, sha256_file, storage_stats, verbose_headers,
                     wait_for_status, write_random_file)

UPLOAD_NAME_RE = re.compile(r"^Upload_\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")


@dataclass
class Image:
    path: str
    size: int
    sha256: str

    @property
    def basename(self):
        return os.path.basename(self.path)


@pytest.fixture
def make_image(tmp_path):
    """make_image(size, text=False): a random file named like pycloudsigma's
    (drive_upload_test…), with its sha256. The test's files (downloads too) go at teardown."""
    def make(size, text=False):
        fd, path = tempfile.mkstemp(prefix="drive_upload_test", dir=str(tmp_path))
        os.close(fd)
        return Image(path, size, write_random_file(path, size, text=text))
    yield make
    shutil.rmtree(str(tmp_path), ignore_errors=True)


@pytest.fixture
def dc(cs):
    return cs.Drive()


def odd_size(mib):
    """pycloudsigma's file sizes: whole MiB plus a random 1..1023 bytes."""
    return mib * MiB + random.randrange(1, 1024)


def curl_upload(d, user, path, password=None):
    """pycloudsigma's do_curl_upload; its curl_upload_endpoint is the API endpoint without the
    trailing slash (the docs' direct.<loc> host is the same listener here)."""
    endpoint = d.api_endpoint.rstrip("/")
    t0 = time.monotonic()
    res = curl("-X", "POST",
               "-u", "%s:%s" % (user.email, password if password is not None else user.password),
               "-H", "Content-Type: application/octet-stream",
               "-T", path,
               "-v",
               "%s/drives/upload/" % endpoint)
    res.elapsed = time.monotonic() - t0
    return res


def uploaded(d, user, image):
    """curl-upload `image` and return the uuid it prints."""
    res = curl_upload(d, user, image.path)
    assert res.returncode == 0, res.err
    uuid = res.out.strip()
    assert UUID_RE.match(uuid), "curl printed %r" % res.out
    return uuid


def download_sha256(d, user, uuid, tmp_path, length):
    """The test's ranged download of the first `length` bytes: (http code, headers, sha256)."""
    out = str(tmp_path / ("download-%s" % uuid))
    code, headers = curl_download(d, user, uuid, out, "0-%d" % (length - 1))
    digest = size = None
    if code == 206:
        digest, size = sha256_file(out), os.path.getsize(out)
        assert size == length, "206 with %d bytes for %d asked" % (size, length)
    if os.path.exists(out):
        os.remove(out)
    return code, headers, digest


def assert_zeros(d, user, uuid, tmp_path, byte_range, length):
    out = str(tmp_path / ("zeros-%s" % uuid))
    code, headers = curl_download(d, user, uuid, out, byte_range)
    with open(out, "rb") as f:
        data = f.read()
    os.remove(out)
    assert code == 206, (byte_range, code, headers)
    assert data == bytes(length), "range %s is not %d zero bytes" % (byte_range, length)


def assert_deleted(client, uuid):
    with pytest.raises(errors.ClientError) as exc:
        client.get(uuid)
    assert exc.value.status_code == 404


# ---------------------------------------------------------------------------------------------
# single-request upload (curl) and download


class TestCurlUploadDownload:
    def test_curl_upload_and_download(self, drivesd, user1, dc, make_image, tmp_path):
        """PT test_curl_upload_and_download, plus what its helpers leave implicit: curl gets a
        100 Continue (no 1 s stall), the drive is complete when the uuid arrives, and the
        padding is zeros."""
        image = make_image(odd_size(4))  # over 1 MiB: curl sends Expect: 100-continue
        res = curl_upload(drivesd, user1, image.path)
        assert res.returncode == 0, res.err
        uuid = res.out.strip()
        assert UUID_RE.match(uuid), "stdout %r is not a bare uuid" % res.out
        sent = verbose_headers(res.err, ">")
        # -T with a URL ending in / appends the file name: no trailing slash after it
        assert "POST /api/2.0/drives/upload/%s HTTP/1.1" % image.basename in sent, sent
        assert "Content-Length: %d" % image.size in sent
        assert "Expect: 100-continue" in sent, sent
        assert "HTTP/1.1 100 Continue" in verbose_headers(res.err), res.err
        status, headers = response_headers(res.err)
        assert status == 200
        assert headers["content-type"].startswith("text/plain")
        assert res.elapsed < 1.0, "upload took %.2f s (curl waits 1 s for a 100 Continue)" % (
            res.elapsed)

        drive = dc.get(uuid)  # PT: _wait_for_status(uuid, 'unmounted'): already there
        assert drive["status"] == "unmounted"
        assert drive["size"] == MIN_DISK  # grown to the dssd minimum
        assert drive["media"] == "disk" and drive["storage_type"] == "dssd"
        assert UPLOAD_NAME_RE.match(drive["name"]), drive["name"]

        # PT do_download: the range of the file's size; compare_upload_and_download
        out = str(tmp_path / "downloaded")
        code, headers = curl_download(drivesd, user1, uuid, out, "0-%d" % (image.size - 1))
        assert code == 206
        assert os.path.getsize(out) == image.size
        assert sha256_file(out) == image.sha256
        assert headers["content-range"] == "bytes 0-%d/%d" % (image.size - 1, MIN_DISK)
        assert headers["content-disposition"] == 'attachment; filename="%s"' % uuid

        # the whole drive, streamed: the file, then zeros up to 512 MiB
        status, headers, total, digest, zeros = curl_stream_digest(
            drivesd, user1, uuid, image.size)
        assert status == 200
        assert total == MIN_DISK and headers["content-length"] == str(MIN_DISK)
        assert digest == image.sha256
        assert zeros, "bytes after the uploaded file are not all zeros"
        assert headers["content-type"] == "application/octet-stream"
        assert headers["content-disposition"] == 'attachment; filename="%s"' % uuid
        assert dc.delete(uuid) is None
        assert_deleted(dc, uuid)

    def test_wrong_password_is_401_before_the_body(self, drivesd, user1, dc, make_image):
        image = make_image(odd_size(4))
        before = {d["uuid"] for d in dc.list()}
        res = curl_upload(drivesd, user1, image.path, password="not-the-password")
        assert res.returncode == 0, res.err
        status, headers = response_headers(res.err)
        assert status == 401
        assert headers["www-authenticate"].startswith("Basic")
        # the final answer came instead of 100 Continue: curl sent no body and did not stall
        assert "HTTP/1.1 100 Continue" not in verbose_headers(res.err)
        assert "We are completely uploaded and fine" not in res.err
        assert res.elapsed < 1.0, "took %.2f s" % res.elapsed
        assert {d["uuid"] for d in dc.list()} == before

    def test_head_suffix_and_unsatisfiable_ranges(self, drivesd, user1, user2, dc, make_image,
                                                   tmp_path):
        image = make_image(odd_size(1))
        uuid = uploaded(drivesd, user1, image)
        url = "%sdrives/%s/download/" % (drivesd.api_endpoint, uuid)
        auth = "%s:%s" % (user1.email, user1.password)

        head = curl("-I", "-u", auth, "-v", url)  # HEAD
        status, headers = response_headers(head.err)
        assert status == 200
        assert headers["content-length"] == str(MIN_DISK)
        assert headers["accept-ranges"] == "bytes"
        assert headers["content-disposition"] == 'attachment; filename="%s"' % uuid

        # bytes=-n: the last n bytes (padding zeros); bytes=a-: from a to the end
        assert_zeros(drivesd, user1, uuid, tmp_path, "-4096", 4096)
        assert_zeros(drivesd, user1, uuid, tmp_path, "%d-" % (MIN_DISK - 100), 100)
        # an end past the size is clamped
        out = str(tmp_path / "clamped")
        code, headers = curl_download(drivesd, user1, uuid, out,
                                      "%d-%d" % (MIN_DISK - 10, MIN_DISK + 1000))
        assert code == 206 and os.path.getsize(out) == 10
        assert headers["content-range"] == "bytes %d-%d/%d" % (MIN_DISK - 10, MIN_DISK - 1,
                                                                 MIN_DISK)
        # a range that starts inside the file and ends in the padding
        code, headers = curl_download(drivesd, user1, uuid, out, "%d-%d" % (
            image.size - 16, image.size + 15))
        with open(image.path, "rb") as f:
            f.seek(image.size - 16)
            tail = f.read()
        with open(out, "rb") as f:
            assert code == 206 and f.read() == tail + bytes(16)

        # unsatisfiable
        code, headers = curl_download(drivesd, user1, uuid, out, "%d-" % MIN_DISK)
        assert code == 416
        assert headers["content-range"] == "bytes */%d" % MIN_DISK

        # another user's drive is unknown to them; so is a deleted one
        code, _ = curl_download(drivesd, user2, uuid, out, "0-9")
        assert code == 404
        assert dc.delete(uuid) is None
        code, _ = curl_download(drivesd, user1, uuid, out, "0-9")
        assert code == 404


# ---------------------------------------------------------------------------------------------
# chunked upload, flow A: resumable.js (cloudsigma.resumable_upload.Upload)


def _run_resumable_upload(path, drive_name, queue):
    """PT TestUpload.do_upload, in a child process (the client retries a failed chunk forever,
    so only a process can be given up on)."""
    try:
        from cloudsigma.resumable_upload import Upload
        up = Upload(path, chunk_size=1024 ** 2, drive_name=drive_name)
        up.upload()
        queue.put(("ok", up.drive_uuid, up.uploaded_size))
    except BaseException as exc:  # report it to the test instead of dying silently
        queue.put(("error", repr(exc), None))


class TestResumableUpload:
    def test_resumable_upload(self, dc, make_image, name):
        """PT TestUpload.test_resumable_upload: a 10.x MiB file in 1 MiB chunks, 4 threads.

        Under Python 3 the client posts str(chunk bytes), a repr 2.5-4 times the chunk's length,
        as each chunk: drivesd writes the chunk's length of it, so the drive does not hold the
        file's bytes. The real test checks only what is checked here."""
        image = make_image(odd_size(10))
        ctx = multiprocessing.get_context("fork")
        queue = ctx.Queue()
        proc = ctx.Process(target=_run_resumable_upload, args=(image.path, name, queue))
        proc.start()
        proc.join(40)  # PT: 2 minutes
        if proc.is_alive():
            proc.terminate()
            proc.join()
            stuck = dc.list_detail(query_params={"name": name})
            pytest.fail("Upload did not finish in 40 s; drive: %r" % [
                (d["uuid"], d["status"], d["size"]) for d in stuck])
        outcome, uuid, uploaded_size = queue.get(timeout=5)
        assert outcome == "ok", uuid
        assert uploaded_size == image.size

        drive = dc.get(uuid)
        assert drive["status"] == "unmounted"
        assert drive["name"] == name
        assert drive["size"] == MIN_DISK  # completion grows it to the dssd minimum
        assert dc.delete(uuid) is None
        assert_deleted(dc, uuid)


# ---------------------------------------------------------------------------------------------
# chunked upload, flow B: InitUpload + per-chunk links


class TestUploadChunkLinks:
    def test_upload_protocol(self, cs, dc, drivesd, user1, make_image, tmp_path):
        """PT test_upload_protocol_gen_docs with five chunks instead of two: InitUpload, a link
        per chunk, every chunk but the last, 416 'already uploaded' for chunk 0, the last chunk;
        then the downloaded bytes are the file's.

        Drive.upload_chunk reads the image in text mode, so the file is random base64 text
        (random bytes make the client raise UnicodeDecodeError under Python 3)."""
        chunk = 2 * MiB
        image = make_image(odd_size(10), text=True)
        drive = cs.InitUpload().create({"media": "disk"}, image_path=image.path)
        uuid = drive["uuid"]
        assert drive["status"] == "uploading"
        assert drive["size"] == image.size  # exact: no rounding, no minimum yet
        assert drive["name"] == image.basename  # InitUpload names it after the file
        got = dc.get(uuid)
        assert got["status"] == "uploading" and got["size"] == image.size
        assert uuid in {d["uuid"] for d in dc.list()}

        n_chunks = image.size // chunk  # 5: the last one is bigger
        links = [dc.get_upload_chunk_link(uuid, n, chunk) for n in range(n_chunks)]
        for link in links:
            assert re.match(r"^/api/2\.0/drives/%s/upload_chunk/[^/?]+/$" % uuid, link), link
        assert len(set(links)) == n_chunks

        for n in range(n_chunks - 1):
            resp = dc.upload_chunk(links[n], image.path, n, chunk)  # no credentials
            assert resp.status_code == 200, resp.text
            assert resp.json() == {}
        assert dc.get(uuid)["status"] == "uploading"

        # PT: get_upload_chunk_link(uuid, 0) again -> ClientError, 416, 'already uploaded'.
        # With PT's default 5 MiB chunk size too: [0, 5 MiB) is written.
        for call in (lambda: dc.get_upload_chunk_link(uuid, 0, chunk),
                     lambda: dc.get_upload_chunk_link(uuid, 0)):
            with pytest.raises(errors.ClientError) as exc:
                call()
            assert "0" in exc.value.args[0]
            assert "already uploaded" in exc.value.args[0]
            assert exc.value.args[1] == 416
        # nothing to download yet
        code, _, _ = download_sha256(drivesd, user1, uuid, tmp_path, 1024)
        assert code == 403

        last = n_chunks - 1
        resp = dc.upload_chunk(links[last], image.path, last, chunk)
        assert resp.status_code == 200, resp.text
        assert resp.json() == {}

        drive = dc.get(uuid)  # complete with the last chunk's answer, not later
        assert drive["status"] == "unmounted"
        assert drive["size"] == MIN_DISK

        code, headers, digest = download_sha256(drivesd, user1, uuid, tmp_path, image.size)
        assert code == 206
        assert digest == image.sha256
        assert_zeros(drivesd, user1, uuid, tmp_path,
                     "%d-%d" % (image.size, image.size + MiB - 1), MiB)
        assert_zeros(drivesd, user1, uuid, tmp_path, "-4096", 4096)
        assert dc.delete(uuid) is None

    def test_refused_and_allowed_while_uploading(self, cs, dc, make_image, name):
        """Reference §2.7: an uploading drive may be renamed but not resized or cloned."""
        image = make_image(odd_size(1), text=True)
        drive = cs.InitUpload().create({"name": name, "media": "disk"}, image_path=image.path)
        uuid = drive["uuid"]
        for what, call in {
            "resize": lambda: dc.resize(uuid, dict(drive, size=GiB)),
            "clone": lambda: dc.clone(uuid, {"name": name + "_c"}),
        }.items():
            with pytest.raises(errors.PermissionError) as exc:
                call()
            assert exc.value.status_code == 403, what
        # update(get()), as PT and cscli's `drive modify` do: the body carries storage_type and
        # the drive's unchanged size, still below the type's minimum while uploading
        got = dc.get(uuid)
        got["name"] = name + "_renamed"
        got["meta"] = {"k": "v"}
        updated = dc.update(uuid, got)
        assert updated["name"] == name + "_renamed" and updated["meta"] == {"k": "v"}
        assert updated["status"] == "uploading" and updated["size"] == image.size
        assert dc.delete(uuid) is None

    def test_delete_uploading_drive(self, cs, dc, drivesd, make_image):
        """pycloudsigma's cleanup deletes drives in `uploading`: 204, with or without chunks
        written, and the written bytes go."""
        before = storage_stats(drivesd)
        image = make_image(odd_size(3), text=True)
        empty = cs.InitUpload().create({"media": "disk"}, image_path=image.path)
        partial = cs.InitUpload().create({"media": "disk"}, image_path=image.path)
        link = dc.get_upload_chunk_link(partial["uuid"], 0, MiB)
        assert dc.upload_chunk(link, image.path, 0, MiB).status_code == 200
        mid = storage_stats(drivesd)
        assert mid["stored_bytes"] > before["stored_bytes"]
        assert mid["logical_bytes"] == before["logical_bytes"] + 2 * image.size

        for d in (empty, partial):
            assert dc.get(d["uuid"])["status"] == "uploading"
            assert dc.delete(d["uuid"]) is None  # 204
            assert_deleted(dc, d["uuid"])
        after = storage_stats(drivesd)
        assert after["stored_bytes"] == before["stored_bytes"]
        assert after["logical_bytes"] == before["logical_bytes"]
        assert after["images"] == before["images"]


# ---------------------------------------------------------------------------------------------
# clones share content


class TestClonedContent:
    def test_clone_shares_bytes(self, drivesd, user1, dc, make_image, tmp_path, name):
        """Drive.clone of an uploaded drive: the clone reads the same bytes, and the data
        directory stores them once (GET /_drivesd/storage)."""
        s0 = storage_stats(drivesd)
        image = make_image(odd_size(4))
        src = uploaded(drivesd, user1, image)
        s1 = storage_stats(drivesd)
        stored = s1["stored_bytes"] - s0["stored_bytes"]
        assert stored >= image.size
        assert s1["logical_bytes"] - s0["logical_bytes"] == MIN_DISK

        clone = dc.clone(src, {"name": name + "_c"})
        assert clone["status"] == "cloning_dst" and clone["size"] == MIN_DISK
        clone = wait_for_status(dc.get, clone["uuid"], "unmounted", {"cloning_dst"})[0]
        wait_for_status(dc.get, src, "unmounted", {"cloning_src"})
        s2 = storage_stats(drivesd)
        assert s2["stored_bytes"] == s1["stored_bytes"], (s1, s2)  # nothing copied
        assert s2["shared_bytes"] - s1["shared_bytes"] == stored, (s1, s2)
        assert s2["shared_bytes"] > 0
        assert s2["logical_bytes"] - s1["logical_bytes"] == MIN_DISK

        code, _, digest = download_sha256(drivesd, user1, clone["uuid"], tmp_path, image.size)
        assert code == 206 and digest == image.sha256
        code, _, digest = download_sha256(drivesd, user1, src, tmp_path, image.size)
        assert code == 206 and digest == image.sha256
        assert_zeros(drivesd, user1, clone["uuid"], tmp_path, "-4096", 4096)

        # a bigger clone: the same bytes, zeros after the source's size
        big = dc.clone(src, {"name": name + "_big", "size": GiB})
        big = wait_for_status(dc.get, big["uuid"], "unmounted", {"cloning_dst"})[0]
        assert big["size"] == GiB
        code, _, digest = download_sha256(drivesd, user1, big["uuid"], tmp_path, image.size)
        assert code == 206 and digest == image.sha256
        assert_zeros(drivesd, user1, big["uuid"], tmp_path,
                     "%d-%d" % (MIN_DISK - 512, MIN_DISK + 511), 1024)
        wait_for_status(dc.get, src, "unmounted", {"cloning_src"})

        # the source goes first: the clones keep the bytes
        dc.delete(src)
        code, _, digest = download_sha256(drivesd, user1, clone["uuid"], tmp_path, image.size)
        assert code == 206 and digest == image.sha256
        dc.delete(clone["uuid"])
        dc.delete(big["uuid"])
        s3 = storage_stats(drivesd)
        assert s3["stored_bytes"] == s0["stored_bytes"], (s0, s3)
        assert s3["shared_bytes"] == s0["shared_bytes"], (s0, s3)
        assert s3["logical_bytes"] == s0["logical_bytes"], (s0, s3)

    def test_download_while_cloning(self, slow_drivesd, make_image, tmp_path, name):
        """On the slow instance a clone lasts 10 minutes: the source (cloning_src) can be
        downloaded, the clone (cloning_dst) cannot."""
        user = slow_drivesd.users[0]
        sdc = cr.Drive(api_endpoint=slow_drivesd.api_endpoint, username=user.email,
                       password=user.password)
        image = make_image(odd_size(2))
        src = uploaded(slow_drivesd, user, image)
        assert sdc.get(src)["status"] == "unmounted"
        clone = sdc.clone(src, {"name": name})
        assert sdc.get(src)["status"] == "cloning_src"
        code, _, digest = download_sha256(slow_drivesd, user, src, tmp_path, image.size)
        assert code == 206 and digest == image.sha256
        code, _, _ = download_sha256(slow_drivesd, user, clone["uuid"], tmp_path, 1024)
        assert code == 403

    def test_library_clone_holds_the_header(self, cs, drivesd, user1, dc, tmp_path, name):
        """A clone of a library drive reads as drivesd's generated library image: a header
        naming the library drive, then zeros."""
        lib = [d for d in cs.LibDrive().list() if d["media"] == "disk"][0]
        clone = dc.clone(lib["uuid"], {"name": name})
        clone = wait_for_status(dc.get, clone["uuid"], "unmounted", {"cloning_dst"})[0]
        header = ("DRIVESD LIBRARY DRIVE\nuuid: %s\nname: %s\n" % (
            lib["uuid"], lib["name"])).encode()
        out = str(tmp_path / "lib")
        code, _ = curl_download(drivesd, user1, clone["uuid"], out, "0-4095")
        with open(out, "rb") as f:
            data = f.read()
        assert code == 206
        assert data == header + bytes(4096 - len(header)), data[:200]
        assert_zeros(drivesd, user1, clone["uuid"], tmp_path, "-4096", 4096)
        # the library drive itself is not the user's to download
        code, _ = curl_download(drivesd, user1, lib["uuid"], out, "0-9")
        assert code in (403, 404)
        dc.delete(clone["uuid"])
