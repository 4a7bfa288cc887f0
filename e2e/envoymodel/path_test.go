package envoymodel

import "testing"

func TestNormalizePath(t *testing.T) {
	def := DefaultPathOptions()
	tests := []struct {
		name   string
		opts   PathOptions
		in     string
		want   string
		action pathAction
	}{
		{"plain", def, "/api/v1/users", "/api/v1/users", pathContinue},
		{"query kept verbatim", def, "/api/v1/x?a=/../b&c=%2e", "/api/v1/x?a=/../b&c=%2e", pathContinue},
		{"dot segments", def, "/api/v1/./users/../items", "/api/v1/items", pathContinue},
		{"climb out of a class", def, "/api/v1/../../internal/admin", "/internal/admin", pathContinue},
		{"never above root", def, "/../../x", "/x", pathContinue},
		{"trailing dotdot keeps slash", def, "/a/b/..", "/a/", pathContinue},
		{"encoded dots are dots", def, "/api/v1/%2e%2E/%2e./internal", "/internal", pathContinue},
		{"unreserved escapes decoded", def, "/%61pi/v1/%7Eme", "/api/v1/~me", pathContinue},
		{"other escapes upper-cased", def, "/a%2fb%3a", "/a%2Fb%3A", pathContinue},
		{"backslash is a slash", def, "/api\\v1\\x", "/api/v1/x", pathContinue},
		{"space and quotes escaped", def, "/a b\"", "/a%20b%22", pathContinue},
		{"merge slashes", def, "//api///v1//x", "/api/v1/x", pathContinue},
		{"merge after dot removal", def, "/a//../b", "/a/b", pathContinue},
		{"no normalisation", PathOptions{}, "/api/v1/../x//y", "/api/v1/../x//y", pathContinue},
		{"merge only", PathOptions{MergeSlashes: true}, "/api//v1/../x", "/api/v1/../x", pathContinue},
		{"relative path refused", def, "api/v1", "api/v1", pathReject},
		{"escaped slash kept by default", def, "/api%2Fv1/x", "/api%2Fv1/x", pathContinue},
		{"escaped slash rejected", PathOptions{NormalizePath: true, EscapedSlashes: RejectRequest}, "/api%2fv1/x", "/api%2fv1/x", pathReject},
		{"escaped slash unescaped", PathOptions{NormalizePath: true, MergeSlashes: true, EscapedSlashes: UnescapeAndForward}, "/api%2Fv1%5Cx", "/api/v1/x", pathContinue},
		{"escaped slash redirected", PathOptions{NormalizePath: true, EscapedSlashes: UnescapeAndRedirect}, "/api%2Fv1/x", "/api/v1/x", pathRedirect},
		{"no escaped slash no redirect", PathOptions{NormalizePath: true, EscapedSlashes: UnescapeAndRedirect}, "/api/v1/x", "/api/v1/x", pathContinue},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, action := tt.opts.normalizePath(tt.in)
			if action != tt.action {
				t.Fatalf("normalizePath(%q) action = %d, want %d", tt.in, action, tt.action)
			}
			if action != pathReject && got != tt.want {
				t.Errorf("normalizePath(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
