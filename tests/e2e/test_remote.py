"""`lne bench --remote`: the board path, exercised against a real sshd on 127.0.0.1 running
the host build (the same code copies, runs and removes the app on a board)."""
from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from lne.compiler import compile_model

from ..conftest import lne_cli

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "ds_cnn.onnx"
SSHD = shutil.which("sshd") or ("/usr/sbin/sshd" if Path("/usr/sbin/sshd").exists() else None)
SFTP = "/usr/lib/openssh/sftp-server"  # scp speaks SFTP by default


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def sshd(tmp_path):
    if SSHD is None or shutil.which("ssh") is None:
        pytest.skip("openssh-server / client not installed (.ci/run installs them)")
    d = tmp_path / "ssh"
    d.mkdir()
    for key in ("host", "client"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", d / key], check=True)
    (d / "authorized_keys").write_text((d / "client.pub").read_text())
    os.chmod(d / "authorized_keys", 0o600)
    port = _free_port()
    (d / "sshd_config").write_text(f"""Port {port}
ListenAddress 127.0.0.1
HostKey {d / 'host'}
AuthorizedKeysFile {d / 'authorized_keys'}
PidFile {d / 'sshd.pid'}
StrictModes no
UsePAM no
PasswordAuthentication no
PermitRootLogin prohibit-password
Subsystem sftp {SFTP}
""")
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(exist_ok=True)
    proc = subprocess.Popen([SSHD, "-D", "-e", "-f", d / "sshd_config"], stderr=subprocess.PIPE)
    for _ in range(100):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.05)
    opts = [f"IdentityFile={d / 'client'}", "StrictHostKeyChecking=no", "UserKnownHostsFile=/dev/null",
            "LogLevel=ERROR"]
    yield f"{getpass.getuser()}@127.0.0.1:{port}", opts
    proc.terminate()
    proc.wait(timeout=10)


def test_bench_remote_over_ssh(sshd, tmp_path):
    dest, opts = sshd
    bundle = compile_model(SAMPLE, tmp_path / "bundle", build=True)
    before = set(Path("/tmp").glob("lne-bench.*"))
    args = ["bench", bundle, "--remote", dest, "--runs", "5", "--warmup", "1", "--per-layer", "--json"]
    for o in opts:
        args += ["--ssh-option", o]
    r = lne_cli(*args)
    assert r.returncode == 0, r.stderr
    import json
    data = json.loads(r.stdout)
    assert data["remote"] == dest and data["lne"]["median_ms"] > 0
    assert len(data["lne"]["layers"]) == len(json.loads((bundle / "ds_cnn.json").read_text())["steps"])
    assert set(Path("/tmp").glob("lne-bench.*")) == before  # the remote folder is removed


def test_remote_errors_are_clear(sshd, tmp_path):
    dest, opts = sshd
    bundle = compile_model(SAMPLE, tmp_path / "bundle", build=True)
    wrong = dest.rsplit(":", 1)[0] + f":{_free_port()}"  # nobody listens there
    r = lne_cli("bench", bundle, "--remote", wrong, "--runs", "1", *[a for o in opts for a in ("--ssh-option", o)])
    assert r.returncode == 2 and "ssh" in r.stderr and "Traceback" not in r.stderr
    r = lne_cli("bench", bundle, "--remote", "user@host:notaport")
    assert r.returncode == 2 and "user@host:port" in r.stderr
