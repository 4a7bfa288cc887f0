package deployconfig

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	egv1a1 "github.com/envoyproxy/gateway/api/v1alpha1"
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	istiomeshv1alpha1 "istio.io/api/mesh/v1alpha1"
	istionetworkingv1alpha3 "istio.io/api/networking/v1alpha3"
	istiosecurityv1beta1 "istio.io/api/security/v1beta1"
	istionetworking "istio.io/client-go/pkg/apis/networking/v1"
	istionetworkingalpha "istio.io/client-go/pkg/apis/networking/v1alpha3"
	istiosecurity "istio.io/client-go/pkg/apis/security/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwapiv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"
	"sigs.k8s.io/kustomize/api/krusty"
	kusttypes "sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

const k8sDir = "deploy/k8s"

// appliedSeparately are manifests under deploy/k8s that no kustomization
// lists, on purpose (docs/deploy.md says how each is applied).
var appliedSeparately = []string{
	"deploy/k8s/istio/mesh-config.yaml",     // an IstioOperator overlay for istioctl / Helm values
	"deploy/k8s/istio/virtual-service.yaml", // an example for each application's namespace
	// Examples of the other attachments (docs/deploy.md, "With Istio").
	"deploy/k8s/istio/authorization-policy-sidecars.yaml",
	"deploy/k8s/istio/authorization-policy-gateway-api.yaml",
	"deploy/k8s/istio/authorization-policy-waypoint.yaml",
	"deploy/k8s/istio/httproute-gateway-api.yaml",
}

// policyFiles are the files under deploy/k8s that are policies, not
// manifests: a configMapGenerator makes them ConfigMaps.
var policyFiles = []string{configMapFile}

// istioOperator is the part of install.istio.io/v1alpha1 IstioOperator the
// repository ships: metadata and spec.meshConfig. The full IstioOperator
// type lives in istio.io/istio, far too heavy for a test; the mesh config
// itself is decoded strictly into istio.io/api's MeshConfig.
type istioOperator struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              struct {
		MeshConfig json.RawMessage `json:"meshConfig"`
	} `json:"spec"`
}

// manifestKind says how one apiVersion/kind decodes: into a Go type (always
// strictly) and, for Istio resources whose Go types decode their spec
// leniently, additionally the spec into the istio.io/api proto with protojson,
// which refuses unknown fields.
type manifestKind struct {
	newObj  func() any
	newSpec func() proto.Message
	spec    func(obj any) json.RawMessage // raw spec to decode strictly; nil means "spec"
}

var manifestKinds = map[string]manifestKind{
	"apps/v1/Deployment":                            {newObj: func() any { return &appsv1.Deployment{} }},
	"v1/Service":                                    {newObj: func() any { return &corev1.Service{} }},
	"v1/ConfigMap":                                  {newObj: func() any { return &corev1.ConfigMap{} }},
	"policy/v1/PodDisruptionBudget":                 {newObj: func() any { return &policyv1.PodDisruptionBudget{} }},
	"networking.k8s.io/v1/NetworkPolicy":            {newObj: func() any { return &networkingv1.NetworkPolicy{} }},
	"kustomize.config.k8s.io/v1beta1/Kustomization": {newObj: func() any { return &kusttypes.Kustomization{} }},
	"security.istio.io/v1/AuthorizationPolicy": {
		newObj:  func() any { return &istiosecurity.AuthorizationPolicy{} },
		newSpec: func() proto.Message { return &istiosecurityv1beta1.AuthorizationPolicy{} },
	},
	"networking.istio.io/v1/VirtualService": {
		newObj:  func() any { return &istionetworking.VirtualService{} },
		newSpec: func() proto.Message { return &istionetworkingv1alpha3.VirtualService{} },
	},
	"networking.istio.io/v1alpha3/EnvoyFilter": {
		newObj:  func() any { return &istionetworkingalpha.EnvoyFilter{} },
		newSpec: func() proto.Message { return &istionetworkingv1alpha3.EnvoyFilter{} },
	},
	// Envoy Gateway, Gateway API and Prometheus Operator types have plain
	// Go structs: decodeStrict refuses unknown, duplicate and miscased fields.
	"gateway.envoyproxy.io/v1alpha1/SecurityPolicy":      {newObj: func() any { return &egv1a1.SecurityPolicy{} }},
	"gateway.envoyproxy.io/v1alpha1/EnvoyProxy":          {newObj: func() any { return &egv1a1.EnvoyProxy{} }},
	"gateway.envoyproxy.io/v1alpha1/ClientTrafficPolicy": {newObj: func() any { return &egv1a1.ClientTrafficPolicy{} }},
	"gateway.networking.k8s.io/v1/GatewayClass":          {newObj: func() any { return &gwapiv1.GatewayClass{} }},
	"gateway.networking.k8s.io/v1/Gateway":               {newObj: func() any { return &gwapiv1.Gateway{} }},
	"gateway.networking.k8s.io/v1/HTTPRoute":             {newObj: func() any { return &gwapiv1.HTTPRoute{} }},
	"gateway.networking.k8s.io/v1beta1/ReferenceGrant":   {newObj: func() any { return &gwapiv1beta1.ReferenceGrant{} }},
	"monitoring.coreos.com/v1/ServiceMonitor":            {newObj: func() any { return &monitoringv1.ServiceMonitor{} }},
	"monitoring.coreos.com/v1/PrometheusRule":            {newObj: func() any { return &monitoringv1.PrometheusRule{} }},
	"install.istio.io/v1alpha1/IstioOperator": {
		newObj:  func() any { return &istioOperator{} },
		newSpec: func() proto.Message { return &istiomeshv1alpha1.MeshConfig{} },
		spec:    func(obj any) json.RawMessage { return obj.(*istioOperator).Spec.MeshConfig },
	},
}

