package admin_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/cors-authz/cors-authz/internal/admin"
	"github.com/cors-authz/cors-authz/pkg/policy"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func get(t *testing.T, h http.Handler, method, path string) (int, http.Header, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	body, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, rec.Header(), string(body)
}

func TestProbes(t *testing.T) {
	var readyErr error
	h := admin.New(admin.Options{Ready: func() error { return readyErr }})
	tests := []struct {
		name     string
		path     string
		readyErr error
		want     int
		wantBody string
	}{
		{"live", "/healthz", nil, 200, "ok"},
		{"live while not ready", "/healthz", errors.New("shutting down"), 200, "ok"},
		{"ready", "/readyz", nil, 200, "ready"},
		{"not ready", "/readyz", errors.New("no policy loaded"), 503, "not ready: no policy loaded"},
		{"shutting down", "/readyz", errors.New("shutting down"), 503, "not ready: shutting down"},
		{"unknown path", "/nope", nil, 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			readyErr = tt.readyErr
			code, hdr, body := get(t, h, "GET", tt.path)
			if code != tt.want || !strings.Contains(body, tt.wantBody) {
				t.Fatalf("GET %s = %d %q, want %d %q", tt.path, code, body, tt.want, tt.wantBody)
			}
			if code != 404 && hdr.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", hdr.Get("Cache-Control"))
			}
		})
	}
	if code, _, _ := get(t, h, "POST", "/readyz"); code != http.StatusMethodNotAllowed {
		t.Errorf("POST /readyz = %d, want 405 (read-only)", code)
	}
}

func TestMetrics(t *testing.T) {
	reg := admin.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "cors_authz_test_total", Help: "test"})
	reg.MustRegister(c)
	c.Add(3)
	code, hdr, body := get(t, admin.New(admin.Options{Gatherer: reg}), "GET", "/metrics")
	if code != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /metrics = %d %s", code, hdr.Get("Content-Type"))
	}
	for _, want := range []string{"cors_authz_test_total 3", "go_goroutines ", "process_cpu_seconds_total "} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

const testPolicy = `version: 1
self_origins: [https://app.example.com]
classes:
  - name: public
    match: {path_prefixes: [/api/]}
    allow_origins: ["https://partner.example.org"]
  - name: internal
    match: {path_prefixes: [/]}
`

func TestPolicy(t *testing.T) {
	pol, _, err := policy.Parse("/etc/cors-authz/policy.yaml", []byte(testPolicy))
	if err != nil {
		t.Fatal(err)
	}
	loaded := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	failedAt := loaded.Add(time.Minute)
	failure := &policy.ReloadFailure{At: failedAt, Message: "policy refused", Issues: []policy.Issue{{File: "policy.yaml", Line: 7, Column: 5, Msg: `"<script>" is not an origin`}}}
	tests := []struct {
		name      string
		state     policy.Snapshot
		want      int
		wantError bool
	}{
		{"none loaded", policy.Snapshot{}, 503, false},
		{"embedded", policy.Snapshot{Policy: pol, Generation: 1, LoadedAt: loaded}, 200, false},
		{"watched", policy.Snapshot{Policy: pol, Generation: 4, LoadedAt: loaded, Reload: &policy.ReloadStatus{LastSuccess: loaded}}, 200, false},
		{"refused reload", policy.Snapshot{Policy: pol, Generation: 4, LoadedAt: loaded, Reload: &policy.ReloadStatus{LastSuccess: loaded, LastError: failure}}, 200, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := admin.New(admin.Options{Policy: func() policy.Snapshot { return tt.state }})
			code, hdr, body := get(t, h, "GET", "/policy")
			if code != tt.want {
				t.Fatalf("GET /policy = %d, want %d: %s", code, tt.want, body)
			}
			if hdr.Get("Content-Type") != "application/json" {
				t.Errorf("Content-Type = %q", hdr.Get("Content-Type"))
			}
			if strings.Contains(body, "<script>") {
				t.Error("body carries an unescaped <script>")
			}
			if code != 200 {
				return
			}
			var v struct {
				Generation      uint64                `json:"generation"`
				SHA256          string                `json:"sha256"`
				Source          string                `json:"source"`
				LoadedAt        time.Time             `json:"loaded_at"`
				LastReloadError *policy.ReloadFailure `json:"last_reload_error"`
				Policy          policy.Document       `json:"policy"`
			}
			if err := json.Unmarshal([]byte(body), &v); err != nil {
				t.Fatal(err)
			}
			if v.Generation != tt.state.Generation || v.SHA256 != pol.SHA256() || v.Source != pol.Source() || !v.LoadedAt.Equal(loaded) {
				t.Errorf("header fields = %+v", v)
			}
			if len(v.Policy.Classes) != 2 || v.Policy.Classes[0].Name != "public" || v.Policy.Classes[0].AllowOrigins[0] != "https://partner.example.org" {
				t.Errorf("policy document = %+v", v.Policy)
			}
			if (v.LastReloadError != nil) != tt.wantError {
				t.Fatalf("last_reload_error = %+v, want present=%v", v.LastReloadError, tt.wantError)
			}
			if tt.wantError && (v.LastReloadError.Issues[0].Line != 7 || !v.LastReloadError.At.Equal(failedAt)) {
				t.Errorf("last_reload_error = %+v", v.LastReloadError)
			}
		})
	}
}

