package deployconfig

import (
	"fmt"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	egv1a1 "github.com/envoyproxy/gateway/api/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwapiv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"
	"sigs.k8s.io/kustomize/api/krusty"
	kusttypes "sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/cors-authz/cors-authz/pkg/policy"
)

const egDir = "deploy/envoy-gateway"

// dirManifests decodes every document of every YAML file under dir strictly.
func dirManifests(t *testing.T, dir string) []manifest {
	t.Helper()
	var out []manifest
	for _, f := range yamlFiles(t, dir) {
		for i, doc := range yamlDocuments(repoFile(t, f)) {
			m, err := decodeManifest(doc)
			if err != nil {
				t.Fatalf("%s (document %d): %v", f, i+1, err)
			}
			m.file = f
			out = append(out, m)
		}
	}
	return out
}

func objectsOf[T any](ms []manifest) []T {
	var out []T
	for _, m := range ms {
		if v, ok := m.obj.(T); ok {
			out = append(out, v)
		}
	}
	return out
}

func TestEnvoyGatewayManifests(t *testing.T) {
	ms := dirManifests(t, egDir)
	kinds := map[string]int{}
	for _, m := range ms {
		kinds[m.apiVersion+"/"+m.kind]++
	}
	for _, k := range []string{
		"gateway.networking.k8s.io/v1/GatewayClass", "gateway.networking.k8s.io/v1/Gateway",
		"gateway.networking.k8s.io/v1/HTTPRoute", "gateway.envoyproxy.io/v1alpha1/SecurityPolicy",
		"gateway.networking.k8s.io/v1beta1/ReferenceGrant", "kustomize.config.k8s.io/v1beta1/Kustomization",
	} {
		if kinds[k] == 0 {
			t.Errorf("no %s under %s", k, egDir)
		}
	}
	// The kustomization lists every other file and builds.
	ks := objectsOf[*kusttypes.Kustomization](ms)
	if len(ks) != 1 {
		t.Fatalf("%d kustomizations", len(ks))
	}
	for _, f := range yamlFiles(t, egDir) {
		if path.Base(f) != "kustomization.yaml" && !slices.Contains(ks[0].Resources, path.Base(f)) {
			t.Errorf("%s is not in %s/kustomization.yaml", f, egDir)
		}
	}
	resMap, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), filepath.Join(repoRoot(t), filepath.FromSlash(egDir)))
	if err != nil {
		t.Fatalf("kustomize build %s: %v", egDir, err)
	}
	for _, r := range resMap.Resources() {
		y, err := r.AsYAML()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := decodeManifest(y); err != nil {
			t.Errorf("built %s: %v", r.CurId(), err)
		}
	}
	if !strings.Contains(string(repoFile(t, egDir+"/kustomization.yaml")), "v1.7.0") {
		t.Errorf("%s/kustomization.yaml does not state the minimum Envoy Gateway version (v1.7.0, contextExtensions)", egDir)
	}
}

// TestEnvoyGatewayRoutes: every route strips the applications' CORS headers,
// sets none itself, uses no Gateway API CORS filter, and hangs off the Gateway.
func TestEnvoyGatewayRoutes(t *testing.T) {
	ms := dirManifests(t, egDir)
	gws := objectsOf[*gwapiv1.Gateway](ms)
	classes := objectsOf[*gwapiv1.GatewayClass](ms)
	if len(gws) != 1 || len(classes) != 1 {
		t.Fatalf("want one Gateway and one GatewayClass, got %d and %d", len(gws), len(classes))
	}
	if string(gws[0].Spec.GatewayClassName) != classes[0].Name || classes[0].Spec.ControllerName != "gateway.envoyproxy.io/gatewayclass-controller" {
		t.Errorf("Gateway class %q, GatewayClass %s controller %q", gws[0].Spec.GatewayClassName, classes[0].Name, classes[0].Spec.ControllerName)
	}
	routes := objectsOf[*gwapiv1.HTTPRoute](ms)
	if len(routes) == 0 {
		t.Fatal("no HTTPRoute")
	}
	for _, r := range routes {
		if len(r.Spec.ParentRefs) == 0 || string(r.Spec.ParentRefs[0].Name) != gws[0].Name || r.Namespace != gws[0].Namespace {
			t.Errorf("HTTPRoute %s: parentRefs %+v, want the Gateway %s/%s", r.Name, r.Spec.ParentRefs, gws[0].Namespace, gws[0].Name)
		}
		for i, rule := range r.Spec.Rules {
			checkRuleStripsCORS(t, fmt.Sprintf("HTTPRoute %s rule %d", r.Name, i), rule)
		}
	}
}

