package api_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kafka"
	"github.com/aws/aws-sdk-go-v2/service/kafka/types"
	"github.com/aws/smithy-go"
)

// These tests drive every operation through the real AWS SDK for Go v2
// client, signed with real credentials, against the real server and
// PostgreSQL.

var arnPattern = regexp.MustCompile(`^arn:aws:kafka:us-east-1:111111111111:replicator/[^/]+/[0-9a-f-]{36}$`)

func TestCreateDescribeRoundTrip(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	out, err := e.a.CreateReplicator(ctx, apacheCreate("orders-dr"))
	if err != nil {
		t.Fatal(err)
	}
	if out.ReplicatorState != types.ReplicatorStateCreating || aws.ToString(out.ReplicatorName) != "orders-dr" {
		t.Fatalf("create answered %s %s", out.ReplicatorState, aws.ToString(out.ReplicatorName))
	}
	arn := aws.ToString(out.ReplicatorArn)
	if !arnPattern.MatchString(arn) || !strings.Contains(arn, ":replicator/orders-dr/") {
		t.Fatalf("ARN %q", arn)
	}
	d, err := e.a.DescribeReplicator(ctx, &kafka.DescribeReplicatorInput{ReplicatorArn: &arn})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(d.ReplicatorArn) != arn || aws.ToString(d.ReplicatorResourceArn) != arn || aws.ToBool(d.IsReplicatorReference) {
		t.Errorf("ARNs: %s %s %v", aws.ToString(d.ReplicatorArn), aws.ToString(d.ReplicatorResourceArn), aws.ToBool(d.IsReplicatorReference))
	}
	if aws.ToString(d.ReplicatorDescription) != "orders to DR" || aws.ToString(d.ServiceExecutionRoleArn) != "arn:aws:iam::111111111111:role/MskReplicatorRole" {
		t.Errorf("description/role: %q %q", aws.ToString(d.ReplicatorDescription), aws.ToString(d.ServiceExecutionRoleArn))
	}
	if d.ReplicatorState != types.ReplicatorStateCreating {
		t.Errorf("state %s", d.ReplicatorState)
	}
	if v := aws.ToString(d.CurrentVersion); len(v) != 12 {
		t.Errorf("currentVersion %q", v)
	}
	if ct := aws.ToTime(d.CreationTime); time.Since(ct) > time.Minute || time.Since(ct) < -time.Minute {
		t.Errorf("creationTime %v", ct)
	}
	if d.Tags["env"] != "dev" || d.Tags["team"] != "platform" || len(d.Tags) != 2 {
		t.Errorf("tags %v", d.Tags)
	}
	if len(d.KafkaClusters) != 2 {
		t.Fatalf("clusters %d", len(d.KafkaClusters))
	}
	src, dst := d.KafkaClusters[0], d.KafkaClusters[1]
	// Alias: <id>-<first 12 hex of SHA-256(id)>.
	if aws.ToString(src.KafkaClusterAlias) != "primary-"+sha12("primary") || aws.ToString(dst.KafkaClusterAlias) != "dr-"+sha12("dr") {
		t.Errorf("aliases %s %s", aws.ToString(src.KafkaClusterAlias), aws.ToString(dst.KafkaClusterAlias))
	}
	if aws.ToString(src.ApacheKafkaCluster.BootstrapBrokerString) != "127.0.0.1:9092,127.0.0.1:9093" {
		t.Errorf("bootstrap %q", aws.ToString(src.ApacheKafkaCluster.BootstrapBrokerString))
	}
	if dst.ClientAuthentication == nil || dst.ClientAuthentication.SaslScram == nil ||
		dst.ClientAuthentication.SaslScram.Mechanism != types.KafkaClusterSaslScramMechanismSha512 ||
		aws.ToString(dst.ClientAuthentication.SaslScram.SecretArn) != scramARN {
		t.Errorf("client authentication %+v", dst.ClientAuthentication)
	}
	if len(d.ReplicationInfoList) != 1 {
		t.Fatalf("replication info %d", len(d.ReplicationInfoList))
	}
	ri := d.ReplicationInfoList[0]
	if aws.ToString(ri.SourceKafkaClusterAlias) != aws.ToString(src.KafkaClusterAlias) || aws.ToString(ri.TargetKafkaClusterAlias) != aws.ToString(dst.KafkaClusterAlias) {
		t.Errorf("flow aliases %s → %s", aws.ToString(ri.SourceKafkaClusterAlias), aws.ToString(ri.TargetKafkaClusterAlias))
	}
	if ri.TargetCompressionType != types.TargetCompressionTypeLz4 {
		t.Errorf("compression %s", ri.TargetCompressionType)
	}
	tr := ri.TopicReplication
	if !slices.Equal(tr.TopicsToReplicate, []string{"orders.*", "payments"}) || !slices.Equal(tr.TopicsToExclude, []string{`.*\.tmp`}) ||
		!aws.ToBool(tr.CopyTopicConfigurations) || !aws.ToBool(tr.CopyAccessControlListsForTopics) || !aws.ToBool(tr.DetectAndCopyNewTopics) ||
		tr.StartingPosition.Type != types.ReplicationStartingPositionTypeEarliest ||
		tr.TopicNameConfiguration.Type != types.ReplicationTopicNameConfigurationTypePrefixedWithSourceClusterAlias {
		t.Errorf("topic replication %+v", tr)
	}
	gr := ri.ConsumerGroupReplication
	if !slices.Equal(gr.ConsumerGroupsToReplicate, []string{".*"}) || len(gr.ConsumerGroupsToExclude) != 0 ||
		!aws.ToBool(gr.DetectAndCopyNewConsumerGroups) || !aws.ToBool(gr.SynchroniseConsumerGroupOffsets) ||
		gr.ConsumerGroupOffsetSyncMode != types.ConsumerGroupOffsetSyncModeLegacy {
		t.Errorf("group replication %+v", gr)
	}
}

