package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// serveBase delegates the public-api class of servePolicy to teams under
// partner.example.
var serveBase = strings.Replace(servePolicy("https://own.example"), "    max_age: 600\n",
	"    max_age: 600\n    delegate: {origin_domains: [partner.example], allow_methods: [DELETE]}\n", 1)

func serveFragment(origin string) string {
	return "version: 1\nextend:\n  - class: public-api\n    allow_origins: [" + origin + "]\n"
}

// policyDir writes files into a new directory.
func policyDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

type fileInfo struct {
	File          string `json:"file"`
	State         string `json:"state"`
	ServingSHA256 string `json:"serving_sha256"`
	Error         string `json:"error"`
}

func (p *serveProc) files(path string) []fileInfo {
	p.t.Helper()
	code, body := p.get(path)
	if code != 200 {
		p.t.Fatalf("%s = %d %s", path, code, body)
	}
	var v struct {
		Files []fileInfo `json:"files"`
	}
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		p.t.Fatal(err)
	}
	return v.Files
}

// serve --config DIR: a refused fragment is left out at startup and
// reported per file in /policy, the metrics and the log; fixing it loads it
// without touching the other file.
func TestServeDirectory(t *testing.T) {
	dir := policyDir(t, map[string]string{
		"policy.yaml": serveBase,
		"team-a.yaml": serveFragment(servePartnerA),
		"team-b.yaml": serveFragment(servePartnerB + ", https://evil.example"),
	})
	p := startServe(t, "--config", dir, "--reload-debounce", "20ms")
	c := p.conn()
	if got := acaoFor(t, c, servePartnerA); got != servePartnerA {
		t.Errorf("team A's partner: ACAO %q", got)
	}
	if got := acaoFor(t, c, servePartnerB); got != "" {
		t.Errorf("team B's refused fragment is served: ACAO %q", got)
	}
	files := p.files("/policy")
	if len(files) != 3 || files[1].State != "loaded" || files[2].State != "refused" || !strings.Contains(files[2].Error, "team-b.yaml:4:") {
		t.Fatalf("/policy files = %+v", files)
	}
	if got := p.metric(`cors_authz_policy_file_state{file="team-b.yaml",state="refused"}`); got != "1" {
		t.Errorf("file_state{team-b, refused} = %q", got)
	}
	if !strings.Contains(p.logs.String(), "policy file refused; it is not served") {
		t.Error("team B's refusal is not logged")
	}
	if code, _ := p.get("/readyz"); code != 200 {
		t.Errorf("/readyz = %d with one refused fragment, want 200", code)
	}
	gen := p.policy().Generation
	replaceFile(t, filepath.Join(dir, "team-b.yaml"), serveFragment(servePartnerB))
	waitFor(t, "team B's fixed fragment", func() bool { return acaoFor(t, c, servePartnerB) == servePartnerB })
	if got := acaoFor(t, c, servePartnerA); got != servePartnerA {
		t.Errorf("team A's partner after B's fix: ACAO %q", got)
	}
	if v := p.policy(); v.Generation != gen+1 || v.LastReloadError != nil {
		t.Errorf("after the fix: generation %d (was %d), error %+v", v.Generation, gen, v.LastReloadError)
	}
	// explain --config DIR names the granting file.
	code, out, errs := runCLI("explain", "--config", dir, "--path", "/api/x", "--origin", servePartnerB)
	if code != 0 || !strings.Contains(out, "granted:  "+servePartnerB+" by "+filepath.Join(dir, "team-b.yaml")) {
		t.Errorf("explain: exit %d\n%s%s", code, out, errs)
	}
}

// --shadow-config DIR: a team's candidate fragment is shadowed before it is
// promoted; /shadow reports the directory's files.
func TestServeShadowDirectory(t *testing.T) {
	enforced := policyDir(t, map[string]string{"policy.yaml": serveBase, "team-a.yaml": serveFragment(servePartnerA)})
	shadow := policyDir(t, map[string]string{"policy.yaml": serveBase, "team-a.yaml": serveFragment(servePartnerA + ", " + servePartnerB)})
	p := startServe(t, "--config", enforced, "--shadow-config", shadow)
	c := p.conn()
	if got := acaoFor(t, c, servePartnerB); got != "" {
		t.Errorf("the shadow directory was enforced: ACAO %q", got)
	}
	waitFor(t, "a would_allow disagreement", func() bool {
		return p.metric(`cors_authz_shadow_disagreements_total{class="public-api",kind="would_allow"}`) == "1"
	})
	files := p.files("/shadow")
	if len(files) != 2 || files[1].State != "loaded" || !strings.HasSuffix(files[1].File, "team-a.yaml") {
		t.Errorf("/shadow files = %+v", files)
	}
}
