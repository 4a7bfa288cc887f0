// Package checktest holds what tests of the ext_authz Check service share:
// AssertResponse, the invariants every CheckResponse the service sends must
// hold whatever the request, and Request, which builds CheckRequests shaped
// the way Envoy builds them. It is imported by tests only.
package checktest

//lint:file-ignore SA1019 Envoy still honours the deprecated HeaderValueOption.append flag, so this file must read (or set) it.

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/cors-authz/cors-authz/pkg/envoyauth"
	"github.com/cors-authz/cors-authz/pkg/policy"
)

// Answer is what Envoy does with a CheckResponse, in comparable form.
type Answer struct {
	Code    codes.Code // CheckResponse.status: OK (forward) or PermissionDenied (answer)
	HTTP    int        // denied_response status; 0 when forwarded
	Headers string     // "name: value" lines in order, joined with "; "
}

func (a Answer) String() string {
	return fmt.Sprintf("{%v %d [%s]}", a.Code, a.HTTP, a.Headers)
}

// AssertResponse reports, with t.Errorf, every way resp breaks the contract
// between cors-authz, Envoy and browsers, and returns resp in comparable
// form. It never calls t.Fatal, so it may be called from any goroutine.
//
//   - resp and its status are set; status OK carries ok_response (and no
//     denied_response), PERMISSION_DENIED carries denied_response with
//     status 204 or 403 and an empty body; no other status is ever sent.
//   - Every header name and value (ok_response.response_headers_to_add,
//     ok_response.headers, denied_response.headers) is visible ASCII or
//     space: no CR, LF, NUL, other control or non-ASCII byte from a request
//     can reach a response (RFC 9110 §5.5 field values). Names are
//     non-empty lower case; raw_value is never used.
//   - Access-Control-Allow-Origin appears at most once and is never "*",
//     "null" or empty: the contract is the exact origin or nothing.
//   - Every Access-Control-* header is sent with append_action
//     OVERWRITE_IF_EXISTS_OR_ADD and without the deprecated append flag, so
//     Envoy replaces an upstream's value instead of comma-joining a second
//     origin onto it (Envoy ≥1.31 honours append_action; older versions
//     treat an unset flag as overwrite).
//   - A 403 grants nothing: it carries no Access-Control-Allow-* header.
//   - The request is never changed: no ok_response.headers_to_remove or
//     query parameter mutations.
//   - dynamic_metadata names the decision (see pkg/envoyauth, decision
//     metadata): only the key cors_authz, a struct of exactly the string
//     fields class (non-empty), kind (not_cors, same_origin, actual,
//     preflight), reason (a lower-case word), policy_sha256 (12 lower-case
//     hex digits, empty only at generation 0) and policy_generation
//     (decimal). It agrees with the answer: a 204 is an allowed preflight;
//     a 403 refuses a cross-origin request (kind actual or preflight, a
//     refusal reason); a granted ACAO answers a cross-origin actual request.
func AssertResponse(t testing.TB, resp *authv3.CheckResponse) Answer {
	t.Helper()
	if resp == nil || resp.GetStatus() == nil {
		t.Errorf("CheckResponse or its status is nil: %v", resp)
		return Answer{Code: codes.Unknown}
	}
	a := Answer{Code: codes.Code(resp.GetStatus().GetCode())}
	var sets [][]*corev3.HeaderValueOption
	switch a.Code {
	case codes.OK:
		ok := resp.GetOkResponse()
		if ok == nil || resp.GetDeniedResponse() != nil {
			t.Errorf("status OK without ok_response (or with denied_response): %v", resp)
			return a
		}
		if len(ok.GetHeadersToRemove()) > 0 || len(ok.GetQueryParametersToSet()) > 0 || len(ok.GetQueryParametersToRemove()) > 0 {
			t.Errorf("ok_response mutates the request: %v", ok)
		}
		sets = append(sets, ok.GetHeaders(), ok.GetResponseHeadersToAdd())
	case codes.PermissionDenied:
		d := resp.GetDeniedResponse()
		if d == nil {
			t.Errorf("status PERMISSION_DENIED without denied_response: %v", resp)
			return a
		}
		a.HTTP = int(d.GetStatus().GetCode())
		if a.HTTP != 204 && a.HTTP != 403 {
			t.Errorf("denied_response status %d, want 204 or 403", a.HTTP)
		}
		if d.GetBody() != "" {
			t.Errorf("denied_response body %.100q, want empty", d.GetBody())
		}
		sets = append(sets, d.GetHeaders())
	default:
		t.Errorf("CheckResponse status %v, want OK or PermissionDenied", a.Code)
		return a
	}

	var lines []string
	acao := 0
	for _, hs := range sets {
		for _, o := range hs {
			name, value := o.GetHeader().GetKey(), o.GetHeader().GetValue()
			if name == "" || name != strings.ToLower(name) {
				t.Errorf("header name %.100q: want non-empty lower case", name)
			}
			if i := invalidByte(name); i >= 0 {
				t.Errorf("header name %.100q: byte %#x at %d is not visible ASCII or space", name, name[i], i)
			}
			if i := invalidByte(value); i >= 0 {
				t.Errorf("header %.100q: value byte %#x at %d is not visible ASCII or space (value %.100q)", name, value[i], i, value)
			}
			if raw := o.GetHeader().GetRawValue(); len(raw) > 0 {
				t.Errorf("header %.100q: raw_value set (%.100q)", name, raw)
			}
			if strings.HasPrefix(name, "access-control-") {
				if o.GetAppend() != nil {
					t.Errorf("header %q: deprecated append flag set (%v)", name, o.GetAppend().GetValue())
				}
				if got := o.GetAppendAction(); got != corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD {
					t.Errorf("header %q: append_action %v, want OVERWRITE_IF_EXISTS_OR_ADD", name, got)
				}
				if a.HTTP == 403 && strings.HasPrefix(name, "access-control-allow-") {
					t.Errorf("403 answer grants %s: %.100q", name, value)
				}
			}
			if name == "access-control-allow-origin" {
				acao++
				if value == "*" || value == "" || value == "null" {
					t.Errorf("ACAO %q: must be an exact origin", value)
				}
			}
			lines = append(lines, name+": "+value)
		}
	}
	if acao > 1 {
		t.Errorf("%d Access-Control-Allow-Origin headers, want at most 1", acao)
	}
	a.Headers = strings.Join(lines, "; ")
	assertDecision(t, resp, a, acao > 0)
	return a
}

