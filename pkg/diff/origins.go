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

// covers reports whether every origin p matches is also matched by q.
func (q originPattern) covers(p originPattern) bool {
	if q.raw == p.raw {
		return true
	}
	if q.scheme != p.scheme || q.port != p.port || q.scheme == "" {
		return false
	}
	if !q.wild {
		return !p.wild && q.host == p.host
	}
	if p.wild && p.host == q.host {
		return true
	}
	return strings.HasSuffix(p.host, "."+q.host)
}

// coveredBy returns the first entry of list that covers p.
func coveredBy(list []originPattern, p originPattern) (string, bool) {
	for _, q := range list {
		if q.raw == p.raw {
			return q.raw, true
		}
	}
	for _, q := range list {
		if q.covers(p) {
			return q.raw, true
		}
	}
	return "", false
}

// uncovered returns the entries of list that no entry of by covers, in
// order and without duplicates.
func uncovered(list, by []originPattern) []string {
	var out []string
	seen := map[string]bool{}
	for _, p := range list {
		if seen[p.raw] {
			continue
		}
		seen[p.raw] = true
		if _, ok := coveredBy(by, p); !ok {
			out = append(out, p.raw)
		}
	}
	return out
}

// originChanges reports the entries added to and removed from an
// allowlist. An added entry that the old list already covers (or a
// removed one the new list still covers) is neutral.
func originChanges(class, field string, old, new []string) []Change {
	op, np := parseOrigins(old), parseOrigins(new)
	var out []Change
	for _, p := range dedupe(np) {
		if containsRaw(op, p.raw) {
			continue
		}
		ch := Change{Class: class, Field: field, Op: Added, Value: p.raw, Effect: Widens}
		if by, ok := coveredBy(op, p); ok {
			ch.Effect, ch.Note = Neutral, "already allowed by "+by
		} else if p.wild {
			ch.Note = "wildcard: every subdomain of " + p.host
			if was := coveredList(p, op); len(was) > 0 {
				ch.Note += ", including " + strings.Join(was, ", ")
			}
		}
		out = append(out, ch)
	}
	for _, p := range dedupe(op) {
		if containsRaw(np, p.raw) {
			continue
		}
		ch := Change{Class: class, Field: field, Op: Removed, Value: p.raw, Effect: Narrows}
		if by, ok := coveredBy(np, p); ok {
			ch.Effect, ch.Note = Neutral, "still allowed by "+by
		}
		out = append(out, ch)
	}
	return out
}

// coveredList returns the entries of list that w covers (other than w).
func coveredList(w originPattern, list []originPattern) []string {
	var out []string
	for _, p := range list {
		if p.raw != w.raw && w.covers(p) {
			out = append(out, p.raw)
		}
	}
	return out
}

func containsRaw(list []originPattern, raw string) bool {
	for _, p := range list {
		if p.raw == raw {
			return true
		}
	}
	return false
}

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
