package api

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/openreplicator/replicator/pkg/replicator"
)

// Limits from the MSK API model and documentation.
const (
	maxDescription    = 1024
	maxTopicPattern   = 249
	maxGroupPattern   = 256
	maxPatterns       = 100
	maxTagKey         = 128
	maxTagValue       = 256
	maxClusterID      = 256
	maxBootstrap      = 2048
	maxARN            = 2048
	maxCACertificate  = 64 << 10
	maxListItems      = 16
	maxLogName        = 1024
	maxBootstrapHosts = 64
)

var (
	roleARNPattern    = regexp.MustCompile(`^arn:(aws|aws-us-gov|aws-cn):iam::[0-9]{12}:role/[\w+=,.@/-]{1,512}$`)
	mskARNPattern     = regexp.MustCompile(`^arn:(aws|aws-us-gov|aws-cn):kafka:[a-z0-9-]+:[0-9]{12}:cluster/[0-9A-Za-z][0-9A-Za-z-]{0,63}/[0-9a-fA-F-]{36}(-[0-9a-z]{1,4})?$`)
	secretARNPattern  = regexp.MustCompile(`^arn:(aws|aws-us-gov|aws-cn):secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[\w/+=.@-]{1,512}$`)
	clusterIDPattern  = regexp.MustCompile(`^[0-9A-Za-z][0-9A-Za-z._-]*$`)
	tagCharsPattern   = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_./=+\-@]*$`)
	s3BucketPattern   = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	logGroupPattern   = regexp.MustCompile(`^[\w./#-]{1,512}$`)
	deliveryStreamPat = regexp.MustCompile(`^[\w.-]{1,64}$`)
)

