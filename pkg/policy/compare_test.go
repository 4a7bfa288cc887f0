package policy_test

import (
	"encoding/json"
	"testing"

	"github.com/cors-authz/cors-authz/pkg/policy"
)

const compareEnforced = `version: 1
classes:
  - name: api
    match: {path_prefixes: [/api/]}
    allow_origins: [https://a.example.org, https://b.example.org]
  - name: open
    match: {path_prefixes: [/open/]}
    allow_origins: [https://a.example.org]
  - name: reject
    match: {path_prefixes: [/reject/]}
    allow_origins: [https://a.example.org]
  - name: internal
    match: {path_prefixes: [/]}
`

// compareShadow differs from compareEnforced in what each class grants.
const compareShadow = `version: 1
classes:
  - name: api
    match: {path_prefixes: [/api/]}
    allow_origins: [https://a.example.org, https://c.example.org]
  - name: open
    match: {path_prefixes: [/open/]}
    allow_origins: [https://a.example.org]
    expose_headers: [X-Total]
    max_age: 10m
  - name: reject
    match: {path_prefixes: [/reject/]}
    allow_origins: [https://a.example.org]
    deny_action: reject
  - name: internal-renamed
    match: {path_prefixes: [/]}
`

func TestCompareVerdicts(t *testing.T) {
	enf, sh := mustParse(t, compareEnforced), mustParse(t, compareShadow)
	noOrigin := req("GET", "/api/x", "")
	noOrigin.HasOrigin = false
	tests := []struct {
		name string
		r    policy.Request
		want policy.DisagreementKind
	}{
		{"both allow, same answer", req("GET", "/api/x", "https://a.example.org"), policy.Agree},
		{"shadow drops an origin", req("GET", "/api/x", "https://b.example.org"), policy.WouldDeny},
		{"shadow adds an origin", req("GET", "/api/x", "https://c.example.org"), policy.WouldAllow},
		{"shadow adds an exposed header", req("GET", "/open/x", "https://a.example.org"), policy.HeadersDiffer},
		{"shadow adds max_age to a preflight", preflight("/open/x", "https://a.example.org", "GET", ""), policy.HeadersDiffer},
		{"both deny, shadow answers 403 itself", req("GET", "/reject/x", "https://evil.example"), policy.HeadersDiffer},
		{"both deny a preflight alike", preflight("/reject/x", "https://evil.example", "GET", ""), policy.Agree},
		{"other class, same answer", req("GET", "/x", "https://a.example.org"), policy.Agree},
		{"not CORS", noOrigin, policy.Agree},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ve, vs := enf.Decide(&tt.r), sh.Decide(&tt.r)
			if got := policy.CompareVerdicts(&ve, &vs); got != tt.want {
				t.Errorf("CompareVerdicts = %v, want %v (enforced %+v, shadow %+v)", got, tt.want, ve, vs)
			}
			if got := policy.CompareVerdicts(&ve, &ve); got != policy.Agree {
				t.Errorf("a verdict compared with itself = %v", got)
			}
			// Swapping the roles swaps would_allow and would_deny.
			back := map[policy.DisagreementKind]policy.DisagreementKind{policy.WouldAllow: policy.WouldDeny, policy.WouldDeny: policy.WouldAllow}
			wantBack, ok := back[tt.want]
			if !ok {
				wantBack = tt.want
			}
			if got := policy.CompareVerdicts(&vs, &ve); got != wantBack {
				t.Errorf("swapped = %v, want %v", got, wantBack)
			}
		})
	}
}

// The labels are cors_authz_shadow_disagreements_total's kind values: a
// public interface.
func TestDisagreementKindLabels(t *testing.T) {
	tests := []struct {
		kind  policy.DisagreementKind
		label string
	}{
		{policy.Agree, "none"},
		{policy.WouldAllow, "would_allow"},
		{policy.WouldDeny, "would_deny"},
		{policy.HeadersDiffer, "headers_differ"},
		{policy.HeadersDiffer + 1, "unknown"},
	}
	for _, tt := range tests {
		if got := tt.kind.String(); got != tt.label {
			t.Errorf("%d.String() = %q, want %q", tt.kind, got, tt.label)
		}
		b, err := json.Marshal(tt.kind)
		if err != nil || string(b) != `"`+tt.label+`"` {
			t.Errorf("json.Marshal(%v) = %s, %v", tt.kind, b, err)
		}
		var back policy.DisagreementKind
		err = json.Unmarshal(b, &back)
		if tt.label == "unknown" {
			if err == nil {
				t.Errorf("unmarshalled %s without an error", b)
			}
			continue
		}
		if err != nil || back != tt.kind {
			t.Errorf("json.Unmarshal(%s) = %v, %v", b, back, err)
		}
	}
	want := []policy.DisagreementKind{policy.WouldAllow, policy.WouldDeny, policy.HeadersDiffer}
	got := policy.DisagreementKinds()
	if len(got) != len(want) {
		t.Fatalf("DisagreementKinds() = %v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("DisagreementKinds()[%d] = %v, want %v", i, got[i], want[i])
		}
	}
}
