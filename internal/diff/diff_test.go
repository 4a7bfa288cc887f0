package diff

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/cors-authz/cors-authz/pkg/policy"
)

func parse(t *testing.T, name, yaml string) *policy.Policy {
	t.Helper()
	p, _, err := policy.Parse(name, []byte(yaml))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return p
}

// key is a compact, comparable form of a change.
func key(ch Change) string {
	what := ch.Value
	if ch.Op != Added && ch.Op != Removed || ch.Field == FieldClass {
		what = ch.Old + ">" + ch.New
	}
	return fmt.Sprintf("%s %s %s %s %s", ch.Effect, ch.Class, ch.Field, ch.Op, what)
}

// api is a one-class policy (plus a catch-all internal class) whose
// public-api class carries the given extra lines.
func api(lines string) string {
	return "version: 1\nself_origins: [https://app.example.com]\nclasses:\n" +
		"  - name: public-api\n    match: {path_prefixes: [/api/]}\n" + indent(lines) +
		"  - name: internal\n    match: {path_prefixes: [/]}\n"
}

func indent(lines string) string {
	var b strings.Builder
	for l := range strings.Lines(lines) {
		b.WriteString("    " + l)
	}
	return b.String()
}

func TestDocuments(t *testing.T) {
	const base = "allow_origins: [https://a.example]\n"
	long := "x-" + strings.Repeat("a", 200) // longer than headers.MaxNameLen
	tests := []struct {
		name     string
		old, new string
		want     []string // every change, by key
	}{
		{"identical", api(base), api(base), nil},
		{"formatting and spelling only",
			api(base + "allow_methods: [PUT]\nmax_age: 600\n"),
			api("allow_origins: [\"HTTPS://A.example:443\"]\nmax_age: 10m\nallow_methods:\n  - PUT\n  - PUT\n"), nil},

		// allow_origins
		{"origin added", api(base), api("allow_origins: [https://a.example, https://b.example]\n"),
			[]string{"widens public-api allow_origins added https://b.example"}},
		{"origin removed", api("allow_origins: [https://a.example, https://b.example]\n"), api(base),
			[]string{"narrows public-api allow_origins removed https://b.example"}},
		{"exact replaced by a wildcard that covers it",
			api("allow_origins: [https://app.a.example]\n"), api("allow_origins: [\"https://*.a.example\"]\n"),
			[]string{"widens public-api allow_origins added https://*.a.example", "neutral public-api allow_origins removed https://app.a.example"}},
		{"wildcard narrowed to a deeper domain",
			api("allow_origins: [\"https://*.a.example\"]\n"), api("allow_origins: [\"https://*.eu.a.example\"]\n"),
			[]string{"neutral public-api allow_origins added https://*.eu.a.example", "narrows public-api allow_origins removed https://*.a.example"}},
		{"wildcard does not cover its apex",
			api("allow_origins: [\"https://*.a.example\"]\n"), api("allow_origins: [\"https://*.a.example\", https://a.example]\n"),
			[]string{"widens public-api allow_origins added https://a.example"}},
		{"scheme and port are part of the origin",
			api("allow_origins: [\"https://*.a.example\"]\n"), api("allow_origins: [\"https://*.a.example\", \"https://x.a.example:8443\", \"http://x.a.example\"]\n"),
			[]string{"widens public-api allow_origins added https://x.a.example:8443", "widens public-api allow_origins added http://x.a.example"}},
		{"origin entry covered by an existing wildcard",
			api("allow_origins: [\"https://*.a.example\"]\n"), api("allow_origins: [\"https://*.a.example\", https://x.a.example]\n"),
			[]string{"neutral public-api allow_origins added https://x.a.example"}},

		// methods, headers
		{"methods", api(base + "allow_methods: [PUT, DELETE]\n"), api(base + "allow_methods: [PUT, PATCH, GET]\n"),
			[]string{"widens public-api allow_methods added PATCH", "neutral public-api allow_methods added GET", "narrows public-api allow_methods removed DELETE"}},
		{"methods are case-sensitive", api(base + "allow_methods: [PURGE]\n"), api(base + "allow_methods: [purge]\n"),
			[]string{"widens public-api allow_methods added purge", "narrows public-api allow_methods removed PURGE"}},
		{"request headers compare case-insensitively",
			api(base + "allow_headers: [Content-Type, X-Old]\n"), api(base + "allow_headers: [content-type, X-New]\n"),
			[]string{"widens public-api allow_headers added x-new", "narrows public-api allow_headers removed x-old"}},
		{"request headers star",
			api(base + "allow_headers: [X-A]\n"), api(base + "allow_headers: [\"*\"]\n"),
			[]string{"widens public-api allow_headers added *", "neutral public-api allow_headers removed x-a"}},
		{"star does not cover Authorization",
			api(base + "allow_headers: [\"*\"]\n"), api(base + "allow_headers: [\"*\", X-B, Authorization]\n"),
			[]string{"neutral public-api allow_headers added x-b", "widens public-api allow_headers added authorization"}},
		{"star removed",
			api(base + "allow_headers: [\"*\"]\n"), api(base + "allow_headers: [X-B]\n"),
			[]string{"neutral public-api allow_headers added x-b", "narrows public-api allow_headers removed *"}},
		// Drift: the diff's copy of the header rules ignored the length
		// bound of the enforcement path and called these widens/narrows.
		{"request header too long to be allowed added", api(base), api(base + "allow_headers: [" + long + "]\n"),
			[]string{"neutral public-api allow_headers added " + long}},
		{"request header too long to be allowed removed", api(base + "allow_headers: [X-A, " + long + "]\n"), api(base + "allow_headers: [X-A]\n"),
			[]string{"neutral public-api allow_headers removed " + long}},
		{"request header too long: star still allows it", api(base + "allow_headers: [\"*\"]\n"), api(base + "allow_headers: [\"*\", " + long + "]\n"),
			[]string{"neutral public-api allow_headers added " + long}},
		{"expose headers",
			api(base + "expose_headers: [X-Request-Id]\n"), api(base + "expose_headers: [X-Trace, \"*\"]\n"),
			[]string{"widens public-api expose_headers added x-trace", "widens public-api expose_headers added *", "neutral public-api expose_headers removed x-request-id"}},

		// flags and scalars
		{"credentials on", api(base), api(base + "allow_credentials: true\n"),
			[]string{"widens public-api allow_credentials changed false>true"}},
		{"credentials off", api(base + "allow_credentials: true\n"), api(base),
			[]string{"narrows public-api allow_credentials changed true>false"}},
		{"private network on", api(base), api(base + "allow_private_network: true\n"),
			[]string{"widens public-api allow_private_network changed false>true"}},
		{"insecure origins allowed", api(base), api(base + "dangerously_allow_insecure_origins: true\n"),
			[]string{"widens public-api dangerously_allow_insecure_origins changed false>true"}},
		{"max_age", api(base + "max_age: 10m\n"), api(base + "max_age: 0\n"),
			[]string{"neutral public-api max_age changed 600s>0s"}},
		{"max_age removed", api(base + "max_age: 10m\n"), api(base),
			[]string{"neutral public-api max_age changed 600s>none"}},
		{"deny_action reject to omit", api(base + "deny_action: reject\n"), api(base),
			[]string{"widens public-api deny_action changed reject>omit"}},
		{"deny_action omit to reject", api(base), api(base + "deny_action: reject\n"),
			[]string{"narrows public-api deny_action changed omit>reject"}},
		{"deny_action omit to self_origin", api(base), api(base + "deny_action: self_origin\n"),
			[]string{"neutral public-api deny_action changed omit>self_origin"}},

		// self_origins
		{"self origin added", api(base),
			strings.Replace(api(base), "[https://app.example.com]", "[https://app.example.com, https://admin.example.com]", 1),
			[]string{"widens  self_origins added https://admin.example.com"}},
		{"self origin removed", api(base), strings.Replace(api(base), "self_origins: [https://app.example.com]\n", "", 1),
			[]string{"narrows  self_origins removed https://app.example.com"}},
		{"self origin removed that a class allows", api("allow_origins: [\"https://*.example.com\"]\n"),
			strings.Replace(api("allow_origins: [\"https://*.example.com\"]\n"), "self_origins: [https://app.example.com]\n", "", 1),
			[]string{"widens  self_origins removed https://app.example.com"}},

		// match of a class
		{"match widened", api(base), strings.Replace(api(base), "path_prefixes: [/api/]", "path_prefixes: [/api/, /v2/]", 1),
			[]string{"widens public-api match changed path_prefixes [/api/]>path_prefixes [/api/ /v2/]",
				"widens public-api routing rerouted internal>public-api"}},
		{"match narrowed by a host", api(base), strings.Replace(api(base), "{path_prefixes: [/api/]}", "{hosts: [api.example.com], path_prefixes: [/api/]}", 1),
			[]string{"narrows public-api match changed path_prefixes [/api/]>hosts [api.example.com] path_prefixes [/api/]",
				"narrows internal routing rerouted public-api>internal"}},
		{"match with the same requests", api(base), strings.Replace(api(base), "{path_prefixes: [/api/]}", "{path_prefixes: [/api/], paths: [/api/x]}", 1),
			[]string{"neutral public-api match changed path_prefixes [/api/]>path_prefixes [/api/] paths [/api/x]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Policies(parse(t, "old.yaml", tt.old), parse(t, "new.yaml", tt.new))
			checkReport(t, r, tt.want)
		})
	}
}