func oneOf(v string, allowed ...string) bool {
	for _, a := range allowed {
		if v == a {
			return true
		}
	}
	return false
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func boolOr(p *bool, def bool) bool {
	if p == nil {
		return def
	}
	return *p
}

// createToDomain validates a CreateReplicator request and turns it into a
// replicator (without ARN, account or version). Every rule the model and
// the MSK documentation state is checked here, since the SDKs check almost
// nothing.
func createToDomain(req *createReplicatorRequest) (*replicator.Replicator, error) {
	r := &replicator.Replicator{}
	name := str(req.ReplicatorName)
	if req.ReplicatorName == nil || name == "" {
		return nil, replicator.Invalid("replicatorName", "replicatorName is required")
	}
	if !replicator.ValidName(name) {
		return nil, replicator.Invalid("replicatorName", "replicatorName must be 1 to 128 characters matching ^[0-9A-Za-z][0-9A-Za-z-]{0,}$")
	}
	r.Name = name
	if d := str(req.Description); utf8.RuneCountInString(d) > maxDescription {
		return nil, replicator.Invalid("description", "description must be at most %d characters", maxDescription)
	} else if !printable(d) {
		return nil, replicator.Invalid("description", "description must not contain control characters")
	} else {
		r.Description = d
	}
	role := str(req.ServiceExecutionRoleArn)
	if role == "" {
		return nil, replicator.Invalid("serviceExecutionRoleArn", "serviceExecutionRoleArn is required")
	}
	if len(role) > maxARN || !roleARNPattern.MatchString(role) {
		return nil, replicator.Invalid("serviceExecutionRoleArn", "serviceExecutionRoleArn must be an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)")
	}
	r.ServiceExecutionRoleARN = role

	if len(req.KafkaClusters) != 2 {
		return nil, replicator.Invalid("kafkaClusters", "kafkaClusters must list exactly 2 clusters, the source and the target (got %d)", len(req.KafkaClusters))
	}
	for i := range req.KafkaClusters {
		c, err := clusterToDomain(fmt.Sprintf("kafkaClusters[%d]", i), &req.KafkaClusters[i])
		if err != nil {
			return nil, err
		}
		r.Spec.Clusters = append(r.Spec.Clusters, c)
	}
	if r.Spec.Clusters[0].Alias == r.Spec.Clusters[1].Alias {
		return nil, replicator.Invalid("kafkaClusters", "the two clusters must be different clusters")
	}

	if len(req.ReplicationInfoList) != 1 {
		return nil, replicator.Invalid("replicationInfoList", "replicationInfoList must have exactly 1 entry (got %d)", len(req.ReplicationInfoList))
	}
	ri, err := replicationInfoToDomain("replicationInfoList[0]", &req.ReplicationInfoList[0], r.Spec.Clusters)
	if err != nil {
		return nil, err
	}
	r.Spec.ReplicationInfo = []replicator.ReplicationInfo{ri}

	if req.LogDelivery != nil {
		ld, err := logDeliveryToDomain(req.LogDelivery)
		if err != nil {
			return nil, err
		}
		r.Spec.LogDelivery = ld
	}
	tags := map[string]string{}
	for k, v := range req.Tags {
		tags[k] = v
	}
	if err := validateTags(tags); err != nil {
		return nil, err
	}
	r.Tags = tags
	return r, nil
}

func clusterToDomain(p string, w *wireKafkaCluster) (replicator.Cluster, error) {
	var c replicator.Cluster
	switch {
	case w.AmazonMskCluster != nil && w.ApacheKafkaCluster != nil:
		return c, replicator.Invalid(p, "%s must set exactly one of amazonMskCluster and apacheKafkaCluster", p)
	case w.AmazonMskCluster != nil:
		arn := str(w.AmazonMskCluster.MskClusterArn)
		if arn == "" {
			return c, replicator.Invalid(p+".amazonMskCluster.mskClusterArn", "mskClusterArn is required")
		}
		if len(arn) > maxARN || !mskARNPattern.MatchString(arn) {
			return c, replicator.Invalid(p+".amazonMskCluster.mskClusterArn", "mskClusterArn must be an MSK cluster ARN (arn:aws:kafka:REGION:ACCOUNT:cluster/NAME/UUID)")
		}
		alias, ok := replicator.MSKClusterAlias(arn)
		if !ok {
			return c, replicator.Invalid(p+".amazonMskCluster.mskClusterArn", "mskClusterArn must be an MSK cluster ARN (arn:aws:kafka:REGION:ACCOUNT:cluster/NAME/UUID)")
		}
		c.MSK, c.Alias = &replicator.MSKCluster{ClusterARN: arn}, alias
	case w.ApacheKafkaCluster != nil:
		id, bs := str(w.ApacheKafkaCluster.ApacheKafkaClusterID), str(w.ApacheKafkaCluster.BootstrapBrokerString)
		if id == "" {
			return c, replicator.Invalid(p+".apacheKafkaCluster.apacheKafkaClusterId", "apacheKafkaClusterId is required")
		}
		if len(id) > maxClusterID || !clusterIDPattern.MatchString(id) {
			return c, replicator.Invalid(p+".apacheKafkaCluster.apacheKafkaClusterId", "apacheKafkaClusterId must be 1 to %d letters, digits, '.', '_' or '-'", maxClusterID)
		}
		if bs == "" {
			return c, replicator.Invalid(p+".apacheKafkaCluster.bootstrapBrokerString", "bootstrapBrokerString is required")
		}
		if err := validateBootstrap(bs); err != nil {
			return c, replicator.Invalid(p+".apacheKafkaCluster.bootstrapBrokerString", "bootstrapBrokerString %s", err)
		}
		c.Apache = &replicator.ApacheKafkaCluster{ClusterID: id, BootstrapBrokers: bs}
		c.Alias = replicator.ApacheClusterAlias(id)
	default:
		return c, replicator.Invalid(p, "%s must set one of amazonMskCluster and apacheKafkaCluster", p)
	}
	if v := w.VpcConfig; v != nil {
		if len(v.SubnetIds) == 0 {
			return c, replicator.Invalid(p+".vpcConfig.subnetIds", "vpcConfig.subnetIds is required")
		}
		if len(v.SubnetIds) > maxListItems || len(v.SecurityGroupIds) > maxListItems {
			return c, replicator.Invalid(p+".vpcConfig", "vpcConfig lists at most %d subnets and security groups", maxListItems)
		}
		for _, s := range append(append([]string{}, v.SubnetIds...), v.SecurityGroupIds...) {
			if s == "" || len(s) > 256 || !printable(s) {
				return c, replicator.Invalid(p+".vpcConfig", "vpcConfig IDs must be 1 to 256 printable characters")
			}
		}
		c.VPC = &replicator.VPCConfig{SubnetIDs: v.SubnetIds, SecurityGroupIDs: v.SecurityGroupIds}
	}
	if a := w.ClientAuthentication; a != nil {
		ap := p + ".clientAuthentication"
		if len(a.SaslOAuthBearer) > 0 && string(a.SaslOAuthBearer) != "null" {
			return c, replicator.Invalid(ap+".saslOAuthBearer", "SASL/OAUTHBEARER authentication is not supported by this service; use saslScram or mTLS")
		}
		auth := &replicator.ClientAuthentication{}
		if s := a.SaslScram; s != nil {
			mech := str(s.Mechanism)
			if !oneOf(mech, replicator.ScramSHA256, replicator.ScramSHA512) {
				return c, replicator.Invalid(ap+".saslScram.mechanism", "mechanism must be SHA256 or SHA512")
			}
			arn := str(s.SecretArn)
			if !secretARNPattern.MatchString(arn) {
				return c, replicator.Invalid(ap+".saslScram.secretArn", "secretArn must be a Secrets Manager secret ARN")
			}
			auth.SASLScram = &replicator.SASLScram{Mechanism: mech, SecretARN: arn}
		}
		if m := a.MTLS; m != nil {
			arn := str(m.SecretArn)
			if !secretARNPattern.MatchString(arn) {
				return c, replicator.Invalid(ap+".mTLS.secretArn", "secretArn must be a Secrets Manager secret ARN")
			}
			auth.MTLS = &replicator.MTLS{SecretARN: arn}
		}
		if auth.SASLScram != nil && auth.MTLS != nil {
			return c, replicator.Invalid(ap, "clientAuthentication must set exactly one of saslScram and mTLS")
		}
		if auth.SASLScram != nil || auth.MTLS != nil {
			c.Auth = auth
		}
	}
	if e := w.EncryptionInTransit; e != nil {
		if str(e.EncryptionType) != "TLS" {
			return c, replicator.Invalid(p+".encryptionInTransit.encryptionType", "encryptionType must be TLS")
		}
		ca := str(e.RootCaCertificate)
		if ca != "" {
			if err := validateCA(ca); err != nil {
				return c, replicator.Invalid(p+".encryptionInTransit.rootCaCertificate", "rootCaCertificate %s", err)
			}
		}
		c.Encryption = &replicator.EncryptionInTransit{EncryptionType: "TLS", RootCACertificate: ca}
	}
	if c.MSK != nil && (c.Auth != nil || c.Encryption != nil) {
		return c, replicator.Invalid(p+".clientAuthentication", "clientAuthentication and encryptionInTransit apply to apacheKafkaCluster only; an MSK cluster's connection settings come from the cluster catalog")
	}
	return c, nil
}

func validateBootstrap(s string) error {
	if len(s) > maxBootstrap {
		return fmt.Errorf("must be at most %d characters", maxBootstrap)
	}
	hosts := strings.Split(s, ",")
	if len(hosts) > maxBootstrapHosts {
		return fmt.Errorf("must list at most %d brokers", maxBootstrapHosts)
	}
	for _, h := range hosts {
		h = strings.TrimSpace(h)
		host, port, err := net.SplitHostPort(h)
		if err != nil || host == "" || strings.ContainsAny(host, " /?#@") {
			return fmt.Errorf("must be a comma-separated list of host:port (bad item %q)", truncateForMessage(h))
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("has a bad port in %q", truncateForMessage(h))
		}
	}
	return nil
}

func validateCA(pemText string) error {
	if len(pemText) > maxCACertificate {
		return fmt.Errorf("must be at most %d bytes", maxCACertificate)
	}
	rest := []byte(pemText)
	n := 0
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		if _, err := x509.ParseCertificate(b.Bytes); err != nil {
			return fmt.Errorf("holds a certificate that cannot be parsed")
		}
		n++
	}
	if n == 0 {
		return fmt.Errorf("must hold at least one PEM certificate")
	}
	return nil
}

