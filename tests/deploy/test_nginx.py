"""docs/examples/nginx.conf, run by the real nginx in front of a real sidecar: answers through
it are the sidecar's own, a replica that is down is skipped, limits answer as the sidecar does."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from ..service.packs import escort, flight, v1_rules
from ..service.server import Client, Server, free_port, token, tokens_env
from .nginx import Nginx, nginx_binary

pytestmark = pytest.mark.skipif(nginx_binary() is None,
                                reason="nginx is not installed (apt-get install nginx)")

TOKEN = token()


@pytest.fixture(scope="module")
def sidecar(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("nginx-sidecar")
    env = tokens_env([{"token": TOKEN, "tenant": "ngo-a", "roles": ["submit", "read"]}])
    server = Server(workdir, rules=v1_rules(workdir / "rules"), env=env).start()
    yield server
    server.stop()


def through(proxy: Nginx) -> Client:
    client = Client(proxy.url, TOKEN)
    client.session.verify = str(proxy.certificate)
    return client


def without_duplicate(answer: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in answer.items() if k != "duplicate"}


def test_an_event_and_a_batch_get_the_same_answers_through_nginx_as_direct(
        sidecar: Server) -> None:
    direct = sidecar.client(TOKEN)
    with Nginx([sidecar.port]) as proxy:
        proxied = through(proxy)
        one = escort(subject="case-nginx")
        first = proxied.events(one)
        assert first.status_code == 200, first.text
        assert first.json()["advisories"]  # an answer with something in it to compare
        again = direct.events(one).json()  # the re-delivery answers what was stored
        assert again["duplicate"] is True
        assert without_duplicate(again) == without_duplicate(first.json())
        assert proxied.events(one).json() == again

        batch = [flight(org="org-n", id="n-1"), escort(subject="case-n2", id="n-2")]
        kind = "application/cloudevents-batch+json"
        results = proxied.events(batch, content_type=kind)
        assert results.status_code == 200, results.text
        assert direct.events(batch, content_type=kind).json() == \
            proxied.events(batch, content_type=kind).json()
        stored = direct.get(f"/v1/advisories/{first.json()['advisories'][0]['id']}").json()
        assert proxied.get(f"/v1/advisories/{stored['id']}").json() == stored
        log = proxy.log_text()
    assert "[error]" not in log, log


def test_a_replica_that_is_down_is_skipped_for_a_live_one(sidecar: Server) -> None:
    dead = free_port()  # nothing listens there
    with Nginx([dead, sidecar.port]) as proxy:
        proxied = through(proxy)
        # Round robin sends every other request to the dead one first, until it is left out.
        answers = [proxied.events(escort(subject=f"case-failover-{i}")) for i in range(6)]
        assert [a.status_code for a in answers] == [200] * 6, [a.text for a in answers]
        assert all(a.json()["advisories"] for a in answers)
        health = [proxied.get("/readyz").status_code for _ in range(4)]
        log = proxy.log_text()
    assert health == [200] * 4
    assert "connect() failed (111: Connection refused) while connecting to upstream" in log
    assert f"127.0.0.1:{dead}" in log


def test_a_body_over_the_limit_is_refused_by_nginx_as_the_sidecar_refuses_it(
        sidecar: Server) -> None:
    too_big = b'{"x": "' + b"a" * (1024 * 1024) + b'"}'
    direct = sidecar.client(TOKEN).post("/v1/events", data=too_big)
    with Nginx([sidecar.port]) as proxy:
        proxied = through(proxy).post("/v1/events", data=too_big)
    assert direct.status_code == proxied.status_code == 413
    assert proxied.headers["Content-Type"] == "application/json"
    assert proxied.json()["error"]["code"] == direct.json()["error"]["code"] == \
        "payload-too-large"
    assert proxied.json()["error"]["path"] == direct.json()["error"]["path"]


def test_guesses_at_the_console_sign_in_are_limited_per_address_at_the_proxy(
        sidecar: Server) -> None:
    """The example's limit_req: ten a minute, a burst of ten; past it nginx answers 429
    without asking a replica, and the API beside it is not limited."""
    with Nginx([sidecar.port]) as proxy:
        proxied = through(proxy)
        guesses = [proxied.session.post(f"{proxy.url}/ui/sign-in", timeout=30,
                                        data={"token": f"guess-{i:04d}-0123456789abcdef"},
                                        allow_redirects=False)
                   for i in range(15)]
        api = [proxied.get("/v1/advisories").status_code for _ in range(15)]
        log = proxy.log_text()
    statuses = [g.status_code for g in guesses]
    # The first eleven reach the sidecar (refused there: 403 without the form's own token),
    # the rest are refused by nginx.
    assert statuses[:11] == [403] * 11, statuses
    assert statuses[11:] == [429] * 4, statuses
    assert api == [200] * 15
    assert "limiting requests" in log, log


def test_plain_http_is_only_redirected_to_https(sidecar: Server) -> None:
    with Nginx([sidecar.port]) as proxy:
        session = requests.Session()
        session.trust_env = False
        answer = session.get(f"http://127.0.0.1:{proxy.http_port}/v1/advisories",
                             allow_redirects=False, timeout=30)
    assert answer.status_code == 301
    assert answer.headers["Location"].startswith("https://127.0.0.1")


def test_the_example_names_every_port_it_is_rendered_with(tmp_path: Path) -> None:
    from .nginx import EXAMPLE, render  # noqa: PLC0415

    conf = render(EXAMPLE.read_text(), upstreams=[1111, 2222, 3333], https_port=4444,
                  http_port=5555, workdir=tmp_path, certificate=tmp_path / "c.pem",
                  key=tmp_path / "k.pem")
    assert [f"server 127.0.0.1:{p} max_fails=2 fail_timeout=10s;" in conf
            for p in (1111, 2222, 3333)] == [True] * 3
    assert "10.0.0." not in conf
    assert "listen 127.0.0.1:4444 ssl;" in conf
    assert "listen 127.0.0.1:5555;" in conf
    assert "/var/" not in conf


@pytest.fixture
def hangs_up() -> Iterator[int]:
    """A port whose server reads a request and closes without answering: a replica that dies
    after the request reached it."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(10)
                with contextlib.suppress(OSError):
                    conn.recv(65536)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join(10)
    listener.close()


