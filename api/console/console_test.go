package console_test

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/openreplicator/replicator/api"
	"github.com/openreplicator/replicator/api/console"
)

func get(t *testing.T, h http.Handler, method, target string, header http.Header) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, vs := range header {
		req.Header[k] = vs
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func body(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestHandlerServesFiles(t *testing.T) {
	h := console.Handler()
	for _, tc := range []struct {
		path, contentType, contains string
	}{
		{"/", "text/html; charset=utf-8", `<script type="module" src="app.js"></script>`},
		{"/index.html", "text/html; charset=utf-8", "<title>Replicator console</title>"},
		{"/app.js", "text/javascript; charset=utf-8", "import { Api, ApiError }"},
		{"/sigv4.js", "text/javascript; charset=utf-8", "AWS4-HMAC-SHA256"},
		{"/style.css", "text/css; charset=utf-8", ":root"},
		{"/favicon.svg", "image/svg+xml", "<svg"},
	} {
		resp := get(t, h, http.MethodGet, tc.path, nil)
		b := body(t, resp)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d, want 200", tc.path, resp.StatusCode)
			continue
		}
		if got := resp.Header.Get("Content-Type"); got != tc.contentType {
			t.Errorf("GET %s: Content-Type %q, want %q", tc.path, got, tc.contentType)
		}
		if got := resp.Header.Get("Cache-Control"); got != "no-cache" {
			t.Errorf("GET %s: Cache-Control %q, want no-cache", tc.path, got)
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("ETag") == "" {
			t.Errorf("GET %s: want nosniff and an ETag, got headers %v", tc.path, resp.Header)
		}
		if !strings.Contains(b, tc.contains) {
			t.Errorf("GET %s: body lacks %q", tc.path, tc.contains)
		}
	}

	// The page runs under a strict content security policy: own files only.
	resp := get(t, h, http.MethodGet, "/", nil)
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("Content-Security-Policy = %q", csp)
	}
}

func TestHandlerRefuses(t *testing.T) {
	h := console.Handler()
	for _, p := range []string{"/nope.js", "/static/index.html", "/index.html/", "/./app.js", "//app.js", "/a/../app.js", "/console.go"} {
		resp := get(t, h, http.MethodGet, "http://example.com"+p, nil)
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, resp.StatusCode)
		}
		if got := resp.Header.Get("Cache-Control"); got != "no-cache" {
			t.Errorf("GET %s: Cache-Control %q, want no-cache", p, got)
		}
	}
	resp := get(t, h, http.MethodPost, "/", nil)
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST /: %d (Allow %q), want 405 with Allow: GET, HEAD", resp.StatusCode, resp.Header.Get("Allow"))
	}
}

func TestHandlerRevalidates(t *testing.T) {
	h := console.Handler()
	first := get(t, h, http.MethodGet, "/app.js", nil)
	etag := first.Header.Get("ETag")
	resp := get(t, h, http.MethodGet, "/app.js", http.Header{"If-None-Match": {etag}})
	if resp.StatusCode != http.StatusNotModified {
		t.Errorf("GET /app.js with If-None-Match %s: %d, want 304", etag, resp.StatusCode)
	}
	head := get(t, h, http.MethodHead, "/app.js", nil)
	if head.StatusCode != http.StatusOK || body(t, head) != "" || head.Header.Get("Content-Type") != "text/javascript; charset=utf-8" {
		t.Errorf("HEAD /app.js: %d %q", head.StatusCode, head.Header.Get("Content-Type"))
	}
}

// Mounted as the server mounts it: /console redirects to /console/, which
// is the page; the files are under /console/.
func TestMountedInServer(t *testing.T) {
	srv := api.NewServer(api.Config{Region: "us-east-1"})
	resp := get(t, srv, http.MethodGet, "/console", nil)
	if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != "/console/" {
		t.Errorf("GET /console: %d Location %q, want 301 to /console/", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp = get(t, srv, http.MethodGet, "/console?x=1", nil)
	if resp.Header.Get("Location") != "/console/?x=1" {
		t.Errorf("GET /console?x=1: Location %q, want /console/?x=1", resp.Header.Get("Location"))
	}
	for path, ct := range map[string]string{"/console/": "text/html; charset=utf-8", "/console/app.js": "text/javascript; charset=utf-8"} {
		resp := get(t, srv, http.MethodGet, path, nil)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != ct {
			t.Errorf("GET %s: %d %q, want 200 %q", path, resp.StatusCode, resp.Header.Get("Content-Type"), ct)
		}
		if resp.Header.Get("X-Amzn-RequestId") == "" {
			t.Errorf("GET %s: no X-Amzn-RequestId (not behind the server's middleware?)", path)
		}
	}
	for _, path := range []string{"/console/missing.js", "/consoleapp.js", "/console/console/"} {
		if resp := get(t, srv, http.MethodGet, path, nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, resp.StatusCode)
		}
	}
}

// Every file the page refers to (src, href, JS imports) is embedded, and
// nothing is loaded from another origin.
func TestReferencesResolve(t *testing.T) {
	h := console.Handler()
	refs := regexp.MustCompile(`(?:src|href)="([^"#]+)"|from "([^"]+)"|import\("([^"]+)"\)`)
	err := filepath.WalkDir("static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, m := range refs.FindAllStringSubmatch(string(b), -1) {
			ref := m[1] + m[2] + m[3]
			if strings.Contains(ref, "//") || strings.HasPrefix(ref, "/") {
				t.Errorf("%s refers to %q: the console loads only its own files, by relative URL", p, ref)
				continue
			}
			resp := get(t, h, http.MethodGet, "/"+strings.TrimPrefix(ref, "./"), nil)
			if resp.StatusCode != http.StatusOK {
				t.Errorf("%s refers to %q, which is not served (%d)", p, ref, resp.StatusCode)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
