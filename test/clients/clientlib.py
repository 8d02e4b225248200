"""Helpers of the client compatibility tests (fixtures are in conftest.py)."""

import hashlib
import json
import os
import subprocess
import time
from dataclasses import dataclass

import boto3
from botocore.config import Config

ROLE_ARN = "arn:aws:iam::111111111111:role/MskReplicatorRole"

ENV_NAMES = (
    "CLIENTS_ENDPOINT", "CLIENTS_REGION", "CLIENTS_AWS_CLI", "CLIENTS_SECRET_ARN",
    "CLIENTS_ACCOUNT_A", "CLIENTS_KEY_A_ID", "CLIENTS_KEY_A_SECRET",
    "CLIENTS_ACCOUNT_B", "CLIENTS_KEY_B_ID", "CLIENTS_KEY_B_SECRET",
)


@dataclass(frozen=True)
class Account:
    account_id: str
    key_id: str
    secret: str


@dataclass(frozen=True)
class Settings:
    endpoint: str
    region: str
    aws_cli: str
    secret_arn: str
    a: Account
    b: Account

    @classmethod
    def from_env(cls, e):
        return cls(
            endpoint=e["CLIENTS_ENDPOINT"],
            region=e["CLIENTS_REGION"],
            aws_cli=e["CLIENTS_AWS_CLI"],
            secret_arn=e["CLIENTS_SECRET_ARN"],
            a=Account(e["CLIENTS_ACCOUNT_A"], e["CLIENTS_KEY_A_ID"], e["CLIENTS_KEY_A_SECRET"]),
            b=Account(e["CLIENTS_ACCOUNT_B"], e["CLIENTS_KEY_B_ID"], e["CLIENTS_KEY_B_SECRET"]),
        )


def alias(cluster_id):
    """The alias the service gives an Apache Kafka cluster:
    <id>-<first 12 hex digits of SHA-256(id)>."""
    return cluster_id + "-" + hashlib.sha256(cluster_id.encode()).hexdigest()[:12]


def create_request(settings, name, tags=None):
    """A valid CreateReplicator request in the API's member names (boto3
    keyword arguments and --cli-input-json alike): two self-managed
    clusters, the target with SASL/SCRAM through the run's secrets file."""
    req = {
        "ReplicatorName": name,
        "Description": "orders to DR",
        "ServiceExecutionRoleArn": ROLE_ARN,
        "KafkaClusters": [
            {"ApacheKafkaCluster": {"ApacheKafkaClusterId": "primary", "BootstrapBrokerString": "127.0.0.1:9092,127.0.0.1:9093"}},
            {
                "ApacheKafkaCluster": {"ApacheKafkaClusterId": "dr", "BootstrapBrokerString": "localhost:19092"},
                "ClientAuthentication": {"SaslScram": {"Mechanism": "SHA512", "SecretArn": settings.secret_arn}},
            },
        ],
        "ReplicationInfoList": [
            {
                "SourceKafkaClusterId": "primary",
                "TargetKafkaClusterId": "dr",
                "TargetCompressionType": "LZ4",
                "TopicReplication": {
                    "TopicsToReplicate": ["orders.*", "payments"],
                    "TopicsToExclude": [".*\\.tmp"],
                    "CopyTopicConfigurations": True,
                    "CopyAccessControlListsForTopics": False,
                    "DetectAndCopyNewTopics": True,
                    "StartingPosition": {"Type": "EARLIEST"},
                },
                "ConsumerGroupReplication": {
                    "ConsumerGroupsToReplicate": [".*"],
                    "DetectAndCopyNewConsumerGroups": True,
                    "SynchroniseConsumerGroupOffsets": True,
                },
            }
        ],
    }
    if tags is not None:
        req["Tags"] = tags
    return req


def topic_update(topics):
    """A complete TopicReplicationUpdate (all five members are required)."""
    return {
        "TopicsToReplicate": list(topics),
        "TopicsToExclude": ["internal.*"],
        "CopyTopicConfigurations": False,
        "CopyAccessControlListsForTopics": True,
        "DetectAndCopyNewTopics": False,
    }


# One attempt per call: a compatibility test must see the server's first
# answer. botocore's retries "max_attempts" counts the retries after the
# first attempt (1 would still allow a second request); "total_max_attempts"
# counts every attempt.
NO_RETRIES = Config(retries={"total_max_attempts": 1, "mode": "standard"})


def boto3_client(settings, key_id, secret):
    return boto3.session.Session().client(
        "kafka",
        endpoint_url=settings.endpoint,
        region_name=settings.region,
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        config=NO_RETRIES,
    )


class CLIResult:
    def __init__(self, argv, proc):
        self.argv = argv
        self.returncode = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr

    @property
    def json(self):
        assert self.returncode == 0, self.describe()
        return json.loads(self.stdout) if self.stdout.strip() else {}

    def describe(self):
        return "aws %s\nexit %d\nstdout: %s\nstderr: %s" % (
            " ".join(self.argv), self.returncode, self.stdout.strip(), self.stderr.strip())


class AwsCLI:
    """Runs the real `aws kafka` command of the test virtualenv with one
    account's credentials, from the environment, and empty configuration
    files."""

    def __init__(self, settings, account, home):
        self.settings = settings
        config = os.path.join(home, "config")
        credentials = os.path.join(home, "credentials")
        for p in (config, credentials):
            open(p, "w").close()
        keep = ("PATH", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")
        self.env = {k: v for k, v in os.environ.items() if k in keep}
        self.env.update({
            "HOME": home,
            "AWS_ACCESS_KEY_ID": account.key_id,
            "AWS_SECRET_ACCESS_KEY": account.secret,
            "AWS_CONFIG_FILE": config,
            "AWS_SHARED_CREDENTIALS_FILE": credentials,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_PAGER": "",
            "AWS_MAX_ATTEMPTS": "1",
        })

    def __call__(self, *args, ok=True):
        """Runs `aws kafka ARGS`; with ok (the default) the command must
        succeed."""
        argv = ["kafka", *args, "--endpoint-url", self.settings.endpoint,
                "--region", self.settings.region, "--output", "json"]
        proc = subprocess.run([self.settings.aws_cli, *argv], env=self.env, capture_output=True,
                              text=True, timeout=120, stdin=subprocess.DEVNULL)
        res = CLIResult(argv, proc)
        if ok:
            assert res.returncode == 0, res.describe()
        return res


def eventually(fn, timeout=15.0, interval=0.2):
    """Calls fn until it returns a true value or timeout seconds pass;
    returns that value, or the last one."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)
