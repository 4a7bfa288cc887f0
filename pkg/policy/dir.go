package policy

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// racyWindow: see unchanged.
const racyWindow = 2 * time.Second

// A policy directory holds the base policy in BaseFile and one fragment
// per other *.yaml file. Names starting with "." are skipped (a Kubernetes
// ConfigMap volume keeps its ..data link and timestamped directories
// there), as are directories.
const BaseFile = "policy.yaml"

// MaxFileSize bounds how much of one policy or fragment file is read.
const MaxFileSize = 64 << 20

// File roles and states in a FileState.
const (
	RoleBase     = "base"
	RoleFragment = "fragment"

	// FileLoaded: the version on disk is the one served.
	FileLoaded = "loaded"
	// FileRefused: the version on disk is refused; the last good version,
	// if any (ServingSHA256), keeps serving.
	FileRefused = "refused"
)

// FileState is the state of one file of a policy directory, as /policy,
// the admin page, metrics and logs report it.
type FileState struct {
	File   string `json:"file"`
	Role   string `json:"role"`   // RoleBase or RoleFragment
	State  string `json:"state"`  // FileLoaded or FileRefused
	SHA256 string `json:"sha256"` // of the bytes on disk; "" when the file cannot be read
	// ServingSHA256 is the version in service: SHA256 when loaded, the
	// last good version when refused, "" when no version serves.
	ServingSHA256 string `json:"serving_sha256,omitempty"`
	// Error says why the file is refused; Issues lists each problem.
	Error    string  `json:"error,omitempty"`
	Issues   []Issue `json:"issues,omitempty"`
	Warnings []Issue `json:"warnings,omitempty"`
}

// IsDir reports whether path names a directory (a policy directory) rather
// than a policy file.
func IsDir(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}

// Dir loads a policy directory and keeps each file at its last good
// version: a base policy that fails keeps everything as it was; a fragment
// that fails is refused alone, its last good version (validated against
// the current base) serving on. Only files whose bytes changed since the
// previous Scan are validated again, except after a base change, which
// re-validates every fragment against the new guardrails. A Dir is not safe
// for concurrent use; the policies it returns are.
type Dir struct {
	path     string
	base     *Policy // last good base policy
	baseSeen string  // digest of the base bytes last examined
	baseErr  error   // why the base bytes last examined were refused
	baseSt   FileState
	frags    map[string]*dirFragment // by file name within the directory
	stats    map[string]os.FileInfo  // each file as last read
	served   *Policy
}

type dirFragment struct {
	st       FileState
	seen     string    // digest of the bytes last examined
	good     *Fragment // last good version, validated against d.base
	goodData []byte    // its bytes, to re-validate it under a new base
}

// unchanged reports whether a file is, by its metadata, the one last
// read: the same inode (a ConfigMap swap or an editor's rename makes a new
// one), size and modification time. Only changed files are read again.
// A file modified less than racyWindow before it was read is read again
// at the next Scan: a second write within the file system's timestamp
// granularity could keep size and modification time.
func unchanged(prev, cur os.FileInfo) bool {
	return prev != nil && os.SameFile(prev, cur) && prev.Size() == cur.Size() && prev.ModTime().Equal(cur.ModTime())
}

// OpenDir returns a Dir for path; it reads nothing until Scan.
func OpenDir(path string) *Dir {
	return &Dir{path: path, frags: map[string]*dirFragment{}, stats: map[string]os.FileInfo{}}
}

// ScanResult is the outcome of one Scan.
type ScanResult struct {
	// Policy is the policy to serve: the base policy extended by every
	// fragment's last good version. nil until a base policy has loaded.
	Policy *Policy
	// Changed reports whether Policy differs from the previous Scan's.
	Changed bool
	// Validated names the files parsed by this Scan (the changed ones).
	Validated []string
	// Refused lists the files this Scan refused, with why.
	Refused []FileState
	// Warnings lists the warnings of the files this Scan loaded.
	Warnings []Issue
}

