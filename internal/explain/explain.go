// Package explain answers "what would cors-authz do with this request, and
// why?" for operators: the class and how it was chosen, the verdict and its
// reason, and exactly what Envoy would do (forward with header mutations,
// or answer with a status and headers). The explain command and the admin
// page both use it.
package explain

import (
	"cmp"
	"fmt"
	"io"
	"strings"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc/codes"

	"github.com/cors-authz/cors-authz/internal/paths"
	"github.com/cors-authz/cors-authz/pkg/envoyauth"
	"github.com/cors-authz/cors-authz/pkg/policy"
)

// Defaults of a request an operator describes: the explain and check
// commands' flags and the admin page's /explain use them, so the same
// input gives the same answer everywhere. Input.CheckRequest applies
// DefaultMethod, DefaultScheme and DefaultPath to empty fields; an empty
// Host stays empty (a request without :authority), so DefaultHost is the
// callers' default.
const (
	DefaultMethod = "GET"
	DefaultScheme = "https"
	DefaultHost   = "localhost"
	DefaultPath   = "/"
)

// Input is a request described the way an operator types it.
type Input struct {
	Method  string   `json:"method"`
	Scheme  string   `json:"scheme"`
	Host    string   `json:"host"`
	Path    string   `json:"path"`
	Origin  *string  `json:"origin,omitempty"`  // nil: no Origin header
	Headers []string `json:"headers,omitempty"` // "Name: value", repeatable
	Class   string   `json:"class,omitempty"`   // the cors_class context extension
}

// CheckRequest returns the CheckRequest Envoy would send for the input
// (envoyauth.HTTPRequest, the http.headers map encoding): the Origin
// first, then the header lines in order, names case-insensitive, values
// trimmed, repeated headers joined with ",". A "Host" or ":authority" line
// sets the host. A line without a colon is an error.
func (in Input) CheckRequest() (*authv3.CheckRequest, error) {
	h := envoyauth.HTTPRequest{
		Method: cmp.Or(in.Method, DefaultMethod), Scheme: cmp.Or(in.Scheme, DefaultScheme),
		Host: in.Host, Path: cmp.Or(in.Path, DefaultPath),
		Class: in.Class, Protocol: "HTTP/1.1",
	}
	if in.Origin != nil {
		h.Headers = append(h.Headers, [2]string{"origin", *in.Origin})
	}
	for _, line := range in.Headers {
		name, value, ok := cutHeader(line)
		if !ok {
			return nil, fmt.Errorf("header %q: expected 'Name: value'", line)
		}
		switch name {
		case "host", ":authority":
			h.Host = value
		default:
			h.Headers = append(h.Headers, [2]string{name, value})
		}
	}
	return h.CheckRequest(), nil
}

// cutHeader splits a "Name: value" line: the name lower-cased and the value
// trimmed. A pseudo-header's name starts with its colon (":authority: h").
func cutHeader(line string) (name, value string, ok bool) {
	line = strings.TrimSpace(line)
	pseudo := strings.HasPrefix(line, ":")
	if pseudo {
		line = line[1:]
	}
	name, value, ok = strings.Cut(line, ":")
	name = strings.ToLower(strings.TrimSpace(name))
	if pseudo {
		name = ":" + name
	}
	return name, strings.TrimSpace(value), ok
}

// Request returns the policy's view of the input: the view the Check
// service reads (envoyauth.ReadRequest) from the CheckRequest Envoy would
// send for it (CheckRequest).
func (in Input) Request() (policy.Request, error) {
	var r policy.Request
	req, err := in.CheckRequest()
	if err != nil {
		return r, err
	}
	envoyauth.ReadRequest(req, &r)
	return r, nil
}

// Header is one header mutation as Envoy receives it.
type Header struct {
	Name         string `json:"name"`
	Value        string `json:"value"`
	AppendAction string `json:"append_action"`
}

// Explanation is the full answer.
type Explanation struct {
	Request   policy.Request `json:"-"`
	Verdict   policy.Verdict `json:"-"` // what the rest describes
	Class     string         `json:"class"`
	ClassLine int            `json:"class_line,omitempty"`
	Selection string         `json:"selected_by"`
	Why       string         `json:"why"`
	Kind      string         `json:"kind"`
	Allowed   bool           `json:"allowed"`
	Reason    string         `json:"reason"`
	// GrantedBy names the files that granted the request's origin in its
	// class (the policy file, or in a policy directory the base and/or the
	// fragments); empty when the origin is not granted.
	GrantedBy []string `json:"granted_by,omitempty"`
	delegated bool

	// What Envoy does.
	Action     string   `json:"envoy_action"` // "forward" or "respond"
	GRPCStatus string   `json:"grpc_status"`
	HTTPStatus int      `json:"http_status,omitempty"` // when Action is "respond"
	Headers    []Header `json:"headers"`
}

