package main

// No Docker engine runs where the tests run, so these tests read
// docker-compose.yml, Dockerfile and .dockerignore and check them against
// what the binary itself documents (`replicator <command> -h`), and build the
// binary the way the Dockerfile does to check that it is static.

import (
	"bytes"
	"cmp"
	"context"
	"debug/elf"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/openreplicator/replicator/pkg/replicator"
	"github.com/openreplicator/replicator/pkg/sigv4"
)

// composeRoot is the repository root, seen from cmd/replicator.
const composeRoot = "../.."

// The image every replicator service runs, built from the Dockerfile.
const composeImage = "replicator:local"

// --- the compose file ------------------------------------------------------

type composeFile struct {
	Name     string                     `yaml:"name"`
	Services map[string]*composeService `yaml:"services"`
	Volumes  map[string]any             `yaml:"volumes"`
}

type composeService struct {
	Image         string                       `yaml:"image"`
	Build         *composeBuild                `yaml:"build"`
	Command       composeList                  `yaml:"command"`
	Environment   composeEnv                   `yaml:"environment"`
	Ports         []string                     `yaml:"ports"`
	DependsOn     map[string]composeDependency `yaml:"depends_on"`
	Healthcheck   *composeHealthcheck          `yaml:"healthcheck"`
	Deploy        *composeDeploy               `yaml:"deploy"`
	Restart       string                       `yaml:"restart"`
	Hostname      string                       `yaml:"hostname"`
	ContainerName string                       `yaml:"container_name"`
	Volumes       []string                     `yaml:"volumes"`
}

type composeDependency struct {
	Condition string `yaml:"condition"`
	Restart   bool   `yaml:"restart"`
	Required  *bool  `yaml:"required"`
}

type composeHealthcheck struct {
	Test          []string `yaml:"test"`
	Interval      string   `yaml:"interval"`
	Timeout       string   `yaml:"timeout"`
	Retries       int      `yaml:"retries"`
	StartPeriod   string   `yaml:"start_period"`
	StartInterval string   `yaml:"start_interval"`
	Disable       bool     `yaml:"disable"`
}

type composeDeploy struct {
	Replicas *int `yaml:"replicas"`
}

// composeBuild is `build: DIR` or `build: {context: DIR, dockerfile: FILE}`.
type composeBuild struct {
	Context    string `yaml:"context"`
	Dockerfile string `yaml:"dockerfile"`
}

func (b *composeBuild) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		b.Context = n.Value
		return nil
	}
	type plain composeBuild
	return n.Decode((*plain)(b))
}

// composeList is a command: a list, or a string split on spaces.
type composeList []string

func (l *composeList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*l = strings.Fields(n.Value)
		return nil
	}
	return n.Decode((*[]string)(l))
}

// composeEnv is `environment:` as a mapping or as a list of NAME=VALUE.
type composeEnv map[string]string

func (e *composeEnv) UnmarshalYAML(n *yaml.Node) error {
	*e = composeEnv{}
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if v.Kind != yaml.ScalarNode {
				return fmt.Errorf("line %d: environment %s is not a scalar", v.Line, k.Value)
			}
			if _, dup := (*e)[k.Value]; dup {
				return fmt.Errorf("line %d: environment %s is set twice", k.Line, k.Value)
			}
			(*e)[k.Value] = v.Value
		}
	case yaml.SequenceNode:
		for _, v := range n.Content {
			name, value, _ := strings.Cut(v.Value, "=")
			if _, dup := (*e)[name]; dup {
				return fmt.Errorf("line %d: environment %s is set twice", v.Line, name)
			}
			(*e)[name] = value
		}
	default:
		return fmt.Errorf("line %d: environment must be a mapping or a list", n.Line)
	}
	return nil
}

func loadCompose(t *testing.T) *composeFile {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(composeRoot, "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true) // a misspelt key (healthchek, depends-on) is an error, not ignored
	var f composeFile
	if err := dec.Decode(&f); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	if len(f.Services) == 0 {
		t.Fatal("docker-compose.yml has no services")
	}
	return &f
}

// interpolate resolves Compose's ${VAR:-default}, ${VAR-default}, ${VAR} and
// $VAR with an empty environment, as a user who sets nothing gets them, and
// reports variables that have no default.
func interpolate(s string) (string, []string) {
	var out strings.Builder
	var undefined []string
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '$' {
			out.WriteByte(c)
			continue
		}
		if i+1 < len(s) && s[i+1] == '$' {
			out.WriteByte('$')
			i++
			continue
		}
		if i+1 < len(s) && s[i+1] == '{' {
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				out.WriteString(s[i:])
				break
			}
			expr := s[i+2 : i+end]
			i += end
			if name, def, ok := strings.Cut(expr, ":-"); ok && !strings.ContainsAny(name, "-?:") {
				out.WriteString(def)
				continue
			}
			if name, def, ok := strings.Cut(expr, "-"); ok && !strings.ContainsAny(name, "?:") {
				out.WriteString(def)
				continue
			}
			undefined = append(undefined, expr)
			continue
		}
		j := i + 1
		for j < len(s) && (s[j] == '_' || s[j] >= 'A' && s[j] <= 'Z' || s[j] >= 'a' && s[j] <= 'z' || j > i+1 && s[j] >= '0' && s[j] <= '9') {
			j++
		}
		if j == i+1 {
			out.WriteByte(c)
			continue
		}
		undefined = append(undefined, s[i+1:j])
		i = j - 1
	}
	return out.String(), undefined
}

// env is a service's environment after interpolation.
func (s *composeService) env(t *testing.T, service string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for k, v := range s.Environment {
		got, undefined := interpolate(v)
		if len(undefined) > 0 {
			t.Errorf("%s: %s uses %v without a default: `docker compose up` must work with nothing set", service, k, undefined)
		}
		m[k] = got
	}
	return m
}

// composePort is one published port, "[IP:]HOST:CONTAINER[/PROTO]".
type composePort struct{ ip, host, container string }

