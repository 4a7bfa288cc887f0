package deployconfig

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	egv1a1 "github.com/envoyproxy/gateway/api/v1alpha1"
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	istionetworkingv1alpha3 "istio.io/api/networking/v1alpha3"
	istiosecurityv1beta1 "istio.io/api/security/v1beta1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	gwapiv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"
	"sigs.k8s.io/yaml"

	"github.com/cors-authz/cors-authz/pkg/policy"
)

const (
	chartDir     = "deploy/helm/cors-authz"
	releaseName  = "cors-authz"
	releaseNS    = "cors-authz"
	monitoringAP = "monitoring.coreos.com/v1"
)

var (
	helmOnce sync.Once
	helmPath string
	helmErr  error
)

// helmBinary builds the helm command pinned by the e2e module's tool
// directive (go.mod), once per test run, into the directory TestMain removes.
func helmBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds helm; skipped with -short")
	}
	helmOnce.Do(func() {
		dir, err := os.MkdirTemp("", "deployconfig-helm-")
		if err != nil {
			helmErr = err
			return
		}
		extraCleanup = append(extraCleanup, dir)
		helmPath = filepath.Join(dir, "helm")
		cmd := exec.Command("go", "build", "-o", helmPath, "helm.sh/helm/v4/cmd/helm")
		cmd.Dir = filepath.Join(repoRoot(t), "e2e")
		if out, err := cmd.CombinedOutput(); err != nil {
			helmErr = errors.New("go build helm: " + err.Error() + "\n" + string(out))
		}
	})
	if helmErr != nil {
		t.Fatal(helmErr)
	}
	return helmPath
}

// runHelm runs helm with a private home (no repositories, no plugins) and
// returns its combined output.
func runHelm(t *testing.T, args ...string) (string, error) {
	t.Helper()
	bin := helmBinary(t)
	home := t.TempDir()
	cmd := exec.Command(bin, args...)
	cmd.Dir = repoRoot(t)
	cmd.Env = append(os.Environ(),
		"HELM_CACHE_HOME="+filepath.Join(home, "cache"),
		"HELM_CONFIG_HOME="+filepath.Join(home, "config"),
		"HELM_DATA_HOME="+filepath.Join(home, "data"),
		"KUBECONFIG="+filepath.Join(home, "kubeconfig"))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		return stdout.String() + stderr.String(), err
	}
	return stdout.String(), nil
}

// helmVariant is one documented values combination (chart README, "Tested
// combinations").
type helmVariant struct {
	name        string
	values      string   // file under the chart's ci/, "" for the defaults
	apiVersions []string // --api-versions (capabilities a cluster would have)
	// Which proxies the NetworkPolicy must admit to the gRPC port (nil: no
	// NetworkPolicy rendered).
	admitted []netClient
	refused  []netClient
	kinds    map[string]int // rendered apiVersion/kind counts
}

var coreKinds = map[string]int{
	"apps/v1/Deployment": 1, "v1/Service": 1, "v1/ConfigMap": 1,
	"policy/v1/PodDisruptionBudget": 1, "networking.k8s.io/v1/NetworkPolicy": 1,
}