// Scan reads the directory and validates the files whose bytes changed.
// It returns an error, and keeps serving what it served, when the base
// policy cannot be read or is refused; a refused fragment is reported in
// ScanResult.Refused and is not an error.
func (d *Dir) Scan() (ScanResult, error) {
	var res ScanResult
	files, err := d.read(false)
	if err != nil {
		return d.result(res), err
	}
	baseName := filepath.Join(d.path, BaseFile)
	baseFile, ok := files[BaseFile]
	baseData := baseFile.data
	if !ok {
		err := fmt.Errorf("read policy: %s: no %s in the policy directory", d.path, BaseFile)
		d.baseSt = FileState{File: baseName, Role: RoleBase, State: FileRefused, ServingSHA256: d.baseSt.ServingSHA256, Error: err.Error()}
		d.baseSeen, d.baseErr = "", err
		delete(d.stats, BaseFile)
		return d.result(res), err
	}
	baseDigest := digestOf(baseData)
	if baseFile.same {
		baseDigest = d.baseSeen
	}
	rebase := false
	switch {
	case baseDigest == d.baseSeen && d.baseErr != nil:
		return d.result(res), d.baseErr // still the refused version: everything stays
	case baseDigest != d.baseSeen:
		d.baseSeen = baseDigest
		res.Validated = append(res.Validated, baseName)
		p, warns, err := Parse(baseName, baseData)
		if err != nil {
			d.baseErr = err
			d.baseSt = refusedState(baseName, RoleBase, baseDigest, d.baseSt.ServingSHA256, err)
			res.Refused = append(res.Refused, d.baseSt)
			return d.result(res), err
		}
		d.base, d.baseErr, rebase = p, nil, true
		d.baseSt = FileState{File: baseName, Role: RoleBase, State: FileLoaded, SHA256: baseDigest, ServingSHA256: baseDigest, Warnings: warns}
		res.Warnings = append(res.Warnings, warns...)
		// Every fragment is validated again under the new guardrails.
		if files, err = d.read(true); err != nil {
			return d.result(res), err
		}
	}
	changed := rebase
	for name, f := range d.frags {
		if _, ok := files[name]; !ok {
			delete(d.frags, name) // a removed file revokes its grants
			delete(d.stats, name)
			changed = changed || f.good != nil
		}
	}
	for name, file := range files {
		if name == BaseFile {
			continue
		}
		f := d.frags[name]
		if f == nil {
			f = &dirFragment{}
			d.frags[name] = f
		}
		if file.same && !rebase {
			continue
		}
		data := file.data
		digest := digestOf(data)
		if file.err != nil {
			digest = "unreadable: " + file.err.Error()
		}
		if digest == f.seen && !rebase {
			continue
		}
		if d.fragment(name, f, file, digest, &res) {
			changed = true
		}
	}
	if changed || d.served == nil {
		var good []*Fragment
		for _, f := range d.frags {
			if f.good != nil {
				good = append(good, f.good)
			}
		}
		p, err := d.base.merge(good, d.served)
		if err != nil {
			return d.result(res), err // not reached: every good fragment was validated against d.base
		}
		res.Changed = d.served == nil || p.digest != d.served.digest
		d.served = p
	}
	return d.result(res), nil
}

// fragment validates one fragment's bytes against the current base and
// reports whether the version to serve changed.
func (d *Dir) fragment(name string, f *dirFragment, file dirFile, digest string, res *ScanResult) bool {
	full := filepath.Join(d.path, name)
	f.seen = digest
	res.Validated = append(res.Validated, full)
	data := file.data
	fr, warns, err := (*Fragment)(nil), []Issue(nil), file.err
	if err == nil {
		fr, warns, err = ParseFragment(d.base, full, data)
	}
	if err == nil {
		prev := f.good
		f.good, f.goodData = fr, data
		f.st = FileState{File: full, Role: RoleFragment, State: FileLoaded, SHA256: digest, ServingSHA256: digest, Warnings: warns}
		res.Warnings = append(res.Warnings, warns...)
		return prev == nil || prev.digest != fr.digest || prev.base != fr.base
	}
	changed := false
	if f.good != nil && f.good.base != d.base.digest {
		// The base changed: the last good version serves on only if it is
		// still within the new guardrails.
		changed = true
		if g, _, gerr := ParseFragment(d.base, full, f.goodData); gerr == nil {
			f.good = g
		} else {
			f.good, f.goodData = nil, nil
		}
	}
	serving, sum := "", digest
	if f.good != nil {
		serving = f.good.digest
	}
	if file.err != nil {
		sum = "" // no bytes were read: digest only tells the error apart
	}
	f.st = refusedState(full, RoleFragment, sum, serving, err)
	res.Refused = append(res.Refused, f.st)
	return changed
}