func checkReport(t *testing.T, r *Report, want []string) {
	t.Helper()
	var got []string
	for _, ch := range r.Changes {
		got = append(got, key(ch))
	}
	if !slices.Equal(got, want) {
		t.Errorf("changes:\n  got  %q\n  want %q\n%s", got, want, r.Text())
	}
	widens := slices.ContainsFunc(want, func(s string) bool { return strings.HasPrefix(s, "widens ") })
	if r.Widens != widens || r.Changed() != (len(want) > 0) || r.Summary.Changes != len(want) {
		t.Errorf("Widens=%v Changed=%v Summary=%+v, want widens %v and %d changes", r.Widens, r.Changed(), r.Summary, widens, len(want))
	}
}

// Classes added, removed, renamed and moved, and the requests that change
// class because the first matching class wins.
func TestClassesAndRouting(t *testing.T) {
	const (
		public   = "  - name: public\n    match: {path_prefixes: [/api/]}\n    allow_origins: [https://a.example]\n"
		public2  = "  - name: public2\n    match: {path_prefixes: [/api/]}\n    allow_origins: [https://a.example]\n"
		partners = "  - name: partners\n    match: {path_prefixes: [/api/partners/]}\n    allow_origins: [https://a.example, https://b.example]\n    allow_credentials: true\n"
		uploads  = "  - name: uploads\n    match: {path_prefixes: [/upload/]}\n    allow_origins: [https://a.example]\n"
		locked   = "  - name: locked\n    match: {path_prefixes: [/api/partners/admin/]}\n"
		rejectA  = "  - name: strict\n    match: {hosts: [admin.example.com]}\n    allow_origins: [https://a.example]\n    deny_action: reject\n"
		internal = "  - name: internal\n    match: {path_prefixes: [/]}\n"
	)
	doc := func(classes ...string) string { return "version: 1\nclasses:\n" + strings.Join(classes, "") }
	tests := []struct {
		name     string
		old, new string
		want     []string
	}{
		{"external class added", doc(public, internal), doc(public, uploads, internal),
			[]string{"widens uploads class added >#2", "widens uploads routing rerouted internal>uploads"}},
		{"internal class added before a permissive one takes its requests",
			doc(public, internal), doc(locked, public, internal),
			[]string{"neutral locked class added >#1", "narrows locked routing rerouted public>locked"}},
		{"external class removed: its requests fall to the catch-all",
			doc(public, internal), doc(internal),
			[]string{"narrows public class removed #1>", "narrows internal routing rerouted public>internal"}},
		{"class removed: its requests fall to a more permissive class",
			doc(locked, partners, internal), doc(partners, internal),
			[]string{"neutral locked class removed #1>", "widens partners routing rerouted locked>partners"}},
		{"class renamed", doc(public, internal), doc(public2, internal),
			[]string{"narrows public class removed #1>", "neutral public2 class added >#1"}},
		{"reorder: a broad permissive class now shadows a narrower one",
			doc(locked, partners, internal), doc(partners, locked, internal),
			[]string{"neutral partners order moved #2>#1", "widens partners routing rerouted locked>partners"}},
		{"reorder of classes that never overlap",
			doc(public, uploads, internal), doc(uploads, public, internal),
			[]string{"neutral uploads order moved #2>#1"}},
		{"reorder: the catch-all first shadows everything",
			doc(public, internal), doc(internal, public),
			[]string{"neutral internal order moved #2>#1", "narrows internal routing rerouted public>internal"}},
		{"match narrowed: requests fall to a later, more permissive class",
			doc(locked, partners, internal), doc(strings.Replace(locked, "/api/partners/admin/", "/api/partners/admin/x/", 1), partners, internal),
			[]string{"neutral locked match changed path_prefixes [/api/partners/admin/]>path_prefixes [/api/partners/admin/x/]", "widens partners routing rerouted locked>partners"}},
		{"match widened: an internal class takes requests from an external one",
			doc(locked, public, internal), doc(strings.Replace(locked, "/api/partners/admin/", "/api/", 1), public, internal),
			[]string{"neutral locked match changed path_prefixes [/api/partners/admin/]>path_prefixes [/api/]", "narrows locked routing rerouted public>locked"}},
		{"reject class removed with no catch-all: its requests get the forwarding default deny",
			doc(rejectA, public), doc(public),
			[]string{"narrows strict class removed #1>", "widens public routing rerouted strict>public", "widens default-deny routing rerouted strict>default-deny"}},
		{"reorder: a class matching a host and one matching a path overlap",
			doc(rejectA, public), doc(public, rejectA),
			[]string{"neutral public order moved #2>#1", "widens public routing rerouted strict>public"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Policies(parse(t, "old.yaml", tt.old), parse(t, "new.yaml", tt.new))
			checkReport(t, r, tt.want)
		})
	}
}

