package diff

import (
	"strings"

	"github.com/cors-authz/cors-authz/internal/origin"
)

// entry is one allowlist entry as written in the document, with its
// parsed pattern. Entries of a validated policy are already canonical;
// one that does not parse (a hand-built Document) is compared as an
// opaque string.
type entry struct {
	raw string
	key string // the canonical spelling, or raw when !ok
	pat origin.Pattern
	ok  bool
}

func parseOrigins(list []string) []entry {
	out := make([]entry, 0, len(list))
	for _, s := range list {
		e := entry{raw: s, key: s}
		if p, notes, err := origin.ParsePattern(s); err == nil {
			e.pat, e.ok = p, true
			if len(notes) > 0 { // ParsePattern notes every change it makes
				e.key = p.String()
			}
		}
		out = append(out, e)
	}
	return out
}

// originIndex answers "which entry covers this one?" with the allowlist
// code the enforcement path uses (origin.Set), plus the opaque entries.
type originIndex struct {
	set    origin.Set
	opaque map[string]bool
}

func newOriginIndex(list []entry) *originIndex {
	ix := &originIndex{opaque: map[string]bool{}}
	ps := make([]origin.Pattern, 0, len(list))
	for _, e := range list {
		if e.ok {
			ps = append(ps, e.pat)
		} else {
			ix.opaque[e.raw] = true
		}
	}
	ix.set = origin.NewSet(ps)
	return ix
}

// has reports whether e itself is an entry of the index.
func (ix *originIndex) has(e entry) bool {
	by, ok := ix.coveredBy(e)
	return ok && by == e.key
}

// coveredBy returns an entry of the index that allows every origin e
// allows: e itself, or a wildcard.
func (ix *originIndex) coveredBy(e entry) (string, bool) {
	if !e.ok {
		return e.raw, ix.opaque[e.raw]
	}
	return ix.set.Covering(e.key, e.pat)
}

// uncovered returns the entries of list that no entry of by covers, in
// order and without duplicates.
func uncovered(list, by []entry) []string {
	ix := newOriginIndex(by)
	var out []string
	for _, e := range dedupe(list) {
		if _, ok := ix.coveredBy(e); !ok {
			out = append(out, e.raw)
		}
	}
	return out
}

// originChanges reports the entries added to and removed from an
// allowlist. An added entry that the old list already covers (or a
// removed one the new list still covers) is neutral.
func originChanges(class, field string, old, new []string) []Change {
	op, np := dedupe(parseOrigins(old)), dedupe(parseOrigins(new))
	oldIx, newIx := newOriginIndex(op), newOriginIndex(np)

	// For the notes: which old entries each added wildcard covers.
	var addedWild []entry
	for _, e := range np {
		if e.pat.Wildcard && !oldIx.has(e) {
			addedWild = append(addedWild, e)
		}
	}
	includes := map[string][]string{}
	if len(addedWild) > 0 {
		wildIx := newOriginIndex(addedWild)
		for _, e := range op {
			if w, ok := wildIx.coveredBy(e); ok && w != e.key && len(includes[w]) < maxIncluded+1 {
				includes[w] = append(includes[w], e.raw)
			}
		}
	}

	var out []Change
	for _, e := range np {
		if oldIx.has(e) {
			continue
		}
		ch := Change{Class: class, Field: field, Op: Added, Value: e.raw, Effect: Widens}
		if by, ok := oldIx.coveredBy(e); ok {
			ch.Effect, ch.Note = Neutral, "already allowed by "+by
		} else if e.pat.Wildcard {
			ch.Note = "wildcard: every subdomain of " + e.pat.Host
			if was := includes[e.key]; len(was) > maxIncluded {
				ch.Note += ", including " + strings.Join(was[:maxIncluded], ", ") + " and more"
			} else if len(was) > 0 {
				ch.Note += ", including " + strings.Join(was, ", ")
			}
		}
		out = append(out, ch)
	}
	for _, e := range op {
		if newIx.has(e) {
			continue
		}
		ch := Change{Class: class, Field: field, Op: Removed, Value: e.raw, Effect: Narrows}
		if by, ok := newIx.coveredBy(e); ok {
			ch.Effect, ch.Note = Neutral, "still allowed by "+by
		}
		out = append(out, ch)
	}
	return out
}

// maxIncluded bounds the old entries a note lists under a new wildcard.
const maxIncluded = 3

func dedupe(list []entry) []entry {
	seen := make(map[string]bool, len(list))
	out := make([]entry, 0, len(list))
	for _, e := range list {
		if !seen[e.key] {
			seen[e.key] = true
			out = append(out, e)
		}
	}
	return out
}
