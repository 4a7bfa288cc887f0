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
	group := "\x00"
	for _, ch := range r.Changes {
		g := ch.Class
		switch {
		case ch.Field == FieldRouting:
			g = "\x01routing"
		case g == "":
			g = "\x01policy"
		}
		if g != group {
			group = g
			b.WriteByte('\n')
			switch g {
			case "\x01routing":
				b.WriteString("routing (the first class whose match holds serves a request)\n")
			case "\x01policy":
				b.WriteString("policy\n")
			default:
				fmt.Fprintf(&b, "class %s\n", g)
			}
		}
		fmt.Fprintf(&b, "  %s  %s\n", ch.Effect.Marker(), ch)
	}
	s := r.Summary
	fmt.Fprintf(&b, "\n%d change(s): %d widen access, %d narrow it, %d neutral\n", s.Changes, s.Widens, s.Narrows, s.Neutral)
	if r.Widens {
		fmt.Fprintf(&b, "ACCESS WIDENS: review the %d line(s) marked %q\n", s.Widens, strings.TrimSpace(MarkWidens))
	}
	return b.String()
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
