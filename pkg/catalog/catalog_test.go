package catalog

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openreplicator/replicator/pkg/replicator"
)

const (
	testClusterARN = "arn:aws:kafka:us-east-1:111111111111:cluster/src/361a2e04-ff39-48d4-9ee0-f810cd197370-s2"
	testScramARN   = "arn:aws:secretsmanager:us-east-1:111111111111:secret:AmazonMSK_scram-AbCdEf"
	testAccount    = "111111111111"
	testMTLSARN    = "arn:aws:secretsmanager:us-east-1:111111111111:secret:AmazonMSK_mtls-GhIjKl"
	testPassword   = "file-pw-Zq7hunter2"
	testKey        = "-----BEGIN PRIVATE KEY-----\nfile-key-material-Xy9\n-----END PRIVATE KEY-----"
)

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// testFiles writes a clusters file and a secrets file and loads them.
func testFiles(t *testing.T) (f *Files, clustersPath, secretsPath string) {
	t.Helper()
	dir := t.TempDir()
	clustersPath, secretsPath = filepath.Join(dir, "clusters.json"), filepath.Join(dir, "secrets.json")
	writeFile(t, clustersPath, `{"`+testClusterARN+`": {"bootstrapBrokerString": "b-1.example:9096",
		"clientAuthentication": {"saslScram": {"enabled": true}}}}`)
	writeFile(t, secretsPath, `{
		"`+testScramARN+`": {"username": "alice", "password": "`+testPassword+`"},
		"`+testMTLSARN+`": {"certificate": "-----BEGIN CERTIFICATE-----\nc\n-----END CERTIFICATE-----", "privateKey": "`+strings.ReplaceAll(testKey, "\n", `\n`)+`"}}`)
	f, err := Load(clustersPath, secretsPath)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return f, clustersPath, secretsPath
}

// wantInvalid checks that err is a *replicator.Error of kind KindInvalid for
// member secretArn with the given message.
func wantInvalid(t *testing.T, err error, msg string) {
	t.Helper()
	var e *replicator.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *replicator.Error", err, err)
	}
	if e.Kind != replicator.KindInvalid || e.Param != "secretArn" || e.Message != msg {
		t.Fatalf("error = {Kind %d, Param %q, Message %q}, want {KindInvalid, secretArn, %q}", e.Kind, e.Param, e.Message, msg)
	}
}

func TestLoadUnconfigured(t *testing.T) {
	f, err := Load("", "")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if f.HasCluster(testAccount, testClusterARN) {
		t.Error("an unconfigured catalog knows a cluster")
	}
	wantInvalid(t, f.CheckSecret(context.Background(), testAccount, testScramARN), "secret not found")
}

func TestZeroFiles(t *testing.T) {
	var f Files
	if f.HasCluster(testAccount, testClusterARN) {
		t.Error("the zero Files knows a cluster")
	}
	_, err := f.Secret(context.Background(), testAccount, testScramARN)
	wantInvalid(t, err, "secret not found")
}

func TestLoadMissingFile(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(filepath.Join(dir, "nope.json"), ""); err == nil {
		t.Error("Load of a missing clusters file succeeded")
	}
	if _, err := Load("", filepath.Join(dir, "nope.json")); err == nil {
		t.Error("Load of a missing secrets file succeeded")
	}
}

func TestClusters(t *testing.T) {
	f, _, _ := testFiles(t)
	if !f.HasCluster(testAccount, testClusterARN) {
		t.Fatal("HasCluster = false for a cluster in the file")
	}
	if f.HasCluster(testAccount, testClusterARN+"x") {
		t.Error("HasCluster = true for a cluster not in the file")
	}
	e, ok := f.Cluster(testAccount, testClusterARN)
	if !ok || e.BootstrapBrokerString != "b-1.example:9096" || !strings.Contains(string(e.ClientAuthentication), "saslScram") {
		t.Errorf("Cluster = %+v, %v", e, ok)
	}
	if e.EncryptionInTransit != nil {
		t.Errorf("EncryptionInTransit = %s, want absent", e.EncryptionInTransit)
	}
}

func TestSecrets(t *testing.T) {
	ctx := context.Background()
	f, _, _ := testFiles(t)
	s, err := f.Secret(ctx, testAccount, testScramARN)
	if err != nil || s.Username != "alice" || s.Password != testPassword || s.Certificate != "" || s.PrivateKey != "" {
		t.Errorf("Secret(scram): wrong secret or err %v", err)
	}
	s, err = f.Secret(ctx, testAccount, testMTLSARN)
	if err != nil || s.PrivateKey != testKey || !strings.HasPrefix(s.Certificate, "-----BEGIN CERTIFICATE-----") || s.Username != "" {
		t.Errorf("Secret(mtls): wrong secret or err %v", err)
	}
	if err := f.CheckSecret(ctx, testAccount, testScramARN); err != nil {
		t.Errorf("CheckSecret(scram) = %v", err)
	}
	if err := f.CheckSecret(ctx, testAccount, testMTLSARN); err != nil {
		t.Errorf("CheckSecret(mtls) = %v", err)
	}
	_, err = f.Secret(ctx, testAccount, testScramARN+"x")
	wantInvalid(t, err, "secret not found")
	wantInvalid(t, f.CheckSecret(ctx, testAccount, "arn:aws:secretsmanager:us-east-1:111111111111:secret:other-AbCdEf"), "secret not found")
}