func parsePort(s string) (composePort, error) {
	s, proto, _ := strings.Cut(s, "/")
	if proto != "" && proto != "tcp" {
		return composePort{}, fmt.Errorf("port %q: only tcp is used", s)
	}
	parts := strings.Split(s, ":")
	var p composePort
	switch len(parts) {
	case 2:
		p = composePort{host: parts[0], container: parts[1]}
	case 3:
		p = composePort{ip: parts[0], host: parts[1], container: parts[2]}
	default:
		return composePort{}, fmt.Errorf("port %q: want [IP:]HOST:CONTAINER (a bare container port publishes a random host port)", s)
	}
	for _, n := range []string{p.host, p.container} {
		if v, err := strconv.Atoi(n); err != nil || v < 1 || v > 65535 {
			return composePort{}, fmt.Errorf("port %q: %q is not a port", s, n)
		}
	}
	return p, nil
}

// --- what the binary documents ---------------------------------------------

type commandHelp struct {
	text     string
	env      map[string]string // env var → documented default
	flags    map[string]bool
	flagEnvs map[string]string // flag → env var
}

var (
	helpSetting = regexp.MustCompile(`(?m)^  --([a-z0-9-]+)\n      .*\[env ([A-Z][A-Z0-9_]*), default (.*)\]$`)
	helpCache   = map[string]*commandHelp{}
)

// help runs `replicator <cmd> -h` in-process and parses its settings.
func help(t *testing.T, cmd string) *commandHelp {
	t.Helper()
	if h, ok := helpCache[cmd]; ok {
		return h
	}
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{cmd, "-h"}, func(string) string { return "" }, &stdout, &stderr)
	if !errors.Is(err, errUsage) {
		t.Fatalf("replicator %s -h: got %v, want the usage error", cmd, err)
	}
	text := stderr.String()
	if !strings.HasPrefix(text, "Usage: replicator "+cmd+" [flags]") {
		t.Fatalf("%q is not a replicator command; -h printed:\n%s", cmd, text)
	}
	h := &commandHelp{text: text, env: map[string]string{}, flags: map[string]bool{}, flagEnvs: map[string]string{}}
	for _, m := range helpSetting.FindAllStringSubmatch(text, -1) {
		h.flags[m[1]] = true
		h.flagEnvs[m[1]] = m[2]
		h.env[m[2]] = m[3]
	}
	if len(h.env) == 0 {
		t.Fatalf("replicator %s -h documents no settings:\n%s", cmd, text)
	}
	helpCache[cmd] = h
	return h
}

// setting is the value a service runs with: its environment, else the
// documented default.
func (h *commandHelp) setting(env map[string]string, name string) string {
	if v, ok := env[name]; ok {
		return v
	}
	return h.env[name]
}

func portOf(t *testing.T, service, addr string) string {
	t.Helper()
	_, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" || port == "0" {
		t.Fatalf("%s: listen address %q has no fixed port", service, addr)
	}
	return port
}

// replicatorServices are the services that run the replicator image, with
// their command.
func replicatorServices(t *testing.T, f *composeFile) map[string]string {
	t.Helper()
	out := map[string]string{}
	for name, s := range f.Services {
		if s.Image != composeImage {
			if s.Build != nil {
				t.Errorf("%s builds the Dockerfile but is not tagged %s", name, composeImage)
			}
			continue
		}
		if len(s.Command) == 0 {
			t.Errorf("%s: no command; the image's default command is not relied on", name)
			continue
		}
		out[name] = s.Command[0]
	}
	return out
}

// --- the tests ---------------------------------------------------------------

