package diff

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/cors-authz/cors-authz/pkg/policy"
)

// File statuses in a directory comparison.
const (
	FileAdded     = "added"
	FileRemoved   = "removed"
	FileChanged   = "changed"
	FileUnchanged = "unchanged"
)

// FileReport is the comparison of one file of two policy directories
// (files are matched by name): the base policy compared as a policy plus
// its delegate guardrails, a fragment as the origins, methods and headers
// it grants in each class it extends.
type FileReport struct {
	File    string   `json:"file"` // name within the directory
	Role    string   `json:"role"` // policy.RoleBase or policy.RoleFragment
	Status  string   `json:"status"`
	Old     Side     `json:"old"`
	New     Side     `json:"new"`
	Changes []Change `json:"changes"`
	Summary Summary  `json:"summary"`
	Widens  bool     `json:"widens"`
}

// DirReport compares two policy directories file by file. A policy file
// compares as a directory holding only its base policy.
type DirReport struct {
	Old     Side         `json:"old"`
	New     Side         `json:"new"`
	Files   []FileReport `json:"files"`
	Summary Summary      `json:"summary"`
	// Widens is true when a change in any file widens access.
	Widens bool `json:"widens"`
}

// Widen reports whether a change in any file widens access (Widens).
func (r *DirReport) Widen() bool { return r.Widens }

// Changed reports whether any file's normalised content differs.
func (r *DirReport) Changed() bool {
	for _, f := range r.Files {
		if len(f.Changes) > 0 || f.Status == FileAdded || f.Status == FileRemoved {
			return true
		}
	}
	return false
}