def test_an_event_is_sent_again_to_a_live_replica_after_one_died_with_it(
        sidecar: Server, hangs_up: int) -> None:
    with Nginx([hangs_up, sidecar.port]) as proxy:
        proxied = through(proxy)
        answers = [proxied.events(escort(subject=f"case-retried-{i}")) for i in range(4)]
        assert [a.status_code for a in answers] == [200] * 4, [a.text for a in answers]
        log = proxy.log_text()
    assert "upstream prematurely closed connection" in log, log  # it did reach the dead one


def test_a_resolution_is_not_sent_again_once_a_replica_had_it(
        sidecar: Server, hangs_up: int) -> None:
    """Not idempotent (append-only): a second replica could record it twice, so the client
    gets the 502 and decides."""
    advisory = sidecar.client(TOKEN).events(escort(subject="case-resolve")).json()
    path = f"/v1/advisories/{advisory['advisories'][0]['id']}/resolution"
    with Nginx([hangs_up, sidecar.port]) as proxy:
        proxied = through(proxy)
        statuses = [proxied.post(path, {"decision": "acknowledged", "by": "nginx-test"})
                    .status_code for _ in range(4)]
    assert 502 in statuses, statuses
    assert set(statuses) <= {200, 201, 502}, statuses


def test_two_replicas_on_postgresql_behind_nginx_answer_as_one_server_and_survive_one(
        tmp_path: Path, pg_url: str) -> None:
    """The deployment of docs/deployment.md: nginx round-robins over two replicas of one
    PostgreSQL database; the demo timeline through it raises what one engine raises, and
    when one replica dies nginx and the other replica carry on."""
    from mandate_rules import Engine, Event  # noqa: PLC0415

    from ..service.server import RULES_DIR, demo_events  # noqa: PLC0415

    config = tmp_path / "replica.toml"
    config.write_text("lease_seconds = 2\n")
    env = tokens_env([{"token": TOKEN, "tenant": "ngo-a", "roles": ["submit", "read"]}])
    replicas = []
    for n in range(2):
        workdir = tmp_path / f"replica-{n}"
        workdir.mkdir()
        replicas.append(Server(workdir, db=pg_url, rules=RULES_DIR, env=env,
                               args=["--config", str(config)]).start())
    timeline = demo_events()
    engine = Engine.from_directory(RULES_DIR)
    expected = [[a.id for a in engine.evaluate(Event.from_json(e))] for e in timeline]
    try:
        with Nginx([r.port for r in replicas]) as proxy:
            client = through(proxy)
            half = len(timeline) // 2
            got = []
            for event in timeline[:half]:
                response = client.events(event)
                assert response.status_code == 200, response.text
                got.append([a["id"] for a in response.json()["advisories"]])
            replicas[0].kill()
            for event in timeline[half:]:
                response = client.events(event)
                assert response.status_code == 200, response.text
                got.append([a["id"] for a in response.json()["advisories"]])
            assert got == expected
    finally:
        for replica in replicas:
            if replica.proc is not None and replica.proc.poll() is None:
                replica.stop()