func TestComposeServices(t *testing.T) {
	f := loadCompose(t)
	want := map[string]string{
		"postgres":     "postgres:15-alpine",
		"kafka-source": "apache/kafka:4.",
		"kafka-target": "apache/kafka:4.",
		"migrate":      composeImage,
		"certs":        composeImage,
		"serve":        composeImage,
		"worker":       composeImage,
	}
	for name, image := range want {
		s, ok := f.Services[name]
		if !ok {
			t.Errorf("service %s is missing", name)
			continue
		}
		if !strings.HasPrefix(s.Image, image) || image == composeImage && s.Image != image {
			t.Errorf("%s: image %q, want %s…", name, s.Image, image)
		}
		if _, tag, _ := strings.Cut(s.Image, ":"); tag == "" || tag == "latest" {
			t.Errorf("%s: image %q must be pinned to a version", name, s.Image)
		}
	}
	for name := range f.Services {
		if _, ok := want[name]; !ok {
			t.Errorf("unexpected service %s: add it to this test with its checks", name)
		}
	}
	want2 := map[string]string{"migrate": "migrate", "certs": "certs", "serve": "serve", "worker": "worker"}
	got := replicatorServices(t, f)
	for name, cmd := range want2 {
		if got[name] != cmd {
			t.Errorf("%s runs %q, want `replicator %s`", name, got[name], cmd)
		}
	}

	// Exactly one service builds the image; Compose would otherwise build the
	// same tag twice in parallel, and the two exports collide.
	var builders []string
	for name, s := range f.Services {
		if s.Build != nil {
			builders = append(builders, name)
			if s.Build.Context != "." {
				t.Errorf("%s: build context %q, want . (the repository root)", name, s.Build.Context)
			}
			df := cmp.Or(s.Build.Dockerfile, "Dockerfile")
			if _, err := os.Stat(filepath.Join(composeRoot, df)); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
	}
	if len(builders) != 1 {
		t.Errorf("services that build %s: %v, want exactly one", composeImage, builders)
	}

	// Named volumes are declared.
	for name, s := range f.Services {
		for _, v := range s.Volumes {
			src, _, _ := strings.Cut(v, ":")
			if !strings.HasPrefix(src, ".") && !strings.HasPrefix(src, "/") {
				if _, ok := f.Volumes[src]; !ok {
					t.Errorf("%s: volume %s is not declared under volumes:", name, src)
				}
			}
		}
	}
}

func TestComposeDependencies(t *testing.T) {
	f := loadCompose(t)
	for name, s := range f.Services {
		for dep, d := range s.DependsOn {
			target, ok := f.Services[dep]
			if !ok {
				t.Errorf("%s depends on %s, which is not a service", name, dep)
				continue
			}
			switch d.Condition {
			case "service_healthy":
				if target.Healthcheck == nil || target.Healthcheck.Disable {
					t.Errorf("%s waits for %s to be healthy, but %s has no health check", name, dep, dep)
				}
			case "service_completed_successfully":
				if target.Restart != "no" || target.Healthcheck != nil || target.Deploy != nil {
					t.Errorf("%s waits for %s to complete, but %s is not a one-shot service (restart \"no\", no health check, no replicas)", name, dep, dep)
				}
			case "service_started":
			default:
				t.Errorf("%s depends on %s with condition %q", name, dep, d.Condition)
			}
		}
	}
	// No cycles: Compose could not start the services.
	state := map[string]int{}
	var visit func(string, []string)
	visit = func(n string, trail []string) {
		switch state[n] {
		case 1:
			t.Errorf("dependency cycle: %s → %s", strings.Join(trail, " → "), n)
			return
		case 2:
			return
		}
		state[n] = 1
		for dep := range f.Services[n].DependsOn {
			if _, ok := f.Services[dep]; ok {
				visit(dep, append(trail, n))
			}
		}
		state[n] = 2
	}
	for n := range f.Services {
		visit(n, nil)
	}

	// The start-up order the README describes.
	want := map[string]map[string]string{
		"migrate": {"postgres": "service_healthy"},
		"serve":   {"postgres": "service_healthy", "migrate": "service_completed_successfully", "certs": "service_completed_successfully"},
		"worker":  {"serve": "service_healthy", "kafka-source": "service_healthy", "kafka-target": "service_healthy"},
	}
	for name, deps := range want {
		s := f.Services[name]
		if s == nil {
			continue
		}
		for dep, cond := range deps {
			if got := s.DependsOn[dep].Condition; got != cond {
				t.Errorf("%s depends on %s with %q, want %q", name, dep, got, cond)
			}
		}
	}
}

func TestComposeHealthchecks(t *testing.T) {
	f := loadCompose(t)
	final := dockerfileStages(t)
	finalBase := final[len(final)-1].from
	for name, s := range f.Services {
		if name == "migrate" || name == "certs" {
			if s.Healthcheck != nil {
				t.Errorf("%s is one-shot and has no health check", name)
			}
			if s.Restart != "no" {
				t.Errorf("%s: restart %q, want \"no\" (it runs once)", name, s.Restart)
			}
			continue
		}
		h := s.Healthcheck
		if h == nil || h.Disable {
			t.Errorf("%s has no health check", name)
			continue
		}
		if len(h.Test) < 2 || (h.Test[0] != "CMD" && h.Test[0] != "CMD-SHELL") || h.Test[0] == "CMD-SHELL" && len(h.Test) != 2 {
			t.Errorf("%s: health check test %q, want [\"CMD\", …] or [\"CMD-SHELL\", \"…\"]", name, h.Test)
		}
		for _, d := range []struct{ key, v string }{{"interval", h.Interval}, {"timeout", h.Timeout}, {"start_period", h.StartPeriod}} {
			if d.v == "" {
				t.Errorf("%s: health check sets no %s", name, d.key)
			} else if v, err := time.ParseDuration(d.v); err != nil || v <= 0 {
				t.Errorf("%s: health check %s %q is not a duration", name, d.key, d.v)
			}
		}
		if h.Retries < 1 {
			t.Errorf("%s: health check retries %d", name, h.Retries)
		}
		if strings.Contains(strings.Join(h.Test, " "), "$") {
			t.Errorf("%s: health check uses $, which Compose interpolates from the host (write $$)", name)
		}
		if s.Image == composeImage && len(h.Test) > 1 {
			tool := h.Test[1]
			if tool == "wget" || tool == "sh" || h.Test[0] == "CMD-SHELL" {
				if !strings.HasPrefix(finalBase, "alpine:") && !strings.HasPrefix(finalBase, "busybox:") {
					t.Errorf("%s: health check runs %s, but the image's final stage is %s, which has no shell or wget", name, tool, finalBase)
				}
			}
		}
	}

	// The replicator services probe their own documented endpoints on the
	// port they are configured to listen on. serve's probes move to its
	// metrics listener when it has one, which speaks plain HTTP; BusyBox
	// wget cannot check serve's own TLS certificate.
	probes := map[string]struct{ addrEnv, path string }{
		"serve":  {"REPLICATOR_LISTEN_ADDR", "/readyz"},
		"worker": {"REPLICATOR_WORKER_LISTEN_ADDR", "/healthz"},
	}
	for name, p := range probes {
		s := f.Services[name]
		if s == nil || s.Healthcheck == nil || len(s.Healthcheck.Test) == 0 {
			continue
		}
		h := help(t, s.Command[0])
		env := s.env(t, name)
		if name == "serve" && h.setting(env, "REPLICATOR_METRICS_LISTEN_ADDR") != "" {
			p.addrEnv = "REPLICATOR_METRICS_LISTEN_ADDR"
		} else if name == "serve" && h.setting(env, "REPLICATOR_TLS_CERT_FILE") != "" {
			t.Errorf("serve speaks TLS and has no REPLICATOR_METRICS_LISTEN_ADDR: its health check cannot probe it over plain HTTP")
		}
		port := portOf(t, name, h.setting(env, p.addrEnv))
		want := "http://127.0.0.1:" + port + p.path
		if !slices.Contains(s.Healthcheck.Test, want) {
			t.Errorf("%s: health check %q does not probe %s", name, s.Healthcheck.Test, want)
		}
	}
	// PostgreSQL is probed over TCP, as migrate and serve connect: on first
	// start the image initialises the database with a server on the Unix
	// socket only, which a socket probe reports ready before TCP is.
	if pg := f.Services["postgres"]; pg != nil && pg.Healthcheck != nil {
		test := pg.Healthcheck.Test
		if i := slices.Index(test, "-h"); !slices.Contains(test, "pg_isready") || i < 0 || i+1 >= len(test) || net.ParseIP(test[i+1]) == nil {
			t.Errorf("postgres: health check %q, want pg_isready -h 127.0.0.1 (TCP)", test)
		}
	}
}

func TestComposeReplicatorSettings(t *testing.T) {
	f := loadCompose(t)
	envs := map[string]map[string]string{}
	for name, cmd := range replicatorServices(t, f) {
		s := f.Services[name]
		h := help(t, cmd) // fails unless cmd is a real subcommand
		env := s.env(t, name)
		envs[name] = env
		for k := range s.Environment {
			if _, ok := h.env[k]; !ok {
				t.Errorf("%s: `replicator %s -h` documents no %s", name, cmd, k)
			}
		}
		for _, arg := range s.Command[1:] {
			if strings.HasPrefix(arg, "-") {
				flag, _, _ := strings.Cut(strings.TrimLeft(arg, "-"), "=")
				if !h.flags[flag] {
					t.Errorf("%s: `replicator %s -h` documents no flag --%s", name, cmd, flag)
				}
			}
		}
		for k, v := range env {
			if v == "" {
				t.Errorf("%s: %s is set to nothing", name, k)
			}
		}
	}

	pg := f.Services["postgres"]
	var pgEnv map[string]string
	if pg != nil {
		pgEnv = pg.env(t, "postgres")
	}
	for _, name := range []string{"migrate", "serve"} {
		dbURL := envs[name]["DATABASE_URL"]
		if dbURL == "" {
			t.Errorf("%s: DATABASE_URL is not set", name)
			continue
		}
		u, err := url.Parse(dbURL)
		if err != nil {
			t.Errorf("%s: DATABASE_URL: %v", name, err)
			continue
		}
		pass, _ := u.User.Password()
		if u.Hostname() != "postgres" || cmp.Or(u.Port(), "5432") != "5432" || u.User.Username() != pgEnv["POSTGRES_USER"] ||
			pass != pgEnv["POSTGRES_PASSWORD"] || strings.TrimPrefix(u.Path, "/") != pgEnv["POSTGRES_DB"] {
			t.Errorf("%s: DATABASE_URL %q does not match the postgres service (user %q, database %q, its password)",
				name, dbURL, pgEnv["POSTGRES_USER"], pgEnv["POSTGRES_DB"])
		}
	}
	if envs["migrate"]["DATABASE_URL"] != envs["serve"]["DATABASE_URL"] {
		t.Errorf("migrate and serve use different databases")
	}

	serve, worker := envs["serve"], envs["worker"]
	keys, err := sigv4.ParseKeys(serve["REPLICATOR_ACCESS_KEYS"])
	if err != nil || len(keys) == 0 {
		t.Errorf("serve: REPLICATOR_ACCESS_KEYS: %v", err)
	}
	if serve["REPLICATOR_WORKER_TOKEN"] == "" || serve["REPLICATOR_WORKER_TOKEN"] != worker["REPLICATOR_WORKER_TOKEN"] {
		t.Errorf("serve and worker must share REPLICATOR_WORKER_TOKEN (serve %q, worker %q)",
			serve["REPLICATOR_WORKER_TOKEN"], worker["REPLICATOR_WORKER_TOKEN"])
	}
	if s := f.Services["serve"]; s != nil && worker != nil {
		servePort := portOf(t, "serve", help(t, "serve").setting(serve, "REPLICATOR_LISTEN_ADDR"))
		scheme := "http"
		if serve["REPLICATOR_TLS_CERT_FILE"] != "" {
			scheme = "https"
		}
		for _, cp := range strings.Split(help(t, "worker").setting(worker, "REPLICATOR_CONTROL_PLANE_URL"), ",") {
			u, err := url.Parse(strings.TrimSpace(cp))
			if err != nil || u.Scheme != scheme || u.Hostname() != "serve" || u.Port() != servePort {
				t.Errorf("worker: REPLICATOR_CONTROL_PLANE_URL %q, want %s://serve:%s", cp, scheme, servePort)
			}
		}
		if scheme == "https" {
			checkComposeTLS(t, f, envs)
		}
	}
	for _, k := range []string{"REPLICATOR_LOG_LEVEL"} {
		for name, env := range envs {
			if v, ok := env[k]; ok {
				if _, err := (logConfig{level: v, format: "text"}).logger(&bytes.Buffer{}); err != nil {
					t.Errorf("%s: %v", name, err)
				}
			}
		}
	}
}

// mountedFrom returns the volume a service mounts at the directory of path
// (its source before the colon), "" if none.
func mountedFrom(s *composeService, path string) string {
	for _, v := range s.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) >= 2 && (path == parts[1] || strings.HasPrefix(path, strings.TrimSuffix(parts[1], "/")+"/")) {
			return parts[0]
		}
	}
	return ""
}

