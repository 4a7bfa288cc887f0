// Package baseline configures the CORS libraries cors-authz is measured
// against, github.com/rs/cors and github.com/jub0bs/cors, with the shared
// fixture configuration, and provides what their benchmarks need: requests
// built once and a reusable ResponseWriter, so that only the libraries' own
// work is measured.
//
// The benchmarks themselves live in baseline_test.go, next to cors-authz's
// policy decision and in-process Check handling the same four cases:
//
//	go test -run '^$' -bench . -benchmem ./baseline
package baseline

import (
	"net/http"

	jub0bs "github.com/jub0bs/cors"
	rs "github.com/rs/cors"

	"github.com/cors-authz/cors-authz/bench/fixture"
)

// next is the wrapped application handler: it does nothing, so the
// middleware's cost is all that is measured.
var next = http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})

func allowlist() []string {
	return append(append([]string(nil), fixture.ExactOrigins...), fixture.WildcardOrigin)
}

// RSCors is rs/cors v1.11 configured with the fixture configuration.
func RSCors() http.Handler {
	return rs.New(rs.Options{
		AllowedOrigins:   allowlist(),
		AllowedMethods:   fixture.Methods,
		AllowedHeaders:   fixture.RequestHeaders,
		ExposedHeaders:   fixture.ExposeHeaders,
		AllowCredentials: fixture.Credentials,
		MaxAge:           fixture.MaxAge,
	}).Handler(next)
}

// Jub0bsCors is jub0bs/cors configured with the fixture configuration.
func Jub0bsCors() (http.Handler, error) {
	m, err := jub0bs.NewMiddleware(jub0bs.Config{
		Origins:         allowlist(),
		Credentialed:    fixture.Credentials,
		Methods:         fixture.Methods,
		RequestHeaders:  fixture.RequestHeaders,
		MaxAgeInSeconds: fixture.MaxAge,
		ResponseHeaders: fixture.ExposeHeaders,
	})
	if err != nil {
		return nil, err
	}
	return m.Wrap(next), nil
}

// Request is c as an incoming *http.Request, built once and reused.
func Request(c fixture.Case) *http.Request {
	r, err := http.NewRequest(c.Method, fixture.Scheme+"://"+fixture.Host+fixture.Path, nil)
	if err != nil {
		panic(err) // the fixture's URL is a constant
	}
	r.Header.Set("Origin", c.Origin)
	if c.Preflight {
		r.Header.Set("Access-Control-Request-Method", c.ACRM)
		r.Header.Set("Access-Control-Request-Headers", c.ACRH)
	}
	return r
}

// Writer is an http.ResponseWriter that keeps nothing but the header map
// and status, so one can be reused across iterations: Reset clears the map
// without freeing it, and recorder allocations never reach the figures.
type Writer struct {
	H      http.Header
	Status int
}

// NewWriter returns an empty Writer.
func NewWriter() *Writer { return &Writer{H: make(http.Header, 8)} }

func (w *Writer) Header() http.Header         { return w.H }
func (w *Writer) Write(p []byte) (int, error) { return len(p), nil }
func (w *Writer) WriteHeader(code int)        { w.Status = code }

// Reset prepares w for the next request.
func (w *Writer) Reset() {
	clear(w.H)
	w.Status = 0
}
