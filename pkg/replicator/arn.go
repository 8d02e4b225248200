package replicator

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
)

// ARN identifies a replicator:
// arn:aws:kafka:{region}:{account}:replicator/{name}/{uuid}.
type ARN struct {
	Partition string
	Region    string
	AccountID string
	Name      string
	ID        string
}

func (a ARN) String() string {
	return fmt.Sprintf("arn:%s:kafka:%s:%s:replicator/%s/%s", a.Partition, a.Region, a.AccountID, a.Name, a.ID)
}

var (
	namePattern    = regexp.MustCompile(`^[0-9A-Za-z][0-9A-Za-z-]*$`)
	regionPattern  = regexp.MustCompile(`^[a-z]{2}(-[a-z0-9]+)+-[0-9]+$|^[a-z0-9-]{1,32}$`)
	accountPattern = regexp.MustCompile(`^[0-9]{12}$`)
	uuidPattern    = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(-[0-9a-z]{1,4})?$`)
)

// ValidName reports whether s is a valid replicator name (pattern and 1–128).
func ValidName(s string) bool { return len(s) >= 1 && len(s) <= 128 && namePattern.MatchString(s) }

// ParseARN parses a replicator ARN. It is strict: anything that is not
// exactly a replicator ARN of the aws, aws-cn or aws-us-gov partition fails.
func ParseARN(s string) (ARN, error) {
	bad := func(why string) (ARN, error) { return ARN{}, fmt.Errorf("invalid replicator ARN: %s", why) }
	if len(s) > 512 {
		return bad("too long")
	}
	parts := strings.SplitN(s, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" {
		return bad("not an ARN")
	}
	a := ARN{Partition: parts[1], Region: parts[3], AccountID: parts[4]}
	switch a.Partition {
	case "aws", "aws-cn", "aws-us-gov":
	default:
		return bad("unknown partition")
	}
	if parts[2] != "kafka" {
		return bad("not a kafka ARN")
	}
	if !regionPattern.MatchString(a.Region) {
		return bad("bad region")
	}
	if !accountPattern.MatchString(a.AccountID) {
		return bad("bad account")
	}
	res := strings.Split(parts[5], "/")
	if len(res) != 3 || res[0] != "replicator" {
		return bad("not a replicator ARN")
	}
	a.Name, a.ID = res[1], res[2]
	if !ValidName(a.Name) {
		return bad("bad replicator name")
	}
	if !uuidPattern.MatchString(a.ID) {
		return bad("bad replicator id")
	}
	return a, nil
}

// ApacheClusterAlias is the alias of a self-managed cluster:
// <id, first 28 chars>-<first 12 hex of SHA-256(id)>.
func ApacheClusterAlias(clusterID string) string {
	sum := sha256.Sum256([]byte(clusterID))
	return truncate(sanitizeAlias(clusterID), 28) + "-" + hex.EncodeToString(sum[:])[:12]
}

// MSKClusterAlias is the alias of an MSK cluster, as MSK forms it:
// <cluster name, first 28 chars>-<last 12 hex of the cluster UUID>.
func MSKClusterAlias(clusterARN string) (string, bool) {
	_, rest, ok := strings.Cut(clusterARN, ":cluster/")
	if !ok {
		return "", false
	}
	name, id, ok := strings.Cut(rest, "/")
	if !ok || name == "" || id == "" {
		return "", false
	}
	hexOnly := strings.Map(func(r rune) rune {
		if (r >= '0' && r <= '9') || (r >= 'a' && r <= 'f') {
			return r
		}
		return -1
	}, strings.ToLower(stripSuffix(id)))
	if len(hexOnly) < 12 {
		return "", false
	}
	return truncate(sanitizeAlias(name), 28) + "-" + hexOnly[len(hexOnly)-12:], true
}

// stripSuffix drops the short "-s2"/"-3" suffix MSK puts after a UUID.
func stripSuffix(id string) string {
	if i := strings.LastIndexByte(id, '-'); i >= 0 && len(id)-i <= 4 && i >= 36 {
		return id[:i]
	}
	return id
}

// sanitizeAlias keeps the characters that are legal in a topic name, so that
// "<alias>.<topic>" is always a valid topic.
func sanitizeAlias(s string) string {
	return strings.Map(func(r rune) rune {
		if (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') || r == '-' || r == '_' {
			return r
		}
		return '-'
	}, s)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
