"""boto3 (botocore's kafka model, rest-json) against the replicator."""

import re
from datetime import datetime, timedelta, timezone

import pytest
from botocore.exceptions import ClientError

from clientlib import ROLE_ARN, alias, boto3_client, create_request, eventually, topic_update

ARN_RE = r"^arn:aws:kafka:us-east-1:%s:replicator/%s/[0-9a-f-]{36}$"


def create(client, settings, name, tags=None):
    return client.create_replicator(**create_request(settings, name, tags))


def error_of(excinfo):
    """The parsed error response of a ClientError."""
    return excinfo.value.response


def test_create_and_describe_types(kafka_a, settings, unique_name):
    name = unique_name("b3-create")
    out = create(kafka_a, settings, name, tags={"env": "dev"})
    assert out["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert out["ResponseMetadata"]["RequestId"]
    assert out["ReplicatorName"] == name
    assert out["ReplicatorState"] == "CREATING"
    arn = out["ReplicatorArn"]
    assert re.match(ARN_RE % (settings.a.account_id, re.escape(name)), arn), arn

    d = kafka_a.describe_replicator(ReplicatorArn=arn)
    assert d["ReplicatorArn"] == arn and d["ReplicatorResourceArn"] == arn
    assert d["ReplicatorName"] == name
    assert d["ReplicatorState"] == "CREATING"
    assert d["ReplicatorDescription"] == "orders to DR"
    assert d["ServiceExecutionRoleArn"] == ROLE_ARN
    assert d["Tags"] == {"env": "dev"}
    assert isinstance(d["CurrentVersion"], str) and d["CurrentVersion"]
    # Types as botocore parses them from the model.
    ct = d["CreationTime"]
    assert isinstance(ct, datetime)
    assert ct.tzinfo is not None
    assert abs(datetime.now(timezone.utc) - ct) < timedelta(minutes=5), ct
    assert d["IsReplicatorReference"] is False

    clusters = d["KafkaClusters"]
    assert [c["KafkaClusterAlias"] for c in clusters] == [alias("primary"), alias("dr")]
    assert clusters[0]["ApacheKafkaCluster"]["BootstrapBrokerString"] == "127.0.0.1:9092,127.0.0.1:9093"
    assert clusters[1]["ClientAuthentication"]["SaslScram"] == {"Mechanism": "SHA512", "SecretArn": settings.secret_arn}

    [ri] = d["ReplicationInfoList"]
    assert ri["SourceKafkaClusterAlias"] == alias("primary")
    assert ri["TargetKafkaClusterAlias"] == alias("dr")
    assert ri["TargetCompressionType"] == "LZ4"
    tr = ri["TopicReplication"]
    assert tr["TopicsToReplicate"] == ["orders.*", "payments"]
    assert tr["TopicsToExclude"] == [".*\\.tmp"]
    for member, want in [("CopyTopicConfigurations", True), ("CopyAccessControlListsForTopics", False),
                         ("DetectAndCopyNewTopics", True)]:
        assert type(tr[member]) is bool and tr[member] is want, (member, tr[member])
    assert tr["StartingPosition"] == {"Type": "EARLIEST"}
    assert tr["TopicNameConfiguration"] == {"Type": "PREFIXED_WITH_SOURCE_CLUSTER_ALIAS"}
    cg = ri["ConsumerGroupReplication"]
    assert cg["ConsumerGroupsToReplicate"] == [".*"]
    assert cg["ConsumerGroupsToExclude"] == []
    assert cg["DetectAndCopyNewConsumerGroups"] is True
    assert cg["SynchroniseConsumerGroupOffsets"] is True
    assert cg["ConsumerGroupOffsetSyncMode"] == "LEGACY"


def test_list_with_paginator(kafka_a, settings, unique_name):
    prefix = unique_name("b3-page")
    names = ["%s-%d" % (prefix, i) for i in range(7)]
    for n in names:
        create(kafka_a, settings, n)

    paginator = kafka_a.get_paginator("list_replicators")
    pages = list(paginator.paginate(ReplicatorNameFilter=prefix, PaginationConfig={"PageSize": 2}))
    assert [len(p["Replicators"]) for p in pages] == [2, 2, 2, 1]
    seen = [r["ReplicatorName"] for p in pages for r in p["Replicators"]]
    assert sorted(seen) == sorted(names)
    assert len(seen) == len(set(seen))
    assert "NextToken" not in pages[-1]
    for p in pages:
        for r in p["Replicators"]:
            assert isinstance(r["CreationTime"], datetime)
            assert r["IsReplicatorReference"] is False
            assert r["ReplicatorState"] == "CREATING"
            assert r["ReplicationInfoSummaryList"] == [
                {"SourceKafkaClusterAlias": alias("primary"), "TargetKafkaClusterAlias": alias("dr")}]

    # MaxItems stops mid-page and hands out a token that resumes there.
    first = paginator.paginate(ReplicatorNameFilter=prefix,
                               PaginationConfig={"PageSize": 2, "MaxItems": 3}).build_full_result()
    assert len(first["Replicators"]) == 3 and first.get("NextToken")
    rest = paginator.paginate(ReplicatorNameFilter=prefix,
                              PaginationConfig={"PageSize": 2, "StartingToken": first["NextToken"]}).build_full_result()
    resumed = [r["ReplicatorName"] for r in first["Replicators"] + rest["Replicators"]]
    assert resumed == seen

    # The raw operation: MaxResults and NextToken as the server sends them.
    raw = kafka_a.list_replicators(ReplicatorNameFilter=prefix, MaxResults=5)
    assert len(raw["Replicators"]) == 5 and raw["NextToken"]
    raw2 = kafka_a.list_replicators(ReplicatorNameFilter=prefix, MaxResults=5, NextToken=raw["NextToken"])
    assert len(raw2["Replicators"]) == 2 and "NextToken" not in raw2
    with pytest.raises(kafka_a.exceptions.BadRequestException) as ei:
        kafka_a.list_replicators(ReplicatorNameFilter=prefix, NextToken="not-a-token")
    assert error_of(ei).get("InvalidParameter") == "nextToken"


def test_update_replication_info(kafka_a, settings, unique_name):
    arn = create(kafka_a, settings, unique_name("b3-update"))["ReplicatorArn"]
    version = kafka_a.describe_replicator(ReplicatorArn=arn)["CurrentVersion"]

    out = kafka_a.update_replication_info(
        ReplicatorArn=arn,
        CurrentVersion=version,
        SourceKafkaClusterId="primary",
        TargetKafkaClusterId="dr",
        TopicReplication=topic_update(["orders.*"]),
        ConsumerGroupReplication={
            "ConsumerGroupsToReplicate": ["billing-.*"],
            "ConsumerGroupsToExclude": ["billing-test"],
            "DetectAndCopyNewConsumerGroups": False,
            "SynchroniseConsumerGroupOffsets": False,
        },
    )
    assert out["ReplicatorArn"] == arn
    assert out["ReplicatorState"] == "UPDATING"

    d = kafka_a.describe_replicator(ReplicatorArn=arn)
    assert d["ReplicatorState"] == "UPDATING"
    new_version = d["CurrentVersion"]
    assert new_version != version
    ri = d["ReplicationInfoList"][0]
    assert ri["TopicReplication"]["TopicsToReplicate"] == ["orders.*"]
    assert ri["TopicReplication"]["CopyAccessControlListsForTopics"] is True
    assert ri["ConsumerGroupReplication"]["ConsumerGroupsToReplicate"] == ["billing-.*"]
    assert ri["ConsumerGroupReplication"]["ConsumerGroupsToExclude"] == ["billing-test"]
    assert ri["ConsumerGroupReplication"]["SynchroniseConsumerGroupOffsets"] is False
    assert ri["ConsumerGroupReplication"]["ConsumerGroupOffsetSyncMode"] == "LEGACY"

    with pytest.raises(kafka_a.exceptions.BadRequestException) as ei:
        kafka_a.update_replication_info(ReplicatorArn=arn, CurrentVersion=version,
                                        TopicReplication=topic_update(["stale"]))
    r = error_of(ei)
    assert r["Error"]["Code"] == "BadRequestException"
    assert r.get("InvalidParameter") == "currentVersion"
    assert kafka_a.describe_replicator(ReplicatorArn=arn)["CurrentVersion"] == new_version


def test_tags(kafka_a, settings, unique_name):
    arn = create(kafka_a, settings, unique_name("b3-tags"), tags={"env": "dev"})["ReplicatorArn"]

    out = kafka_a.tag_resource(ResourceArn=arn, Tags={"team": "platform", "tier": "gold"})
    assert out["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert kafka_a.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"env": "dev", "team": "platform", "tier": "gold"}

    kafka_a.untag_resource(ResourceArn=arn, TagKeys=["env", "tier"])
    assert kafka_a.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"team": "platform"}

    # Keys and values that need escaping in the query string (untag) and in
    # SigV4's canonical request: spaces, '=', '/', '+', '@', non-ASCII letters.
    odd = {"cost center": "a=b/c+d", "zürich team@x": "", "k.e_y-1": "ümlaut value"}
    kafka_a.tag_resource(ResourceArn=arn, Tags=odd)
    assert kafka_a.list_tags_for_resource(ResourceArn=arn)["Tags"] == dict(odd, team="platform")
    kafka_a.untag_resource(ResourceArn=arn, TagKeys=["cost center", "zürich team@x"])
    assert kafka_a.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"team": "platform", "k.e_y-1": "ümlaut value"}

    with pytest.raises(kafka_a.exceptions.BadRequestException) as ei:
        kafka_a.tag_resource(ResourceArn=arn, Tags={"aws:reserved": "x"})
    assert error_of(ei).get("InvalidParameter") == "tags"


