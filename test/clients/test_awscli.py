"""The real AWS CLI (v1, `aws kafka ...`) against the replicator.

Every command runs as a subprocess of the virtualenv's `aws`, with
--endpoint-url, --region and --output json, credentials from the
environment and empty configuration files (see clientlib.AwsCLI).
"""

import json
import re
from datetime import datetime, timedelta, timezone

from clientlib import ROLE_ARN, Account, AwsCLI, alias, create_request, eventually, topic_update

ARN_RE = r"^arn:aws:kafka:us-east-1:111111111111:replicator/%s/[0-9a-f-]{36}$"


def cli_create(aws, settings, name, tags=None):
    """create-replicator with --cli-input-json."""
    return aws("create-replicator", "--cli-input-json", json.dumps(create_request(settings, name, tags))).json


def describe(aws, arn):
    return aws("describe-replicator", "--replicator-arn", arn).json


def test_create_and_describe_with_cli_input_json(aws_a, settings, unique_name):
    name = unique_name("cli-create")
    out = cli_create(aws_a, settings, name, tags={"env": "dev", "team": "platform"})
    assert out["ReplicatorName"] == name
    assert out["ReplicatorState"] == "CREATING"
    arn = out["ReplicatorArn"]
    assert re.match(ARN_RE % re.escape(name), arn), arn

    d = describe(aws_a, arn)
    assert d["ReplicatorName"] == name
    assert d["ReplicatorState"] == "CREATING"
    assert d["ReplicatorArn"] == arn
    assert d["ReplicatorResourceArn"] == arn
    assert d["IsReplicatorReference"] is False
    assert d["ReplicatorDescription"] == "orders to DR"
    assert d["ServiceExecutionRoleArn"] == ROLE_ARN
    assert isinstance(d["CurrentVersion"], str) and d["CurrentVersion"]
    created = datetime.fromisoformat(d["CreationTime"].replace("Z", "+00:00"))
    assert abs(datetime.now(timezone.utc) - created) < timedelta(minutes=5), d["CreationTime"]
    assert d["Tags"] == {"env": "dev", "team": "platform"}

    clusters = d["KafkaClusters"]
    assert [c["KafkaClusterAlias"] for c in clusters] == [alias("primary"), alias("dr")]
    assert clusters[0]["ApacheKafkaCluster"] == {
        "ApacheKafkaClusterId": "primary", "BootstrapBrokerString": "127.0.0.1:9092,127.0.0.1:9093"}
    assert clusters[1]["ApacheKafkaCluster"] == {"ApacheKafkaClusterId": "dr", "BootstrapBrokerString": "localhost:19092"}
    assert clusters[1]["ClientAuthentication"] == {"SaslScram": {"Mechanism": "SHA512", "SecretArn": settings.secret_arn}}
    assert "ClientAuthentication" not in clusters[0]

    [ri] = d["ReplicationInfoList"]
    assert ri["SourceKafkaClusterAlias"] == alias("primary")
    assert ri["TargetKafkaClusterAlias"] == alias("dr")
    assert ri["TargetCompressionType"] == "LZ4"
    assert ri["TopicReplication"] == {
        "TopicsToReplicate": ["orders.*", "payments"],
        "TopicsToExclude": [".*\\.tmp"],
        "CopyTopicConfigurations": True,
        "CopyAccessControlListsForTopics": False,
        "DetectAndCopyNewTopics": True,
        "StartingPosition": {"Type": "EARLIEST"},
        "TopicNameConfiguration": {"Type": "PREFIXED_WITH_SOURCE_CLUSTER_ALIAS"},
    }
    cg = ri["ConsumerGroupReplication"]
    assert cg["ConsumerGroupsToReplicate"] == [".*"]
    assert cg["ConsumerGroupsToExclude"] == []
    assert cg["DetectAndCopyNewConsumerGroups"] is True
    assert cg["SynchroniseConsumerGroupOffsets"] is True
    assert cg["ConsumerGroupOffsetSyncMode"] == "LEGACY"


