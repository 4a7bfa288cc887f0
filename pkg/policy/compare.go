package policy

import (
	"fmt"
	"slices"
)

// Comparing two verdicts for the same request: how a candidate (shadow)
// policy's answer differs from the enforced one's. The shadow policy's
// disagreement counts and the admin page's side-by-side answer both use
// CompareVerdicts, so "disagree" means one thing.

// DisagreementKind says how a shadow verdict differs from the enforced
// verdict for the same request. Its String is the kind label of
// cors_authz_shadow_disagreements_total.
type DisagreementKind uint8

const (
	// Agree: the verdicts are the same (String "none").
	Agree DisagreementKind = iota
	// WouldAllow: the enforced policy denies, the shadow would allow.
	WouldAllow
	// WouldDeny: the enforced policy allows, the shadow would deny.
	WouldDeny
	// HeadersDiffer: both allow or both deny, but the answers differ in
	// whether the proxy answers itself, its status, or the headers.
	HeadersDiffer
)

var disagreementNames = [...]string{Agree: "none", WouldAllow: "would_allow", WouldDeny: "would_deny", HeadersDiffer: "headers_differ"}

func (k DisagreementKind) String() string {
	if int(k) < len(disagreementNames) {
		return disagreementNames[k]
	}
	return "unknown"
}

// MarshalText writes the kind's label, so a DisagreementKind is a string
// in JSON.
func (k DisagreementKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText reads a label String returns ("unknown" is refused).
func (k *DisagreementKind) UnmarshalText(b []byte) error {
	if i := slices.Index(disagreementNames[:], string(b)); i >= 0 {
		*k = DisagreementKind(i)
		return nil
	}
	return fmt.Errorf("unknown disagreement kind %q", b)
}

// DisagreementKinds returns the kinds of actual disagreement (every kind
// but Agree), in label order.
func DisagreementKinds() []DisagreementKind {
	return []DisagreementKind{WouldAllow, WouldDeny, HeadersDiffer}
}

// CompareVerdicts says how the shadow verdict sh differs from the enforced
// verdict enf for the same request. Verdicts, not responses, are compared:
// Allowed, Respond, Status and the headers (names, values and modes), which
// is everything a response is built from. The class, the reason and the
// detail are not: two classes granting the same answer agree.
func CompareVerdicts(enf, sh *Verdict) DisagreementKind {
	switch {
	case enf.Allowed && !sh.Allowed:
		return WouldDeny
	case !enf.Allowed && sh.Allowed:
		return WouldAllow
	case enf.Respond != sh.Respond || enf.Status != sh.Status || !slices.Equal(enf.Headers(), sh.Headers()):
		return HeadersDiffer
	}
	return Agree
}
