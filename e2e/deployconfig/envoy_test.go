package deployconfig

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	filelogv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/file/v3"
	extauthzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	upstreamhttpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/cors-authz/cors-authz/pkg/envoyauth"
	"github.com/cors-authz/cors-authz/pkg/policy"
)

const (
	envoyFile = "deploy/envoy.yaml"
	// extAuthzFilter is the filter name Envoy looks per-route config up by.
	extAuthzFilter = "envoy.filters.http.ext_authz"
	// classKey is the context extension cors-authz reads the class from.
	classKey = envoyauth.ClassHintKey
	// httpProtocolOptionsKey is the key Envoy reads a cluster's upstream
	// HTTP protocol options under.
	httpProtocolOptionsKey = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
)

// Keep the registrations explicit: these imports are what make the packed
// typed_config messages resolvable (protoregistry.GlobalTypes).
var _ = []proto.Message{
	(*hcmv3.HttpConnectionManager)(nil),
	(*extauthzv3.ExtAuthz)(nil),
	(*extauthzv3.ExtAuthzPerRoute)(nil),
	(*routerv3.Router)(nil),
	(*filelogv3.FileAccessLog)(nil),
	(*upstreamhttpv3.HttpProtocolOptions)(nil),
}

// envoyJSON is deploy/envoy.yaml as JSON.
func envoyJSON(t *testing.T) []byte {
	t.Helper()
	js, err := yamlToJSON(repoFile(t, envoyFile))
	if err != nil {
		t.Fatalf("%s: %v", envoyFile, err)
	}
	return js
}

// loadBootstrap decodes deploy/envoy.yaml strictly: unknown fields and
// unresolvable @type URLs fail.
func loadBootstrap(t *testing.T) *bootstrapv3.Bootstrap {
	t.Helper()
	b := &bootstrapv3.Bootstrap{}
	if err := protojson.Unmarshal(envoyJSON(t), b); err != nil {
		t.Fatalf("%s does not decode into envoy.config.bootstrap.v3.Bootstrap: %v", envoyFile, err)
	}
	return b
}

// packed is a message found inside a google.protobuf.Any.
type packed struct {
	path string
	msg  proto.Message
}

// unpackAll returns every message packed in an Any anywhere under m,
// recursively (an Any inside a packed message is found too).
func unpackAll(m protoreflect.Message, path string) ([]packed, error) {
	var out []packed
	var err error
	visit := func(child protoreflect.Message, p string) {
		if err != nil {
			return
		}
		if child.Descriptor().FullName() == "google.protobuf.Any" {
			a, ok := child.Interface().(*anypb.Any)
			if !ok {
				err = fmt.Errorf("%s: Any of unexpected Go type %T", p, child.Interface())
				return
			}
			inner, uerr := a.UnmarshalNew()
			if uerr != nil {
				err = fmt.Errorf("%s: %s: %w", p, a.GetTypeUrl(), uerr)
				return
			}
			out = append(out, packed{path: p, msg: inner})
			sub, serr := unpackAll(inner.ProtoReflect(), p+"<"+string(inner.ProtoReflect().Descriptor().FullName())+">")
			out = append(out, sub...)
			err = serr
			return
		}
		sub, serr := unpackAll(child, p)
		out = append(out, sub...)
		err = serr
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		p := path + "." + string(fd.Name())
		switch {
		case fd.IsList():
			if fd.Kind() == protoreflect.MessageKind || fd.Kind() == protoreflect.GroupKind {
				l := v.List()
				for i := 0; i < l.Len(); i++ {
					visit(l.Get(i).Message(), fmt.Sprintf("%s[%d]", p, i))
				}
			}
		case fd.IsMap():
			if fd.MapValue().Kind() == protoreflect.MessageKind {
				v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
					visit(mv.Message(), fmt.Sprintf("%s[%s]", p, k.String()))
					return err == nil
				})
			}
		case fd.Kind() == protoreflect.MessageKind || fd.Kind() == protoreflect.GroupKind:
			visit(v.Message(), p)
		}
		return err == nil
	})
	return out, err
}

// typeURLs collects every "@type" value in a decoded JSON tree.
func typeURLs(v any, out *[]string) {
	switch x := v.(type) {
	case map[string]any:
		for k, child := range x {
			if s, ok := child.(string); ok && k == "@type" {
				*out = append(*out, s)
				continue
			}
			typeURLs(child, out)
		}
	case []any:
		for _, child := range x {
			typeURLs(child, out)
		}
	}
}