// manifest is one decoded YAML document.
type manifest struct {
	file       string // slash path from the repository root
	apiVersion string
	kind       string
	name       string
	obj        any           // the typed object
	spec       proto.Message // the strictly decoded Istio spec, if any
}

func (m manifest) String() string { return m.file + ": " + m.kind + "/" + m.name }

// decodeManifest decodes one YAML document strictly into its registered type.
func decodeManifest(doc []byte) (manifest, error) {
	js, err := yamlToJSON(doc)
	if err != nil {
		return manifest{}, err
	}
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name string `json:"name"`
		} `json:"metadata"`
		Spec json.RawMessage `json:"spec"`
	}
	if err := json.Unmarshal(js, &head); err != nil {
		return manifest{}, err
	}
	key := head.APIVersion + "/" + head.Kind
	mk, ok := manifestKinds[key]
	if !ok {
		return manifest{}, fmt.Errorf("no Go type registered for %s (add it to manifestKinds)", key)
	}
	m := manifest{apiVersion: head.APIVersion, kind: head.Kind, name: head.Metadata.Name, obj: mk.newObj()}
	if err := decodeStrict(js, m.obj); err != nil {
		return manifest{}, fmt.Errorf("%s %q: %w", key, m.name, err)
	}
	if mk.newSpec != nil {
		raw := head.Spec
		if mk.spec != nil {
			raw = mk.spec(m.obj)
		}
		if len(raw) == 0 {
			return manifest{}, fmt.Errorf("%s %q: no spec", key, m.name)
		}
		m.spec = mk.newSpec()
		if err := protojson.Unmarshal(raw, m.spec); err != nil {
			return manifest{}, fmt.Errorf("%s %q: spec: %w", key, m.name, err)
		}
	}
	return m, nil
}