def test_create_with_json_parameters_and_tag_shorthand(aws_a, unique_name):
    name = unique_name("cli-args")
    clusters = [
        {"ApacheKafkaCluster": {"ApacheKafkaClusterId": "east", "BootstrapBrokerString": "10.0.0.1:9092"}},
        {"ApacheKafkaCluster": {"ApacheKafkaClusterId": "west", "BootstrapBrokerString": "10.0.1.1:9092"}},
    ]
    flows = [{
        "SourceKafkaClusterId": "east",
        "TargetKafkaClusterId": "west",
        "TargetCompressionType": "NONE",
        "TopicReplication": {"TopicsToReplicate": [".*"]},
        "ConsumerGroupReplication": {"ConsumerGroupsToReplicate": ["app-.*"]},
    }]
    out = aws_a(
        "create-replicator",
        "--replicator-name", name,
        "--service-execution-role-arn", ROLE_ARN,
        "--kafka-clusters", json.dumps(clusters),
        "--replication-info-list", json.dumps(flows),
        "--tags", "owner=cli,cost-center=42",
    ).json
    assert out["ReplicatorName"] == name and out["ReplicatorState"] == "CREATING"

    d = describe(aws_a, out["ReplicatorArn"])
    assert d["ReplicatorName"] == name
    assert d["Tags"] == {"owner": "cli", "cost-center": "42"}
    assert "ReplicatorDescription" not in d
    assert [c["KafkaClusterAlias"] for c in d["KafkaClusters"]] == [alias("east"), alias("west")]
    [ri] = d["ReplicationInfoList"]
    assert (ri["SourceKafkaClusterAlias"], ri["TargetKafkaClusterAlias"]) == (alias("east"), alias("west"))
    assert ri["TargetCompressionType"] == "NONE"
    # The service's documented defaults for members left out.
    assert ri["TopicReplication"] == {
        "TopicsToReplicate": [".*"],
        "TopicsToExclude": [],
        "CopyTopicConfigurations": False,
        "CopyAccessControlListsForTopics": False,
        "DetectAndCopyNewTopics": False,
        "StartingPosition": {"Type": "LATEST"},
        "TopicNameConfiguration": {"Type": "PREFIXED_WITH_SOURCE_CLUSTER_ALIAS"},
    }
    assert ri["ConsumerGroupReplication"]["ConsumerGroupsToReplicate"] == ["app-.*"]
    assert ri["ConsumerGroupReplication"]["SynchroniseConsumerGroupOffsets"] is True


def test_list_replicators_paginates(aws_a, settings, unique_name):
    prefix = unique_name("cli-page")
    names = ["%s-%d" % (prefix, i) for i in range(7)]
    arns = {}
    for n in names:
        arns[n] = cli_create(aws_a, settings, n)["ReplicatorArn"]

    # --max-items 3 with pages of 2 from the server: the CLI stops mid-page
    # and resumes from its own --starting-token.
    seen, pages, token = [], 0, None
    while True:
        args = ["list-replicators", "--replicator-name-filter", prefix, "--max-items", "3", "--page-size", "2"]
        if token:
            args += ["--starting-token", token]
        out = aws_a(*args).json
        pages += 1
        assert len(out["Replicators"]) <= 3
        for r in out["Replicators"]:
            seen.append(r["ReplicatorName"])
            assert r["ReplicatorArn"] == arns[r["ReplicatorName"]]
            assert r["ReplicatorState"] == "CREATING"
            assert [k["KafkaClusterAlias"] for k in r["KafkaClustersSummary"]] == [alias("primary"), alias("dr")]
            assert r["ReplicationInfoSummaryList"] == [
                {"SourceKafkaClusterAlias": alias("primary"), "TargetKafkaClusterAlias": alias("dr")}]
        token = out.get("NextToken")
        if not token:
            break
        assert pages < 10, "the CLI keeps returning NextToken: %s" % seen
    assert pages == 3
    assert sorted(seen) == sorted(names)
    assert len(seen) == len(set(seen))

    # Without --max-items the CLI follows every server page (of 2) itself.
    out = aws_a("list-replicators", "--replicator-name-filter", prefix, "--page-size", "2").json
    got = [r["ReplicatorName"] for r in out["Replicators"]]
    assert sorted(got) == sorted(names) and len(got) == len(set(got))
    assert "NextToken" not in out