// clusterRef finds the cluster a replication info names by ARN or ID.
func clusterRef(p string, arn, id *string, clusters []replicator.Cluster) (string, error) {
	a, i := str(arn), str(id)
	switch {
	case a != "" && i != "":
		return "", replicator.Invalid(p+"KafkaClusterArn", "set only one of %sKafkaClusterArn and %sKafkaClusterId", p, p)
	case a != "":
		for _, c := range clusters {
			if c.MSK != nil && c.MSK.ClusterARN == a {
				return c.Alias, nil
			}
		}
		return "", replicator.Invalid(p+"KafkaClusterArn", "%sKafkaClusterArn does not name one of the kafkaClusters", p)
	case i != "":
		for _, c := range clusters {
			if c.Apache != nil && c.Apache.ClusterID == i {
				return c.Alias, nil
			}
		}
		return "", replicator.Invalid(p+"KafkaClusterId", "%sKafkaClusterId does not name one of the kafkaClusters", p)
	}
	return "", replicator.Invalid(p+"KafkaClusterArn", "one of %sKafkaClusterArn and %sKafkaClusterId is required", p, p)
}

func replicationInfoToDomain(p string, w *wireReplicationInf, clusters []replicator.Cluster) (replicator.ReplicationInfo, error) {
	var ri replicator.ReplicationInfo
	src, err := clusterRef("source", w.SourceKafkaClusterArn, w.SourceKafkaClusterID, clusters)
	if err != nil {
		return ri, err
	}
	dst, err := clusterRef("target", w.TargetKafkaClusterArn, w.TargetKafkaClusterID, clusters)
	if err != nil {
		return ri, err
	}
	if src == dst {
		return ri, replicator.Invalid("targetKafkaClusterArn", "the source and the target must be different clusters")
	}
	ri.SourceAlias, ri.TargetAlias = src, dst
	comp := str(w.TargetCompressionType)
	if w.TargetCompressionType == nil {
		return ri, replicator.Invalid("targetCompressionType", "targetCompressionType is required")
	}
	if !oneOf(comp, replicator.CompressionNone, replicator.CompressionGzip, replicator.CompressionSnappy, replicator.CompressionLZ4, replicator.CompressionZstd) {
		return ri, replicator.Invalid("targetCompressionType", "targetCompressionType must be one of NONE, GZIP, SNAPPY, LZ4, ZSTD")
	}
	ri.TargetCompression = comp
	if w.TopicReplication == nil {
		return ri, replicator.Invalid("topicReplication", "topicReplication is required")
	}
	if ri.Topics, err = topicReplicationToDomain(w.TopicReplication, false); err != nil {
		return ri, err
	}
	if w.ConsumerGroupReplication == nil {
		return ri, replicator.Invalid("consumerGroupReplication", "consumerGroupReplication is required")
	}
	if ri.Groups, err = groupReplicationToDomain(w.ConsumerGroupReplication, false); err != nil {
		return ri, err
	}
	if ri.Groups.OffsetSyncMode == replicator.OffsetSyncEnhanced && ri.Topics.TopicNameConfiguration != replicator.NameIdentical {
		return ri, replicator.Invalid("consumerGroupReplication.consumerGroupOffsetSyncMode", "ENHANCED offset sync needs topicNameConfiguration IDENTICAL")
	}
	return ri, nil
}