func TestReload(t *testing.T) {
	ctx := context.Background()
	f, clustersPath, secretsPath := testFiles(t)
	other := "arn:aws:kafka:us-east-1:111111111111:cluster/dst/0b1e2f6c-1111-2222-3333-444455556666-s1"
	newARN := "arn:aws:secretsmanager:us-east-1:111111111111:secret:AmazonMSK_new-MnOpQr"
	writeFile(t, clustersPath, `{"`+other+`": {"bootstrapBrokerString": "b-2.example:9096"}}`)
	writeFile(t, secretsPath, `{"`+newARN+`": {"username": "bob", "password": "new-pw"}}`)
	if err := f.Reload(); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	if f.HasCluster(testAccount, testClusterARN) || !f.HasCluster(testAccount, other) {
		t.Error("Reload did not replace the cluster catalog")
	}
	if f.CheckSecret(ctx, testAccount, testScramARN) == nil {
		t.Error("a secret removed from the file still resolves after Reload")
	}
	if s, err := f.Secret(ctx, testAccount, newARN); err != nil || s.Username != "bob" || s.Password != "new-pw" {
		t.Errorf("Secret(new) after Reload: wrong secret or err %v", err)
	}
}

func TestReloadInvalidKeepsContents(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name, clusters, secrets string
	}{
		// A syntax error right after the password: a decoder message that
		// quoted the input would show it.
		{"secrets syntax", "", `{"` + testScramARN + `": {"username": "alice", "password": "` + testPassword + `" "x"}}`},
		{"secrets truncated", "", `{"` + testScramARN + `": {"password": "` + testPassword},
		// Valid JSON of the wrong shape: the type error names the value.
		{"secrets shape", "", `{"` + testScramARN + `": "` + testPassword + `"}`},
		{"secrets not an object", "", `["` + testPassword + `"]`},
		{"clusters syntax", `{"` + testClusterARN + `": {"bootstrapBrokerString": 1,}}`, ""},
		{"clusters shape", `{"` + testClusterARN + `": "` + testPassword + `"}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, clustersPath, secretsPath := testFiles(t)
			if tc.clusters != "" {
				writeFile(t, clustersPath, tc.clusters)
			}
			if tc.secrets != "" {
				writeFile(t, secretsPath, tc.secrets)
			}
			err := f.Reload()
			if err == nil {
				t.Fatal("Reload of an invalid file succeeded")
			}
			for _, s := range []string{err.Error(), fmt.Sprintf("%v %+v %#v", err, err, err)} {
				if strings.Contains(s, testPassword) || strings.Contains(s, "Zq7") {
					t.Fatalf("the Reload error shows secret material: %s", s)
				}
			}
			if !strings.Contains(err.Error(), "catalog:") {
				t.Errorf("Reload error %q does not say where it comes from", err)
			}
			// The previous contents stay.
			if !f.HasCluster(testAccount, testClusterARN) {
				t.Error("a failed Reload dropped the cluster catalog")
			}
			if s, err := f.Secret(ctx, testAccount, testScramARN); err != nil || s.Password != testPassword {
				t.Errorf("a failed Reload changed the secrets (err %v)", err)
			}
			if _, err := Load(clustersPath, secretsPath); err == nil {
				t.Error("Load of the invalid files succeeded")
			}
		})
	}
}

func TestSecretNeverPrinted(t *testing.T) {
	ctx := context.Background()
	f, _, _ := testFiles(t)
	scram, err := f.Secret(ctx, testAccount, testScramARN)
	if err != nil {
		t.Fatal(err)
	}
	mtls, err := f.Secret(ctx, testAccount, testMTLSARN)
	if err != nil {
		t.Fatal(err)
	}
	holder := struct {
		S Secret
		P *Secret
	}{scram, &mtls}
	for _, s := range []string{
		fmt.Sprintf("%v %+v %#v", scram, scram, scram),
		fmt.Sprintf("%v %+v %#v", mtls, mtls, mtls),
		fmt.Sprintf("%v %+v %#v", &scram, &scram, &mtls),
		fmt.Sprintf("%s %q", scram, mtls),
		fmt.Sprintf("%v %+v %#v", holder, holder, holder),
		fmt.Sprint(scram, mtls), fmt.Sprintln([]Secret{scram, mtls}),
		fmt.Sprintf("%v %#v", map[string]Secret{"a": scram}, map[string]Secret{"b": mtls}),
	} {
		for _, bad := range []string{testPassword, "alice", "file-key-material", "BEGIN"} {
			if strings.Contains(s, bad) {
				t.Errorf("formatted secret shows %q: %s", bad, s)
			}
		}
	}
	// A Resolver and a SecretsManager that hold secrets print none either.
	sm := NewSecretsManager(ctx)
	sm.store(testScramARN, scram)
	r := &Resolver{Files: f, SM: sm}
	s := fmt.Sprintf("%v %+v %#v %v %+v %#v", sm, sm, sm, r, r, r)
	if strings.Contains(s, testPassword) || strings.Contains(s, "file-key-material") {
		t.Errorf("formatted resolver shows secret material: %s", s)
	}
}