func TestCreateWithMSKClustersFromCatalog(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	in := &kafka.CreateReplicatorInput{
		ReplicatorName:          aws.String("msk-pair"),
		ServiceExecutionRoleArn: aws.String("arn:aws:iam::111111111111:role/MskReplicatorRole"),
		KafkaClusters: []types.KafkaCluster{
			{AmazonMskCluster: &types.AmazonMskCluster{MskClusterArn: aws.String(mskSrc)}, VpcConfig: &types.KafkaClusterClientVpcConfig{SubnetIds: []string{"subnet-1", "subnet-2"}, SecurityGroupIds: []string{"sg-1"}}},
			{AmazonMskCluster: &types.AmazonMskCluster{MskClusterArn: aws.String(mskDst)}, VpcConfig: &types.KafkaClusterClientVpcConfig{SubnetIds: []string{"subnet-3"}}},
		},
		ReplicationInfoList: []types.ReplicationInfo{{
			SourceKafkaClusterArn: aws.String(mskSrc), TargetKafkaClusterArn: aws.String(mskDst),
			TargetCompressionType:    types.TargetCompressionTypeNone,
			TopicReplication:         &types.TopicReplication{TopicsToReplicate: []string{".*"}, TopicsToExclude: []string{}},
			ConsumerGroupReplication: &types.ConsumerGroupReplication{ConsumerGroupsToReplicate: []string{".*"}},
		}},
		LogDelivery: &types.LogDelivery{ReplicatorLogDelivery: &types.ReplicatorLogDelivery{CloudWatchLogs: &types.ReplicatorCloudWatchLogs{Enabled: aws.Bool(true), LogGroup: aws.String("lg")}}},
	}
	out, err := e.a.CreateReplicator(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.a.DescribeReplicator(ctx, &kafka.DescribeReplicatorInput{ReplicatorArn: out.ReplicatorArn})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(d.KafkaClusters[0].KafkaClusterAlias); got != "src-f810cd197370" {
		t.Errorf("MSK alias %q, want src-f810cd197370", got)
	}
	if got := aws.ToString(d.ReplicationInfoList[0].TargetKafkaClusterAlias); got != "dst-e18cd64c6075" {
		t.Errorf("target alias %q", got)
	}
	if vpc := d.KafkaClusters[0].VpcConfig; vpc == nil || !slices.Equal(vpc.SubnetIds, []string{"subnet-1", "subnet-2"}) || !slices.Equal(vpc.SecurityGroupIds, []string{"sg-1"}) {
		t.Errorf("vpc %+v", d.KafkaClusters[0].VpcConfig)
	}
	cw := d.LogDelivery.ReplicatorLogDelivery.CloudWatchLogs
	if !aws.ToBool(cw.Enabled) || aws.ToString(cw.LogGroup) != "lg" {
		t.Errorf("log delivery %+v", cw)
	}
	// Defaults: LATEST, prefixed names, offset sync on, LEGACY.
	tr, gr := d.ReplicationInfoList[0].TopicReplication, d.ReplicationInfoList[0].ConsumerGroupReplication
	if tr.StartingPosition.Type != types.ReplicationStartingPositionTypeLatest || aws.ToBool(tr.CopyTopicConfigurations) ||
		!aws.ToBool(gr.SynchroniseConsumerGroupOffsets) || gr.ConsumerGroupOffsetSyncMode != types.ConsumerGroupOffsetSyncModeLegacy {
		t.Errorf("defaults: %+v %+v", tr, gr)
	}

	// An MSK cluster the catalog does not know cannot be honoured.
	in.ReplicatorName = aws.String("unknown-msk")
	in.KafkaClusters[1].AmazonMskCluster.MskClusterArn = aws.String("arn:aws:kafka:us-west-2:111111111111:cluster/other/dda06cc0-beac-4862-8cba-e18cd64c6099-3")
	in.ReplicationInfoList[0].TargetKafkaClusterArn = in.KafkaClusters[1].AmazonMskCluster.MskClusterArn
	_, err = e.a.CreateReplicator(ctx, in)
	wantBadRequest(t, err, "kafkaClusters[1].amazonMskCluster.mskClusterArn")
}

func TestConflictAndAccounts(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	out, err := e.a.CreateReplicator(ctx, apacheCreate("dup"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.a.CreateReplicator(ctx, apacheCreate("dup"))
	var ce *types.ConflictException
	if !errors.As(err, &ce) {
		t.Fatalf("second create: %v, want ConflictException", err)
	}
	// Names are unique per account: B may use the same name.
	inB := apacheCreate("dup")
	inB.KafkaClusters[1].ClientAuthentication.SaslScram.SecretArn = aws.String(scramARNB)
	outB, err := e.b.CreateReplicator(ctx, inB)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(aws.ToString(outB.ReplicatorArn), ":222222222222:") {
		t.Errorf("B's ARN %s", aws.ToString(outB.ReplicatorArn))
	}
	// B can neither see nor change nor tag A's replicator, and cannot tell
	// it exists: every answer is the one for an ARN that does not exist.
	arnA := out.ReplicatorArn
	missing := aws.String(strings.Replace(aws.ToString(arnA), "/dup/", "/nope/", 1))
	for _, arn := range []*string{arnA, missing} {
		_, err = e.b.DescribeReplicator(ctx, &kafka.DescribeReplicatorInput{ReplicatorArn: arn})
		wantNotFound(t, err)
		_, err = e.b.DeleteReplicator(ctx, &kafka.DeleteReplicatorInput{ReplicatorArn: arn})
		wantNotFound(t, err)
		_, err = e.b.UpdateReplicationInfo(ctx, &kafka.UpdateReplicationInfoInput{ReplicatorArn: arn, CurrentVersion: aws.String("x"),
			ConsumerGroupReplication: &types.ConsumerGroupReplicationUpdate{ConsumerGroupsToReplicate: []string{"a"}, ConsumerGroupsToExclude: []string{},
				DetectAndCopyNewConsumerGroups: aws.Bool(false), SynchroniseConsumerGroupOffsets: aws.Bool(false)}})
		wantNotFound(t, err)
		_, err = e.b.TagResource(ctx, &kafka.TagResourceInput{ResourceArn: arn, Tags: map[string]string{"x": "y"}})
		wantNotFound(t, err)
		_, err = e.b.UntagResource(ctx, &kafka.UntagResourceInput{ResourceArn: arn, TagKeys: []string{"env"}})
		wantNotFound(t, err)
		_, err = e.b.ListTagsForResource(ctx, &kafka.ListTagsForResourceInput{ResourceArn: arn})
		wantNotFound(t, err)
	}
	l, err := e.b.ListReplicators(ctx, &kafka.ListReplicatorsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Replicators) != 1 || aws.ToString(l.Replicators[0].ReplicatorArn) != aws.ToString(outB.ReplicatorArn) {
		t.Errorf("B lists %d replicators", len(l.Replicators))
	}
	// A's replicator is untouched.
	d, err := e.a.DescribeReplicator(ctx, &kafka.DescribeReplicatorInput{ReplicatorArn: arnA})
	if err != nil || d.ReplicatorState != types.ReplicatorStateCreating || len(d.Tags) != 2 {
		t.Fatalf("A's replicator after B's attempts: %v %+v", err, d)
	}
}

func TestListPagination(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	var want []string
	for i := range 23 {
		name := fmt.Sprintf("repl-%02d", i)
		if i%5 == 0 {
			name = fmt.Sprintf("other-%02d", i)
		}
		if _, err := e.a.CreateReplicator(ctx, apacheCreate(name)); err != nil {
			t.Fatal(err)
		}
		want = append(want, name)
	}
	slices.Sort(want)

	// Page through everything, inserting rows while paging: the rows that
	// existed throughout appear exactly once, in order.
	var got []string
	p := kafka.NewListReplicatorsPaginator(e.a, &kafka.ListReplicatorsInput{MaxResults: aws.Int32(4)})
	for page := 0; p.HasMorePages(); page++ {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Replicators) > 4 {
			t.Fatalf("page of %d", len(out.Replicators))
		}
		for _, r := range out.Replicators {
			got = append(got, aws.ToString(r.ReplicatorName))
			if r.ReplicatorState != types.ReplicatorStateCreating || len(r.KafkaClustersSummary) != 2 || len(r.ReplicationInfoSummaryList) != 1 ||
				aws.ToString(r.ReplicatorResourceArn) != aws.ToString(r.ReplicatorArn) || aws.ToString(r.CurrentVersion) == "" || r.CreationTime == nil {
				t.Errorf("summary %+v", r)
			}
		}
		if page == 1 {
			for _, n := range []string{"aaa-new", "repl-05x", "zzz-new"} {
				if _, err := e.a.CreateReplicator(ctx, apacheCreate(n)); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	var existing []string
	for _, n := range got {
		if !strings.HasSuffix(n, "-new") && n != "repl-05x" {
			existing = append(existing, n)
		}
	}
	if !slices.Equal(existing, want) || !slices.IsSorted(got) {
		t.Fatalf("paged names\n got %v\nwant %v", got, want)
	}

	// Prefix filter.
	out, err := e.a.ListReplicators(ctx, &kafka.ListReplicatorsInput{ReplicatorNameFilter: aws.String("other-")})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range out.Replicators {
		names = append(names, aws.ToString(r.ReplicatorName))
	}
	if !slices.Equal(names, []string{"other-00", "other-05", "other-10", "other-15", "other-20"}) || out.NextToken != nil {
		t.Errorf("filtered: %v next=%v", names, out.NextToken)
	}

	for _, n := range []int32{0, 101, -1} {
		_, err := e.a.ListReplicators(ctx, &kafka.ListReplicatorsInput{MaxResults: aws.Int32(n)})
		wantBadRequest(t, err, "maxResults")
	}
	_, err = e.a.ListReplicators(ctx, &kafka.ListReplicatorsInput{NextToken: aws.String("not-a-token")})
	wantBadRequest(t, err, "nextToken")
}

func TestUpdateReplicationInfo(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	out, err := e.a.CreateReplicator(ctx, apacheCreate("upd"))
	if err != nil {
		t.Fatal(err)
	}
	d0, _ := e.a.DescribeReplicator(ctx, &kafka.DescribeReplicatorInput{ReplicatorArn: out.ReplicatorArn})
	upd := &kafka.UpdateReplicationInfoInput{
		ReplicatorArn:        out.ReplicatorArn,
		CurrentVersion:       aws.String("STALEVERSION"),
		SourceKafkaClusterId: aws.String("primary"),
		TargetKafkaClusterId: aws.String("dr"),
		TopicReplication: &types.TopicReplicationUpdate{
			TopicsToReplicate: []string{"invoices"}, TopicsToExclude: []string{},
			CopyTopicConfigurations: aws.Bool(false), CopyAccessControlListsForTopics: aws.Bool(false), DetectAndCopyNewTopics: aws.Bool(false),
		},
	}
	_, err = e.a.UpdateReplicationInfo(ctx, upd)
	wantBadRequest(t, err, "currentVersion")

	upd.CurrentVersion = d0.CurrentVersion
	u, err := e.a.UpdateReplicationInfo(ctx, upd)
	if err != nil {
		t.Fatal(err)
	}
	if u.ReplicatorState != types.ReplicatorStateUpdating || aws.ToString(u.ReplicatorArn) != aws.ToString(out.ReplicatorArn) {
		t.Errorf("update answered %s %s", u.ReplicatorState, aws.ToString(u.ReplicatorArn))
	}
	d1, err := e.a.DescribeReplicator(ctx, &kafka.DescribeReplicatorInput{ReplicatorArn: out.ReplicatorArn})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(d1.CurrentVersion) == aws.ToString(d0.CurrentVersion) {
		t.Error("currentVersion did not change")
	}
	tr := d1.ReplicationInfoList[0].TopicReplication
	if !slices.Equal(tr.TopicsToReplicate, []string{"invoices"}) || aws.ToBool(tr.CopyTopicConfigurations) ||
		tr.StartingPosition.Type != types.ReplicationStartingPositionTypeEarliest {
		t.Errorf("after update: %+v", tr)
	}
	if d1.ReplicatorState != types.ReplicatorStateUpdating {
		t.Errorf("state %s", d1.ReplicatorState)
	}
	// The old version is stale now.
	_, err = e.a.UpdateReplicationInfo(ctx, upd)
	wantBadRequest(t, err, "currentVersion")

	// Tagging does not change currentVersion.
	if _, err := e.a.TagResource(ctx, &kafka.TagResourceInput{ResourceArn: out.ReplicatorArn, Tags: map[string]string{"k": "v"}}); err != nil {
		t.Fatal(err)
	}
	d2, _ := e.a.DescribeReplicator(ctx, &kafka.DescribeReplicatorInput{ReplicatorArn: out.ReplicatorArn})
	if aws.ToString(d2.CurrentVersion) != aws.ToString(d1.CurrentVersion) {
		t.Error("tagging changed currentVersion")
	}

	bad := []struct {
		name  string
		in    kafka.UpdateReplicationInfoInput
		param string
	}{
		{"no version", kafka.UpdateReplicationInfoInput{CurrentVersion: aws.String("")}, "currentVersion"},
		{"nothing to change", kafka.UpdateReplicationInfoInput{CurrentVersion: d1.CurrentVersion}, "topicReplication"},
		{"bad regex", kafka.UpdateReplicationInfoInput{CurrentVersion: d1.CurrentVersion,
			TopicReplication: &types.TopicReplicationUpdate{TopicsToReplicate: []string{"(?!x)"}, TopicsToExclude: []string{},
				CopyTopicConfigurations: aws.Bool(true), CopyAccessControlListsForTopics: aws.Bool(true), DetectAndCopyNewTopics: aws.Bool(true)}}, "topicReplication.topicsToReplicate"},
		{"wrong source", kafka.UpdateReplicationInfoInput{CurrentVersion: d1.CurrentVersion, SourceKafkaClusterId: aws.String("dr"),
			ConsumerGroupReplication: &types.ConsumerGroupReplicationUpdate{ConsumerGroupsToReplicate: []string{"a"}, ConsumerGroupsToExclude: []string{},
				DetectAndCopyNewConsumerGroups: aws.Bool(true), SynchroniseConsumerGroupOffsets: aws.Bool(true)}}, "sourceKafkaClusterArn"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			in.ReplicatorArn = out.ReplicatorArn
			_, err := e.a.UpdateReplicationInfo(ctx, &in)
			wantBadRequest(t, err, tc.param)
		})
	}
	d3, _ := e.a.DescribeReplicator(ctx, &kafka.DescribeReplicatorInput{ReplicatorArn: out.ReplicatorArn})
	if aws.ToString(d3.CurrentVersion) != aws.ToString(d1.CurrentVersion) {
		t.Error("a refused update changed the replicator")
	}
}

func TestDeleteReplicator(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	out, err := e.a.CreateReplicator(ctx, apacheCreate("gone"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.a.DeleteReplicator(ctx, &kafka.DeleteReplicatorInput{ReplicatorArn: out.ReplicatorArn, CurrentVersion: aws.String("STALE")})
	wantBadRequest(t, err, "currentVersion")
	del, err := e.a.DeleteReplicator(ctx, &kafka.DeleteReplicatorInput{ReplicatorArn: out.ReplicatorArn})
	if err != nil {
		t.Fatal(err)
	}
	if del.ReplicatorState != types.ReplicatorStateDeleting || aws.ToString(del.ReplicatorArn) != aws.ToString(out.ReplicatorArn) {
		t.Errorf("delete answered %s", del.ReplicatorState)
	}
	// It disappears (the scheduler removes it once nothing holds it).
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := e.a.DescribeReplicator(ctx, &kafka.DescribeReplicatorInput{ReplicatorArn: out.ReplicatorArn})
		var nf *types.NotFoundException
		if errors.As(err, &nf) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatal("replicator still there 10s after delete")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The name is free again.
	if _, err := e.a.CreateReplicator(ctx, apacheCreate("gone")); err != nil {
		t.Fatal(err)
	}
}

func TestTags(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	out, err := e.a.CreateReplicator(ctx, apacheCreate("tagged"))
	if err != nil {
		t.Fatal(err)
	}
	arn := out.ReplicatorArn
	if _, err := e.a.TagResource(ctx, &kafka.TagResourceInput{ResourceArn: arn, Tags: map[string]string{"env": "prod", "cost-center": "42", "empty": ""}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.a.UntagResource(ctx, &kafka.UntagResourceInput{ResourceArn: arn, TagKeys: []string{"team", "absent"}}); err != nil {
		t.Fatal(err)
	}
	l, err := e.a.ListTagsForResource(ctx, &kafka.ListTagsForResourceInput{ResourceArn: arn})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"env": "prod", "cost-center": "42", "empty": ""}
	if fmt.Sprint(l.Tags) != fmt.Sprint(want) {
		t.Errorf("tags %v, want %v", l.Tags, want)
	}

	many := map[string]string{}
	for i := range 48 {
		many[fmt.Sprintf("k%02d", i)] = "v"
	}
	_, err = e.a.TagResource(ctx, &kafka.TagResourceInput{ResourceArn: arn, Tags: many})
	wantBadRequest(t, err, "tags") // 3 + 48 > 50
	for _, bad := range []map[string]string{{"aws:owner": "x"}, {"": "x"}, {"k": strings.Repeat("v", 256)}, {strings.Repeat("k", 129): "v"}, {"k\x01": "v"}} {
		_, err = e.a.TagResource(ctx, &kafka.TagResourceInput{ResourceArn: arn, Tags: bad})
		wantBadRequest(t, err, "tags")
	}
	_, err = e.a.UntagResource(ctx, &kafka.UntagResourceInput{ResourceArn: arn, TagKeys: []string{"aws:x"}})
	wantBadRequest(t, err, "tagKeys")
	l2, _ := e.a.ListTagsForResource(ctx, &kafka.ListTagsForResourceInput{ResourceArn: arn})
	if fmt.Sprint(l2.Tags) != fmt.Sprint(want) {
		t.Errorf("refused tag calls changed tags: %v", l2.Tags)
	}
	_, err = e.a.ListTagsForResource(ctx, &kafka.ListTagsForResourceInput{ResourceArn: aws.String("arn:aws:kafka:us-east-1:111111111111:cluster/c/361a2e04-ff39-48d4-9ee0-f810cd197370-s2")})
	wantNotFound(t, err)
	_, err = e.a.ListTagsForResource(ctx, &kafka.ListTagsForResourceInput{ResourceArn: aws.String("not-an-arn")})
	wantBadRequest(t, err, "resourceArn")
}

func TestAuthentication(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	wrong := keyA
	wrong.SecretAccessKey = "not-the-secret"
	unknown := keyA
	unknown.AccessKeyID = "AKIDUNKNOWNUNKNOWN00"
	for name, c := range map[string]*kafka.Client{"wrong secret": sdkClient(e.url, wrong), "unknown key": sdkClient(e.url, unknown)} {
		t.Run(name, func(t *testing.T) {
			_, err := c.ListReplicators(ctx, &kafka.ListReplicatorsInput{})
			var ue *types.UnauthorizedException
			if !errors.As(err, &ue) {
				t.Fatalf("got %v, want UnauthorizedException", err)
			}
			_, err = c.CreateReplicator(ctx, apacheCreate("x"))
			if !errors.As(err, &ue) {
				t.Fatalf("got %v, want UnauthorizedException", err)
			}
		})
	}
	l, err := e.a.ListReplicators(ctx, &kafka.ListReplicatorsInput{})
	if err != nil || len(l.Replicators) != 0 {
		t.Fatalf("unauthenticated create stored something: %v %d", err, len(l.Replicators))
	}
	// Wrong region in the scope.
	c := kafka.New(kafka.Options{Region: "eu-west-1", BaseEndpoint: aws.String(e.url), Credentials: sdkClient(e.url, keyA).Options().Credentials, RetryMaxAttempts: 1})
	_, err = c.ListReplicators(ctx, &kafka.ListReplicatorsInput{})
	var ue *types.UnauthorizedException
	if !errors.As(err, &ue) || !strings.Contains(ue.ErrorMessage(), "region") {
		t.Fatalf("wrong region: %v", err)
	}
}

func sha12(s string) string {
	return fmt.Sprintf("%x", sha256Sum([]byte(s)))[:12]
}

func wantBadRequest(t *testing.T, err error, param string) {
	t.Helper()
	var br *types.BadRequestException
	if !errors.As(err, &br) {
		t.Fatalf("got %v, want BadRequestException(%s)", err, param)
	}
	if aws.ToString(br.InvalidParameter) != param {
		t.Fatalf("invalidParameter %q, want %q (message %q)", aws.ToString(br.InvalidParameter), param, br.ErrorMessage())
	}
	if br.ErrorMessage() == "" {
		t.Fatal("empty message")
	}
	var re interface{ ServiceRequestID() string }
	if !errors.As(err, &re) || re.ServiceRequestID() == "" {
		t.Fatal("no request ID")
	}
}

func wantNotFound(t *testing.T, err error) {
	t.Helper()
	var nf *types.NotFoundException
	if !errors.As(err, &nf) {
		var ae smithy.APIError
		errors.As(err, &ae)
		t.Fatalf("got %v, want NotFoundException", err)
	}
}
