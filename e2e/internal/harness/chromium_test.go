package harness

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func TestLookProgram(t *testing.T) {
	bin := t.TempDir()
	found := filepath.Join(bin, "found-prog")
	if err := os.WriteFile(found, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin)
	tests := []struct {
		name    string
		env     string // value of $HARNESS_TEST_PROG; "" leaves it empty
		names   []string
		want    string
		wantErr bool
	}{
		{"environment wins over PATH", "/opt/x/prog", []string{"found-prog"}, "/opt/x/prog", false},
		{"first name on PATH", "", []string{"found-prog", "missing-prog"}, found, false},
		{"later name on PATH", "", []string{"missing-prog", "found-prog"}, found, false},
		{"none on PATH", "", []string{"missing-prog", "also-missing"}, "", true},
		{"no names", "", nil, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("HARNESS_TEST_PROG", tt.env)
			got, err := LookProgram("HARNESS_TEST_PROG", tt.names...)
			if got != tt.want || (err != nil) != tt.wantErr {
				t.Fatalf("LookProgram = %q, %v; want %q, error %v", got, err, tt.want, tt.wantErr)
			}
			if err != nil && !errors.Is(err, exec.ErrNotFound) {
				t.Errorf("error %v is not exec.ErrNotFound", err)
			}
			var execErr *exec.Error
			if len(tt.names) > 0 && err != nil && (!errors.As(err, &execErr) || execErr.Name != tt.names[0]) {
				t.Errorf("error %v does not name %q", err, tt.names[0])
			}
		})
	}
}
