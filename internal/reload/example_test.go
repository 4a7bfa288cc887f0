package reload_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/cors-authz/cors-authz/internal/reload"
	"github.com/cors-authz/cors-authz/pkg/policy"
)

// printTarget stands in for check.Service.
type printTarget struct{ gen uint64 }

func (t *printTarget) SetPolicy(p *policy.Policy) uint64 {
	t.gen++
	fmt.Printf("generation %d: %d classes\n", t.gen, len(p.Classes()))
	return t.gen
}

// Load refuses an invalid file and keeps what is served; Start would then
// watch the file's directory until Close.
func ExampleWatcher() {
	dir, _ := os.MkdirTemp("", "reload-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "policy.yaml")
	os.WriteFile(path, []byte("version: 1\nclasses:\n  - name: internal\n    match: {path_prefixes: [/]}\n"), 0o644)

	w, _ := reload.New(reload.Options{Path: path, Target: &printTarget{}})
	defer w.Close()
	fmt.Println("first load:", w.Load())

	os.WriteFile(path, []byte("version: 1\nclasses:\n  - name: internal\n    colour: blue\n    match: {path_prefixes: [/]}\n"), 0o644)
	err := w.Load()
	fmt.Println("refused:", err != nil, "issues:", len(w.Status().LastError.Issues), "generation still:", w.Status().Generation)
	// Output:
	// generation 1: 1 classes
	// first load: <nil>
	// refused: true issues: 1 generation still: 1
}