def test_delete_replicator(kafka_a, settings, unique_name):
    name = unique_name("b3-delete")
    arn = create(kafka_a, settings, name)["ReplicatorArn"]
    version = kafka_a.describe_replicator(ReplicatorArn=arn)["CurrentVersion"]

    with pytest.raises(kafka_a.exceptions.BadRequestException) as ei:
        kafka_a.delete_replicator(ReplicatorArn=arn, CurrentVersion="not-" + version)
    assert error_of(ei).get("InvalidParameter") == "currentVersion"

    out = kafka_a.delete_replicator(ReplicatorArn=arn, CurrentVersion=version)
    assert out["ReplicatorArn"] == arn
    assert out["ReplicatorState"] == "DELETING"

    def gone():
        try:
            d = kafka_a.describe_replicator(ReplicatorArn=arn)
        except kafka_a.exceptions.NotFoundException as e:
            assert e.response["Error"]["Code"] == "NotFoundException"
            assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 404
            return True
        assert d["ReplicatorState"] == "DELETING"
        return False

    assert eventually(gone, timeout=15), "describe_replicator still finds %s 15 s after delete" % arn
    assert kafka_a.list_replicators(ReplicatorNameFilter=name)["Replicators"] == []


@pytest.mark.parametrize("name", ["bad_name", "-leading-dash", "x" * 129], ids=["underscore", "leading-dash", "too-long"])
def test_invalid_name_is_bad_request(kafka_a, settings, name):
    with pytest.raises(kafka_a.exceptions.BadRequestException) as ei:
        create(kafka_a, settings, name)
    r = error_of(ei)
    assert r["Error"]["Code"] == "BadRequestException"
    assert r["Error"]["Message"]
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 400
    # botocore adds the modeled members of the exception to the response.
    assert r.get("InvalidParameter") == "replicatorName"