func withKinds(extra map[string]int, drop ...string) map[string]int {
	m := map[string]int{}
	for k, v := range coreKinds {
		m[k] = v
	}
	for _, k := range drop {
		delete(m, k)
	}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

var allProxies = append(slices.Clone(istioProxies), envoyGatewayProxy)

var helmVariants = []helmVariant{
	{
		name:     "defaults",
		admitted: allProxies,
		refused:  []netClient{istiod, plainPod, prometheus},
		kinds:    coreKinds,
	},
	{
		name:     "existing-configmap",
		values:   "existing-configmap-values.yaml",
		admitted: allProxies,
		refused:  []netClient{istiod, plainPod},
		kinds:    withKinds(nil, "v1/ConfigMap"),
	},
	{
		name:     "istio",
		values:   "istio-values.yaml",
		admitted: allProxies,
		refused:  []netClient{istiod, plainPod},
		kinds: withKinds(map[string]int{
			"security.istio.io/v1/AuthorizationPolicy": 5, "networking.istio.io/v1alpha3/EnvoyFilter": 1,
		}),
	},
	{
		name:     "ambient",
		values:   "ambient-values.yaml",
		admitted: []netClient{gatewayAPIGateway, waypoint},
		refused:  []netClient{istioctlGateway, helmGateway, sidecarInjectionNS, sidecarRevisionNS, sidecarTLSMode, envoyGatewayProxy, plainPod},
		kinds:    withKinds(map[string]int{"security.istio.io/v1/AuthorizationPolicy": 1}),
	},
	{
		name:     "envoy-gateway",
		values:   "envoy-gateway-values.yaml",
		admitted: []netClient{envoyGatewayProxy},
		refused:  append(slices.Clone(istioProxies), plainPod),
		kinds: withKinds(map[string]int{
			"gateway.envoyproxy.io/v1alpha1/SecurityPolicy": 2, "gateway.networking.k8s.io/v1beta1/ReferenceGrant": 1,
		}),
	},
	{
		name:        "monitoring",
		values:      "monitoring-values.yaml",
		apiVersions: []string{monitoringAP},
		admitted:    allProxies,
		refused:     []netClient{plainPod, prometheus},
		kinds: withKinds(map[string]int{
			"monitoring.coreos.com/v1/ServiceMonitor": 1, "monitoring.coreos.com/v1/PrometheusRule": 1,
		}),
	},
	{
		name:   "minimal",
		values: "minimal-values.yaml",
		kinds:  withKinds(nil, "policy/v1/PodDisruptionBudget", "networking.k8s.io/v1/NetworkPolicy"),
	},
	{
		name:     "delegated",
		values:   "delegated-values.yaml",
		admitted: allProxies,
		refused:  []netClient{istiod, plainPod, prometheus},
		kinds:    coreKinds,
	},
}

func (v helmVariant) args(cmd ...string) []string {
	args := slices.Clone(cmd)
	if v.values != "" {
		args = append(args, "--values", path.Join(chartDir, "ci", v.values))
	}
	for _, a := range v.apiVersions {
		args = append(args, "--api-versions", a)
	}
	return args
}

// rendered is the output of helm template, decoded strictly.
type rendered struct {
	raw []byte // helm template's output
	all []manifest
}

func (r rendered) byKind(kind string) []manifest {
	var out []manifest
	for _, m := range r.all {
		if m.apiVersion+"/"+m.kind == kind {
			out = append(out, m)
		}
	}
	return out
}

func one[T any](t *testing.T, r rendered) T {
	t.Helper()
	return exactlyOne[T](t, "rendered", r.all, func(m manifest) any { return m.obj })
}

func renderChart(t *testing.T, v helmVariant, extra ...string) rendered {
	t.Helper()
	args := v.args("template", releaseName, chartDir, "--namespace", releaseNS)
	out, err := runHelm(t, append(args, extra...)...)
	if err != nil {
		t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	r := rendered{raw: []byte(out)}
	for i, doc := range yamlDocuments([]byte(out)) {
		m, err := decodeManifest(doc)
		if err != nil {
			t.Errorf("rendered document %d: %v\n%s", i+1, err, doc)
			continue
		}
		m.file = "helm template (" + v.name + ")"
		r.all = append(r.all, m)
	}
	if len(r.all) == 0 {
		t.Fatalf("helm template rendered nothing")
	}
	return r
}

func TestHelmChartLint(t *testing.T) {
	for _, v := range helmVariants {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			// helm lint has no --api-versions and runs templates in lint mode,
			// where the chart's guard for the missing Prometheus Operator API
			// is reported, not fatal (TestHelmChartRefusesBadValues shows it
			// failing at template and install time).
			noCaps := v
			noCaps.apiVersions = nil
			out, err := runHelm(t, noCaps.args("lint", "--strict", chartDir)...)
			if err != nil {
				t.Fatalf("helm lint --strict: %v\n%s", err, out)
			}
			if !strings.Contains(out, "1 chart(s) linted, 0 chart(s) failed") {
				t.Errorf("helm lint output:\n%s", out)
			}
		})
	}
}