def test_update_replication_info(aws_a, settings, unique_name):
    name = unique_name("cli-update")
    arn = cli_create(aws_a, settings, name)["ReplicatorArn"]
    version = describe(aws_a, arn)["CurrentVersion"]

    out = aws_a(
        "update-replication-info",
        "--replicator-arn", arn,
        "--current-version", version,
        "--source-kafka-cluster-id", "primary",
        "--target-kafka-cluster-id", "dr",
        "--topic-replication", json.dumps(topic_update(["orders.*", "invoices"])),
    ).json
    assert out == {"ReplicatorArn": arn, "ReplicatorState": "UPDATING"}

    d = describe(aws_a, arn)
    assert d["ReplicatorState"] == "UPDATING"
    assert d["CurrentVersion"] != version
    tr = d["ReplicationInfoList"][0]["TopicReplication"]
    assert tr["TopicsToReplicate"] == ["orders.*", "invoices"]
    assert tr["TopicsToExclude"] == ["internal.*"]
    assert tr["CopyTopicConfigurations"] is False
    assert tr["CopyAccessControlListsForTopics"] is True
    assert tr["DetectAndCopyNewTopics"] is False
    assert tr["StartingPosition"] == {"Type": "EARLIEST"}  # cannot change

    # The version that was just replaced is stale now.
    res = aws_a(
        "update-replication-info",
        "--replicator-arn", arn,
        "--current-version", version,
        "--source-kafka-cluster-id", "primary",
        "--target-kafka-cluster-id", "dr",
        "--topic-replication", json.dumps(topic_update(["other"])),
        ok=False,
    )
    assert res.returncode != 0, res.describe()
    assert "BadRequestException" in res.stderr, res.describe()
    assert describe(aws_a, arn)["ReplicationInfoList"][0]["TopicReplication"]["TopicsToReplicate"] == ["orders.*", "invoices"]


def test_tags(aws_a, settings, unique_name):
    name = unique_name("cli-tags")
    arn = cli_create(aws_a, settings, name, tags={"env": "dev"})["ReplicatorArn"]

    res = aws_a("tag-resource", "--resource-arn", arn, "--tags", "team=platform,tier=gold")
    assert res.stdout.strip() == ""
    assert aws_a("list-tags-for-resource", "--resource-arn", arn).json == {
        "Tags": {"env": "dev", "team": "platform", "tier": "gold"}}

    # Tagging an existing key overwrites its value.
    aws_a("tag-resource", "--resource-arn", arn, "--tags", "tier=silver")
    assert aws_a("list-tags-for-resource", "--resource-arn", arn).json["Tags"]["tier"] == "silver"

    aws_a("untag-resource", "--resource-arn", arn, "--tag-keys", "env", "tier")
    assert aws_a("list-tags-for-resource", "--resource-arn", arn).json == {"Tags": {"team": "platform"}}
    assert describe(aws_a, arn)["Tags"] == {"team": "platform"}

    # A key with a space, set with JSON and removed through the query string.
    aws_a("tag-resource", "--resource-arn", arn, "--tags", json.dumps({"cost center": "a=b/c"}))
    assert aws_a("list-tags-for-resource", "--resource-arn", arn).json["Tags"] == {"team": "platform", "cost center": "a=b/c"}
    aws_a("untag-resource", "--resource-arn", arn, "--tag-keys", "cost center")
    assert aws_a("list-tags-for-resource", "--resource-arn", arn).json["Tags"] == {"team": "platform"}


def test_delete_replicator(aws_a, settings, unique_name):
    name = unique_name("cli-delete")
    arn = cli_create(aws_a, settings, name)["ReplicatorArn"]

    out = aws_a("delete-replicator", "--replicator-arn", arn).json
    assert out == {"ReplicatorArn": arn, "ReplicatorState": "DELETING"}

    def gone():
        res = aws_a("describe-replicator", "--replicator-arn", arn, ok=False)
        if res.returncode == 0:
            assert res.json["ReplicatorState"] == "DELETING", res.describe()
            return None
        assert "NotFoundException" in res.stderr, res.describe()
        return res

    assert eventually(gone, timeout=15), "describe-replicator still finds %s 15 s after delete" % arn
    out = aws_a("list-replicators", "--replicator-name-filter", name).json
    assert out["Replicators"] == []


def test_invalid_name_is_a_bad_request(aws_a, settings):
    res = aws_a("create-replicator", "--cli-input-json",
                json.dumps(create_request(settings, "not_a_valid_name!")), ok=False)
    assert res.returncode != 0, res.describe()
    assert "BadRequestException" in res.stderr, res.describe()
    assert "CreateReplicator" in res.stderr, res.describe()


def test_other_account_cannot_see_replicator(aws_a, aws_b, settings, unique_name):
    arn = cli_create(aws_a, settings, unique_name("cli-private"))["ReplicatorArn"]
    res = aws_b("describe-replicator", "--replicator-arn", arn, ok=False)
    assert res.returncode != 0, res.describe()
    assert "NotFoundException" in res.stderr, res.describe()


def test_wrong_secret_key_is_unauthorized(settings, tmp_path):
    aws = AwsCLI(settings, Account(settings.a.account_id, settings.a.key_id, "not-the-secret"), str(tmp_path))
    res = aws("list-replicators", ok=False)
    assert res.returncode != 0, res.describe()
    assert "UnauthorizedException" in res.stderr, res.describe()
