package bench

import (
	"net/url"
	"strings"
)

// EscapeLabel percent-encodes an ARN for use as one path segment, as the
// SDKs do for the {replicatorArn} label (':' → %3A, '/' → %2F).
func EscapeLabel(arn string) string {
	return strings.ReplaceAll(url.PathEscape(arn), ":", "%3A")
}