func TestHelmChartRenders(t *testing.T) {
	for _, v := range helmVariants {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			r := renderChart(t, v)
			got := map[string]int{}
			for _, m := range r.all {
				got[m.apiVersion+"/"+m.kind]++
				t.Logf("rendered %s/%s", m.kind, m.name)
			}
			if !reflect.DeepEqual(got, v.kinds) {
				t.Errorf("rendered kinds %v, want %v", got, v.kinds)
			}
			checkHelmDeployment(t, v, r)
			checkHelmPolicy(t, v, r)
			if nps := r.byKind("networking.k8s.io/v1/NetworkPolicy"); len(nps) == 1 {
				np := nps[0].obj.(*networkingv1.NetworkPolicy)
				checkAdmits(t, np, releaseNS, grpcPort, v.admitted, v.refused)
				checkAdmits(t, np, releaseNS, adminPort, []netClient{prometheus}, append(slices.Clone(allProxies), plainPod))
				hbone := v.name == "ambient"
				checkAdmits(t, np, releaseNS, 15008, nil, []netClient{plainPod})
				if hbone != admits(t, np, releaseNS, waypoint, 15008) {
					t.Errorf("waypoint admitted on the HBONE port 15008: %v, want %v", !hbone, hbone)
				}
			}
			checkHelmIstio(t, r)
			checkHelmEnvoyGateway(t, r)
			checkHelmMonitoring(t, r)
		})
	}
}

