package envoymodel

import (
	"strings"
)

// EscapedSlashesAction is the HCM's path_with_escaped_slashes_action.
type EscapedSlashesAction uint8

const (
	// KeepUnchanged leaves %2F and %5C in the path (Envoy's default).
	KeepUnchanged EscapedSlashesAction = iota
	// RejectRequest answers 400 to a path containing %2F or %5C.
	RejectRequest
	// UnescapeAndRedirect answers 307 to the unescaped, normalised path.
	UnescapeAndRedirect
	// UnescapeAndForward unescapes %2F to / and %5C to \ and goes on.
	UnescapeAndForward
)

// PathOptions is the HCM's path handling, applied before route matching,
// before the ext_authz filter and before the request is forwarded.
type PathOptions struct {
	NormalizePath  bool // normalize_path
	MergeSlashes   bool // merge_slashes
	EscapedSlashes EscapedSlashesAction
}

// DefaultPathOptions are the settings a hardened edge uses (and
// deploy/envoy.yaml ships): normalise, merge slashes, keep escaped slashes.
func DefaultPathOptions() PathOptions {
	return PathOptions{NormalizePath: true, MergeSlashes: true}
}

// pathAction is what the HCM does with a request after path handling.
type pathAction uint8

const (
	pathContinue pathAction = iota
	pathReject              // 400
	pathRedirect            // 307 to the new path
)

// normalizePath applies o to an HTTP/1 request target (path and query) the
// way ConnectionManagerUtility::maybeNormalizePath does: escaped slashes
// first, then RFC 3986 normalisation of the path (the query is kept as is),
// then slash merging.
func (o PathOptions) normalizePath(target string) (string, pathAction) {
	path, query := target, ""
	if i := strings.IndexByte(target, '?'); i >= 0 {
		path, query = target[:i], target[i:]
	}
	action := pathContinue
	if o.EscapedSlashes != KeepUnchanged {
		unescaped, found := unescapeSlashes(path)
		if found {
			switch o.EscapedSlashes {
			case RejectRequest:
				return target, pathReject
			case UnescapeAndRedirect:
				action = pathRedirect
			}
			path = unescaped
		}
	}
	if o.NormalizePath {
		canon, ok := canonicalPath(path)
		if !ok {
			return target, pathReject
		}
		path = canon
	}
	if o.MergeSlashes {
		path = mergeSlashes(path)
	}
	return path + query, action
}

// unescapeSlashes replaces %2F/%2f with / and %5C/%5c with \.
func unescapeSlashes(path string) (string, bool) {
	if !strings.Contains(path, "%") {
		return path, false
	}
	var b strings.Builder
	found := false
	for i := 0; i < len(path); i++ {
		if path[i] == '%' && i+2 < len(path) {
			switch strings.ToUpper(path[i+1 : i+3]) {
			case "2F":
				b.WriteByte('/')
				i += 2
				found = true
				continue
			case "5C":
				b.WriteByte('\\')
				i += 2
				found = true
				continue
			}
		}
		b.WriteByte(path[i])
	}
	return b.String(), found
}

// mergeSlashes collapses runs of '/' into one.
func mergeSlashes(path string) string {
	if !strings.Contains(path, "//") {
		return path
	}
	var b strings.Builder
	for i := 0; i < len(path); i++ {
		if path[i] == '/' && i > 0 && path[i-1] == '/' {
			continue
		}
		b.WriteByte(path[i])
	}
	return b.String()
}

// canonicalPath normalises an absolute path like Chromium's URL path
// canonicaliser, which Envoy's normalize_path uses (PathUtil::canonicalPath):
// backslashes become slashes; percent-encoded unreserved characters
// (ALPHA, DIGIT, "-", ".", "_", "~") are decoded and other escapes get
// upper-case hex; characters not allowed in a path are percent-encoded;
// "." and ".." segments (also spelled %2e) are resolved, never climbing
// above the root. A path not starting with '/' is refused.
func canonicalPath(path string) (string, bool) {
	if path == "" || path[0] != '/' {
		return "", false
	}
	// First pass: per-byte canonicalisation into segments.
	var segs []string
	var cur strings.Builder
	flush := func() {
		segs = append(segs, cur.String())
		cur.Reset()
	}
	for i := 1; i < len(path); i++ {
		c := path[i]
		switch {
		case c == '/' || c == '\\':
			flush()
		case c == '%' && i+2 < len(path) && isHex(path[i+1]) && isHex(path[i+2]):
			d := unhex(path[i+1])<<4 | unhex(path[i+2])
			if isUnreserved(d) {
				cur.WriteByte(d)
			} else {
				cur.WriteByte('%')
				cur.WriteByte(upperHex(d >> 4))
				cur.WriteByte(upperHex(d & 15))
			}
			i += 2
		case mustEscapeInPath(c):
			cur.WriteByte('%')
			cur.WriteByte(upperHex(c >> 4))
			cur.WriteByte(upperHex(c & 15))
		default:
			cur.WriteByte(c)
		}
	}
	flush()
	// Second pass: dot segments (RFC 3986 §5.2.4). Escapes of '.' were
	// decoded above, so ".%2e" is already "..".
	out := make([]string, 0, len(segs))
	for i, s := range segs {
		last := i == len(segs)-1
		switch s {
		case ".":
			if last {
				out = append(out, "")
			}
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
			if last {
				out = append(out, "")
			}
		default:
			out = append(out, s)
		}
	}
	return "/" + strings.Join(out, "/"), true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

func upperHex(n byte) byte { return "0123456789ABCDEF"[n] }

// isUnreserved reports RFC 3986 §2.3 unreserved characters.
func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// mustEscapeInPath reports bytes Chromium percent-encodes in a path:
// controls, space, non-ASCII and a few delimiters.
func mustEscapeInPath(c byte) bool {
	if c <= 0x20 || c >= 0x7f {
		return true
	}
	switch c {
	case '"', '<', '>', '`', '{', '}':
		return true
	}
	return false
}
