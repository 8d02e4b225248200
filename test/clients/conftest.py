"""Fixtures of the client compatibility tests.

run.sh starts a replicator server and passes it here through CLIENTS_*
environment variables; the tests only talk to it through the real AWS CLI
and boto3, as a user would.
"""

import os
import tempfile
import uuid

import pytest

from clientlib import ENV_NAMES, AwsCLI, Settings, boto3_client


@pytest.fixture(scope="session")
def settings():
    missing = [n for n in ENV_NAMES if not os.environ.get(n)]
    if missing:
        pytest.fail("missing %s: run these tests with test/clients/run.sh" % ", ".join(missing), pytrace=False)
    return Settings.from_env(os.environ)


@pytest.fixture
def unique_name():
    """Returns a function that makes a replicator name no other test uses."""

    def make(prefix):
        return "%s-%s" % (prefix, uuid.uuid4().hex[:10])

    return make


@pytest.fixture(scope="session")
def kafka_a(settings):
    """boto3 kafka client of account A."""
    return boto3_client(settings, settings.a.key_id, settings.a.secret)


@pytest.fixture(scope="session")
def kafka_b(settings):
    """boto3 kafka client of account B."""
    return boto3_client(settings, settings.b.key_id, settings.b.secret)


@pytest.fixture(scope="session")
def cli_home():
    with tempfile.TemporaryDirectory(prefix="clients-aws-home-") as d:
        yield d


@pytest.fixture(scope="session")
def aws_a(settings, cli_home):
    """The AWS CLI with account A's credentials."""
    home = os.path.join(cli_home, "a")
    os.makedirs(home)
    return AwsCLI(settings, settings.a, home)


@pytest.fixture(scope="session")
def aws_b(settings, cli_home):
    """The AWS CLI with account B's credentials."""
    home = os.path.join(cli_home, "b")
    os.makedirs(home)
    return AwsCLI(settings, settings.b, home)