// checkHelmDeployment asserts the live-reload contract and that the Service
// and PodDisruptionBudget select the pods.
func checkHelmDeployment(t *testing.T, v helmVariant, r rendered) {
	t.Helper()
	d := one[*appsv1.Deployment](t, r)
	for k := range d.Spec.Template.Annotations {
		if strings.Contains(strings.ToLower(k), "checksum") {
			t.Errorf("pod template annotation %q: a policy change would roll the pods instead of reloading", k)
		}
	}
	if len(d.Spec.Template.Spec.Containers) != 1 {
		t.Fatalf("%d containers", len(d.Spec.Template.Spec.Containers))
	}
	c := &d.Spec.Template.Spec.Containers[0]
	cfg := configFlag(t, c)
	// --config names the policy file in the mounted directory, or (a
	// policy directory) the mounted directory itself, whose base is
	// policy.yaml.
	mountPath, key := path.Dir(cfg), path.Base(cfg)
	if !strings.HasSuffix(cfg, ".yaml") {
		mountPath, key = cfg, policy.BaseFile
	}
	var vol *corev1.Volume
	for _, m := range c.VolumeMounts {
		if m.MountPath == mountPath {
			if m.SubPath != "" || m.SubPathExpr != "" || !m.ReadOnly {
				t.Errorf("policy mount %+v: want read-only, no subPath", m)
			}
			for i := range d.Spec.Template.Spec.Volumes {
				if d.Spec.Template.Spec.Volumes[i].Name == m.Name {
					vol = &d.Spec.Template.Spec.Volumes[i]
				}
			}
		}
	}
	if vol == nil || vol.ConfigMap == nil || len(vol.ConfigMap.Items) > 0 {
		t.Fatalf("--config %s is not in a whole-ConfigMap volume: %+v", cfg, vol)
	}
	if cms := r.byKind("v1/ConfigMap"); len(cms) == 1 {
		cm := cms[0].obj.(*corev1.ConfigMap)
		if vol.ConfigMap.Name != cm.Name {
			t.Errorf("volume mounts %q, chart renders ConfigMap %q", vol.ConfigMap.Name, cm.Name)
		}
		if _, ok := cm.Data[key]; !ok {
			t.Errorf("ConfigMap %s has no key %q (--config %s)", cm.Name, key, cfg)
		}
		if fragments := len(cm.Data) - 1; (fragments > 0) != (mountPath == cfg) {
			t.Errorf("ConfigMap %s has %d fragment key(s) but --config is %s", cm.Name, fragments, cfg)
		}
	} else if vol.ConfigMap.Name != "cors-authz-policy" || path.Base(cfg) != "cors-policy.yaml" {
		t.Errorf("existing ConfigMap: volume %q, --config %s; want cors-authz-policy and key cors-policy.yaml (%s)", vol.ConfigMap.Name, cfg, v.values)
	}
	sc := c.SecurityContext
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Errorf("container securityContext %+v: want read-only root, no privilege escalation", sc)
	}
	if c.ReadinessProbe == nil || c.ReadinessProbe.GRPC == nil || c.ReadinessProbe.GRPC.Port != grpcPort {
		t.Errorf("readiness probe %+v: want gRPC on %d", c.ReadinessProbe, grpcPort)
	}
	svc := one[*corev1.Service](t, r)
	if len(svc.Spec.Selector) == 0 || !labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(d.Spec.Template.Labels)) {
		t.Errorf("Service selector %v does not select the pods %v", svc.Spec.Selector, d.Spec.Template.Labels)
	}
	if pdbs := r.byKind("policy/v1/PodDisruptionBudget"); len(pdbs) == 1 {
		pdb := pdbs[0].obj.(*policyv1.PodDisruptionBudget)
		sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
		if err != nil || !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
			t.Errorf("PDB selector %v does not select the pods", pdb.Spec.Selector)
		}
		if d.Spec.Replicas == nil || pdb.Spec.MinAvailable.IntValue() >= int(*d.Spec.Replicas) {
			t.Errorf("PDB minAvailable %v with %v replicas blocks every drain", pdb.Spec.MinAvailable, d.Spec.Replicas)
		}
	}
}

// checkHelmPolicy runs `cors-authz validate` on the whole rendered stream,
// the manifests an operator would apply: it validates the ConfigMap's policy.
func checkHelmPolicy(t *testing.T, v helmVariant, r rendered) {
	t.Helper()
	cms := r.byKind("v1/ConfigMap")
	if len(cms) == 0 {
		return
	}
	cm := cms[0].obj.(*corev1.ConfigMap)
	base := parsePolicy(t, "helm "+v.name+" "+policy.BaseFile, []byte(cm.Data[policy.BaseFile]))
	for key, data := range cm.Data {
		if key == policy.BaseFile {
			continue
		}
		// Any other key is a team's fragment of the mounted directory.
		if _, _, err := policy.ParseFragment(base, "helm "+v.name+" "+key, []byte(data)); err != nil {
			t.Errorf("fragment %s: %v", key, err)
		}
	}
	file := filepath.Join(t.TempDir(), "rendered.yaml")
	if err := os.WriteFile(file, r.raw, 0o600); err != nil {
		t.Fatal(err)
	}
	code, out := runValidateFile(t, file)
	if want := "(ConfigMap " + cm.Name + ", key policy.yaml): ok"; code != 0 || !strings.Contains(out, want) {
		t.Errorf("cors-authz validate on helm template (%s): exit %d\n%s\nwant %q", v.name, code, out, want)
	}
}

