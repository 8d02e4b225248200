"""`replicator dev` as a newcomer meets it: start it, follow the printed
commands with the real AWS CLI, and see the records arrive on the target."""

import os
import re
import signal
import subprocess
import time

import pytest


def _read_banner(proc, deadline):
    lines = []
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if line.startswith(("/", "./", "go run")) and " consume " in line:
            return lines
    pytest.fail("replicator dev printed no demo commands:\n" + "\n".join(lines))


def test_dev_demo_commands_replicate(settings, tmp_path):
    binary = os.environ.get("CLIENTS_BIN")
    if not binary:
        pytest.fail("CLIENTS_BIN is not set: run with test/clients/run.sh", pytrace=False)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DATABASE_URL", "REPLICATOR_"))}
    proc = subprocess.Popen(
        [binary, "dev", "--listen-addr", "127.0.0.1:0", "--source-port", "0", "--target-port", "0", "--log-level", "warn"],
        stdout=subprocess.PIPE, stderr=open(tmp_path / "dev.log", "w"), text=True, env=env, cwd=tmp_path,
    )
    try:
        lines = _read_banner(proc, time.time() + 60)
        text = "\n".join(lines)
        start = text.index("export AWS_ACCESS_KEY_ID")
        script = text[start:]
        # The printed commands, run as printed, with the real AWS CLI first on PATH.
        path = os.path.dirname(settings.aws_cli) + os.pathsep + env.get("PATH", "")
        run_env = dict(env, PATH=path, AWS_CONFIG_FILE=str(tmp_path / "none"), AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"))
        commands = script.split("\n")
        produce = next(c for c in commands if " produce " in c)
        consume = next(c for c in commands if " consume " in c)
        setup = script[: script.index(produce)]
        # Create the replicator, then wait until it is RUNNING.
        out = subprocess.run(["bash", "-c", setup + '\nfor i in $(seq 1 100); do s=$(aws kafka describe-replicator --replicator-arn "$ARN" --query ReplicatorState --output text); [ "$s" = RUNNING ] && echo "$ARN" && exit 0; sleep 0.2; done; echo "state $s"; exit 1'],
                             env=run_env, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stdout + out.stderr
        assert re.match(r"arn:aws:kafka:us-east-1:000000000000:replicator/demo/", out.stdout.strip().splitlines()[-1]), out.stdout
        out = subprocess.run(["bash", "-c", produce], env=run_env, capture_output=True, text=True, timeout=60, cwd=tmp_path)
        assert out.returncode == 0 and "produced 10 records" in out.stdout, out.stdout + out.stderr
        out = subprocess.run(["bash", "-c", consume + " --timeout 20s"], env=run_env, capture_output=True, text=True, timeout=60, cwd=tmp_path)
        assert out.returncode == 0, out.stdout + out.stderr
        got = sorted(l.split()[3] for l in out.stdout.splitlines() if l.strip())
        assert got == sorted("message-%d" % i for i in range(10)), out.stdout
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            pytest.fail("replicator dev did not stop within 30 s of Ctrl-C")
    assert proc.returncode == 0, open(tmp_path / "dev.log").read()[-2000:]