// Explain decides r under p and describes the outcome.
func Explain(p *policy.Policy, r policy.Request) Explanation {
	v := p.Decide(&r)
	e := Explanation{
		Request:   r,
		Verdict:   v,
		Class:     v.Class.Name,
		Selection: v.Selection.String(),
		Kind:      v.Kind.String(),
		Allowed:   v.Allowed,
		Reason:    v.ReasonText(),
		Headers:   []Header{},
	}
	if v.Class.Spec != nil {
		e.ClassLine = v.Class.Spec.Line
	}
	if v.Grant != nil {
		e.GrantedBy = v.Grant.Files()
	}
	e.delegated = v.Class.Delegated()
	switch v.Selection {
	case policy.ByHint:
		e.Why = fmt.Sprintf("named by the route's cors_class context extension %q", r.ClassHint)
	case policy.ByMatch:
		e.Why = "first class whose match holds for host " + quote(r.Host) + " and path " + quote(r.Path)
		// Path rules see the path's normal form (docs/policy.md, Paths).
		raw := r.Path
		if i := strings.IndexAny(raw, "?#"); i >= 0 {
			raw = raw[:i]
		}
		if norm, _ := paths.Normalise(r.Path); norm != raw {
			e.Why += " (normal form " + quote(norm) + ")"
		}
	default:
		if r.ClassHint != "" {
			e.Why = fmt.Sprintf("the route names cors_class %q, which the policy does not define: default deny", r.ClassHint)
		} else {
			e.Why = "no class matches: default deny"
		}
	}
	resp := envoyauth.Response(&v)
	e.GRPCStatus = codes.Code(resp.GetStatus().GetCode()).String()
	if d := resp.GetDeniedResponse(); d != nil {
		e.Action, e.HTTPStatus = "respond", int(d.GetStatus().GetCode())
		for _, h := range d.GetHeaders() {
			e.Headers = append(e.Headers, Header{h.GetHeader().GetKey(), h.GetHeader().GetValue(), h.GetAppendAction().String()})
		}
	} else {
		e.Action = "forward"
		for _, h := range resp.GetOkResponse().GetResponseHeadersToAdd() {
			e.Headers = append(e.Headers, Header{h.GetHeader().GetKey(), h.GetHeader().GetValue(), h.GetAppendAction().String()})
		}
	}
	return e
}

func quote(s string) string { return fmt.Sprintf("%q", s) }

// WriteText prints the explanation for a terminal.
func (e Explanation) WriteText(w io.Writer) {
	r := e.Request
	fmt.Fprintf(w, "request:  %s %s://%s%s\n", r.Method, r.Scheme, r.Host, r.Path)
	if r.HasOrigin {
		fmt.Fprintf(w, "          origin: %q\n", r.Origin)
	} else {
		fmt.Fprintf(w, "          no Origin header\n")
	}
	for _, h := range [][2]string{{"access-control-request-method", r.ACRM}, {"access-control-request-headers", r.ACRH}, {"access-control-request-private-network", r.ACRPN}} {
		if h[1] != "" {
			fmt.Fprintf(w, "          %s: %q\n", h[0], h[1])
		}
	}
	class := e.Class
	if e.ClassLine > 0 {
		class += fmt.Sprintf(" (line %d)", e.ClassLine)
	}
	fmt.Fprintf(w, "class:    %s: %s\n", class, e.Why)
	fmt.Fprintf(w, "kind:     %s\n", e.Kind)
	verdict := "denied"
	if e.Allowed {
		verdict = "allowed"
	}
	fmt.Fprintf(w, "verdict:  %s (%s)\n", verdict, e.Reason)
	if e.delegated && len(e.GrantedBy) > 0 {
		fmt.Fprintf(w, "granted:  %s by %s\n", r.Origin, strings.Join(e.GrantedBy, ", "))
	}
	if e.Action == "respond" {
		fmt.Fprintf(w, "envoy:    answers the request itself with HTTP %d and an empty body (gRPC %s, denied_response)\n", e.HTTPStatus, e.GRPCStatus)
	} else {
		fmt.Fprintf(w, "envoy:    forwards the request upstream (gRPC %s) and adds to the response:\n", e.GRPCStatus)
	}
	if len(e.Headers) == 0 {
		fmt.Fprintf(w, "          (no headers)\n")
	}
	for _, h := range e.Headers {
		fmt.Fprintf(w, "          %s: %s    [%s]\n", h.Name, h.Value, h.AppendAction)
	}
}