type validatorAll interface{ ValidateAll() error }

func TestEnvoyBootstrapIsValid(t *testing.T) {
	var tree any
	if err := json.Unmarshal(envoyJSON(t), &tree); err != nil {
		t.Fatal(err)
	}
	var urls []string
	typeURLs(tree, &urls)
	if len(urls) == 0 {
		t.Fatalf("%s has no typed_config at all", envoyFile)
	}
	for _, u := range urls {
		if _, err := protoregistry.GlobalTypes.FindMessageByURL(u); err != nil {
			t.Errorf("@type %q does not resolve to a registered message: %v", u, err)
		}
	}

	b := loadBootstrap(t)
	if err := b.ValidateAll(); err != nil {
		t.Errorf("Bootstrap.ValidateAll: %v", err)
	}
	// ValidateAll stops at Any fields: validate every packed message too.
	inner, err := unpackAll(b.ProtoReflect(), "bootstrap")
	if err != nil {
		t.Fatal(err)
	}
	if len(inner) != len(urls) {
		t.Errorf("unpacked %d typed configs, but the file has %d @type entries", len(inner), len(urls))
	}
	for _, p := range inner {
		v, ok := p.msg.(validatorAll)
		if !ok {
			t.Errorf("%s: %T has no generated validator", p.path, p.msg)
			continue
		}
		if err := v.ValidateAll(); err != nil {
			t.Errorf("%s: %v", p.path, err)
		}
	}
}

// hcmConfigs returns the HTTP connection managers of every listener.
func hcmConfigs(t *testing.T, b *bootstrapv3.Bootstrap) []*hcmv3.HttpConnectionManager {
	t.Helper()
	var out []*hcmv3.HttpConnectionManager
	for _, l := range b.GetStaticResources().GetListeners() {
		for _, fc := range l.GetFilterChains() {
			for _, f := range fc.GetFilters() {
				m, err := f.GetTypedConfig().UnmarshalNew()
				if err != nil {
					t.Fatalf("listener %s filter %s: %v", l.GetName(), f.GetName(), err)
				}
				if h, ok := m.(*hcmv3.HttpConnectionManager); ok {
					out = append(out, h)
				}
			}
		}
	}
	if len(out) == 0 {
		t.Fatalf("%s has no http_connection_manager", envoyFile)
	}
	return out
}

// extAuthzOf returns the HCM's ext_authz filter name and config, failing if
// there is not exactly one.
func extAuthzOf(t *testing.T, h *hcmv3.HttpConnectionManager) (string, *extauthzv3.ExtAuthz) {
	t.Helper()
	var name string
	var cfg *extauthzv3.ExtAuthz
	for _, f := range h.GetHttpFilters() {
		m, err := f.GetTypedConfig().UnmarshalNew()
		if err != nil {
			t.Fatalf("http filter %s: %v", f.GetName(), err)
		}
		if ea, ok := m.(*extauthzv3.ExtAuthz); ok {
			if cfg != nil {
				t.Fatalf("HCM %s has more than one ext_authz filter", h.GetStatPrefix())
			}
			name, cfg = f.GetName(), ea
		}
	}
	if cfg == nil {
		t.Fatalf("HCM %s has no ext_authz filter", h.GetStatPrefix())
	}
	return name, cfg
}

func TestEnvoyFilterOrder(t *testing.T) {
	for _, h := range hcmConfigs(t, loadBootstrap(t)) {
		filters := h.GetHttpFilters()
		extAuthz, router := -1, -1
		for i, f := range filters {
			m, err := f.GetTypedConfig().UnmarshalNew()
			if err != nil {
				t.Fatal(err)
			}
			switch m.(type) {
			case *extauthzv3.ExtAuthz:
				extAuthz = i
			case *routerv3.Router:
				router = i
			}
		}
		if extAuthz < 0 {
			t.Errorf("HCM %s: no ext_authz filter", h.GetStatPrefix())
		}
		if router != len(filters)-1 {
			t.Errorf("HCM %s: router is filter %d of %d; it must be last", h.GetStatPrefix(), router, len(filters))
		}
		if extAuthz >= 0 && router >= 0 && extAuthz > router {
			t.Errorf("HCM %s: ext_authz (%d) runs after the router (%d)", h.GetStatPrefix(), extAuthz, router)
		}
		if name, _ := extAuthzOf(t, h); name != extAuthzFilter {
			t.Errorf("ext_authz filter is named %q; per-route configs are keyed %q", name, extAuthzFilter)
		}
	}
}

