from __future__ import annotations

import json
import socket
import threading
import time

import httpx
import pytest
import requests
import uvicorn
from taxii2client.exceptions import TAXIIServiceException
from taxii2client.v21 import ApiRoot, Collection, Server, as_pages

from distillguard.intel.export import export_bundle
from distillguard.intel.taxii.auth import (
    Collection as Col,
)
from distillguard.intel.taxii.auth import (
    ServerConfig,
    hash_password,
    hash_token,
)
from distillguard.intel.taxii.server import MEDIA_TYPE, TaxiiApp
from distillguard.intel.taxii.storage import TaxiiStorage
from distillguard.store import DuckDBStore
from tests.intel.conftest import NOW, PROVIDER_A

SHARED = "9b1e3c4d-5f6a-4b7c-8d9e-0f1a2b3c4d5e"
RESTRICTED = "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
PUBLIC = "7c8d9e0f-1a2b-4c3d-8e4f-5a6b7c8d9e0f"
TOKEN = "tok-" + "x" * 40


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    cfg = ServerConfig(
        title="test taxii",
        collections=(
            Col(SHARED, "campaigns", read=("alice", "bob"), write=("alice",)),
            Col(RESTRICTED, "restricted", read=("alice",), write=("alice",)),
            Col(PUBLIC, "public", read=("anonymous",), write=("alice",)),
        ),
        passwords={
            "alice": hash_password("wonderland", iterations=1000),
            "bob": hash_password("builder", iterations=1000),
        },
        tokens={"bot": hash_token(TOKEN)},
        max_content_length=2_000_000,
        page_size=10,
    )
    cfg = ServerConfig(**{f: getattr(cfg, f) for f in cfg.__dataclass_fields__})
    store = DuckDBStore(tmp_path_factory.mktemp("taxii") / "taxii.duckdb")
    app = TaxiiApp(cfg, TaxiiStorage(store)).app
    port = _free_port()
    srv = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error", lifespan="off")
    )
    th = threading.Thread(target=srv.run, daemon=True)
    th.start()
    for _ in range(200):
        if srv.started:
            break
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    th.join(5)
    store.close()


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    from distillguard.intel.keys import CommunityKey
    from tests.intel.conftest import load_events

    store = DuckDBStore(":memory:")
    load_events(PROVIDER_A / "events.jsonl", store)
    b = export_bundle(PROVIDER_A, store, CommunityKey(bytes(range(32))), now=NOW).bundle
    store.close()
    return b


def _col(base, cid, user="alice", password="wonderland"):
    return Collection(f"{base}/intel/collections/{cid}/", user=user, password=password)


def test_discovery_and_api_root(server):
    s = Server(f"{server}/taxii2/", user="alice", password="wonderland")
    assert s.title == "test taxii"
    root = s.api_roots[0]
    assert isinstance(root, ApiRoot) and "application/taxii+json;version=2.1" in root.versions
    titles = {c.title for c in root.collections}
    assert titles == {"campaigns", "restricted", "public"}
    bob = Server(f"{server}/taxii2/", user="bob", password="builder").api_roots[0]
    assert {c.title for c in bob.collections} == {"campaigns", "public"}


def test_push_then_page_with_taxii2_client(server, bundle):
    col = _col(server, SHARED)
    assert col.can_write and col.can_read
    status = col.add_objects(json.dumps({"objects": bundle["objects"]}), wait_for_completion=False)
    assert status.status == "complete" and status.failure_count == 0
    assert status.success_count == len(bundle["objects"])
    got = []
    for env in as_pages(_col(server, SHARED, "bob", "builder").get_objects, per_request=7):
        got += env.get("objects", [])
    assert sorted(o["id"] for o in got) == sorted(o["id"] for o in bundle["objects"])
    manifest = col.get_manifest(limit=5)
    assert manifest["more"] is True and len(manifest["objects"]) == 5
    last = manifest["objects"][-1]["date_added"]
    rest = col.get_objects(added_after=last, limit=1000)
    assert len(rest["objects"]) == len(bundle["objects"]) - 5
    one = col.get_object(bundle["objects"][5]["id"])
    assert one["objects"][0]["id"] == bundle["objects"][5]["id"]
    vers = col.object_versions(bundle["objects"][5]["id"])
    assert len(vers["versions"]) == 1
    inds = col.get_objects(type="indicator", limit=1000)
    assert {o["type"] for o in inds["objects"]} == {"indicator"}


def test_status_resource(server, bundle):
    r = httpx.post(
        f"{server}/intel/collections/{SHARED}/objects/",
        auth=("alice", "wonderland"),
        headers={"Content-Type": MEDIA_TYPE, "Accept": MEDIA_TYPE},
        content=json.dumps({"objects": [bundle["objects"][0], {"type": "nope"}]}),
    )
    assert r.status_code == 202 and r.headers["content-type"].startswith(MEDIA_TYPE)
    st = r.json()
    assert st["success_count"] == 1 and st["failure_count"] == 1
    again = httpx.get(f"{server}/intel/status/{st['id']}/", auth=("alice", "wonderland"))
    assert again.json()["id"] == st["id"]
    other = httpx.get(f"{server}/intel/status/{st['id']}/", auth=("bob", "builder"))
    assert other.status_code == 404


