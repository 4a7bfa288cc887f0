package check

import (
	"sync/atomic"

	"github.com/cors-authz/cors-authz/pkg/envoyauth"
	"github.com/cors-authz/cors-authz/pkg/policy"
)

// Decision metadata (envoyauth.Metadata) depends on the class, the kind,
// the reason and the snapshot: each class keeps the metadata it has
// answered with, built on first use and shared by every response of that
// (kind, reason) from then on, so building a response never builds its
// metadata again. The set is small (a class meets a few kinds and
// reasons), and a copy-on-write list keeps reads lock-free.
type metadataCache struct {
	list atomic.Pointer[[]metadataEntry]
}

type metadataEntry struct {
	kind   policy.Kind
	reason policy.Reason
	md     *envoyauth.DecisionMetadata
}

// get returns the metadata of (kind, reason) for class cs of snap.
func (mc *metadataCache) get(snap *snapshot, cs *classState, kind policy.Kind, reason policy.Reason) *envoyauth.DecisionMetadata {
	for {
		cur := mc.list.Load()
		if cur != nil {
			for _, e := range *cur {
				if e.kind == kind && e.reason == reason {
					return e.md
				}
			}
		}
		d := envoyauth.Decision{Class: cs.label, Kind: kind, Reason: reason, Generation: snap.Generation}
		if snap.Generation > 0 {
			// Generation 0 is the built-in empty policy in force before
			// the first SetPolicy: no file, no sha256.
			d.SHA256 = snap.sha256()
		}
		md := envoyauth.NewDecisionMetadata(d)
		var next []metadataEntry
		if cur != nil {
			next = append(next, *cur...)
		}
		next = append(next, metadataEntry{kind, reason, md})
		if mc.list.CompareAndSwap(cur, &next) {
			return md
		}
		// Another request published first; look again.
	}
}