// checkComposeTLS checks that serve's certificate, its key and the CA the
// workers trust are files the certs service writes into a volume both
// mount, and that the certificate covers the names clients use: serve (the
// workers) and localhost (the host, as deploy/README-compose.md says).
func checkComposeTLS(t *testing.T, f *composeFile, envs map[string]map[string]string) {
	t.Helper()
	certs := f.Services["certs"]
	if certs == nil {
		t.Errorf("serve speaks TLS but no certs service makes its certificate")
		return
	}
	ce := envs["certs"]
	dir := help(t, "certs").setting(ce, "REPLICATOR_CERTS_DIR")
	vol := mountedFrom(certs, dir)
	if vol == "" {
		t.Errorf("certs writes to %s, which is not a volume", dir)
	}
	hosts := strings.Split(help(t, "certs").setting(ce, "REPLICATOR_CERTS_HOSTS"), ",")
	for _, h := range []string{"serve", "localhost"} {
		if !slices.Contains(hosts, h) {
			t.Errorf("certs: REPLICATOR_CERTS_HOSTS %v lacks %s", hosts, h)
		}
	}
	for _, c := range []struct{ service, env, file string }{
		{"serve", "REPLICATOR_TLS_CERT_FILE", "server.pem"},
		{"serve", "REPLICATOR_TLS_KEY_FILE", "server-key.pem"},
		{"worker", "REPLICATOR_TLS_CA_FILE", "ca.pem"},
	} {
		got := envs[c.service][c.env]
		if got != path.Join(dir, c.file) || mountedFrom(f.Services[c.service], got) != vol {
			t.Errorf("%s: %s %q is not %s from the %s volume", c.service, c.env, got, path.Join(dir, c.file), vol)
		}
	}
	if d := f.Services["serve"].DependsOn["certs"].Condition; d != "service_completed_successfully" {
		t.Errorf("serve starts before its certificate is made (depends_on certs %q)", d)
	}
}