def test_bearer_token_reads_public_only(server):
    h = {"Authorization": f"Bearer {TOKEN}", "Accept": MEDIA_TYPE}
    assert httpx.get(f"{server}/intel/collections/{PUBLIC}/objects/", headers=h).status_code == 200
    assert httpx.get(f"{server}/intel/collections/{SHARED}/objects/", headers=h).status_code == 404
    bad = {"Authorization": "Bearer wrong", "Accept": MEDIA_TYPE}
    assert (
        httpx.get(f"{server}/intel/collections/{PUBLIC}/objects/", headers=bad).status_code == 401
    )


def test_unauthenticated_write_and_restricted_read_refused(server, bundle):
    env = json.dumps({"objects": bundle["objects"][:1]})
    h = {"Content-Type": MEDIA_TYPE, "Accept": MEDIA_TYPE}
    for cid in (SHARED, PUBLIC, RESTRICTED):
        r = httpx.post(f"{server}/intel/collections/{cid}/objects/", headers=h, content=env)
        assert r.status_code == 401 and "WWW-Authenticate" in r.headers
    assert httpx.get(f"{server}/intel/collections/{RESTRICTED}/objects/").status_code == 401
    r = httpx.get(f"{server}/intel/collections/{RESTRICTED}/objects/", auth=("bob", "builder"))
    assert r.status_code == 404
    r = httpx.post(
        f"{server}/intel/collections/{SHARED}/objects/",
        auth=("bob", "builder"),
        headers=h,
        content=env,
    )
    assert r.status_code == 403
    with pytest.raises((TAXIIServiceException, requests.HTTPError)):
        _col(server, RESTRICTED, "alice", "wrong-password").get_objects()


def test_public_collection_readable_anonymously(server):
    r = httpx.get(f"{server}/intel/collections/{PUBLIC}/objects/", headers={"Accept": MEDIA_TYPE})
    assert r.status_code == 200 and r.json() == {"more": False}


@pytest.mark.parametrize(
    ("content", "ctype", "status"),
    [
        (b"[" * 5000 + b"]" * 5000, MEDIA_TYPE, 400),
        (b"{broken", MEDIA_TYPE, 400),
        (b'{"objects": 5}', MEDIA_TYPE, 400),
        (b"x" * 2_100_000, MEDIA_TYPE, 413),
        (b'{"objects": []}', "application/json", 415),
    ],
)
def test_malicious_posts_refused_server_survives(server, content, ctype, status):
    r = httpx.post(
        f"{server}/intel/collections/{SHARED}/objects/",
        auth=("alice", "wonderland"),
        headers={"Content-Type": ctype, "Accept": MEDIA_TYPE},
        content=content,
    )
    assert r.status_code == status
    assert r.json()["http_status"] == str(status)
    assert httpx.get(f"{server}/taxii2/").status_code == 200


def test_bad_query_and_accept(server):
    auth = ("alice", "wonderland")
    base = f"{server}/intel/collections/{SHARED}/objects/"
    assert httpx.get(base, params={"limit": "x"}, auth=auth).status_code == 400
    assert httpx.get(base, params={"next": "';drop"}, auth=auth).status_code == 400
    assert httpx.get(base, params={"added_after": "yesterday"}, auth=auth).status_code == 400
    assert httpx.get(base, headers={"Accept": "text/html"}, auth=auth).status_code == 406


def test_client_push_and_pull_into_store(server, bundle, key, tmp_path):
    from distillguard.intel.importer import import_bundle
    from distillguard.intel.match import match_intel
    from distillguard.intel.taxii.client import pull, push
    from tests.intel.conftest import load_events

    url = f"{server}/intel/collections/{PUBLIC}/"
    pushed = push(url, bundle, user="alice", password="wonderland")
    assert pushed.failure_count == 0 and pushed.success_count == len(bundle["objects"])
    got = pull(url, page_size=9)  # anonymous: public collection
    assert got.objects == len(bundle["objects"]) and got.pages > 1
    assert pull(url, added_after=got.last_added).objects == 0
    store = DuckDBStore(tmp_path / "b.duckdb")
    load_events(PROVIDER_A / "events.jsonl", store)
    res = import_bundle(store, json.dumps(got.bundle).encode(), source=url, now=NOW)
    assert res.rejected == 0
    assert match_intel(store, key, now=NOW).accounts == 6
    store.close()


def test_client_errors_are_ours(server, bundle):
    from distillguard.errors import InputError
    from distillguard.intel.taxii.client import pull, push

    with pytest.raises(InputError, match="HTTP 401"):
        push(f"{server}/intel/collections/{PUBLIC}/", bundle)
    with pytest.raises(InputError, match="HTTP 401"):
        pull(f"{server}/intel/collections/{RESTRICTED}/")