def test_the_console_behind_nginx_works_across_two_replicas_on_postgresql(
        tmp_path: Path, pg_url: str) -> None:
    """nginx takes turns between the replicas, so each page of one visit comes from either:
    signed in on one, known on the other; a form one rendered is taken by the other; signed
    out on one, out on both."""
    from ..console.pages import Visitor  # noqa: PLC0415

    watcher = token()
    env = tokens_env([{"token": TOKEN, "tenant": "ngo-a", "roles": ["submit", "read"]},
                      {"token": watcher, "roles": ["metrics"]}])
    replicas = []
    for n in range(2):
        workdir = tmp_path / f"replica-{n}"
        workdir.mkdir()
        replicas.append(Server(workdir, db=pg_url, rules=v1_rules(workdir / "rules"),
                               env=env).start())
    try:
        with Nginx([r.port for r in replicas]) as proxy:
            raised = through(proxy).events(escort(subject="case-console"))
            assert raised.status_code == 200, raised.text
            advisory_id = raised.json()["advisories"][0]["id"]
            visitor = Visitor(replicas[0])
            visitor.base = proxy.url
            visitor.session.verify = str(proxy.certificate)
            signed_in = visitor.sign_in(TOKEN)
            assert signed_in.status_code == 200, signed_in.text
            for _ in range(4):  # both replicas, twice each
                assert [r["href"].rsplit("/", 1)[1] for r in visitor.queue()] == [advisory_id]
            path = f"/ui/advisories/{advisory_id}"
            form = visitor.form(path, "/resolution")
            done = visitor.post(form["action"], {**form["fields"], "decision": "acknowledged",
                                                 "by": "Amina Yusuf"}, allow_redirects=False)
            assert done.status_code == 303, done.text
            stored = through(proxy).get(f"/v1/advisories/{advisory_id}").json()
            assert [r["by"] for r in stored["resolutions"]] == ["Amina Yusuf"]
            out = visitor.form("/ui/", "/sign-out")
            assert visitor.post(out["action"], out["fields"]).status_code == 200
            for _ in range(2):
                again = visitor.get("/ui/", allow_redirects=False)
                assert again.status_code == 303, again.text
                assert again.headers["location"].startswith("/ui/sign-in")
        # Both served the queue: each counts the console pages it answered.
        served = [sum(float(line.split()[-1]) for line in r.client(watcher).get("/metrics").text
                      .splitlines() if line.startswith("mandate_rules_http_requests_total{")
                      and 'route="/ui/"' in line and 'status="200"' in line)
                  for r in replicas]
    finally:
        for replica in replicas:
            replica.stop()
    assert all(count >= 1 for count in served), served