func TestReportJSONAndText(t *testing.T) {
	old := parse(t, "old.yaml", api("allow_origins: [https://a.example]\n"))
	new := parse(t, "new.yaml", api("allow_origins: [https://b.example]\n"))
	r := Policies(old, new)
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !back.Widens || back.Summary != (Summary{Changes: 2, Widens: 1, Narrows: 1}) || back.Old.Source != "old.yaml" ||
		back.New.SHA256 != new.SHA256() || len(back.Changes) != 2 || back.Changes[0].Effect != Widens {
		t.Errorf("JSON round trip: %s", b)
	}
	text := r.Text()
	for _, want := range []string{
		"--- old.yaml  sha256 " + old.SHA256()[:12] + "  2 class(es)\n",
		"\nclass public-api\n  + WIDENS   allow_origins: added https://b.example\n",
		"  - narrows  allow_origins: removed https://a.example\n",
		"2 change(s): 1 widen access, 1 narrow it, 0 neutral\nACCESS WIDENS",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}

	// No changes: JSON has an empty list, not null; text says why.
	same := Policies(old, parse(t, "same.yaml", "# a comment\n"+api("allow_origins: [https://a.example]\n")))
	if b, _ := json.Marshal(same); !strings.Contains(string(b), `"changes":[]`) {
		t.Errorf("no changes: %s", b)
	}
	if text := same.Text(); !strings.Contains(text, "differ only in formatting") || strings.Contains(text, "WIDENS") {
		t.Errorf("no changes:\n%s", text)
	}
}