func TestComposePorts(t *testing.T) {
	f := loadCompose(t)
	published := map[string]string{}
	for name, s := range f.Services {
		for _, raw := range s.Ports {
			spec, undefined := interpolate(raw)
			if len(undefined) > 0 {
				t.Errorf("%s: port %q uses %v without a default", name, raw, undefined)
			}
			p, err := parsePort(spec)
			if err != nil {
				t.Errorf("%s: %v", name, err)
				continue
			}
			if p.ip != "127.0.0.1" {
				t.Errorf("%s: port %q is published on every interface; the demo credentials are public, bind 127.0.0.1", name, spec)
			}
			if other, dup := published[p.host]; dup {
				t.Errorf("host port %s is published by both %s and %s", p.host, other, name)
			}
			published[p.host] = name
		}
	}

	// serve publishes the port it listens on.
	if s := f.Services["serve"]; s != nil {
		port := portOf(t, "serve", help(t, "serve").setting(s.env(t, "serve"), "REPLICATOR_LISTEN_ADDR"))
		if len(s.Ports) != 1 {
			t.Errorf("serve: ports %q, want one", s.Ports)
		} else if p, err := parsePort(s.Ports[0]); err == nil && (p.container != port || p.host != port) {
			t.Errorf("serve: publishes %s:%s, but listens on %s", p.host, p.container, port)
		}
	}
	// The workers run as replicas: no published port, no fixed name.
	if s := f.Services["worker"]; s != nil {
		if s.Deploy == nil || s.Deploy.Replicas == nil || *s.Deploy.Replicas != 2 {
			t.Errorf("worker: deploy.replicas must be 2")
		}
		if len(s.Ports) > 0 {
			t.Errorf("worker: ports %q would clash between replicas", s.Ports)
		}
		if s.ContainerName != "" || s.Hostname != "" {
			t.Errorf("worker: container_name or hostname would be shared by the replicas")
		}
	}
	for _, name := range []string{"migrate", "postgres"} {
		if s := f.Services[name]; s != nil && len(s.Ports) > 0 {
			t.Errorf("%s publishes %q; nothing on the host needs it", name, s.Ports)
		}
	}
}

type kafkaListener struct{ host, port string }

func parseListeners(s string) (map[string]kafkaListener, []string, error) {
	m := map[string]kafkaListener{}
	var order []string
	for _, item := range strings.Split(s, ",") {
		name, addr, ok := strings.Cut(strings.TrimSpace(item), "://")
		if !ok {
			return nil, nil, fmt.Errorf("listener %q is not NAME://HOST:PORT", item)
		}
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, nil, fmt.Errorf("listener %q: %v", item, err)
		}
		if _, dup := m[name]; dup {
			return nil, nil, fmt.Errorf("listener %s appears twice", name)
		}
		m[name] = kafkaListener{host, port}
		order = append(order, name)
	}
	return m, order, nil
}