def test_nested_invalid_parameter(kafka_a, settings, unique_name):
    req = create_request(settings, unique_name("b3-badbroker"))
    req["KafkaClusters"][0]["ApacheKafkaCluster"]["BootstrapBrokerString"] = "no-port-here"
    with pytest.raises(kafka_a.exceptions.BadRequestException) as ei:
        kafka_a.create_replicator(**req)
    assert error_of(ei).get("InvalidParameter") == "kafkaClusters[0].apacheKafkaCluster.bootstrapBrokerString"


def test_unknown_secret_is_bad_request(kafka_a, settings, unique_name):
    req = create_request(settings, unique_name("b3-nosecret"))
    req["KafkaClusters"][1]["ClientAuthentication"]["SaslScram"]["SecretArn"] = settings.secret_arn + "-missing"
    with pytest.raises(kafka_a.exceptions.BadRequestException) as ei:
        kafka_a.create_replicator(**req)
    assert error_of(ei).get("InvalidParameter") == "kafkaClusters[1].clientAuthentication.saslScram.secretArn"


def test_duplicate_name_is_conflict(kafka_a, settings, unique_name):
    name = unique_name("b3-dup")
    create(kafka_a, settings, name)
    with pytest.raises(kafka_a.exceptions.ConflictException) as ei:
        create(kafka_a, settings, name)
    r = error_of(ei)
    assert r["Error"]["Code"] == "ConflictException"
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 409