func TestEnvoyPathNormalisation(t *testing.T) {
	safe := []hcmv3.HttpConnectionManager_PathWithEscapedSlashesAction{
		hcmv3.HttpConnectionManager_UNESCAPE_AND_REDIRECT,
		hcmv3.HttpConnectionManager_REJECT_REQUEST,
	}
	for _, h := range hcmConfigs(t, loadBootstrap(t)) {
		if !h.GetNormalizePath().GetValue() {
			t.Errorf("HCM %s: normalize_path is not true", h.GetStatPrefix())
		}
		if !h.GetMergeSlashes() {
			t.Errorf("HCM %s: merge_slashes is not true", h.GetStatPrefix())
		}
		if a := h.GetPathWithEscapedSlashesAction(); !slices.Contains(safe, a) {
			t.Errorf("HCM %s: path_with_escaped_slashes_action = %v, want one of %v", h.GetStatPrefix(), a, safe)
		}
	}
}

func TestEnvoyExtAuthzSettings(t *testing.T) {
	b := loadBootstrap(t)
	clusters := map[string]*clusterv3.Cluster{}
	for _, c := range b.GetStaticResources().GetClusters() {
		clusters[c.GetName()] = c
	}
	for _, h := range hcmConfigs(t, b) {
		_, ea := extAuthzOf(t, h)
		gs := ea.GetGrpcService()
		if gs == nil {
			t.Fatalf("ext_authz does not use a gRPC service")
		}
		if _, ok := clusters[gs.GetEnvoyGrpc().GetClusterName()]; !ok {
			t.Errorf("ext_authz envoy_grpc cluster %q is not defined", gs.GetEnvoyGrpc().GetClusterName())
		}
		if d := gs.GetTimeout().AsDuration(); gs.GetTimeout() == nil || d <= 0 || d > time.Second {
			t.Errorf("ext_authz timeout = %v, want explicit and at most 1s", d)
		}
		if v := ea.GetTransportApiVersion(); v != corev3.ApiVersion_V3 {
			t.Errorf("transport_api_version = %v, want V3", v)
		}
		// The choice is explained in envoy.yaml, in mesh-config.yaml and in
		// docs/deploy.md; change all of them together.
		if !ea.GetFailureModeAllow() {
			t.Errorf("failure_mode_allow = false; the shipped choice (documented) is fail-open")
		}
		if c := ea.GetStatusOnError().GetCode(); c < 500 || c > 599 {
			t.Errorf("status_on_error = %v, want an explicit 5xx", c)
		}
		patterns := ea.GetAllowedHeaders().GetPatterns()
		if len(patterns) == 0 {
			t.Fatalf("allowed_headers is unset: Envoy would send every request header")
		}
		for _, hdr := range headersRead {
			if !anyStringMatch(t, patterns, hdr) {
				t.Errorf("allowed_headers does not pass %q, which cors-authz reads", hdr)
			}
		}
		for _, hdr := range []string{"cookie", "authorization", "user-agent", "x-forwarded-for", "content-type", "referer"} {
			if anyStringMatch(t, patterns, hdr) {
				t.Errorf("allowed_headers passes %q, which cors-authz does not read", hdr)
			}
		}
	}
}

func TestEnvoyExtAuthzClusterIsHTTP2(t *testing.T) {
	b := loadBootstrap(t)
	want := map[string]bool{}
	for _, h := range hcmConfigs(t, b) {
		_, ea := extAuthzOf(t, h)
		want[ea.GetGrpcService().GetEnvoyGrpc().GetClusterName()] = true
	}
	found := 0
	for _, c := range b.GetStaticResources().GetClusters() {
		if !want[c.GetName()] {
			continue
		}
		found++
		anyOpts, ok := c.GetTypedExtensionProtocolOptions()[httpProtocolOptionsKey]
		if !ok {
			t.Errorf("cluster %s: no %s: gRPC needs explicit HTTP/2", c.GetName(), httpProtocolOptionsKey)
			continue
		}
		opts := &upstreamhttpv3.HttpProtocolOptions{}
		if err := anyOpts.UnmarshalTo(opts); err != nil {
			t.Fatalf("cluster %s: %v", c.GetName(), err)
		}
		if opts.GetExplicitHttpConfig().GetHttp2ProtocolOptions() == nil {
			t.Errorf("cluster %s: upstream protocol is not explicit HTTP/2: %v", c.GetName(), opts)
		}
		if d := c.GetConnectTimeout().AsDuration(); c.GetConnectTimeout() == nil || d > time.Second {
			t.Errorf("cluster %s: connect_timeout = %v, want explicit and at most 1s", c.GetName(), d)
		}
	}
	if found != len(want) {
		t.Errorf("found %d of the %d ext_authz clusters", found, len(want))
	}
}