// Dirs compares two policies loaded from policy directories (or files):
// the base policies, then each fragment by file name. A fragment's
// additions are compared in the new base's class settings, so a change to
// the base (credentials, say) is reported once, in the base's report.
func Dirs(old, new *policy.Policy) *DirReport {
	ob, nb := old.Base(), new.Base()
	r := &DirReport{
		Old: Side{Source: dirOf(ob), SHA256: old.SHA256(), Classes: len(ob.Classes())},
		New: Side{Source: dirOf(nb), SHA256: new.SHA256(), Classes: len(nb.Classes())},
	}
	base := Policies(ob, nb)
	base.Changes = append(base.Changes, delegateChanges(ob.Spec(), nb.Spec())...)
	r.add(FileReport{File: filepath.Base(nb.Source()), Role: policy.RoleBase, Status: status(ob.SHA256(), nb.SHA256(), true, true),
		Old: base.Old, New: base.New, Changes: base.Changes})

	of, nf := byName(old.Fragments()), byName(new.Fragments())
	names := make([]string, 0, len(of)+len(nf))
	for n := range of {
		names = append(names, n)
	}
	for n := range nf {
		if of[n] == nil {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	for _, n := range names {
		o, nw := of[n], nf[n]
		fr := FileReport{File: n, Role: policy.RoleFragment}
		var od, nd *policy.FragmentDoc
		if o != nil {
			od, fr.Old = o.Doc(), Side{Source: o.Name(), SHA256: o.SHA256(), Classes: len(o.Doc().Extend)}
		}
		if nw != nil {
			nd, fr.New = nw.Doc(), Side{Source: nw.Name(), SHA256: nw.SHA256(), Classes: len(nw.Doc().Extend)}
		}
		fr.Status = status(fr.Old.SHA256, fr.New.SHA256, o != nil, nw != nil)
		if fr.Status != FileUnchanged {
			fr.Changes = Documents(fragmentDocument(od, nb.Spec()), fragmentDocument(nd, nb.Spec())).Changes
		}
		r.add(fr)
	}
	return r
}

func (r *DirReport) add(fr FileReport) {
	if fr.Changes == nil {
		fr.Changes = []Change{}
	}
	fr.Summary = summarize(fr.Changes)
	fr.Widens = fr.Summary.Widens > 0
	r.Summary.Changes += fr.Summary.Changes
	r.Summary.Widens += fr.Summary.Widens
	r.Summary.Narrows += fr.Summary.Narrows
	r.Summary.Neutral += fr.Summary.Neutral
	r.Widens = r.Widens || fr.Widens
	r.Files = append(r.Files, fr)
}

func dirOf(base *policy.Policy) string {
	if filepath.Base(base.Source()) == policy.BaseFile {
		return filepath.Dir(base.Source())
	}
	return base.Source()
}

func byName(frags []*policy.Fragment) map[string]*policy.Fragment {
	m := make(map[string]*policy.Fragment, len(frags))
	for _, f := range frags {
		m[filepath.Base(f.Name())] = f
	}
	return m
}

func status(oldSum, newSum string, hadOld, hasNew bool) string {
	switch {
	case !hadOld:
		return FileAdded
	case !hasNew:
		return FileRemoved
	case oldSum != newSum:
		return FileChanged
	}
	return FileUnchanged
}

// fragmentDocument turns a fragment into a policy document holding, for
// every delegated class of base in base's order, the class's settings
// with the fragment's origins and additions as its lists (empty where the
// fragment does not extend the class), so that comparing two of them with
// Documents reports exactly what the fragment grants differently.
func fragmentDocument(f *policy.FragmentDoc, base *policy.Document) *policy.Document {
	doc := &policy.Document{Version: 1}
	for _, cs := range base.Classes {
		if cs.Delegate == nil {
			continue
		}
		c := policy.ClassSpec{Name: cs.Name, AllowCredentials: cs.AllowCredentials, MaxAge: cs.MaxAge,
			AllowPrivateNetwork: cs.AllowPrivateNetwork, DenyAction: cs.DenyAction,
			DangerouslyAllowInsecureOrigins: cs.DangerouslyAllowInsecureOrigins}
		if f != nil {
			for _, e := range f.Extend {
				if e.Class == cs.Name {
					c.AllowOrigins, c.AllowMethods, c.AllowHeaders, c.ExposeHeaders = e.AllowOrigins, e.AllowMethods, e.AllowHeaders, e.ExposeHeaders
				}
			}
		}
		doc.Classes = append(doc.Classes, c)
	}
	return doc
}

// delegateChanges compares the guardrails of the classes both bases
// define. Loosening a guardrail grants nobody anything by itself, but it
// lets every team's fragment grant more, so it is marked as widening.
func delegateChanges(old, new *policy.Document) []Change {
	var out []Change
	const loosens = "lets fragments grant more"
	for _, n := range new.Classes {
		var o *policy.ClassSpec
		for i := range old.Classes {
			if old.Classes[i].Name == n.Name {
				o = &old.Classes[i]
			}
		}
		if o == nil {
			continue // a class added is reported with everything it grants
		}
		od, nd := o.Delegate, n.Delegate
		add := func(field string, op Op, value, oldV, newV string, e Effect, note string) {
			out = append(out, Change{Class: n.Name, Field: "delegate" + field, Op: op, Value: value, Old: oldV, New: newV, Effect: e, Note: note})
		}
		switch {
		case od == nil && nd == nil:
			continue
		case od == nil:
			add("", Added, "origin_domains "+strings.Join(nd.OriginDomains, ", "), "", "", Widens, "teams may now extend the class")
			continue
		case nd == nil:
			add("", Removed, "", "", "", Narrows, "fragments no longer extend the class: their grants in it are refused")
			continue
		}
		lists := []struct {
			field    string
			old, new []string
			fold     bool
		}{
			{".origin_domains", od.OriginDomains, nd.OriginDomains, false},
			{".origin_schemes", od.OriginSchemes, nd.OriginSchemes, false},
			{".allow_methods", od.AllowMethods, nd.AllowMethods, false},
			{".allow_headers", od.AllowHeaders, nd.AllowHeaders, true},
			{".expose_headers", od.ExposeHeaders, nd.ExposeHeaders, true},
		}
		for _, l := range lists {
			norm := func(s string) string { return s }
			if l.fold {
				norm = strings.ToLower
			}
			added, removed := setDiff(l.old, l.new, norm)
			for _, v := range added {
				add(l.field, Added, v, "", "", Widens, loosens)
			}
			for _, v := range removed {
				add(l.field, Removed, v, "", "", Narrows, "fragments relying on it are refused")
			}
		}
		if od.AllowWildcards != nd.AllowWildcards {
			e, note := Narrows, "fragments with wildcards are refused"
			if nd.AllowWildcards {
				e, note = Widens, loosens
			}
			add(".allow_wildcards", Changed, "", strconv.FormatBool(od.AllowWildcards), strconv.FormatBool(nd.AllowWildcards), e, note)
		}
		if od.MaxOrigins != nd.MaxOrigins {
			e, note := Narrows, "fragments over the limit are refused"
			if nd.MaxOrigins > od.MaxOrigins {
				e, note = Widens, loosens
			}
			add(".max_origins", Changed, "", strconv.Itoa(od.MaxOrigins), strconv.Itoa(nd.MaxOrigins), e, note)
		}
	}
	return out
}

// Text renders the comparison file by file, each file's changes grouped by
// class, with the widening marker on each line and a summary per file and
// in all.
func (r *DirReport) Text() string {
	var b strings.Builder
	side := func(mark string, s Side, files int) {
		fmt.Fprintf(&b, "%s %s  sha256 %.12s  %d class(es)  %d file(s)\n", mark, s.Source, s.SHA256, s.Classes, files)
	}
	oldFiles, newFiles := 0, 0
	for _, f := range r.Files {
		if f.Status != FileAdded {
			oldFiles++
		}
		if f.Status != FileRemoved {
			newFiles++
		}
	}
	side("---", r.Old, oldFiles)
	side("+++", r.New, newFiles)
	for _, f := range r.Files {
		if f.Status == FileUnchanged || f.Status == FileChanged && len(f.Changes) == 0 && f.Role == policy.RoleFragment {
			continue
		}
		head := fmt.Sprintf("\n=== %s (%s, %s)", f.File, f.Role, f.Status)
		if f.Widens {
			head += fmt.Sprintf(": WIDENS (%d line(s))", f.Summary.Widens)
		}
		b.WriteString(head + "\n")
		if len(f.Changes) == 0 {
			b.WriteString("no changes to the normalised file\n")
		}
		writeChanges(&b, f.Changes, "")
	}
	s := r.Summary
	if !r.Changed() {
		b.WriteString("\nno changes\n")
		return b.String()
	}
	b.WriteString(s.line())
	if r.Widens {
		var files []string
		for _, f := range r.Files {
			if f.Widens {
				files = append(files, f.File)
			}
		}
		fmt.Fprintf(&b, "ACCESS WIDENS in %s: review the %d line(s) marked %q\n", strings.Join(files, ", "), s.Widens, strings.TrimSpace(MarkWidens))
	}
	return b.String()
}