var (
	reasonRE = regexp.MustCompile(`^[a-z][a-z_]*$`)
	shortRE  = regexp.MustCompile(`^[0-9a-f]{` + strconv.Itoa(envoyauth.ShortSHA256Len) + `}$`)
	digitsRE = regexp.MustCompile(`^(0|[1-9][0-9]*)$`)
)

// assertDecision checks resp's decision metadata (AssertResponse's last
// rule); a is the answer, acao whether it grants an origin.
func assertDecision(t testing.TB, resp *authv3.CheckResponse, a Answer, acao bool) {
	t.Helper()
	md := resp.GetDynamicMetadata().GetFields()
	if len(md) != 1 || md[envoyauth.MetadataKey].GetStructValue() == nil {
		t.Errorf("dynamic_metadata %v: want exactly the struct %q", resp.GetDynamicMetadata(), envoyauth.MetadataKey)
		return
	}
	fields := md[envoyauth.MetadataKey].GetStructValue().GetFields()
	want := []string{envoyauth.MetadataClass, envoyauth.MetadataKind, envoyauth.MetadataReason, envoyauth.MetadataPolicySHA256, envoyauth.MetadataPolicyGeneration}
	d := map[string]string{}
	for _, k := range want {
		v, ok := fields[k].GetKind().(*structpb.Value_StringValue)
		if !ok {
			t.Errorf("decision metadata %s = %v: want a string", k, fields[k])
			continue
		}
		d[k] = v.StringValue
	}
	if len(fields) != len(want) {
		t.Errorf("decision metadata has %d fields, want %v: %v", len(fields), want, fields)
	}
	class, kind, reason := d[envoyauth.MetadataClass], d[envoyauth.MetadataKind], d[envoyauth.MetadataReason]
	sum, gen := d[envoyauth.MetadataPolicySHA256], d[envoyauth.MetadataPolicyGeneration]
	if class == "" || invalidByte(class) >= 0 {
		t.Errorf("decision class %.100q: want a non-empty class name", class)
	}
	kinds := []string{policy.NotCORS.String(), policy.SameOrigin.String(), policy.Actual.String(), policy.Preflight.String()}
	if !slices.Contains(kinds, kind) {
		t.Errorf("decision kind %q: want one of %v", kind, kinds)
	}
	if !reasonRE.MatchString(reason) {
		t.Errorf("decision reason %.100q: want a lower-case word", reason)
	}
	if !digitsRE.MatchString(gen) {
		t.Errorf("decision policy_generation %q: want a decimal number", gen)
	}
	if !shortRE.MatchString(sum) && (sum != "" || gen != "0") {
		t.Errorf("decision policy_sha256 %q (generation %s): want %d lower-case hex digits", sum, gen, envoyauth.ShortSHA256Len)
	}
	crossOrigin := kind == policy.Actual.String() || kind == policy.Preflight.String()
	granted := reason == string(policy.ReasonOriginAllowed) || reason == string(policy.ReasonPreflightAllowed)
	switch {
	case a.HTTP == 204 && (kind != policy.Preflight.String() || reason != string(policy.ReasonPreflightAllowed)):
		t.Errorf("204 answer with decision kind %q reason %q: want an allowed preflight", kind, reason)
	case a.HTTP == 403 && (!crossOrigin || granted):
		t.Errorf("403 answer with decision kind %q reason %q: want a refused cross-origin request", kind, reason)
	case a.Code == codes.OK && acao && kind != policy.Actual.String():
		t.Errorf("forwarded answer grants an origin with decision kind %q: want actual", kind)
	}
}