func checkRuleStripsCORS(t *testing.T, where string, rule gwapiv1.HTTPRouteRule) {
	t.Helper()
	var removed []string
	for _, f := range rule.Filters {
		switch f.Type {
		case gwapiv1.HTTPRouteFilterResponseHeaderModifier:
			m := f.ResponseHeaderModifier
			removed = append(removed, m.Remove...)
			for _, h := range slices.Concat(m.Set, m.Add) {
				if containsFold(corsResponseHeaders, string(h.Name)) {
					t.Errorf("%s sets %s itself", where, h.Name)
				}
			}
		case gwapiv1.HTTPRouteFilterCORS:
			t.Errorf("%s uses the Gateway API CORS filter: it runs before ext_authz and answers for the policy", where)
		}
	}
	for _, h := range corsResponseHeaders {
		if !containsFold(removed, h) {
			t.Errorf("%s does not remove %s", where, h)
		}
	}
}

// TestEnvoyGatewaySecurityPolicies: each HTTPRoute has exactly one
// SecurityPolicy with gRPC ext_authz to the deploy/k8s Service, a cors_class
// the shipped policy has, and the policy's match rules pick that same class
// for the route's paths (so Istio, which sends no class, agrees).
func TestEnvoyGatewaySecurityPolicies(t *testing.T) {
	ms := dirManifests(t, egDir)
	svc := find[*corev1.Service](t, k8sDir)
	p := configMapPolicy(t)
	routes := map[string]*gwapiv1.HTTPRoute{}
	for _, r := range objectsOf[*gwapiv1.HTTPRoute](ms) {
		routes[r.Namespace+"/"+r.Name] = r
	}
	targeted := map[string]int{}
	for _, sp := range objectsOf[*egv1a1.SecurityPolicy](ms) {
		checkSecurityPolicy(t, sp, svc.Name, "cors-authz", p)
		if sp.Spec.ExtAuth.Timeout == nil || sp.Spec.ExtAuth.FailOpen == nil {
			t.Errorf("SecurityPolicy %s: set timeout (default 10s) and failOpen explicitly", sp.Name)
		}
		class := ""
		for _, ce := range sp.Spec.ExtAuth.ContextExtensions {
			if ce.Name == "cors_class" && ce.Value != nil {
				class = *ce.Value
			}
		}
		for _, ref := range sp.Spec.TargetRefs {
			key := sp.Namespace + "/" + string(ref.Name)
			targeted[key]++
			r, ok := routes[key]
			if !ok {
				t.Errorf("SecurityPolicy %s targets HTTPRoute %s, which is not shipped", sp.Name, key)
				continue
			}
			for _, rule := range r.Spec.Rules {
				for _, m := range rule.Matches {
					if m.Path == nil || m.Path.Value == nil {
						continue
					}
					probe := *m.Path.Value
					if m.Path.Type != nil && *m.Path.Type == gwapiv1.PathMatchPathPrefix {
						probe = strings.TrimSuffix(probe, "/") + "/x"
					}
					rt := p.Classify(&policy.Request{Method: "GET", Scheme: "https", Host: "app.example.com", Path: probe})
					if rt.Class == nil || rt.Class.Name != class {
						t.Errorf("HTTPRoute %s path %s is class %q by cors_class, %q by the policy's match rules", key, probe, class, className(rt.Class))
					}
				}
			}
		}
	}
	for key := range routes {
		if targeted[key] != 1 {
			t.Errorf("HTTPRoute %s is targeted by %d SecurityPolicies, want 1", key, targeted[key])
		}
	}
	// The cross-namespace backendRef is granted.
	grants := objectsOf[*gwapiv1beta1.ReferenceGrant](ms)
	for _, sp := range objectsOf[*egv1a1.SecurityPolicy](ms) {
		ok := slices.ContainsFunc(grants, func(g *gwapiv1beta1.ReferenceGrant) bool {
			return g.Namespace == "cors-authz" && slices.ContainsFunc(g.Spec.From, func(f gwapiv1beta1.ReferenceGrantFrom) bool {
				return string(f.Namespace) == sp.Namespace && f.Kind == "SecurityPolicy" && f.Group == egv1a1.GroupName
			}) && slices.ContainsFunc(g.Spec.To, func(to gwapiv1beta1.ReferenceGrantTo) bool {
				return to.Kind == "Service" && to.Name != nil && string(*to.Name) == svc.Name
			})
		})
		if !ok {
			t.Errorf("no ReferenceGrant in cors-authz lets SecurityPolicy %s/%s reach Service %s", sp.Namespace, sp.Name, svc.Name)
		}
	}
}
