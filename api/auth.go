package api

import (
	"errors"
	"net/http"

	"github.com/openreplicator/replicator/pkg/replicator"
	"github.com/openreplicator/replicator/pkg/sigv4"
)

// SigV4 authenticates callers with AWS Signature Version 4 against the
// configured access keys; the key's account owns what the caller creates.
func SigV4(v *sigv4.Verifier) Authenticator { return sigV4Auth{v} }

type sigV4Auth struct{ v *sigv4.Verifier }

func (a sigV4Auth) Authenticate(r *http.Request, body []byte) (string, error) {
	k, err := a.v.Verify(r, body)
	if err != nil {
		var ae *sigv4.AuthError
		if errors.As(err, &ae) {
			return "", &replicator.Error{Kind: replicator.KindUnauthorized, Message: ae.Reason}
		}
		return "", &replicator.Error{Kind: replicator.KindUnauthorized, Message: "the request signature could not be verified"}
	}
	return k.AccountID, nil
}