func refusedState(file, role, digest, serving string, err error) FileState {
	st := FileState{File: file, Role: role, State: FileRefused, SHA256: digest, ServingSHA256: serving, Error: err.Error()}
	var perr *Error
	if errors.As(err, &perr) {
		st.Issues = perr.Issues
	}
	return st
}

func (d *Dir) result(res ScanResult) ScanResult {
	res.Policy = d.served
	return res
}

// Files returns the state of every file, base first, then fragments in
// name order.
func (d *Dir) Files() []FileState {
	out := make([]FileState, 0, 1+len(d.frags))
	if d.baseSt.File != "" {
		out = append(out, d.baseSt)
	}
	names := make([]string, 0, len(d.frags))
	for n := range d.frags {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		out = append(out, d.frags[n].st)
	}
	return out
}

// dirFile is one file's bytes, or why it could not be read; same marks a
// file left unread because its metadata says it is unchanged.
type dirFile struct {
	data []byte
	err  error
	same bool
}

// read returns every *.yaml file of the directory by name; unless all,
// files whose metadata is unchanged are not read.
func (d *Dir) read(all bool) (map[string]dirFile, error) {
	entries, err := os.ReadDir(d.path)
	if err != nil {
		return nil, fmt.Errorf("read policy: %w", err)
	}
	files := make(map[string]dirFile, len(entries))
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") || !strings.HasSuffix(name, ".yaml") {
			continue
		}
		full := filepath.Join(d.path, name)
		fi, err := os.Stat(full)
		if err == nil && fi.IsDir() {
			continue
		}
		if err == nil && !all && unchanged(d.stats[name], fi) {
			files[name] = dirFile{same: true}
			continue
		}
		delete(d.stats, name)
		data, err := readLimited(full)
		if errors.Is(err, errIsDir) {
			continue
		}
		if err == nil && fi != nil && time.Since(fi.ModTime()) > racyWindow {
			d.stats[name] = fi
		}
		if err != nil && name == BaseFile {
			return nil, err
		}
		// An unreadable fragment is refused like an invalid one.
		files[name] = dirFile{data: data, err: err}
	}
	return files, nil
}

var errIsDir = errors.New("is a directory")

// readLimited reads at most MaxFileSize bytes of path, following links.
func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read policy: %w", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.IsDir() {
		return nil, errIsDir
	}
	return readAtMost(f, path)
}

// ReadFile reads the policy file at path, as the reloader does on every
// change: a file larger than MaxFileSize bytes is refused, and read no
// further.
func ReadFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read policy: %w", err)
	}
	defer f.Close()
	return readAtMost(f, path)
}

// readAtMost reads f (opened from path) to its end, refusing it past
// MaxFileSize bytes.
func readAtMost(f *os.File, path string) ([]byte, error) {
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read policy: %w", err)
	}
	if n > MaxFileSize {
		return nil, fmt.Errorf("read policy %s: larger than %d bytes", path, MaxFileSize)
	}
	return buf.Bytes(), nil
}

func digestOf(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// LoadDir loads a policy directory strictly, for the commands that read a
// policy once (validate, explain, diff): every file must be valid. On
// failure the error is an *Error listing every problem of every file.
// Warnings of every file are returned in either case, with the per-file
// states.
func LoadDir(path string) (*Policy, []FileState, []Issue, error) {
	d := OpenDir(path)
	res, err := d.Scan()
	var warns []Issue
	for _, st := range d.Files() {
		warns = append(warns, st.Warnings...)
	}
	if err != nil {
		return nil, d.Files(), warns, err
	}
	if len(res.Refused) > 0 {
		var all []Issue
		for _, st := range res.Refused {
			if len(st.Issues) == 0 {
				all = append(all, Issue{File: st.File, Msg: st.Error})
			}
			all = append(all, st.Issues...)
		}
		return nil, d.Files(), warns, &Error{Issues: all}
	}
	return res.Policy, d.Files(), warns, nil
}