// topicReplicationToDomain checks a TopicReplication (create) or a
// TopicReplicationUpdate (update: all five members required, no starting
// position or name configuration).
func topicReplicationToDomain(w *wireTopicReplication, update bool) (replicator.TopicReplication, error) {
	const p = "topicReplication"
	var t replicator.TopicReplication
	if w.TopicsToReplicate == nil {
		return t, replicator.Invalid(p+".topicsToReplicate", "topicsToReplicate is required")
	}
	if update {
		if err := requireAll(p, []present{
			{"topicsToExclude", w.TopicsToExclude != nil},
			{"copyTopicConfigurations", w.CopyTopicConfigurations != nil},
			{"copyAccessControlListsForTopics", w.CopyAccessControlListsForTopics != nil},
			{"detectAndCopyNewTopics", w.DetectAndCopyNewTopics != nil},
		}); err != nil {
			return t, err
		}
		if w.StartingPosition != nil || w.TopicNameConfiguration != nil {
			return t, replicator.Invalid(p+".startingPosition", "startingPosition and topicNameConfiguration cannot be changed; create a new replicator")
		}
	}
	if err := validatePatterns(p+".topicsToReplicate", w.TopicsToReplicate, maxTopicPattern, true); err != nil {
		return t, err
	}
	if err := validatePatterns(p+".topicsToExclude", w.TopicsToExclude, maxTopicPattern, false); err != nil {
		return t, err
	}
	t.TopicsToReplicate = append([]string{}, w.TopicsToReplicate...)
	t.TopicsToExclude = append([]string{}, w.TopicsToExclude...)
	t.CopyTopicConfigurations = boolOr(w.CopyTopicConfigurations, false)
	t.CopyAccessControlListsForTopics = boolOr(w.CopyAccessControlListsForTopics, false)
	t.DetectAndCopyNewTopics = boolOr(w.DetectAndCopyNewTopics, false)
	t.StartingPosition = replicator.StartLatest
	if w.StartingPosition != nil {
		if !oneOf(str(w.StartingPosition.Type), replicator.StartLatest, replicator.StartEarliest) {
			return t, replicator.Invalid(p+".startingPosition.type", "startingPosition.type must be LATEST or EARLIEST")
		}
		t.StartingPosition = *w.StartingPosition.Type
	}
	t.TopicNameConfiguration = replicator.NamePrefixed
	if w.TopicNameConfiguration != nil {
		if !oneOf(str(w.TopicNameConfiguration.Type), replicator.NamePrefixed, replicator.NameIdentical) {
			return t, replicator.Invalid(p+".topicNameConfiguration.type", "topicNameConfiguration.type must be PREFIXED_WITH_SOURCE_CLUSTER_ALIAS or IDENTICAL")
		}
		t.TopicNameConfiguration = *w.TopicNameConfiguration.Type
	}
	return t, nil
}