// bigDocs returns a policy with n exact origins in one external class, and
// a version where the first removed of them are gone and a wildcard covers
// them all.
func bigDocs(n, removed int) (old, new *policy.Document) {
	origins := make([]string, n)
	for i := range origins {
		origins[i] = fmt.Sprintf("https://h%d.tenant.example.com", i)
	}
	class := func(origins []string) policy.ClassSpec {
		return policy.ClassSpec{Name: "public", Match: policy.MatchSpec{PathPrefixes: []string{"/api/"}},
			AllowOrigins: origins, DenyAction: policy.DenyOmit}
	}
	internal := policy.ClassSpec{Name: "internal", Match: policy.MatchSpec{PathPrefixes: []string{"/"}}, DenyAction: policy.DenyOmit}
	old = &policy.Document{Version: 1, Classes: []policy.ClassSpec{class(origins), internal}}
	newOrigins := append([]string{"https://*.tenant.example.com"}, origins[removed:]...)
	new = &policy.Document{Version: 1, Classes: []policy.ClassSpec{class(newOrigins), internal}}
	return old, new
}

// Large allowlists compare in linear time: a quadratic comparison of
// 50,000 entries would not finish within the test timeout.
func TestLargeAllowlists(t *testing.T) {
	old, new := bigDocs(50_000, 1000)
	r := Documents(old, new)
	if r.Summary != (Summary{Changes: 1001, Widens: 1, Neutral: 1000}) {
		t.Fatalf("summary %+v", r.Summary)
	}
	w := r.Changes[0]
	if w.Value != "https://*.tenant.example.com" || w.Effect != Widens ||
		!strings.Contains(w.Note, "including https://h0.tenant.example.com, https://h1.tenant.example.com, https://h2.tenant.example.com and more") {
		t.Errorf("wildcard change: %+v", w)
	}
	if ch := r.Changes[1]; ch.Op != Removed || ch.Effect != Neutral || ch.Note != "still allowed by https://*.tenant.example.com" {
		t.Errorf("removal: %+v", ch)
	}
}

func BenchmarkDocuments100k(b *testing.B) {
	old, new := bigDocs(100_000, 1000)
	b.ReportAllocs()
	for b.Loop() {
		Documents(old, new)
	}
}
