package diff

import "strings"

// originPattern is a normalised allowlist entry: an exact origin or a
// wildcard "scheme://*.domain[:port]" that matches one or more labels in
// front of domain, never domain itself. Entries come from a validated
// policy, so they are already in canonical form (lower case, no default
// port, punycode).
type originPattern struct {
	raw    string
	scheme string
	host   string // for a wildcard, the domain after "*."
	port   string
	wild   bool
}

func parseOrigin(s string) originPattern {
	p := originPattern{raw: s}
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		p.host = s // not an origin; compared as an opaque string
		return p
	}
	p.scheme = scheme
	if r, ok := strings.CutPrefix(rest, "*."); ok {
		p.wild, rest = true, r
	}
	if strings.HasPrefix(rest, "[") {
		if j := strings.IndexByte(rest, ']'); j >= 0 {
			p.host, p.port = rest[:j+1], strings.TrimPrefix(rest[j+1:], ":")
			return p
		}
	}
	p.host = rest
	if j := strings.LastIndexByte(rest, ':'); j >= 0 {
		p.host, p.port = rest[:j], rest[j+1:]
	}
	return p
}

func parseOrigins(list []string) []originPattern {
	out := make([]originPattern, 0, len(list))
	for _, s := range list {
		out = append(out, parseOrigin(s))
	}
	return out
}

// originIndex answers "which entry covers this origin?" in time linear in
// the number of labels of the origin's host, so that comparing allowlists
// of 100,000 entries stays fast.
type originIndex struct {
	raw  map[string]bool
	wild map[string]string // scheme|port|domain of a wildcard → its entry
}

func wildKey(scheme, port, domain string) string { return scheme + "|" + port + "|" + domain }

func newOriginIndex(list []originPattern) *originIndex {
	ix := &originIndex{raw: make(map[string]bool, len(list)), wild: map[string]string{}}
	for _, p := range list {
		ix.raw[p.raw] = true
		if p.wild && p.scheme != "" {
			ix.wild[wildKey(p.scheme, p.port, p.host)] = p.raw
		}
	}
	return ix
}

// coveredBy returns an entry of the index that covers p: p itself, or a
// wildcard for p's domain (if p is a wildcard) or for a proper suffix of
// p's host.
func (ix *originIndex) coveredBy(p originPattern) (string, bool) {
	if ix.raw[p.raw] {
		return p.raw, true
	}
	if p.scheme == "" || len(ix.wild) == 0 || strings.HasPrefix(p.host, "[") {
		return "", false
	}
	h := p.host
	if p.wild {
		if w, ok := ix.wild[wildKey(p.scheme, p.port, h)]; ok {
			return w, true
		}
	}
	for {
		i := strings.IndexByte(h, '.')
		if i < 0 {
			return "", false
		}
		h = h[i+1:]
		if w, ok := ix.wild[wildKey(p.scheme, p.port, h)]; ok {
			return w, true
		}
	}
}

// uncovered returns the entries of list that no entry of by covers, in
// order and without duplicates.
func uncovered(list, by []originPattern) []string {
	ix := newOriginIndex(by)
	var out []string
	for _, p := range dedupe(list) {
		if _, ok := ix.coveredBy(p); !ok {
			out = append(out, p.raw)
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
	var addedWild []originPattern
	for _, p := range np {
		if p.wild && !oldIx.raw[p.raw] {
			addedWild = append(addedWild, p)
		}
	}
	includes := map[string][]string{}
	if len(addedWild) > 0 {
		wildIx := newOriginIndex(addedWild)
		for _, p := range op {
			if w, ok := wildIx.coveredBy(p); ok && w != p.raw && len(includes[w]) < maxIncluded+1 {
				includes[w] = append(includes[w], p.raw)
			}
		}
	}

	var out []Change
	for _, p := range np {
		if oldIx.raw[p.raw] {
			continue
		}
		ch := Change{Class: class, Field: field, Op: Added, Value: p.raw, Effect: Widens}
		if by, ok := oldIx.coveredBy(p); ok {
			ch.Effect, ch.Note = Neutral, "already allowed by "+by
		} else if p.wild {
			ch.Note = "wildcard: every subdomain of " + p.host
			if was := includes[p.raw]; len(was) > maxIncluded {
				ch.Note += ", including " + strings.Join(was[:maxIncluded], ", ") + " and more"
			} else if len(was) > 0 {
				ch.Note += ", including " + strings.Join(was, ", ")
			}
		}
		out = append(out, ch)
	}
	for _, p := range op {
		if newIx.raw[p.raw] {
			continue
		}
		ch := Change{Class: class, Field: field, Op: Removed, Value: p.raw, Effect: Narrows}
		if by, ok := newIx.coveredBy(p); ok {
			ch.Effect, ch.Note = Neutral, "still allowed by "+by
		}
		out = append(out, ch)
	}
	return out
}

// maxIncluded bounds the old entries a note lists under a new wildcard.
const maxIncluded = 3

func dedupe(list []originPattern) []originPattern {
	seen := make(map[string]bool, len(list))
	out := list[:0:0]
	for _, p := range list {
		if !seen[p.raw] {
			seen[p.raw] = true
			out = append(out, p)
		}
	}
	return out
}