func groupReplicationToDomain(w *wireConsumerGroupReplication, update bool) (replicator.ConsumerGroupReplication, error) {
	const p = "consumerGroupReplication"
	var g replicator.ConsumerGroupReplication
	if w.ConsumerGroupsToReplicate == nil {
		return g, replicator.Invalid(p+".consumerGroupsToReplicate", "consumerGroupsToReplicate is required")
	}
	if update {
		if err := requireAll(p, []present{
			{"consumerGroupsToExclude", w.ConsumerGroupsToExclude != nil},
			{"detectAndCopyNewConsumerGroups", w.DetectAndCopyNewConsumerGroups != nil},
			{"synchroniseConsumerGroupOffsets", w.SynchroniseConsumerGroupOffsets != nil},
		}); err != nil {
			return g, err
		}
		if w.ConsumerGroupOffsetSyncMode != nil {
			return g, replicator.Invalid(p+".consumerGroupOffsetSyncMode", "consumerGroupOffsetSyncMode cannot be changed; create a new replicator")
		}
	}
	if err := validatePatterns(p+".consumerGroupsToReplicate", w.ConsumerGroupsToReplicate, maxGroupPattern, false); err != nil {
		return g, err
	}
	if err := validatePatterns(p+".consumerGroupsToExclude", w.ConsumerGroupsToExclude, maxGroupPattern, false); err != nil {
		return g, err
	}
	g.ConsumerGroupsToReplicate = append([]string{}, w.ConsumerGroupsToReplicate...)
	g.ConsumerGroupsToExclude = append([]string{}, w.ConsumerGroupsToExclude...)
	g.DetectAndCopyNewConsumerGroups = boolOr(w.DetectAndCopyNewConsumerGroups, false)
	// MSK documents offset synchronisation as on by default.
	g.SynchroniseConsumerGroupOffsets = boolOr(w.SynchroniseConsumerGroupOffsets, true)
	g.OffsetSyncMode = replicator.OffsetSyncLegacy
	if w.ConsumerGroupOffsetSyncMode != nil {
		if !oneOf(*w.ConsumerGroupOffsetSyncMode, replicator.OffsetSyncLegacy, replicator.OffsetSyncEnhanced) {
			return g, replicator.Invalid(p+".consumerGroupOffsetSyncMode", "consumerGroupOffsetSyncMode must be LEGACY or ENHANCED")
		}
		g.OffsetSyncMode = *w.ConsumerGroupOffsetSyncMode
	}
	return g, nil
}

type present struct {
	member string
	ok     bool
}

// requireAll reports the first member that is missing, in model order.
func requireAll(p string, members []present) error {
	for _, m := range members {
		if !m.ok {
			return replicator.Invalid(p+"."+m.member, "%s is required in an update", m.member)
		}
	}
	return nil
}

