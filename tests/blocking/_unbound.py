"""A real Unbound on loopback for the resolver tests: its configuration, start and stop.

The answers for names that are not listed come from an auth zone (`test.`: `stop`, `ok`,
`sub.ok`); root hints point at loopback and outgoing queries leave from loopback, so nothing
can ever reach the internet.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from ._dns import LOOPBACK, wait_ready

UNBOUND = shutil.which("unbound") or (
    "/usr/sbin/unbound" if Path("/usr/sbin/unbound").exists() else None
)


@pytest.fixture
def unbound_bin() -> str:
    if UNBOUND is None:
        pytest.skip("unbound is not installed (deps/apt.txt installs it for `make test`)")
    return UNBOUND


def unbound_conf(folder: Path, port: int, zones: dict[str, Path]) -> Path:
    rpz = "".join(
        f'rpz:\n    name: "{name}"\n    zonefile: "{path}"\n    for-downstream: yes\n'
        for name, path in zones.items()
    )
    # The answers for names that are not listed come from an auth zone (test.), which the
    # iterator consults; root hints point at loopback and outgoing queries leave from
    # loopback, so nothing can ever reach the internet.
    (folder / "root.hints").write_text(
        ".  3600000 NS a.root.invalid.\na.root.invalid. 3600000 A 127.0.0.1\n"
    )
    (folder / "test.zone").write_text(
        "$ORIGIN test.\n$TTL 300\n"
        "@ IN SOA localhost. hostmaster.localhost. 1 3600 600 604800 300\n@ IN NS localhost.\n"
        "stop IN A 127.0.0.53\nok IN A 127.0.0.2\nsub.ok IN A 127.0.0.3\n"
    )
    conf = folder / "unbound.conf"
    conf.write_text(
        f"""server:
    interface: {LOOPBACK}
    port: {port}
    outgoing-interface: {LOOPBACK}
    do-ip6: no
    do-daemonize: no
    chroot: ""
    username: ""
    directory: "{folder}"
    pidfile: "{folder}/unbound.pid"
    use-syslog: no
    logfile: ""
    verbosity: 1
    access-control: 127.0.0.0/8 allow
    module-config: "respip validator iterator"
    do-not-query-localhost: no
    root-hints: "{folder}/root.hints"
    local-zone: "test." nodefault
remote-control:
    control-enable: no
auth-zone:
    name: "test."
    zonefile: "{folder}/test.zone"
    for-upstream: yes
    for-downstream: no
    fallback-enabled: no
{rpz}"""
    )
    return conf


@contextmanager
def running_unbound(unbound_bin: str, conf: Path, port: int) -> Iterator[subprocess.Popen[bytes]]:
    """Check the configuration, start Unbound in the foreground, wait until it answers, and
    stop it afterwards; its log must hold no error."""
    check = subprocess.run(
        [str(Path(unbound_bin).with_name("unbound-checkconf")), str(conf)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    proc = subprocess.Popen(
        [unbound_bin, "-d", "-c", str(conf)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        wait_ready(port, "ok.test")
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    log = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
    assert "error:" not in log, log