// yamlFiles lists the YAML files under a repository directory, slash paths
// from the repository root, sorted.
func yamlFiles(t *testing.T, dir string) []string {
	t.Helper()
	root := repoRoot(t)
	var out []string
	err := filepath.WalkDir(filepath.Join(root, filepath.FromSlash(dir)), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && (strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
			rel, err := filepath.Rel(root, p)
			if err != nil {
				return err
			}
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

var (
	manifestsOnce sync.Once
	manifestsAll  []manifest
	manifestsErr  error
)

// k8sManifests decodes every document of every YAML file under deploy/k8s.
func k8sManifests(t *testing.T) []manifest {
	t.Helper()
	files := yamlFiles(t, k8sDir)
	manifestsOnce.Do(func() {
		var errs []string
		for _, f := range files {
			if slices.Contains(policyFiles, f) {
				continue
			}
			data := repoFile(t, f)
			docs := yamlDocuments(data)
			if len(docs) == 0 {
				errs = append(errs, f+": no YAML document")
			}
			for i, doc := range docs {
				m, err := decodeManifest(doc)
				if err != nil {
					errs = append(errs, fmt.Sprintf("%s (document %d): %v", f, i+1, err))
					continue
				}
				m.file = f
				manifestsAll = append(manifestsAll, m)
			}
		}
		if len(errs) > 0 {
			manifestsErr = fmt.Errorf("%s", strings.Join(errs, "\n"))
		}
	})
	if manifestsErr != nil {
		t.Fatal(manifestsErr)
	}
	return manifestsAll
}

// find returns the single decoded object of type T in files under dir
// (a slash path; "" for all).
func find[T any](t *testing.T, dir string) T {
	t.Helper()
	var found []T
	for _, m := range k8sManifests(t) {
		if dir != "" && path.Dir(m.file) != dir {
			continue
		}
		if v, ok := m.obj.(T); ok {
			found = append(found, v)
		}
	}
	if len(found) != 1 {
		var zero T
		t.Fatalf("want exactly one %T in %s, found %d", zero, dir, len(found))
	}
	return found[0]
}

// specsOf returns every Istio spec of type T under deploy/k8s, with its manifest.
func specsOf[T proto.Message](t *testing.T) map[string]T {
	t.Helper()
	out := map[string]T{}
	for _, m := range k8sManifests(t) {
		if v, ok := m.spec.(T); ok {
			out[m.String()] = v
		}
	}
	return out
}

// findSpec returns the single Istio spec of type T under deploy/k8s.
func findSpec[T proto.Message](t *testing.T) T {
	t.Helper()
	return exactlyOne[T](t, "found", k8sManifests(t), func(m manifest) any { return m.spec })
}

// exactlyOne returns the one part (of each of ms) of type T, and fails the
// test when ms do not hold exactly one; verb says how ms were got.
func exactlyOne[T any](t *testing.T, verb string, ms []manifest, part func(manifest) any) T {
	t.Helper()
	var found []T
	for _, m := range ms {
		if v, ok := part(m).(T); ok {
			found = append(found, v)
		}
	}
	if len(found) != 1 {
		var zero T
		t.Fatalf("want exactly one %T, %s %d", zero, verb, len(found))
	}
	return found[0]
}

func TestManifestsDecodeStrictly(t *testing.T) {
	ms := k8sManifests(t)
	kinds := map[string]int{}
	for _, m := range ms {
		kinds[m.apiVersion+"/"+m.kind]++
	}
	// Every kind the brief asks for is shipped.
	for _, k := range []string{
		"apps/v1/Deployment", "v1/Service", "policy/v1/PodDisruptionBudget",
		"networking.k8s.io/v1/NetworkPolicy", "kustomize.config.k8s.io/v1beta1/Kustomization",
		"security.istio.io/v1/AuthorizationPolicy", "networking.istio.io/v1/VirtualService",
		"install.istio.io/v1alpha1/IstioOperator", "networking.istio.io/v1alpha3/EnvoyFilter",
		"gateway.networking.k8s.io/v1/HTTPRoute",
	} {
		if kinds[k] == 0 {
			t.Errorf("no %s under %s", k, k8sDir)
		}
	}
	for _, m := range ms {
		if m.kind == "Kustomization" {
			continue
		}
		if m.name == "" {
			t.Errorf("%s has no metadata.name", m)
		}
		if om, ok := m.obj.(metav1.Object); ok && om.GetNamespace() != "" {
			t.Errorf("%s names namespace %q; the manifests are namespace-less (set it with kustomize or -n)", m, om.GetNamespace())
		}
	}
}

// TestStrictDecodingCatchesMistakes edits real manifests the way a typo
// would and expects the decoder to refuse each edit.
func TestStrictDecodingCatchesMistakes(t *testing.T) {
	tests := []struct {
		file     string
		old, new string
	}{
		{"deploy/k8s/deployment.yaml", "  replicas: 2", "  replica: 2"},
		{"deploy/k8s/deployment.yaml", "  replicas: 2", "  Replicas: 2"},
		{"deploy/k8s/deployment.yaml", "  replicas: 2", "  replicas: 2\n  replicas: 3"},
		{"deploy/k8s/deployment.yaml", "readOnlyRootFilesystem: true", "readOnlyRootFileSystem: true"},
		{"deploy/k8s/service.yaml", "appProtocol: grpc", "app_protocol: grpc"},
		{"deploy/k8s/istio/authorization-policy.yaml", "  action: CUSTOM", "  actions: CUSTOM"},
		{"deploy/k8s/istio/authorization-policy.yaml", "  action: CUSTOM", "  action: CUSTOMISED"},
		{"deploy/k8s/istio/virtual-service.yaml", "      response:", "      responses:"},
		{"deploy/k8s/istio/mesh-config.yaml", "        failOpen: true", "        failopen: true"},
		{"deploy/k8s/istio/mesh-config.yaml", "        timeout: 0.25s", "        timeout: soon"},
		{"deploy/k8s/kustomization.yaml", "resources:", "resource:"},
		{"deploy/envoy-gateway/securitypolicies.yaml", "    contextExtensions:", "    contextExtension:"},
		{"deploy/envoy-gateway/securitypolicies.yaml", "    headersToExtAuth:", "    headersToExtauth:"},
		{"deploy/envoy-gateway/httproutes.yaml", "        responseHeaderModifier:", "        responseHeadersModifier:"},
		{"deploy/envoy-gateway/gateway.yaml", "  controllerName:", "  controller:"},
		{"deploy/envoy-gateway/referencegrant.yaml", "  from:", "  From:"},
	}
	for _, tc := range tests {
		t.Run(tc.file+": "+tc.new, func(t *testing.T) {
			orig := string(repoFile(t, tc.file))
			if !strings.Contains(orig, tc.old) {
				t.Fatalf("%s no longer contains %q; update this test", tc.file, tc.old)
			}
			if _, err := decodeManifest([]byte(orig)); err != nil {
				t.Fatalf("the unedited file does not decode: %v", err)
			}
			if _, err := decodeManifest([]byte(strings.Replace(orig, tc.old, tc.new, 1))); err == nil {
				t.Errorf("decoding accepted %q in place of %q", tc.new, tc.old)
			}
		})
	}
}

// kustomizationDirs are the directories under deploy/k8s with a kustomization.yaml.
func kustomizationDirs(t *testing.T) []string {
	t.Helper()
	var dirs []string
	for _, m := range k8sManifests(t) {
		if _, ok := m.obj.(*kusttypes.Kustomization); ok {
			if path.Base(m.file) != "kustomization.yaml" {
				t.Errorf("%s: a Kustomization must be named kustomization.yaml", m.file)
			}
			dirs = append(dirs, path.Dir(m.file))
		}
	}
	if len(dirs) == 0 {
		t.Fatalf("no kustomization.yaml under %s", k8sDir)
	}
	return dirs
}

func TestKustomizationsListExistingFiles(t *testing.T) {
	root := repoRoot(t)
	listed := map[string]bool{}
	for _, m := range k8sManifests(t) {
		k, ok := m.obj.(*kusttypes.Kustomization)
		if !ok {
			continue
		}
		dir := path.Dir(m.file)
		var files []string
		files = append(files, k.Resources...)
		files = append(files, k.Components...)
		files = append(files, k.Crds...)
		for _, p := range k.Patches {
			if p.Path != "" {
				files = append(files, p.Path)
			}
		}
		for _, g := range k.ConfigMapGenerator {
			for _, f := range g.FileSources {
				if _, after, ok := strings.Cut(f, "="); ok {
					f = after
				}
				files = append(files, f)
			}
			files = append(files, g.EnvSources...)
		}
		if len(files) == 0 {
			t.Errorf("%s lists nothing", m.file)
		}
		for _, f := range files {
			p := path.Clean(path.Join(dir, f))
			if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(p))); err != nil {
				t.Errorf("%s lists %s: %v", m.file, f, err)
			}
			listed[p] = true
		}
	}
	// Every manifest is either in a kustomization or applied separately on purpose.
	for _, f := range yamlFiles(t, k8sDir) {
		if path.Base(f) == "kustomization.yaml" || listed[f] || slices.Contains(appliedSeparately, f) {
			continue
		}
		t.Errorf("%s is in no kustomization.yaml and not in appliedSeparately", f)
	}
	for _, f := range appliedSeparately {
		if listed[f] {
			t.Errorf("%s is listed by a kustomization but also marked appliedSeparately", f)
		}
	}
}

var (
	builtOnce sync.Once
	builtK8s  []manifest
	builtErr  error
)

// builtManifests is `kustomize build deploy/k8s`, decoded strictly.
func builtManifests(t *testing.T) []manifest {
	t.Helper()
	root := repoRoot(t)
	builtOnce.Do(func() {
		k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
		resMap, err := k.Run(filesys.MakeFsOnDisk(), filepath.Join(root, filepath.FromSlash(k8sDir)))
		if err != nil {
			builtErr = err
			return
		}
		for _, r := range resMap.Resources() {
			y, err := r.AsYAML()
			if err != nil {
				builtErr = err
				return
			}
			m, err := decodeManifest(y)
			if err != nil {
				builtErr = fmt.Errorf("built %s: %w", r.CurId(), err)
				return
			}
			m.file = "kustomize build " + k8sDir
			builtK8s = append(builtK8s, m)
		}
	})
	if builtErr != nil {
		t.Fatal(builtErr)
	}
	return builtK8s
}

// builtConfigMap is the one ConfigMap `kustomize build deploy/k8s` makes.
func builtConfigMap(t *testing.T) *corev1.ConfigMap {
	t.Helper()
	var found []*corev1.ConfigMap
	for _, m := range builtManifests(t) {
		if cm, ok := m.obj.(*corev1.ConfigMap); ok {
			found = append(found, cm)
		}
	}
	if len(found) != 1 {
		t.Fatalf("kustomize build %s made %d ConfigMaps, want 1", k8sDir, len(found))
	}
	return found[0]
}

// TestPolicyFileIsTheConfigMap: the policy file is applied as-is, under a
// fixed name (no hash suffix), so an edit is a live reload, not a rollout.
func TestPolicyFileIsTheConfigMap(t *testing.T) {
	cm := builtConfigMap(t)
	d := deployment(t)
	if cm.Name != "cors-authz-policy" {
		t.Errorf("ConfigMap name %q: want cors-authz-policy, without a hash suffix", cm.Name)
	}
	for _, v := range d.Spec.Template.Spec.Volumes {
		if v.ConfigMap != nil && v.ConfigMap.Name != cm.Name {
			t.Errorf("Deployment mounts ConfigMap %q, kustomize makes %q", v.ConfigMap.Name, cm.Name)
		}
	}
	if got, want := cm.Data["policy.yaml"], string(repoFile(t, configMapFile)); got != want {
		t.Errorf("ConfigMap policy.yaml differs from %s: the file is not applied as-is", configMapFile)
	}
	k := find[*kusttypes.Kustomization](t, k8sDir)
	if len(k.ConfigMapGenerator) != 1 || k.ConfigMapGenerator[0].Options == nil || !k.ConfigMapGenerator[0].Options.DisableNameSuffixHash {
		t.Errorf("configMapGenerator %+v: want one generator with disableNameSuffixHash", k.ConfigMapGenerator)
	}
	for _, m := range builtManifests(t) {
		if m.kind == "Deployment" {
			if ann := m.obj.(*appsv1.Deployment).Spec.Template.Annotations; len(ann) > 0 {
				for a := range ann {
					if strings.Contains(strings.ToLower(a), "checksum") || strings.Contains(strings.ToLower(a), "hash") {
						t.Errorf("pod template annotation %q would roll the pods on a policy edit", a)
					}
				}
			}
		}
	}
}

// TestKustomizationsBuild runs kustomize's own build (the library behind
// `kubectl apply -k`) on each kustomization and decodes its output strictly.
func TestKustomizationsBuild(t *testing.T) {
	for _, dir := range kustomizationDirs(t) {
		t.Run(dir, func(t *testing.T) {
			for _, m := range kustomizeBuild(t, dir) {
				t.Logf("built %s/%s", m.kind, m.name)
			}
		})
	}
}

// kustomizeBuild runs kustomize's build on dir (a slash path from the
// repository root) and decodes each resource it builds strictly, reporting
// (and leaving out) any that does not decode. Building nothing fails.
func kustomizeBuild(t *testing.T, dir string) []manifest {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	resMap, err := k.Run(filesys.MakeFsOnDisk(), filepath.Join(repoRoot(t), filepath.FromSlash(dir)))
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	if resMap.Size() == 0 {
		t.Fatalf("kustomize build %s produced nothing", dir)
	}
	var out []manifest
	for _, r := range resMap.Resources() {
		y, err := r.AsYAML()
		if err != nil {
			t.Fatal(err)
		}
		m, err := decodeManifest(y)
		if err != nil {
			t.Errorf("built %s: %v", r.CurId(), err)
			continue
		}
		out = append(out, m)
	}
	return out
}
