// Package atomicfile replaces a file the way operators, config management
// and Kubernetes do: write a temporary file in the same directory, then
// rename it over the target, so a reader (cors-authz's policy watcher) sees
// either the old or the new content, never a partial file. Tests, the
// benchmark runner and the e2e harness use it to change policies live.
package atomicfile

import (
	"os"
	"path/filepath"
)

// Write replaces path's contents with data atomically. On failure the
// temporary file is removed and path is left as it was.
func Write(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".policy-*.tmp")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return nil
}