func TestEnvoyAdminIsLoopbackOnly(t *testing.T) {
	addr := loadBootstrap(t).GetAdmin().GetAddress().GetSocketAddress().GetAddress()
	if addr != "127.0.0.1" && addr != "::1" {
		t.Errorf("admin listens on %q; it must be loopback only", addr)
	}
}

// envoyRoute is one route with its virtual host, as the tests see it.
type envoyRoute struct {
	vhost *routev3.VirtualHost
	index int
	route *routev3.Route
	class string
}

func (r envoyRoute) String() string {
	name := r.route.GetName()
	if name == "" {
		name = fmt.Sprintf("#%d", r.index)
	}
	return r.vhost.GetName() + "/" + name
}

// envoyRoutes lists every route of every HCM's inline route configuration,
// with the cors_class its ext_authz per-filter config names (virtual host
// first, route overriding, as Envoy merges context_extensions).
func envoyRoutes(t *testing.T) []envoyRoute {
	t.Helper()
	var out []envoyRoute
	for _, h := range hcmConfigs(t, loadBootstrap(t)) {
		rc := h.GetRouteConfig()
		if rc == nil {
			t.Fatalf("HCM %s has no inline route_config", h.GetStatPrefix())
		}
		for _, vh := range rc.GetVirtualHosts() {
			vhExt := perRouteExtensions(t, vh.GetTypedPerFilterConfig(), vh.GetName())
			for i, r := range vh.GetRoutes() {
				ext := map[string]string{}
				for k, v := range vhExt {
					ext[k] = v
				}
				for k, v := range perRouteExtensions(t, r.GetTypedPerFilterConfig(), r.GetName()) {
					ext[k] = v
				}
				out = append(out, envoyRoute{vhost: vh, index: i, route: r, class: ext[classKey]})
			}
		}
	}
	if len(out) == 0 {
		t.Fatalf("%s has no routes", envoyFile)
	}
	return out
}

// perRouteExtensions decodes the ext_authz per-filter config in cfg, if any,
// and returns its context_extensions. A config that disables the check fails.
func perRouteExtensions(t *testing.T, cfg map[string]*anypb.Any, where string) map[string]string {
	t.Helper()
	a, ok := cfg[extAuthzFilter]
	if !ok {
		return nil
	}
	per := &extauthzv3.ExtAuthzPerRoute{}
	if err := a.UnmarshalTo(per); err != nil {
		t.Fatalf("%s: typed_per_filter_config[%s]: %v", where, extAuthzFilter, err)
	}
	if per.GetDisabled() {
		t.Errorf("%s: ext_authz is disabled; every request must be checked", where)
	}
	return per.GetCheckSettings().GetContextExtensions()
}

func TestEnvoyRoutesStripCORSResponseHeaders(t *testing.T) {
	var rcRemove []string
	for _, h := range hcmConfigs(t, loadBootstrap(t)) {
		rcRemove = append(rcRemove, h.GetRouteConfig().GetResponseHeadersToRemove()...)
	}
	for _, r := range envoyRoutes(t) {
		// All three levels apply to a response (route, then virtual host,
		// then route configuration), before ext_authz adds its headers.
		removed := slices.Concat(r.route.GetResponseHeadersToRemove(), r.vhost.GetResponseHeadersToRemove(), rcRemove)
		for _, hdr := range corsResponseHeaders {
			if !containsFold(removed, hdr) {
				t.Errorf("route %s does not remove %s from upstream responses", r, hdr)
			}
		}
		if r.route.GetDirectResponse() != nil || r.route.GetRedirect() != nil {
			t.Errorf("route %s answers without an upstream; cors-authz is not designed for it", r)
		}
	}
}

