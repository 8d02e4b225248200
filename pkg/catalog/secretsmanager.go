package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go"

	"github.com/openreplicator/replicator/pkg/replicator"
)

const (
	// smTimeout bounds one Secret call, the lazy configuration load and every
	// retry included, so that an unreachable endpoint cannot hang the API.
	smTimeout = 5 * time.Second
	// smCacheTTL is how long a fetched secret is served from memory.
	smCacheTTL = 5 * time.Minute
	// smCacheMax bounds the cache; a replicator fleet uses few secrets.
	smCacheMax = 1024
)

// SecretsManager fetches secrets from AWS Secrets Manager (or a compatible
// server). The client is built with the SDK's default configuration
// (environment, shared config files, credential chain) on first use, so a
// machine without AWS configuration pays nothing until an ARN that is not in
// the secrets file is looked up; AWS_ENDPOINT_URL_SECRETS_MANAGER points it at
// any compatible server. The region is taken from the secret ARN when it has
// one, else from the configuration. Fetched secrets are cached for five
// minutes; failures are not cached. Safe for concurrent use.
type SecretsManager struct {
	timeout time.Duration
	ttl     time.Duration
	now     func() time.Time
	// loadConfig builds the SDK configuration; config.LoadDefaultConfig
	// unless a test replaces it.
	loadConfig func(context.Context) (aws.Config, error)

	clientMu sync.Mutex
	client   *secretsmanager.Client
	region   string // the configuration's region, "" if none

	mu    sync.Mutex
	cache map[string]smEntry
}

type smEntry struct {
	secret  Secret
	expires time.Time
}

// NewSecretsManager returns a Secrets Manager resolver. It neither reads
// configuration nor touches the network: that happens on the first Secret
// call, where any configuration error surfaces. ctx is not retained.
func NewSecretsManager(_ context.Context) *SecretsManager {
	return &SecretsManager{
		timeout: smTimeout,
		ttl:     smCacheTTL,
		now:     time.Now,
		loadConfig: func(ctx context.Context) (aws.Config, error) {
			return config.LoadDefaultConfig(ctx)
		},
		cache: map[string]smEntry{},
	}
}

// String never prints cached secret material.
func (*SecretsManager) String() string { return "[secrets manager]" }

// GoString never prints cached secret material.
func (*SecretsManager) GoString() string { return "[secrets manager]" }

// Secret resolves a secret ARN (or name) from Secrets Manager. Errors are
// *replicator.Error of kind KindInvalid for member secretArn, with a
// user-safe message; the cause, if any, is attached for logs and never holds
// secret material.
func (s *SecretsManager) Secret(ctx context.Context, arn string) (Secret, error) {
	if arn == "" {
		return Secret{}, replicator.Invalid("secretArn", "secret ARN is empty")
	}
	if sec, ok := s.cached(arn); ok {
		return sec, nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()

	client, cfgRegion, err := s.getClient(ctx)
	if err != nil {
		return Secret{}, secretError("secrets manager is not configured", err)
	}
	region := arnRegion(arn)
	if region == "" {
		region = cfgRegion
	}
	if region == "" {
		return Secret{}, secretError("secrets manager is not configured (no AWS region)", nil)
	}
	out, err := client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)},
		func(o *secretsmanager.Options) { o.Region = region })
	if err != nil {
		return Secret{}, classify(err)
	}
	if out.SecretString == nil {
		return Secret{}, secretError("secret has no SecretString (binary secrets are not supported)", nil)
	}
	sec, err := parseSecret(*out.SecretString)
	if err != nil {
		return Secret{}, err
	}
	s.store(arn, sec)
	return sec, nil
}

func (s *SecretsManager) getClient(ctx context.Context) (*secretsmanager.Client, string, error) {
	s.clientMu.Lock()
	defer s.clientMu.Unlock()
	if s.client != nil {
		return s.client, s.region, nil
	}
	cfg, err := s.loadConfig(ctx)
	if err != nil {
		// Not remembered: the next call tries again (the operator may fix
		// the configuration without a restart).
		return nil, "", err
	}
	if cfg.Credentials != nil {
		cfg.Credentials = tagCredentials{cfg.Credentials}
	}
	s.client, s.region = secretsmanager.NewFromConfig(cfg), cfg.Region
	return s.client, s.region, nil
}

func (s *SecretsManager) cached(arn string) (Secret, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.cache[arn]
	if !ok {
		return Secret{}, false
	}
	if !s.now().Before(e.expires) {
		delete(s.cache, arn)
		return Secret{}, false
	}
	return e.secret, true
}

func (s *SecretsManager) store(arn string, sec Secret) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if len(s.cache) >= smCacheMax {
		for k, e := range s.cache {
			if !now.Before(e.expires) {
				delete(s.cache, k)
			}
		}
		for k := range s.cache {
			if len(s.cache) < smCacheMax {
				break
			}
			delete(s.cache, k)
		}
	}
	s.cache[arn] = smEntry{secret: sec, expires: now.Add(s.ttl)}
}

