package diff

import (
	"fmt"
	"strings"
)

// Markers that start each change line of the text form. Reviewers (and
// grep) look for "+ WIDENS".
const (
	MarkWidens  = "+ WIDENS "
	MarkNarrows = "- narrows"
	MarkNeutral = "~ neutral"
)

// Marker returns the text-form marker of an effect.
func (e Effect) Marker() string {
	switch e {
	case Widens:
		return MarkWidens
	case Narrows:
		return MarkNarrows
	}
	return MarkNeutral
}

// String is the change without its marker and class, e.g.
// "allow_origins: added https://a.example" or "deny_action: reject → omit".
func (ch Change) String() string {
	var s string
	switch {
	case ch.Field == FieldClass && ch.Op == Added:
		s = "class added at " + ch.New
	case ch.Field == FieldClass && ch.Op == Removed:
		s = "class removed (was " + ch.Old + ")"
	case ch.Op == Added || ch.Op == Removed:
		s = fmt.Sprintf("%s: %s %s", ch.Field, ch.Op, ch.Value)
	default: // changed, moved, rerouted
		s = fmt.Sprintf("%s: %s → %s", ch.Field, ch.Old, ch.New)
	}
	if ch.Note != "" {
		s += "  (" + ch.Note + ")"
	}
	return s
}

// Text renders the report for a terminal or a code-review comment: a
// header naming both policies, the changes grouped by class, routing last,
// and a summary line.
func (r *Report) Text() string {
	var b strings.Builder
	side := func(mark string, s Side) {
		fmt.Fprintf(&b, "%s %s", mark, orDefault(s.Source, "(policy)"))
		if s.SHA256 != "" {
			fmt.Fprintf(&b, "  sha256 %.12s", s.SHA256)
		}
		fmt.Fprintf(&b, "  %d class(es)\n", s.Classes)
	}
	side("---", r.Old)
	side("+++", r.New)
	if !r.Changed() {
		if r.Old.SHA256 != "" && r.Old.SHA256 != r.New.SHA256 {
			b.WriteString("\nno changes to the normalised policy (the files differ only in formatting, comments or spelling)\n")
		} else {
			b.WriteString("\nno changes\n")
		}
		return b.String()
	}
	writeChanges(&b, r.Changes, "\n")
	s := r.Summary
	b.WriteString(s.line())
	if r.Widens {
		fmt.Fprintf(&b, "ACCESS WIDENS: review the %d line(s) marked %q\n", s.Widens, strings.TrimSpace(MarkWidens))
	}
	return b.String()
}

// writeChanges writes changes grouped under a heading per group (policy,
// class NAME, routing), each group after sep, each change on a line with
// its effect's marker.
func writeChanges(b *strings.Builder, changes []Change, sep string) {
	group := ""
	for _, ch := range changes {
		var g string
		switch {
		case ch.Field == FieldRouting:
			g = "routing (the first class whose match holds serves a request)"
		case ch.Class == "":
			g = "policy"
		default:
			g = "class " + ch.Class
		}
		if g != group {
			group = g
			b.WriteString(sep + g + "\n")
		}
		fmt.Fprintf(b, "  %s  %s\n", ch.Effect.Marker(), ch)
	}
}

// line is the summary line that ends a text report, after a blank line.
func (s Summary) line() string {
	return fmt.Sprintf("\n%d change(s): %d widen access, %d narrow it, %d neutral\n", s.Changes, s.Widens, s.Narrows, s.Neutral)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