def test_other_accounts_replicator_is_not_found(kafka_a, kafka_b, settings, unique_name):
    name = unique_name("b3-acct")
    arn_a = create(kafka_a, settings, name)["ReplicatorArn"]

    with pytest.raises(kafka_b.exceptions.NotFoundException) as ei:
        kafka_b.describe_replicator(ReplicatorArn=arn_a)
    assert error_of(ei)["Error"]["Code"] == "NotFoundException"
    with pytest.raises(kafka_b.exceptions.NotFoundException):
        kafka_b.delete_replicator(ReplicatorArn=arn_a)
    with pytest.raises(kafka_b.exceptions.NotFoundException):
        kafka_b.list_tags_for_resource(ResourceArn=arn_a)
    with pytest.raises(kafka_b.exceptions.NotFoundException):
        kafka_b.tag_resource(ResourceArn=arn_a, Tags={"x": "y"})
    assert kafka_b.list_replicators(ReplicatorNameFilter=name)["Replicators"] == []

    # Names are unique per account: B may use the same one.
    out_b = create(kafka_b, settings, name)
    assert re.match(ARN_RE % (settings.b.account_id, re.escape(name)), out_b["ReplicatorArn"])
    assert kafka_a.describe_replicator(ReplicatorArn=arn_a)["ReplicatorState"] == "CREATING"


@pytest.mark.parametrize("which", ["wrong-secret", "unknown-key-id"])
def test_bad_credentials_are_unauthorized(settings, which):
    if which == "wrong-secret":
        client = boto3_client(settings, settings.a.key_id, "not-the-secret")
    else:
        client = boto3_client(settings, "AKIDUNKNOWN000000000", settings.a.secret)
    with pytest.raises(ClientError) as ei:
        client.list_replicators()
    r = error_of(ei)
    assert r["Error"]["Code"] == "UnauthorizedException"
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 401
    assert isinstance(ei.value, client.exceptions.UnauthorizedException)
    # Exactly one attempt was made.
    assert r["ResponseMetadata"].get("RetryAttempts", 0) == 0


def test_session_token_is_accepted(settings, unique_name):
    """Temporary credentials send X-Amz-Security-Token, which is signed."""
    import boto3
    from clientlib import NO_RETRIES
    client = boto3.session.Session().client(
        "kafka", endpoint_url=settings.endpoint, region_name=settings.region,
        aws_access_key_id=settings.a.key_id, aws_secret_access_key=settings.a.secret,
        aws_session_token="FwoGZXIvYXdzEXAMPLE//session+token==", config=NO_RETRIES)
    arn = create(client, settings, unique_name("b3-token"))["ReplicatorArn"]
    assert client.describe_replicator(ReplicatorArn=arn)["ReplicatorArn"] == arn


def test_log_delivery_round_trip(kafka_a, settings, unique_name):
    req = create_request(settings, unique_name("b3-logs"))
    req["LogDelivery"] = {"ReplicatorLogDelivery": {
        "CloudWatchLogs": {"Enabled": True, "LogGroup": "/msk/replicator"},
        "S3": {"Enabled": False},
    }}
    arn = kafka_a.create_replicator(**req)["ReplicatorArn"]
    d = kafka_a.describe_replicator(ReplicatorArn=arn)
    rl = d["LogDelivery"]["ReplicatorLogDelivery"]
    assert rl["CloudWatchLogs"] == {"Enabled": True, "LogGroup": "/msk/replicator"}
    assert rl["S3"] == {"Enabled": False}

    kafka_a.update_replication_info(ReplicatorArn=arn, CurrentVersion=d["CurrentVersion"], LogDelivery={
        "ReplicatorLogDelivery": {"Firehose": {"Enabled": True, "DeliveryStream": "replicator-logs"}}})
    rl = kafka_a.describe_replicator(ReplicatorArn=arn)["LogDelivery"]["ReplicatorLogDelivery"]
    assert rl == {"Firehose": {"Enabled": True, "DeliveryStream": "replicator-logs"}}