func TestEnvoyRouteClassesExistInPolicies(t *testing.T) {
	policies := map[string]*policy.Policy{
		"pkg/policy/default.yaml": shippedPolicy(t),
		configMapFile:             configMapPolicy(t),
	}
	seen := map[string]bool{}
	for _, r := range envoyRoutes(t) {
		if r.class == "" {
			t.Errorf("route %s sets no %s context extension", r, classKey)
			continue
		}
		seen[r.class] = true
		for name, p := range policies {
			if p.Class(r.class) == nil {
				t.Errorf("route %s names class %q, which %s does not define", r, r.class, name)
			}
		}
	}
	// The shipped routes use both kinds of class: one that grants origins
	// and one that grants none.
	p := shippedPolicy(t)
	var external, internal bool
	for c := range seen {
		if cl := p.Class(c); cl != nil {
			external = external || cl.HasOrigins()
			internal = internal || !cl.HasOrigins()
		}
	}
	if !external || !internal {
		t.Errorf("route classes %v: want at least one external and one internal class", sortedKeys(seen))
	}
}

// TestEnvoyRouteClassesAgreeWithMatchRules checks that a request each route
// catches gets the same class from the policy's match rules (what Istio,
// which sends no cors_class, relies on) as from the route's cors_class, and
// that no earlier route shadows it.
func TestEnvoyRouteClassesAgreeWithMatchRules(t *testing.T) {
	routes := envoyRoutes(t)
	policies := map[string]*policy.Policy{
		"pkg/policy/default.yaml": shippedPolicy(t),
		configMapFile:             configMapPolicy(t),
	}
	for i, r := range routes {
		path, ok := samplePath(r.route.GetMatch())
		if !ok {
			t.Logf("route %s: match kind not modelled, skipped", r)
			continue
		}
		for j := 0; j < i; j++ {
			if routes[j].vhost != r.vhost {
				continue
			}
			if hit, known := routeMatchesPath(routes[j].route.GetMatch(), path); known && hit {
				t.Errorf("%s is caught by the earlier route %s, not by %s", path, routes[j], r)
			}
		}
		for name, p := range policies {
			req := &policy.Request{Method: "GET", Scheme: "https", Host: "app.example.com", Path: path}
			rt := p.Classify(req)
			if rt.Selection != policy.ByMatch || rt.Class.Name != r.class {
				t.Errorf("%s: %s route %s sets class %q, but the match rules choose %q (%v)",
					name, path, r, r.class, rt.Class.Name, rt.Selection)
			}
		}
	}
}

// samplePath is a path the route match catches.
func samplePath(m *routev3.RouteMatch) (string, bool) {
	if len(m.GetHeaders()) > 0 || len(m.GetQueryParameters()) > 0 {
		return "", false
	}
	switch spec := m.GetPathSpecifier().(type) {
	case *routev3.RouteMatch_Path:
		return spec.Path, true
	case *routev3.RouteMatch_Prefix:
		if strings.HasSuffix(spec.Prefix, "/") {
			return spec.Prefix + "sample", true
		}
		return spec.Prefix + "/sample", true
	case *routev3.RouteMatch_PathSeparatedPrefix:
		return spec.PathSeparatedPrefix + "/sample", true
	}
	return "", false
}

// routeMatchesPath reports whether the route match catches a GET of path
// (no query). known is false for match kinds this model does not cover.
func routeMatchesPath(m *routev3.RouteMatch, path string) (hit, known bool) {
	if len(m.GetHeaders()) > 0 || len(m.GetQueryParameters()) > 0 || m.GetRuntimeFraction() != nil {
		return false, false
	}
	fold := m.GetCaseSensitive() != nil && !m.GetCaseSensitive().GetValue()
	eq := func(a, b string) bool { return a == b || (fold && strings.EqualFold(a, b)) }
	switch spec := m.GetPathSpecifier().(type) {
	case *routev3.RouteMatch_Path:
		return eq(path, spec.Path), true
	case *routev3.RouteMatch_Prefix:
		return len(path) >= len(spec.Prefix) && eq(path[:len(spec.Prefix)], spec.Prefix), true
	case *routev3.RouteMatch_PathSeparatedPrefix:
		p := spec.PathSeparatedPrefix
		if eq(path, p) {
			return true, true
		}
		return len(path) > len(p) && eq(path[:len(p)], p) && path[len(p)] == '/', true
	}
	return false, false
}

