// Package console is the web console of the control plane: static HTML,
// JavaScript modules and CSS embedded in the binary, served by
// `replicator serve` under /console/.
//
// The console has no server side. The user signs in with an access key in the
// browser, which keeps it in sessionStorage and signs every API call itself
// (SigV4 with WebCrypto), exactly as an AWS SDK would; the handler here only
// serves files.
package console

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed static
var static embed.FS

// contentTypes are the types of the files the console ships. They are fixed
// here rather than taken from the mime package, whose answer for .js depends
// on the machine's /etc/mime.types.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
	".png":  "image/png",
	".json": "application/json",
	".txt":  "text/plain; charset=utf-8",
}

// contentSecurityPolicy allows the console's own files and same-origin API
// calls only: no inline scripts, no third-party origins, no framing.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

type file struct {
	data        []byte
	contentType string
	etag        string
}

// Handler serves the console's files. It expects paths relative to where it
// is mounted, as http.StripPrefix leaves them:
//
//	r.Mount("/console", http.StripPrefix("/console", console.Handler()))
//
// "/" is index.html; the empty path (a request for the mount point itself,
// "/console") is redirected to the mount point with a trailing slash so that
// the page's relative URLs resolve. Every answer carries
// Cache-Control: no-cache (browsers revalidate with the ETag, so a new binary
// is picked up at once). Unknown files are 404; only GET and HEAD are allowed.
func Handler() http.Handler {
	files := map[string]*file{}
	root, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	err = fs.WalkDir(root, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(root, p)
		if err != nil {
			return err
		}
		ct, ok := contentTypes[path.Ext(p)]
		if !ok {
			ct = "application/octet-stream"
		}
		sum := sha256.Sum256(data)
		files["/"+p] = &file{data: data, contentType: ct, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
		return nil
	})
	if err != nil {
		panic(err)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Content-Type-Options", "nosniff")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			http.Error(w, "405 method not allowed", http.StatusMethodNotAllowed)
			return
		}
		p := r.URL.Path
		if p == "" {
			// The mount point without its slash: send the browser to it with
			// the slash, keeping the original (unstripped) path and query.
			target := r.URL.RawQuery
			base, _, _ := strings.Cut(r.RequestURI, "?")
			if base == "" || !strings.HasPrefix(base, "/") {
				base = "/"
			}
			if !strings.HasSuffix(base, "/") {
				base += "/"
			}
			if target != "" {
				base += "?" + target
			}
			http.Redirect(w, r, base, http.StatusMovedPermanently)
			return
		}
		if p == "/" {
			p = "/index.html"
		}
		f, ok := files[path.Clean(p)]
		if !ok || path.Clean(p) != p {
			http.Error(w, "404 page not found", http.StatusNotFound)
			return
		}
		h.Set("Content-Type", f.contentType)
		h.Set("ETag", f.etag)
		if f.contentType == contentTypes[".html"] {
			h.Set("Content-Security-Policy", contentSecurityPolicy)
			h.Set("Referrer-Policy", "no-referrer")
			h.Set("X-Frame-Options", "DENY")
		}
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.data))
	})
}