func checkHelmIstio(t *testing.T, r rendered) {
	t.Helper()
	for _, m := range r.all {
		om := m.obj.(metav1.Object)
		switch spec := m.spec.(type) {
		case *istiosecurityv1beta1.AuthorizationPolicy:
			if spec.GetAction() != istiosecurityv1beta1.AuthorizationPolicy_CUSTOM || spec.GetProvider().GetName() != "cors-authz" {
				t.Errorf("%s: action %v provider %q", m, spec.GetAction(), spec.GetProvider().GetName())
			}
			hasSel, hasRefs := len(spec.GetSelector().GetMatchLabels()) > 0, len(spec.GetTargetRefs()) > 0
			if hasSel == hasRefs {
				t.Errorf("%s: want exactly one of selector and targetRefs", m)
			}
			if len(spec.GetRules()) != 1 || len(spec.GetRules()[0].GetFrom())+len(spec.GetRules()[0].GetTo())+len(spec.GetRules()[0].GetWhen()) != 0 {
				t.Errorf("%s: rules %v, want one empty rule", m, spec.GetRules())
			}
		case *istionetworkingv1alpha3.EnvoyFilter:
			if len(spec.GetConfigPatches()) != 1 {
				t.Fatalf("%s: %d patches", m, len(spec.GetConfigPatches()))
			}
			p := spec.GetConfigPatches()[0]
			if p.GetApplyTo() != istionetworkingv1alpha3.EnvoyFilter_ROUTE_CONFIGURATION || p.GetMatch().GetContext() != istionetworkingv1alpha3.EnvoyFilter_GATEWAY ||
				p.GetPatch().GetOperation() != istionetworkingv1alpha3.EnvoyFilter_Patch_MERGE {
				t.Errorf("%s: patch %v", m, p)
			}
			var removed []string
			for _, v := range p.GetPatch().GetValue().GetFields()["response_headers_to_remove"].GetListValue().GetValues() {
				removed = append(removed, v.GetStringValue())
			}
			for _, h := range corsResponseHeaders {
				if !containsFold(removed, h) {
					t.Errorf("%s does not remove %s", m, h)
				}
			}
		default:
			continue
		}
		if om.GetNamespace() == "" {
			t.Errorf("%s has no namespace: it must live next to the workload it attaches to", m)
		}
		if om.GetLabels()["istio.io/rev"] != "stable" && strings.Contains(m.file, "(istio)") {
			t.Errorf("%s lacks istio.io/rev=stable", m)
		}
	}
}

func checkHelmEnvoyGateway(t *testing.T, r rendered) {
	t.Helper()
	sps := r.byKind("gateway.envoyproxy.io/v1alpha1/SecurityPolicy")
	if len(sps) == 0 {
		return
	}
	svc := one[*corev1.Service](t, r)
	p := parsePolicy(t, "deploy/helm/cors-authz/values.yaml", []byte(helmDefaultPolicy(t)))
	namespaces := map[string]bool{}
	for _, m := range sps {
		sp := m.obj.(*egv1a1.SecurityPolicy)
		namespaces[sp.Namespace] = true
		checkSecurityPolicy(t, sp, svc.Name, releaseNS, p)
	}
	rg := one[*gwapiv1beta1.ReferenceGrant](t, r)
	for ns := range namespaces {
		if !slices.ContainsFunc(rg.Spec.From, func(f gwapiv1beta1.ReferenceGrantFrom) bool {
			return string(f.Namespace) == ns && f.Kind == "SecurityPolicy" && f.Group == egv1a1.GroupName
		}) {
			t.Errorf("ReferenceGrant %s does not admit SecurityPolicies from %s", rg.Name, ns)
		}
	}
	if len(rg.Spec.To) != 1 || rg.Spec.To[0].Kind != "Service" || rg.Spec.To[0].Name == nil || string(*rg.Spec.To[0].Name) != svc.Name {
		t.Errorf("ReferenceGrant to %+v, want the Service %s", rg.Spec.To, svc.Name)
	}
}

