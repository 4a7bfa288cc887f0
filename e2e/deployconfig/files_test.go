package deployconfig

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	"github.com/cors-authz/cors-authz/pkg/policy"
)

// corsResponseHeaders are every Access-Control-* response header a browser
// acts on (Fetch standard, "HTTP responses" in the CORS protocol, plus
// Private Network Access). Applications behind the proxy must not be able
// to send any of them; only cors-authz may.
var corsResponseHeaders = []string{
	policy.HeaderACAO,
	policy.HeaderACAC,
	policy.HeaderACAM,
	policy.HeaderACAH,
	policy.HeaderACEH,
	policy.HeaderACMA,
	policy.HeaderACAPN,
}

// headersRead are the request headers cors-authz reads from a CheckRequest's
// header map (the pseudo-headers travel in attributes.request.http fields).
var headersRead = []string{
	"origin",
	"access-control-request-method",
	"access-control-request-headers",
	"access-control-request-private-network",
}

var (
	rootOnce sync.Once
	rootDir  string
	rootErr  error
)

// repoRoot is the repository's top directory (two levels above this package).
func repoRoot(t testing.TB) string {
	t.Helper()
	rootOnce.Do(func() {
		dir, err := filepath.Abs(filepath.Join("..", ".."))
		if err != nil {
			rootErr = err
			return
		}
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err != nil {
			rootErr = err
			return
		}
		if !bytes.Contains(data, []byte("module github.com/cors-authz/cors-authz\n")) {
			rootErr = fmt.Errorf("%s is not the cors-authz root module", dir)
			return
		}
		rootDir = dir
	})
	if rootErr != nil {
		t.Fatalf("repository root: %v", rootErr)
	}
	return rootDir
}

// repoFile reads a file given by its slash-separated path from the repository root.
func repoFile(t testing.TB, rel string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// yamlDocuments splits a multi-document YAML stream on "---" lines and drops
// documents that hold only comments or whitespace.
func yamlDocuments(data []byte) [][]byte {
	var docs [][]byte
	var cur bytes.Buffer
	flush := func() {
		if hasContent(cur.Bytes()) {
			docs = append(docs, bytes.Clone(cur.Bytes()))
		}
		cur.Reset()
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "---" || strings.HasPrefix(line, "--- ") {
			flush()
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
	}
	flush()
	return docs
}

func hasContent(doc []byte) bool {
	for line := range strings.SplitSeq(string(doc), "\n") {
		s := strings.TrimSpace(line)
		if s != "" && !strings.HasPrefix(s, "#") {
			return true
		}
	}
	return false
}

// yamlToJSON converts one YAML document to JSON, refusing duplicate keys.
func yamlToJSON(doc []byte) ([]byte, error) {
	return yaml.YAMLToJSONStrict(doc)
}

// decodeStrict decodes JSON into the struct pointed to by into, refusing
// unknown fields (encoding/json with DisallowUnknownFields), then again with
// the Kubernetes decoder's strict mode, which also refuses duplicate fields
// and field names whose case differs from the schema ("Replicas"), which the
// API server's strict field validation rejects but encoding/json accepts.
// Types with their own UnmarshalJSON (Istio specs) are checked separately.
func decodeStrict(data []byte, into any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the object")
	}
	fresh := reflect.New(reflect.TypeOf(into).Elem()).Interface()
	strictErrs, err := sigsjson.UnmarshalStrict(data, fresh)
	if err != nil {
		return err
	}
	return errors.Join(strictErrs...)
}

var (
	policyMu    sync.Mutex
	policyCache = map[string]*policy.Policy{}
)

// parsePolicy parses a policy with policy.Parse, failing the test on errors
// and logging warnings. Results are cached by name.
func parsePolicy(t testing.TB, name string, data []byte) *policy.Policy {
	t.Helper()
	policyMu.Lock()
	defer policyMu.Unlock()
	if p, ok := policyCache[name]; ok {
		return p
	}
	p, warns, err := policy.Parse(name, data)
	if err != nil {
		t.Fatalf("policy.Parse(%s): %v", name, err)
	}
	for _, w := range warns {
		t.Logf("policy %s: warning: %s", name, w)
	}
	policyCache[name] = p
	return p
}

// shippedPolicy is pkg/policy/default.yaml, the policy deploy/envoy.yaml's
// routes are written against.
func shippedPolicy(t testing.TB) *policy.Policy {
	t.Helper()
	return parsePolicy(t, "pkg/policy/default.yaml", repoFile(t, "pkg/policy/default.yaml"))
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(strings.TrimSpace(v), s) {
			return true
		}
	}
	return false
}

func TestYAMLDocuments(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want int
	}{
		{"single", "a: 1\n", 1},
		{"leading separator", "---\na: 1\n", 1},
		{"two", "a: 1\n---\nb: 2\n", 2},
		{"comment-only document dropped", "# header\n---\na: 1\n---\n# trailer\n", 1},
		{"separator with comment", "a: 1\n--- # next\nb: 2\n", 2},
		{"indented dashes are content", "a: |\n  ---\n  x\n", 1},
		{"empty", "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := len(yamlDocuments([]byte(tc.in))); got != tc.want {
				t.Errorf("yamlDocuments(%q) = %d documents, want %d", tc.in, got, tc.want)
			}
		})
	}
}

func TestDecodeStrictRefuses(t *testing.T) {
	type spec struct {
		Replicas int `json:"replicas"`
	}
	type obj struct {
		Kind string `json:"kind"`
		Spec spec   `json:"spec"`
	}
	tests := []struct {
		name    string
		in      string
		wantErr bool
	}{
		{"known fields", `{"kind":"X","spec":{"replicas":2}}`, false},
		{"unknown field", `{"kind":"X","spec":{"replicas":2,"replica":3}}`, true},
		{"miscased field", `{"kind":"X","spec":{"Replicas":2}}`, true},
		{"duplicate field", `{"kind":"X","kind":"Y"}`, true},
		{"trailing object", `{"kind":"X"}{"kind":"Y"}`, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := decodeStrict([]byte(tc.in), &obj{})
			if (err != nil) != tc.wantErr {
				t.Errorf("decodeStrict(%s) error = %v, want error %v", tc.in, err, tc.wantErr)
			}
		})
	}
}
