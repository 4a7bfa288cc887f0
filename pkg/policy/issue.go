package policy

import (
	"fmt"
	"strings"
)

// Issue is one problem (error or warning) found in a policy file.
type Issue struct {
	File   string `json:"file"`
	Line   int    `json:"line"`
	Column int    `json:"column"`
	Path   string `json:"path,omitempty"`  // e.g. classes[0].allow_origins[2]
	Value  string `json:"value,omitempty"` // the offending value, as written
	Msg    string `json:"message"`
}

func (i Issue) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s:%d:%d: ", i.File, i.Line, i.Column)
	if i.Path != "" {
		b.WriteString(i.Path)
		b.WriteString(": ")
	}
	if i.Value != "" {
		fmt.Fprintf(&b, "%q: ", i.Value)
	}
	b.WriteString(i.Msg)
	return b.String()
}

// Error is returned when a policy file is refused. It lists every problem
// found, in file order.
type Error struct {
	Issues []Issue
}

func (e *Error) Error() string {
	lines := make([]string, len(e.Issues))
	for i, is := range e.Issues {
		lines[i] = is.String()
	}
	return fmt.Sprintf("policy refused (%d error(s)):\n  %s", len(e.Issues), strings.Join(lines, "\n  "))
}