// checkSecurityPolicy asserts what cors-authz needs from an Envoy Gateway
// SecurityPolicy: gRPC ext_authz at the Service, the headers it reads, a
// cors_class that exists in the policy, and no CORS of Envoy Gateway's own.
func checkSecurityPolicy(t *testing.T, sp *egv1a1.SecurityPolicy, svcName, svcNS string, p *policy.Policy) {
	t.Helper()
	ea := sp.Spec.ExtAuth
	if ea == nil || ea.GRPC == nil || ea.HTTP != nil {
		t.Fatalf("SecurityPolicy %s: want extAuth.grpc", sp.Name)
	}
	if sp.Spec.CORS != nil {
		t.Errorf("SecurityPolicy %s sets Envoy Gateway's own CORS, which runs before ext_authz and overrides it", sp.Name)
	}
	refs := ea.GRPC.BackendRefs
	if len(refs) != 1 || string(refs[0].Name) != svcName || refs[0].Port == nil || int32(*refs[0].Port) != grpcPort {
		t.Errorf("SecurityPolicy %s backendRefs %+v, want %s:%d", sp.Name, refs, svcName, grpcPort)
	} else if ns := refs[0].Namespace; (ns == nil && sp.Namespace != svcNS) || (ns != nil && string(*ns) != svcNS) {
		t.Errorf("SecurityPolicy %s backendRef namespace %v, want %s", sp.Name, ns, svcNS)
	}
	if !slices.Equal(ea.HeadersToExtAuth, headersRead) {
		t.Errorf("SecurityPolicy %s headersToExtAuth %v, want %v", sp.Name, ea.HeadersToExtAuth, headersRead)
	}
	var class string
	for _, ce := range ea.ContextExtensions {
		if ce.Name == "cors_class" && ce.Value != nil && (ce.Type == egv1a1.ContextExtensionValueTypeValue || ce.Type == "") {
			class = *ce.Value
		}
	}
	if class == "" || p.Class(class) == nil {
		t.Errorf("SecurityPolicy %s: cors_class %q is not a class of the policy", sp.Name, class)
	}
	if len(sp.Spec.TargetRefs) == 0 {
		t.Errorf("SecurityPolicy %s targets nothing", sp.Name)
	}
	for _, ref := range sp.Spec.TargetRefs {
		if ref.Kind != "HTTPRoute" || ref.Group != "gateway.networking.k8s.io" {
			t.Errorf("SecurityPolicy %s targets %s/%s: want HTTPRoutes, one class per route", sp.Name, ref.Group, ref.Kind)
		}
	}
}

func checkHelmMonitoring(t *testing.T, r rendered) {
	t.Helper()
	if sms := r.byKind("monitoring.coreos.com/v1/ServiceMonitor"); len(sms) == 1 {
		sm := sms[0].obj.(*monitoringv1.ServiceMonitor)
		svc := one[*corev1.Service](t, r)
		sel, err := metav1.LabelSelectorAsSelector(&sm.Spec.Selector)
		if err != nil || !sel.Matches(labels.Set(svc.Labels)) {
			t.Errorf("ServiceMonitor selector %v does not select the Service %v", sm.Spec.Selector, svc.Labels)
		}
		if len(sm.Spec.Endpoints) != 1 || !slices.ContainsFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool {
			return p.Name == sm.Spec.Endpoints[0].Port && p.Port == adminPort
		}) || sm.Spec.Endpoints[0].Path != "/metrics" {
			t.Errorf("ServiceMonitor endpoints %+v: want the admin port's /metrics", sm.Spec.Endpoints)
		}
		if sm.Labels["release"] == "" {
			t.Errorf("ServiceMonitor labels %v: want the configured release label", sm.Labels)
		}
	}
	if prs := r.byKind("monitoring.coreos.com/v1/PrometheusRule"); len(prs) == 1 {
		pr := prs[0].obj.(*monitoringv1.PrometheusRule)
		shipped := &monitoringv1.PrometheusRule{}
		js, err := yamlToJSON(repoFile(t, "deploy/observability/prometheus-rules.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		if err := decodeStrict(js, shipped); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(pr.Spec, shipped.Spec) {
			t.Errorf("the chart's PrometheusRule differs from deploy/observability/prometheus-rules.yaml: copy it to %s/files/prometheus-rule-groups.yaml", chartDir)
		}
	}
}

