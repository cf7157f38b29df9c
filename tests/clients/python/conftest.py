"""pytest fixtures: one real `skiff server` per test session, and API clients bound to it.

The server binary is $SKIFF_BIN, else <target>/debug/skiff where <target> is
$CARGO_TARGET_DIR or the workspace's target/. The server runs on a free loopback port
with a temporary data dir, and is killed at the end of the session even when tests fail.
"""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid

import pytest
from kubernetes import client, config

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
STARTUP_TIMEOUT_S = 30
SETPRIV = "/usr/bin/setpriv"


def _interrupt_on_sigterm(signum, frame):
    # Python dies on SIGTERM without unwinding; as KeyboardInterrupt, pytest still runs
    # fixture teardown, so a runner's timeout does not leak the server.
    raise KeyboardInterrupt(f"signal {signum}")


signal.signal(signal.SIGTERM, _interrupt_on_sigterm)


def skiff_binary():
    """The server binary to test; fails loudly rather than skipping when absent."""
    explicit = os.environ.get("SKIFF_BIN")
    if explicit:
        if not os.path.isfile(explicit):
            pytest.exit(f"SKIFF_BIN={explicit} is not a file", returncode=2)
        return explicit
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(REPO, "target")
    for profile in ("debug", "release"):
        path = os.path.join(target, profile, "skiff")
        if os.path.isfile(path):
            return path
    pytest.exit(f"no skiff binary under {target}/{{debug,release}}: run `cargo build -p skiff` or set SKIFF_BIN", returncode=2)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A running `skiff server` child process."""

    def __init__(self, binary):
        self.dir = tempfile.mkdtemp(prefix="skiff-pyclient-")
        self.data_dir = os.path.join(self.dir, "data")
        self.log_path = os.path.join(self.dir, "server.log")
        self.port = free_port()
        self.kubeconfig = os.path.join(self.data_dir, "kubeconfig.yaml")
        # If pytest itself is killed, the kernel kills the server too (util-linux setpriv).
        guard = [SETPRIV, "--pdeathsig", "KILL", "--"] if os.path.isfile(SETPRIV) else []
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                guard + [binary, "server", "--disable-agent", "--disable-scheduler", "--disable-controllers", "--bind-address", "127.0.0.1", "--port", str(self.port), "--data-dir", self.data_dir],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )

    def log_tail(self, lines=40):
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""

    def wait_ready(self):
        """Wait for the kubeconfig, then for GET /readyz to answer 200 through the client."""
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        last = "no kubeconfig yet"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"skiff server exited with {self.proc.returncode}:\n{self.log_tail()}")
            if os.path.isfile(self.kubeconfig):
                try:
                    api = config.new_client_from_config(config_file=self.kubeconfig)
                    try:
                        status, body = raw_get(api, "/readyz")
                    finally:
                        api.close()
                    if status == 200:
                        return
                    last = f"/readyz answered {status}: {body[:200]!r}"
                except Exception as e:  # the server may not listen yet
                    last = repr(e)
            time.sleep(0.1)
        raise RuntimeError(f"skiff server not ready after {STARTUP_TIMEOUT_S}s ({last}):\n{self.log_tail()}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)


def raw_get(api_client, path):
    """GET a non-resource path (like /readyz) with the client's TLS and credentials."""
    method, url, headers, body, post = api_client.param_serialize("GET", path, auth_settings=["BearerToken"])
    resp = api_client.call_api(method, url, headers, body, post)
    data = resp.read()
    return resp.status, data.decode("utf-8", errors="replace")


@pytest.fixture(scope="session")
def server():
    srv = Server(skiff_binary())
    try:
        srv.wait_ready()
        yield srv
    finally:
        # Runs on failures and interrupts too: no server outlives the session.
        srv.stop()


@pytest.fixture(scope="session")
def api_client(server):
    api = config.new_client_from_config(config_file=server.kubeconfig)
    yield api
    api.close()


@pytest.fixture
def core(api_client):
    return client.CoreV1Api(api_client)


@pytest.fixture
def apps(api_client):
    return client.AppsV1Api(api_client)


@pytest.fixture
def name():
    """A fresh object name per test, so tests sharing one server never collide."""
    return "t-" + uuid.uuid4().hex[:10]
