// Package console is Junction's web console: plain HTML, CSS and
// JavaScript embedded in the binary (no build step, nothing fetched from
// elsewhere at run time), served by the management listener at /console/.
// The pages hold no data: everything comes from the management API
// (/api/v1), with the operator's credentials, so the files are served
// without authentication.
package console

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed static
var files embed.FS

// Handler serves the console's files from its root (index.html at "/").
func Handler() http.Handler {
	root, err := fs.Sub(files, "static")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	fsrv := http.FileServerFS(root)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		// Everything the page loads is its own: no inline script, no
		// other origin. Framing is refused (clickjacking of the buttons).
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		// The files change with the binary only; revalidate so an
		// upgraded broker's console is not mixed with an old one's.
		h.Set("Cache-Control", "no-cache")
		fsrv.ServeHTTP(w, r)
	})
}