// helmDefaultPolicy is policy.content of the chart's values.yaml.
func helmDefaultPolicy(t *testing.T) string {
	t.Helper()
	var vals struct {
		Policy struct {
			Content string `json:"content"`
		} `json:"policy"`
	}
	if err := yaml.Unmarshal(repoFile(t, chartDir+"/values.yaml"), &vals); err != nil {
		t.Fatal(err)
	}
	return vals.Policy.Content
}

// TestHelmChartRefusesBadValues shows values.schema.json and the templates'
// guards failing at template time (and so at install).
func TestHelmChartRefusesBadValues(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown top-level key", []string{"--set", "replicas=3"}, "replicas"},
		{"miscased key", []string{"--set", "networkPolicy.Enabled=false"}, "Enabled"},
		{"zero replicas", []string{"--set", "replicaCount=0"}, "replicaCount"},
		{"port out of range", []string{"--set", "ports.grpc=70000"}, "grpc"},
		{"string for bool", []string{"--set-string", "networkPolicy.enabled=yes"}, "enabled"},
		{"selector and targetRefs", []string{"--values", path.Join(chartDir, "ci", "istio-values.yaml"),
			"--set", "istio.authorizationPolicies[2].selector.app=x"}, "authorizationPolicies"},
		{"security policy without class", []string{"--set", "envoyGateway.securityPolicies[0].name=a",
			"--set", "envoyGateway.securityPolicies[0].namespace=b", "--set", "envoyGateway.securityPolicies[0].routes[0]=r"}, "corsClass"},
		{"ServiceMonitor without the CRD", []string{"--set", "metrics.serviceMonitor.enabled=true"}, monitoringAP},
		{"fragment named like the base", []string{"--set", "policy.fragments.policy\\.yaml=x"}, "invalid propertyName 'policy.yaml'"},
		{"fragment not a .yaml file", []string{"--set", "policy.fragments.team-a\\.txt=x"}, "'team-a.txt' does not match"},
		{"policy directory with another base key", []string{"--set", "policy.directory=true", "--set", "policy.key=cors.yaml"}, "key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			args := append([]string{"template", releaseName, chartDir, "--namespace", releaseNS}, tc.args...)
			out, err := runHelm(t, args...)
			if err == nil || !strings.Contains(out, tc.want) {
				t.Errorf("helm %s: err %v, output:\n%s\nwant a failure mentioning %q", strings.Join(tc.args, " "), err, out, tc.want)
			}
		})
	}
}

// TestHelmChartReadmeListsVariants keeps the chart README's list of tested
// combinations and the ci/ directory in step with helmVariants.
func TestHelmChartReadmeListsVariants(t *testing.T) {
	readme := string(repoFile(t, chartDir+"/README.md"))
	files, err := os.ReadDir(filepath.Join(repoRoot(t), filepath.FromSlash(chartDir), "ci"))
	if err != nil {
		t.Fatal(err)
	}
	tested := map[string]bool{}
	for _, v := range helmVariants {
		if v.values != "" {
			tested[v.values] = true
		}
	}
	for _, f := range files {
		if !tested[f.Name()] {
			t.Errorf("ci/%s is not rendered by helmVariants", f.Name())
		}
		if !strings.Contains(readme, "ci/"+f.Name()) {
			t.Errorf("README.md does not document ci/%s", f.Name())
		}
	}
	for f := range tested {
		if _, err := os.Stat(filepath.Join(repoRoot(t), filepath.FromSlash(chartDir), "ci", f)); err != nil {
			t.Errorf("helmVariants renders ci/%s: %v", f, err)
		}
	}
}