func TestComposeKafka(t *testing.T) {
	f := loadCompose(t)
	clusterIDs := map[string]string{}
	for _, name := range []string{"kafka-source", "kafka-target"} {
		s := f.Services[name]
		if s == nil {
			t.Errorf("%s is missing", name)
			continue
		}
		env := s.env(t, name)
		for _, k := range []string{"KAFKA_NODE_ID", "KAFKA_PROCESS_ROLES", "KAFKA_LISTENERS", "KAFKA_ADVERTISED_LISTENERS",
			"KAFKA_CONTROLLER_LISTENER_NAMES", "KAFKA_CONTROLLER_QUORUM_VOTERS", "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP",
			"KAFKA_INTER_BROKER_LISTENER_NAME", "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR",
			"KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR", "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR", "CLUSTER_ID"} {
			if env[k] == "" {
				t.Errorf("%s: %s is not set (the apache/kafka image uses no defaults once any KAFKA_ variable is set)", name, k)
			}
		}
		for k, v := range env {
			if (strings.HasSuffix(k, "_REPLICATION_FACTOR") || strings.HasSuffix(k, "_MIN_ISR")) && v != "1" {
				t.Errorf("%s: %s=%s on a single-node cluster, want 1", name, k, v)
			}
		}
		roles := strings.Split(env["KAFKA_PROCESS_ROLES"], ",")
		if !slices.Contains(roles, "broker") || !slices.Contains(roles, "controller") || len(roles) != 2 {
			t.Errorf("%s: KAFKA_PROCESS_ROLES %q, want broker,controller (KRaft, combined)", name, env["KAFKA_PROCESS_ROLES"])
		}
		if id := env["CLUSTER_ID"]; id != "" {
			if b, err := base64.RawURLEncoding.DecodeString(id); err != nil || len(b) != 16 {
				t.Errorf("%s: CLUSTER_ID %q is not a base64url UUID", name, id)
			}
			if other, dup := clusterIDs[id]; dup {
				t.Errorf("%s and %s share CLUSTER_ID %s", name, other, id)
			}
			clusterIDs[id] = name
		}
		if s.Hostname != "" && s.Hostname != name {
			t.Errorf("%s: hostname %q differs from the service name the other containers resolve", name, s.Hostname)
		}

		listeners, _, err := parseListeners(env["KAFKA_LISTENERS"])
		if err != nil {
			t.Errorf("%s: KAFKA_LISTENERS: %v", name, err)
			continue
		}
		advertised, _, err := parseListeners(env["KAFKA_ADVERTISED_LISTENERS"])
		if err != nil {
			t.Errorf("%s: KAFKA_ADVERTISED_LISTENERS: %v", name, err)
			continue
		}
		protocols := map[string]bool{}
		for _, item := range strings.Split(env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"], ",") {
			l, p, _ := strings.Cut(item, ":")
			protocols[l] = p != ""
		}
		for l := range listeners {
			if !protocols[l] {
				t.Errorf("%s: listener %s has no security protocol in KAFKA_LISTENER_SECURITY_PROTOCOL_MAP", name, l)
			}
		}
		ctrl := env["KAFKA_CONTROLLER_LISTENER_NAMES"]
		if _, ok := listeners[ctrl]; !ok {
			t.Errorf("%s: controller listener %s is not in KAFKA_LISTENERS", name, ctrl)
		}
		if _, ok := advertised[ctrl]; ok {
			t.Errorf("%s: the controller listener must not be advertised", name)
		}
		if want := env["KAFKA_NODE_ID"] + "@" + name + ":" + listeners[ctrl].port; env["KAFKA_CONTROLLER_QUORUM_VOTERS"] != want {
			t.Errorf("%s: KAFKA_CONTROLLER_QUORUM_VOTERS %q, want %q", name, env["KAFKA_CONTROLLER_QUORUM_VOTERS"], want)
		}
		// The internal listener: what the workers and the health check use.
		inter := env["KAFKA_INTER_BROKER_LISTENER_NAME"]
		if a := advertised[inter]; a.host != name || a.port != listeners[inter].port {
			t.Errorf("%s: inter-broker listener %s is advertised as %s:%s, want %s:%s", name, inter, a.host, a.port, name, listeners[inter].port)
		}
		internal := name + ":" + advertised[inter].port
		if h := s.Healthcheck; h != nil && !slices.Contains(h.Test, internal) {
			t.Errorf("%s: health check %q does not probe %s", name, h.Test, internal)
		}
		// The host listener: advertised as localhost:P and published as P:P.
		var hostListeners []string
		for l, a := range advertised {
			if l == inter {
				continue
			}
			hostListeners = append(hostListeners, l)
			if a.host != "localhost" {
				t.Errorf("%s: listener %s is advertised as %s; the host reaches it as localhost", name, l, a.host)
			}
			if listeners[l].port != a.port {
				t.Errorf("%s: listener %s listens on %s but is advertised on %s", name, l, listeners[l].port, a.port)
			}
			found := false
			for _, raw := range s.Ports {
				if p, err := parsePort(raw); err == nil && p.host == a.port && p.container == a.port {
					found = true
				}
			}
			if !found {
				t.Errorf("%s: advertised localhost:%s is not published as %s:%s (ports %q)", name, a.port, a.port, a.port, s.Ports)
			}
		}
		if len(hostListeners) != 1 {
			t.Errorf("%s: host listeners %v, want one", name, hostListeners)
		}
	}
}