// validatePatterns checks a list of regular expressions: count, length, and
// that RE2 compiles each one as a whole-name match.
func validatePatterns(p string, pats []string, maxLen int, nonEmpty bool) error {
	if nonEmpty && len(pats) == 0 {
		return replicator.Invalid(p, "%s must have at least one pattern", p)
	}
	if len(pats) > maxPatterns {
		return replicator.Invalid(p, "%s must have at most %d patterns", p, maxPatterns)
	}
	for _, s := range pats {
		if s == "" || len(s) > maxLen {
			return replicator.Invalid(p, "each pattern in %s must be 1 to %d characters", p, maxLen)
		}
		if _, err := replicator.CompilePatterns([]string{s}); err != nil {
			return replicator.Invalid(p, "pattern %q in %s is not a valid regular expression (RE2 syntax; look-arounds and back references are not supported)", truncateForMessage(s), p)
		}
	}
	return nil
}

func logDeliveryToDomain(w *wireLogDelivery) (*replicator.LogDelivery, error) {
	const p = "logDelivery.replicatorLogDelivery"
	rl := w.ReplicatorLogDelivery
	if rl == nil {
		return nil, nil
	}
	ld := &replicator.LogDelivery{}
	if c := rl.CloudWatchLogs; c != nil {
		if c.Enabled == nil {
			return nil, replicator.Invalid(p+".cloudWatchLogs.enabled", "enabled is required")
		}
		if *c.Enabled && !logGroupPattern.MatchString(str(c.LogGroup)) {
			return nil, replicator.Invalid(p+".cloudWatchLogs.logGroup", "logGroup is required when CloudWatch Logs delivery is enabled")
		}
		ld.CloudWatchLogs = &replicator.LogDestination{Enabled: *c.Enabled, Name: str(c.LogGroup)}
	}
	if f := rl.Firehose; f != nil {
		if f.Enabled == nil {
			return nil, replicator.Invalid(p+".firehose.enabled", "enabled is required")
		}
		if *f.Enabled && !deliveryStreamPat.MatchString(str(f.DeliveryStream)) {
			return nil, replicator.Invalid(p+".firehose.deliveryStream", "deliveryStream is required when Firehose delivery is enabled")
		}
		ld.Firehose = &replicator.LogDestination{Enabled: *f.Enabled, Name: str(f.DeliveryStream)}
	}
	if s := rl.S3; s != nil {
		if s.Enabled == nil {
			return nil, replicator.Invalid(p+".s3.enabled", "enabled is required")
		}
		if *s.Enabled && !s3BucketPattern.MatchString(str(s.Bucket)) {
			return nil, replicator.Invalid(p+".s3.bucket", "bucket is required when S3 delivery is enabled")
		}
		if len(str(s.Prefix)) > maxLogName || !printable(str(s.Prefix)) {
			return nil, replicator.Invalid(p+".s3.prefix", "prefix must be at most %d printable characters", maxLogName)
		}
		ld.S3 = &replicator.LogDestination{Enabled: *s.Enabled, Name: str(s.Bucket), Prefix: str(s.Prefix)}
	}
	return ld, nil
}

// validateTags applies MSK's tag rules to a complete set of tags.
func validateTags(tags map[string]string) error {
	if len(tags) > 50 {
		return replicator.Invalid("tags", "a resource can have at most 50 tags")
	}
	for k, v := range tags {
		if err := validateTagKey(k); err != nil {
			return err
		}
		if utf8.RuneCountInString(v) > maxTagValue-1 || !tagCharsPattern.MatchString(v) {
			return replicator.Invalid("tags", "tag values must be 0 to 255 characters: letters, digits, white space and _ . / = + - @")
		}
	}
	return nil
}

func validateTagKey(k string) error {
	n := utf8.RuneCountInString(k)
	if n < 1 || n > maxTagKey || !tagCharsPattern.MatchString(k) {
		return replicator.Invalid("tags", "tag keys must be 1 to 128 characters: letters, digits, white space and _ . / = + - @")
	}
	if strings.HasPrefix(strings.ToLower(k), "aws:") {
		return replicator.Invalid("tags", "tag keys must not start with aws:")
	}
	return nil
}

func printable(s string) bool {
	for _, r := range s {
		if r != '\n' && r != '\t' && r != '\r' && !unicode.IsPrint(r) && !unicode.IsSpace(r) {
			return false
		}
	}
	return true
}

func truncateForMessage(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return strings.ToValidUTF8(s, "?")
}
