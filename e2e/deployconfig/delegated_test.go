package deployconfig

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/cors-authz/cors-authz/pkg/policy"
)

// delegatedDir is the kustomize overlay that ships the policy as a
// directory: one ConfigMap, the base policy and one fragment per team as
// its keys (docs/policy.md, Delegation).
const delegatedDir = "deploy/k8s-delegated"

// TestDelegatedOverlay builds the overlay with kustomize, decodes what it
// builds strictly, and checks the delegation contract: --config names the
// directory the whole ConfigMap is mounted at, the ConfigMap holds
// policy.yaml and team fragments, and every key loads as a policy directory.
func TestDelegatedOverlay(t *testing.T) {
	for _, f := range yamlFiles(t, delegatedDir) {
		if _, err := decodeManifest(repoFile(t, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	var dep *appsv1.Deployment
	var cms []*corev1.ConfigMap
	for _, m := range kustomizeBuild(t, delegatedDir) {
		switch o := m.obj.(type) {
		case *appsv1.Deployment:
			dep = o
		case *corev1.ConfigMap:
			cms = append(cms, o)
		}
	}
	if dep == nil || len(cms) != 1 {
		t.Fatalf("built %d ConfigMap(s) and Deployment %v; want one of each", len(cms), dep != nil)
	}
	cm := cms[0]
	c := &dep.Spec.Template.Spec.Containers[0]
	cfg := configFlag(t, c)
	var mounted bool
	for _, vm := range c.VolumeMounts {
		for _, v := range dep.Spec.Template.Spec.Volumes {
			if v.Name == vm.Name && v.ConfigMap != nil && v.ConfigMap.Name == cm.Name && len(v.ConfigMap.Items) == 0 &&
				vm.MountPath == cfg && vm.SubPath == "" {
				mounted = true
			}
		}
	}
	if !mounted {
		t.Errorf("--config %s is not the directory where ConfigMap %s is mounted whole", cfg, cm.Name)
	}

	// The keys as the kubelet writes them: one file each.
	dir := t.TempDir()
	var teams []string
	for key, data := range cm.Data {
		if strings.HasPrefix(key, "team-") {
			teams = append(teams, key)
		}
		if err := os.WriteFile(filepath.Join(dir, key), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := cm.Data[policy.BaseFile]; !ok || len(teams) < 2 {
		t.Fatalf("ConfigMap keys %v: want %s and at least two team fragments", slices.Sorted(maps.Keys(cm.Data)), policy.BaseFile)
	}
	p, files, _, err := policy.LoadDir(dir)
	if err != nil {
		t.Fatalf("the ConfigMap's keys do not load as a policy directory: %v", err)
	}
	if len(files) != 1+len(teams) || len(p.Fragments()) != len(teams) {
		t.Errorf("%d files, %d fragments merged; want %d fragments", len(files), len(p.Fragments()), len(teams))
	}
	// Each team's origin is granted by that team's file.
	for _, f := range p.Fragments() {
		for _, e := range f.Doc().Extend {
			for _, o := range e.AllowOrigins {
				g := p.Class(e.Class).Grant(o)
				if g == nil || !slices.Contains(g.Files(), f.Name()) {
					t.Errorf("%s: %s in class %s is not granted by it", filepath.Base(f.Name()), o, e.Class)
				}
			}
		}
	}
}