func TestComposeReadme(t *testing.T) {
	f := loadCompose(t)
	raw, err := os.ReadFile(filepath.Join(composeRoot, "deploy", "README-compose.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	var want []string
	want = append(want, "docker compose up --build")
	if s := f.Services["serve"]; s != nil {
		env := s.env(t, "serve")
		keys, err := sigv4.ParseKeys(env["REPLICATOR_ACCESS_KEYS"])
		if err == nil && len(keys) > 0 {
			want = append(want, "AWS_ACCESS_KEY_ID="+keys[0].AccessKeyID, "AWS_SECRET_ACCESS_KEY="+keys[0].SecretAccessKey,
				"arn:aws:iam::"+keys[0].AccountID+":")
		}
		want = append(want, "AWS_DEFAULT_REGION="+help(t, "serve").setting(env, "REPLICATOR_REGION"))
		if len(s.Ports) == 1 {
			if p, err := parsePort(s.Ports[0]); err == nil {
				if env["REPLICATOR_TLS_CERT_FILE"] != "" {
					want = append(want, "AWS_ENDPOINT_URL_KAFKA=https://localhost:"+p.host, "AWS_CA_BUNDLE=")
				} else {
					want = append(want, "AWS_ENDPOINT_URL_KAFKA=http://localhost:"+p.host)
				}
			}
		}
	}
	for _, name := range []string{"kafka-source", "kafka-target"} {
		if s := f.Services[name]; s != nil {
			adv, _, err := parseListeners(s.env(t, name)["KAFKA_ADVERTISED_LISTENERS"])
			if err == nil {
				a := adv[s.env(t, name)["KAFKA_INTER_BROKER_LISTENER_NAME"]]
				want = append(want, `"BootstrapBrokerString":"`+a.host+":"+a.port+`"`)
			}
		}
	}
	want = append(want, replicator.ApacheClusterAlias("source")+".orders")
	for _, w := range want {
		if !strings.Contains(doc, w) {
			t.Errorf("deploy/README-compose.md does not mention %q", w)
		}
	}
	for _, m := range regexp.MustCompile(`docker compose (?:exec|run|logs|restart)(?: -[-a-zA-Z]+)* ([a-z][a-z0-9-]*)`).FindAllStringSubmatch(doc, -1) {
		if _, ok := f.Services[m[1]]; !ok {
			t.Errorf("deploy/README-compose.md: %q names no service", m[0])
		}
	}
}

// --- the Dockerfile -----------------------------------------------------------

type dockerInstr struct {
	cmd, args string
	line      int
}

type dockerStage struct {
	from, name string
	instrs     []dockerInstr
}

// dockerfileStages parses the Dockerfile into stages (continuations joined,
// comments dropped).
func dockerfileStages(t *testing.T) []dockerStage {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(composeRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var stages []dockerStage
	var cur strings.Builder
	start := 0
	flush := func() {
		text := strings.TrimSpace(cur.String())
		cur.Reset()
		if text == "" {
			return
		}
		cmd, args, _ := strings.Cut(text, " ")
		in := dockerInstr{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args), line: start}
		if in.cmd == "FROM" {
			fields := strings.Fields(in.args)
			for len(fields) > 1 && strings.HasPrefix(fields[0], "--") { // --platform=…
				fields = fields[1:]
			}
			st := dockerStage{from: fields[0]}
			if len(fields) == 3 && strings.EqualFold(fields[1], "AS") {
				st.name = fields[2]
			}
			stages = append(stages, st)
			return
		}
		if len(stages) == 0 {
			if in.cmd != "ARG" {
				t.Fatalf("Dockerfile:%d: %s before the first FROM", in.line, in.cmd)
			}
			return
		}
		stages[len(stages)-1].instrs = append(stages[len(stages)-1].instrs, in)
	}
	for i, line := range strings.Split(string(raw), "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") {
			continue
		}
		if cur.Len() == 0 {
			start = i + 1
		}
		if body, ok := strings.CutSuffix(trimmed, `\`); ok {
			cur.WriteString(body + " ")
			continue
		}
		cur.WriteString(trimmed)
		flush()
	}
	flush()
	if len(stages) == 0 {
		t.Fatal("Dockerfile has no FROM")
	}
	return stages
}

// shellFields splits a shell command line on blanks, honouring quotes.
func shellFields(s string) []string {
	var out []string
	var cur strings.Builder
	in := false
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			} else {
				cur.WriteByte(c)
			}
		case c == '\'' || c == '"':
			quote, in = c, true
		case c == ' ' || c == '\t':
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteByte(c)
			in = true
		}
	}
	if in {
		out = append(out, cur.String())
	}
	return out
}

// dockerBuild is the `go build` of the Dockerfile: its environment and
// arguments.
type dockerBuild struct {
	env  []string
	args []string // after "go"
	out  string
}

func findGoBuild(t *testing.T, st dockerStage) (dockerBuild, int) {
	t.Helper()
	var env []string
	for i, in := range st.instrs {
		if in.cmd == "ENV" {
			for _, f := range shellFields(in.args) {
				if strings.Contains(f, "=") {
					env = append(env, f)
				}
			}
		}
		if in.cmd != "RUN" || !strings.Contains(in.args, "go build") {
			continue
		}
		fields := shellFields(in.args)
		for len(fields) > 0 && strings.HasPrefix(fields[0], "--") { // RUN --mount=…
			fields = fields[1:]
		}
		b := dockerBuild{env: slices.Clone(env)}
		j := 0
		for ; j < len(fields) && strings.Contains(fields[j], "=") && !strings.HasPrefix(fields[j], "-"); j++ {
			b.env = append(b.env, fields[j])
		}
		if j+1 >= len(fields) || fields[j] != "go" || fields[j+1] != "build" {
			t.Fatalf("Dockerfile:%d: want `[VAR=value ...] go build ...` alone in its RUN, got %q", in.line, in.args)
		}
		for _, a := range fields[j+1:] {
			if a == "&&" || a == ";" || a == "|" {
				t.Fatalf("Dockerfile:%d: keep `go build` alone in its RUN", in.line)
			}
			b.args = append(b.args, a)
		}
		for k, a := range b.args {
			if a == "-o" && k+1 < len(b.args) {
				b.out = b.args[k+1]
			}
		}
		return b, i
	}
	t.Fatal("Dockerfile: no RUN go build in the build stage")
	return dockerBuild{}, 0
}

func goVersionOfModule(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(composeRoot, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\d+)\.(\d+)`).FindStringSubmatch(string(raw))
	if m == nil {
		t.Fatal("go.mod has no go line")
	}
	return m[1] + "." + m[2]
}

func TestComposeDockerfile(t *testing.T) {
	stages := dockerfileStages(t)
	if len(stages) < 2 {
		t.Fatalf("Dockerfile has %d stage(s), want a multi-stage build", len(stages))
	}
	builder, final := stages[0], stages[len(stages)-1]
	if want := "golang:" + goVersionOfModule(t); builder.from != want && !strings.HasPrefix(builder.from, want+"-") {
		t.Errorf("Dockerfile: build stage FROM %s, want %s (go.mod's Go version)", builder.from, want)
	}
	if builder.name == "" {
		t.Errorf("Dockerfile: the build stage has no name (FROM … AS build)")
	}

	// go.mod and go.sum, then go mod download, then the sources.
	var modCopy, download, srcCopy = -1, -1, -1
	for i, in := range builder.instrs {
		switch {
		case in.cmd == "COPY" && strings.Fields(in.args)[0] == "go.mod" && strings.Contains(in.args, "go.sum"):
			modCopy = i
		case in.cmd == "RUN" && strings.Contains(in.args, "go mod download"):
			download = i
		case in.cmd == "COPY" && strings.HasPrefix(in.args, ". "):
			srcCopy = i
		}
	}
	if modCopy < 0 || download < modCopy || srcCopy < download {
		t.Errorf("Dockerfile: want COPY go.mod go.sum, RUN go mod download, COPY . . in that order (modules as their own layer)")
	}

	b, at := findGoBuild(t, builder)
	if at < srcCopy {
		t.Errorf("Dockerfile: go build runs before the sources are copied")
	}
	if !slices.Contains(b.env, "CGO_ENABLED=0") {
		t.Errorf("Dockerfile: go build without CGO_ENABLED=0 (env %q)", b.env)
	}
	if len(b.args) == 0 || b.args[len(b.args)-1] != "./cmd/replicator" {
		t.Errorf("Dockerfile: go build %q does not build ./cmd/replicator", b.args)
	}
	if !slices.Contains(b.args, "-trimpath") {
		t.Errorf("Dockerfile: go build without -trimpath")
	}
	if b.out == "" {
		t.Fatalf("Dockerfile: go build has no -o")
	}

	// The final stage: the binary from the build stage, non-root, the ports
	// of serve and worker.
	var copied, user, entrypoint string
	var exposed []string
	for _, in := range final.instrs {
		switch in.cmd {
		case "COPY":
			f := strings.Fields(in.args)
			if slices.Contains(f, "--from="+builder.name) && slices.Contains(f, b.out) {
				copied = f[len(f)-1]
			}
		case "USER":
			user = in.args
		case "ENTRYPOINT":
			entrypoint = in.args
		case "EXPOSE":
			exposed = append(exposed, strings.Fields(in.args)...)
		case "RUN":
			if strings.Contains(in.args, "go build") {
				t.Errorf("Dockerfile: the final stage builds")
			}
		}
	}
	if copied == "" {
		t.Errorf("Dockerfile: the final stage does not COPY --from=%s %s", builder.name, b.out)
	}
	if want := `["` + copied + `"]`; entrypoint != want {
		t.Errorf("Dockerfile: ENTRYPOINT %s, want %s (exec form, the copied binary)", entrypoint, want)
	}
	uid, _, _ := strings.Cut(user, ":")
	if n, err := strconv.Atoi(uid); user == "" || uid == "root" || err == nil && n == 0 || err != nil && !regexp.MustCompile(`^[a-z_][a-z0-9_-]*$`).MatchString(uid) {
		t.Errorf("Dockerfile: USER %q, want a non-root user in the final stage", user)
	}
	for _, c := range []struct{ cmd, env string }{{"serve", "REPLICATOR_LISTEN_ADDR"}, {"worker", "REPLICATOR_WORKER_LISTEN_ADDR"}} {
		port := portOf(t, c.cmd, help(t, c.cmd).env[c.env])
		if !slices.Contains(exposed, port) && !slices.Contains(exposed, port+"/tcp") {
			t.Errorf("Dockerfile: EXPOSE %v lacks %s (%s's default %s)", exposed, port, c.cmd, c.env)
		}
	}
}

// dockerignoreMatcher follows Docker's .dockerignore rules: patterns are
// relative to the context root, use filepath.Match syntax plus **, a
// pattern that matches a directory excludes what is in it, and ! re-includes.
type dockerignoreMatcher []struct {
	re     *regexp.Regexp
	negate bool
}

func loadDockerignore(t *testing.T) dockerignoreMatcher {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(composeRoot, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	var m dockerignoreMatcher
	for _, line := range strings.Split(string(raw), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		negate := strings.HasPrefix(line, "!")
		p := path.Clean(strings.TrimPrefix(strings.TrimPrefix(line, "!"), "/"))
		var re strings.Builder
		re.WriteString("^")
		for i := 0; i < len(p); i++ {
			switch c := p[i]; {
			case strings.HasPrefix(p[i:], "**/"):
				re.WriteString("(.*/)?")
				i += 2
			case strings.HasPrefix(p[i:], "**"):
				re.WriteString(".*")
				i++
			case c == '*':
				re.WriteString("[^/]*")
			case c == '?':
				re.WriteString("[^/]")
			default:
				re.WriteString(regexp.QuoteMeta(string(c)))
			}
		}
		re.WriteString("$")
		m = append(m, struct {
			re     *regexp.Regexp
			negate bool
		}{regexp.MustCompile(re.String()), negate})
	}
	return m
}

func (m dockerignoreMatcher) excluded(p string) bool {
	ex := false
	for _, r := range m {
		hit := false
		for q := p; q != "." && q != "/"; q = path.Dir(q) {
			if r.re.MatchString(q) {
				hit = true
				break
			}
		}
		if hit {
			ex = !r.negate
		}
	}
	return ex
}

func TestComposeDockerignore(t *testing.T) {
	m := loadDockerignore(t)
	// Everything the binary is built from must reach the build context.
	cmd := exec.Command("go", "list", "-deps", "-f",
		`{{if and .Module .Module.Main}}{{.Dir}}{{range .GoFiles}} {{.}}{{end}}{{range .EmbedFiles}} {{.}}{{end}}{{end}}`, "./cmd/replicator")
	cmd.Dir = composeRoot
	cmd.Env = append(os.Environ(), "GOOS=linux", "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	root, err := filepath.Abs(composeRoot)
	if err != nil {
		t.Fatal(err)
	}
	files := []string{"go.mod", "go.sum"}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		dir, err := filepath.Rel(root, f[0])
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range f[1:] {
			files = append(files, filepath.ToSlash(filepath.Join(dir, name)))
		}
	}
	if len(files) < 10 {
		t.Fatalf("go list found only %v", files)
	}
	for _, f := range files {
		if m.excluded(f) {
			t.Errorf(".dockerignore excludes %s, which the binary is built from", f)
		}
	}
	// And what must not be sent to the daemon is excluded.
	for _, f := range []string{".git/config", ".cache/x", "replicator", "bin/replicator"} {
		if !m.excluded(f) {
			t.Errorf(".dockerignore does not exclude %s", f)
		}
	}
}

// TestComposeStaticBinary builds the binary with the Dockerfile's own go build
// command and checks that it is static, as the final stage needs.
func TestComposeStaticBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	stages := dockerfileStages(t)
	b, _ := findGoBuild(t, stages[0])
	bin := filepath.Join(t.TempDir(), "replicator")
	args := slices.Clone(b.args)
	for i, a := range args {
		if a == "-o" && i+1 < len(args) {
			args[i+1] = bin
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = composeRoot
	// The image is linux; build for it whatever this machine is.
	cmd.Env = append(append(os.Environ(), b.env...), "GOOS=linux", "GOARCH="+runtime.GOARCH)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		switch p.Type {
		case elf.PT_INTERP:
			t.Errorf("the binary has a PT_INTERP program header: it needs a dynamic loader")
		case elf.PT_DYNAMIC:
			t.Errorf("the binary has a PT_DYNAMIC program header: it is dynamically linked")
		}
	}
	libs, err := f.ImportedLibraries()
	if err != nil {
		t.Fatal(err)
	}
	if len(libs) > 0 {
		t.Errorf("the binary needs shared libraries %v", libs)
	}

	// And it is the replicator.
	if runtime.GOOS == "linux" {
		out, _ := exec.CommandContext(ctx, bin, "migrate", "-h").CombinedOutput()
		if !strings.Contains(string(out), "Usage: replicator migrate") {
			t.Errorf("the built binary's `migrate -h` printed:\n%s", out)
		}
	}
}