// The JSON fields of /policy and /shadow are a public interface: exactly
// these, at every level the admin endpoints define.
func TestPolicyAndShadowJSONFields(t *testing.T) {
	policyFields := []string{"generation", "last_reload_error", "last_reload_success", "loaded_at", "policy", "sha256", "source"}
	failureFields := []string{"at", "issues", "message"}
	tests := []struct {
		path   string
		shadow bool
		code   int
		want   map[string][]string // JSON path → its object's field names
	}{
		{"/policy", false, 200, map[string][]string{"": policyFields, "last_reload_error": failureFields}},
		{"/shadow", true, 200, map[string][]string{
			"":                 append([]string{"checks", "disagreements"}, policyFields...),
			"disagreements[0]": {"class", "count", "kind"},
		}},
		{"/shadow", false, 404, map[string][]string{"": {"error", "last_reload_error"}, "last_reload_error": failureFields}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s shadow=%v", tt.path, tt.shadow), func(t *testing.T) {
			h := fieldsHandler(t, tt.shadow)
			code, _, body := get(t, h, "GET", tt.path)
			if code != tt.code {
				t.Fatalf("GET %s = %d, want %d: %s", tt.path, code, tt.code, body)
			}
			var doc any
			if err := json.Unmarshal([]byte(body), &doc); err != nil {
				t.Fatal(err)
			}
			for path, want := range tt.want {
				obj, ok := jsonAt(doc, path).(map[string]any)
				if !ok {
					t.Errorf("%s: %q is not an object", tt.path, path)
					continue
				}
				got := slices.Sorted(maps.Keys(obj))
				slices.Sort(want)
				if !slices.Equal(got, want) {
					t.Errorf("%s: fields of %q = %v, want %v", tt.path, path, got, want)
				}
			}
		})
	}
}

// fieldsHandler serves testPolicy with every optional field of /policy
// set (a refused reload after a success), and with shadow a shadow policy
// with one count; without, a shadow file that was refused.
func fieldsHandler(t *testing.T, shadow bool) http.Handler {
	t.Helper()
	pol, _, err := policy.Parse("policy.yaml", []byte(testPolicy))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	failure := policy.NewReloadFailure(at, errors.New("policy refused"), []policy.Issue{{File: "policy.yaml", Line: 7, Column: 5, Msg: "not an origin"}})
	snap := policy.Snapshot{Policy: pol, Generation: 2, LoadedAt: at, Reload: &policy.ReloadStatus{Path: "policy.yaml", LastSuccess: at, LastAttempt: at, LastError: failure}}
	opts := admin.Options{Policy: func() policy.Snapshot { return snap }}
	if shadow {
		opts.Shadow = func() policy.Shadow {
			return policy.Shadow{Snapshot: snap, Checks: 3, Disagreements: []policy.Disagreement{{Class: "public", Kind: policy.WouldDeny, Count: 1}}}
		}
	} else {
		opts.Shadow = func() policy.Shadow {
			return policy.Shadow{Snapshot: policy.Snapshot{Reload: &policy.ReloadStatus{Path: "shadow.yaml", LastAttempt: at, LastError: failure}}}
		}
	}
	return admin.New(opts)
}

// jsonAt follows a path like "a.b[0]" into a decoded JSON document.
func jsonAt(doc any, path string) any {
	if path == "" {
		return doc
	}
	for part := range strings.SplitSeq(path, ".") {
		name, idx, indexed := strings.Cut(strings.TrimSuffix(part, "]"), "[")
		obj, _ := doc.(map[string]any)
		doc = obj[name]
		if indexed {
			arr, _ := doc.([]any)
			i, err := strconv.Atoi(idx)
			if err != nil || i >= len(arr) {
				return nil
			}
			doc = arr[i]
		}
	}
	return doc
}