// tagCredentials marks the errors of a credentials provider, so that "no
// credentials" can be told from "unreachable" whatever path the SDK wraps
// them in.
type tagCredentials struct{ p aws.CredentialsProvider }

func (t tagCredentials) Retrieve(ctx context.Context) (aws.Credentials, error) {
	c, err := t.p.Retrieve(ctx)
	if err != nil {
		return c, &credentialsError{err}
	}
	return c, nil
}

type credentialsError struct{ err error }

func (e *credentialsError) Error() string { return "retrieve AWS credentials: " + e.err.Error() }
func (e *credentialsError) Unwrap() error { return e.err }

// arnRegion returns the region of a Secrets Manager ARN, "" for anything else.
func arnRegion(arn string) string {
	p := strings.SplitN(arn, ":", 6)
	if len(p) != 6 || p[0] != "arn" || p[2] != "secretsmanager" {
		return ""
	}
	return p[3]
}

// parseSecret reads a SecretString: {"username","password"} (the format MSK
// requires for SASL/SCRAM) or {"certificate","privateKey"}. Errors never
// quote the content.
func parseSecret(s string) (Secret, error) {
	var raw struct {
		Username    string `json:"username"`
		Password    string `json:"password"`
		Certificate string `json:"certificate"`
		PrivateKey  string `json:"privateKey"`
	}
	// The decoder's errors can quote the input, so none is passed on.
	if err := json.Unmarshal([]byte(s), &raw); err != nil {
		return Secret{}, secretError("secret is not a JSON object with username/password or certificate/privateKey", nil)
	}
	switch {
	case raw.Username != "" && raw.Password != "":
		return Secret{Username: raw.Username, Password: raw.Password}, nil
	case raw.Certificate != "" && raw.PrivateKey != "":
		return Secret{Certificate: raw.Certificate, PrivateKey: raw.PrivateKey}, nil
	}
	return Secret{}, secretError("secret has no username/password or certificate/privateKey", nil)
}

// classify turns an SDK error into a user-safe error. The SDK's error text
// (operation, status, request ID, the service's message) goes into Err for
// logs; it never holds secret material, except possibly a response body
// quoted by a failed decode, which is therefore dropped.
func classify(err error) error {
	var de *smithy.DeserializationError
	if errors.As(err, &de) {
		return secretError("secrets manager returned an unreadable response", nil)
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode() {
		case "ResourceNotFoundException":
			return secretError("secret not found", err)
		case "AccessDeniedException", "AccessDenied", "UnrecognizedClientException",
			"InvalidClientTokenId", "InvalidSignatureException", "SignatureDoesNotMatch",
			"IncompleteSignature", "MissingAuthenticationToken", "ExpiredTokenException",
			"ExpiredToken", "RequestExpired", "DecryptionFailure", "KMSAccessDeniedException":
			return secretError("access denied", err)
		case "InvalidParameterException", "ValidationException":
			return secretError("not a valid secret ARN", err)
		case "InvalidRequestException":
			// Such as a secret scheduled for deletion.
			return secretError("secret is not available", err)
		case "ThrottlingException", "TooManyRequestsException", "LimitExceededException":
			return secretError("secrets manager is throttling requests", err)
		}
		return secretError("secrets manager request failed", err)
	}
	var ce *credentialsError
	var se *v4.SigningError
	if errors.As(err, &ce) || errors.As(err, &se) {
		return secretError("no usable AWS credentials for secrets manager", err)
	}
	// Connection refused, DNS, TLS, the timeout, a canceled request: the
	// service could not be asked.
	return secretError("secrets manager unreachable", err)
}

func secretError(msg string, cause error) error {
	return &replicator.Error{Kind: replicator.KindInvalid, Param: "secretArn", Message: msg, Err: cause}
}

// Resolver tries the secrets file first, then Secrets Manager (if non-nil).
// Both answer only for the calling account: a file entry of another account
// is not found (whether Secrets Manager has the ARN or not), and Secrets
// Manager is asked only for ARNs of the caller's own account, so the
// service's identity never fetches a secret on behalf of another tenant.
type Resolver struct {
	Files *Files
	SM    *SecretsManager
}

// Secret resolves a secret ARN for account: from the secrets file if it is
// there, else from Secrets Manager when the ARN is the account's.
func (r *Resolver) Secret(ctx context.Context, account, arn string) (Secret, error) {
	if r.Files != nil {
		sec, found, owned := r.Files.lookup(account, arn)
		switch {
		case owned:
			return sec, nil
		case found:
			return Secret{}, errSecretNotFound()
		}
	}
	if r.SM != nil && account != "" && ARNAccount(arn) == account {
		return r.SM.Secret(ctx, arn)
	}
	return Secret{}, errSecretNotFound()
}

// CheckSecret reports whether a secret ARN resolves for account, without
// returning it.
func (r *Resolver) CheckSecret(ctx context.Context, account, arn string) error {
	_, err := r.Secret(ctx, account, arn)
	return err
}