// anyStringMatch reports whether any matcher accepts s, following
// envoy.type.matcher.v3.StringMatcher semantics (safe_regex is a full match;
// ignore_case does not apply to it).
func anyStringMatch(t *testing.T, ms []*matcherv3.StringMatcher, s string) bool {
	t.Helper()
	for _, m := range ms {
		ok, err := stringMatch(m, s)
		if err != nil {
			t.Fatalf("matcher %v: %v", m, err)
		}
		if ok {
			return true
		}
	}
	return false
}

func stringMatch(m *matcherv3.StringMatcher, s string) (bool, error) {
	in := s
	fold := func(x string) string {
		if m.GetIgnoreCase() {
			return strings.ToLower(x)
		}
		return x
	}
	switch p := m.GetMatchPattern().(type) {
	case *matcherv3.StringMatcher_Exact:
		return fold(in) == fold(p.Exact), nil
	case *matcherv3.StringMatcher_Prefix:
		return strings.HasPrefix(fold(in), fold(p.Prefix)), nil
	case *matcherv3.StringMatcher_Suffix:
		return strings.HasSuffix(fold(in), fold(p.Suffix)), nil
	case *matcherv3.StringMatcher_Contains:
		return strings.Contains(fold(in), fold(p.Contains)), nil
	case *matcherv3.StringMatcher_SafeRegex:
		re, err := regexp.Compile(`^(?:` + p.SafeRegex.GetRegex() + `)$`)
		if err != nil {
			return false, err
		}
		return re.MatchString(in), nil
	}
	return false, fmt.Errorf("matcher kind %T not modelled", m.GetMatchPattern())
}

func TestStringMatch(t *testing.T) {
	exact := func(s string, fold bool) *matcherv3.StringMatcher {
		return &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: s}, IgnoreCase: fold}
	}
	tests := []struct {
		name string
		m    *matcherv3.StringMatcher
		in   string
		want bool
	}{
		{"exact", exact("origin", false), "origin", true},
		{"exact is whole", exact("origin", false), "origin2", false},
		{"exact is case-sensitive", exact("origin", false), "Origin", false},
		{"ignore_case", exact("origin", true), "Origin", true},
		{"prefix", &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Prefix{Prefix: "access-control-"}}, "access-control-request-method", true},
		{"prefix miss", &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Prefix{Prefix: "access-control-"}}, "cookie", false},
		{"suffix", &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Suffix{Suffix: "-method"}}, "access-control-request-method", true},
		{"contains", &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Contains{Contains: "request"}}, "access-control-request-headers", true},
		{"regex is a full match", &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_SafeRegex{SafeRegex: &matcherv3.RegexMatcher{Regex: "orig"}}}, "origin", false},
		{"regex", &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_SafeRegex{SafeRegex: &matcherv3.RegexMatcher{Regex: "orig.*"}}}, "origin", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := stringMatch(tc.m, tc.in)
			if err != nil || got != tc.want {
				t.Errorf("stringMatch(%v, %q) = %v, %v; want %v", tc.m, tc.in, got, err, tc.want)
			}
		})
	}
}

func TestRouteMatchesPath(t *testing.T) {
	prefix := func(p string) *routev3.RouteMatch {
		return &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: p}}
	}
	tests := []struct {
		name      string
		m         *routev3.RouteMatch
		path      string
		hit, know bool
	}{
		{"prefix", prefix("/api/v1/"), "/api/v1/x", true, true},
		{"prefix miss", prefix("/api/v1/"), "/api/v1", false, true},
		{"root prefix", prefix("/"), "/anything", true, true},
		{"exact path", &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Path{Path: "/api/v1"}}, "/api/v1", true, true},
		{"exact path miss", &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Path{Path: "/api/v1"}}, "/api/v1/", false, true},
		{"separated prefix", &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_PathSeparatedPrefix{PathSeparatedPrefix: "/api"}}, "/api/x", true, true},
		{"separated prefix is not a string prefix", &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_PathSeparatedPrefix{PathSeparatedPrefix: "/api"}}, "/apix", false, true},
		{"header matchers unknown", &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/"}, Headers: []*routev3.HeaderMatcher{{Name: "x"}}}, "/", false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hit, known := routeMatchesPath(tc.m, tc.path)
			if hit != tc.hit || known != tc.know {
				t.Errorf("routeMatchesPath(%v, %q) = %v, %v; want %v, %v", tc.m, tc.path, hit, known, tc.hit, tc.know)
			}
		})
	}
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
