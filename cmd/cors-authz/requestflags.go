package main

import (
	"flag"
	"strings"

	"github.com/cors-authz/cors-authz/internal/explain"
)

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ", ") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// optionalString is a string flag that records whether it was given, so
// that --origin "" (an empty Origin header) differs from no --origin.
type optionalString struct{ v *string }

func (o *optionalString) String() string {
	if o.v == nil {
		return ""
	}
	return *o.v
}
func (o *optionalString) Set(v string) error { o.v = &v; return nil }

// requestInput holds the flags that describe one request, shared by the
// explain and check commands.
type requestInput struct {
	in      explain.Input
	origin  optionalString
	headers stringList
}

func requestFlags(fs *flag.FlagSet) *requestInput {
	rf := &requestInput{}
	fs.StringVar(&rf.in.Method, "method", explain.DefaultMethod, "request method")
	fs.StringVar(&rf.in.Path, "path", explain.DefaultPath, "request path (query allowed)")
	fs.StringVar(&rf.in.Host, "host", explain.DefaultHost, "request host (:authority)")
	fs.StringVar(&rf.in.Scheme, "scheme", explain.DefaultScheme, "request scheme")
	fs.Var(&rf.origin, "origin", "Origin header (omit for a request without one)")
	fs.Var(&rf.headers, "header", "request header 'Name: value' (repeatable), e.g. 'Access-Control-Request-Method: PUT'")
	fs.StringVar(&rf.in.Class, "class", "", "cors_class context extension, as an Envoy route would set it")
	return rf
}

// input is the request the flags describe.
func (rf *requestInput) input() explain.Input {
	in := rf.in
	in.Origin, in.Headers = rf.origin.v, rf.headers
	return in
}