// invalidByte returns the index of the first byte of s that is neither
// visible ASCII (0x21-0x7e) nor space, or -1.
func invalidByte(s string) int {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e {
			return i
		}
	}
	return -1
}

// HeaderValue returns the value of the response header name (lower case)
// that resp tells Envoy to send, from ok_response.response_headers_to_add
// or denied_response.headers, and whether it is there.
func HeaderValue(resp *authv3.CheckResponse, name string) (string, bool) {
	for _, o := range responseHeaders(resp) {
		if o.GetHeader().GetKey() == name {
			return o.GetHeader().GetValue(), true
		}
	}
	return "", false
}

// Reflects reports whether s occurs in any header name or value resp
// carries (ok_response.headers and response_headers_to_add,
// denied_response.headers). Tests of hostile input use it to prove that
// request bytes are never echoed. An empty s never occurs.
func Reflects(resp *authv3.CheckResponse, s string) bool {
	if s == "" {
		return false
	}
	// Responses are shared between requests: read them, never append to
	// their slices.
	for _, hs := range [][]*corev3.HeaderValueOption{responseHeaders(resp), resp.GetOkResponse().GetHeaders()} {
		for _, o := range hs {
			if strings.Contains(o.GetHeader().GetKey(), s) || strings.Contains(o.GetHeader().GetValue(), s) {
				return true
			}
		}
	}
	// The decision metadata ends up in access logs: no request bytes
	// there either.
	if d, ok := envoyauth.DecisionOf(resp); ok {
		for k, v := range d {
			if strings.Contains(k, s) || strings.Contains(v, s) {
				return true
			}
		}
	}
	return false
}

func responseHeaders(resp *authv3.CheckResponse) []*corev3.HeaderValueOption {
	if d := resp.GetDeniedResponse(); d != nil {
		return d.GetHeaders()
	}
	return resp.GetOkResponse().GetResponseHeadersToAdd()
}
