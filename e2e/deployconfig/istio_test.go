package deployconfig

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	istiomeshv1alpha1 "istio.io/api/mesh/v1alpha1"
	istionetworkingv1alpha3 "istio.io/api/networking/v1alpha3"
	istiosecurityv1beta1 "istio.io/api/security/v1beta1"
	corev1 "k8s.io/api/core/v1"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"
)

const istioDir = "deploy/k8s/istio"

// grpcProvider returns the mesh's envoyExtAuthzGrpc provider with the given name.
func grpcProvider(t *testing.T, name string) *istiomeshv1alpha1.MeshConfig_ExtensionProvider_EnvoyExternalAuthorizationGrpcProvider {
	t.Helper()
	mesh := findSpec[*istiomeshv1alpha1.MeshConfig](t)
	for _, p := range mesh.GetExtensionProviders() {
		if p.GetName() == name {
			g := p.GetEnvoyExtAuthzGrpc()
			if g == nil {
				t.Fatalf("extension provider %q is not envoyExtAuthzGrpc", name)
			}
			return g
		}
	}
	t.Fatalf("MeshConfig has no extension provider %q", name)
	return nil
}

func TestIstioAuthorizationPolicies(t *testing.T) {
	aps := specsOf[*istiosecurityv1beta1.AuthorizationPolicy](t)
	var bySelector, byGateway, byService int
	for name, ap := range aps {
		if ap.GetAction() != istiosecurityv1beta1.AuthorizationPolicy_CUSTOM {
			t.Errorf("%s: action = %v, want CUSTOM", name, ap.GetAction())
		}
		if ap.GetProvider().GetName() == "" {
			t.Fatalf("%s: no provider named", name)
		}
		grpcProvider(t, ap.GetProvider().GetName()) // must exist
		hasSel, hasRefs := len(ap.GetSelector().GetMatchLabels()) > 0, len(ap.GetTargetRefs()) > 0
		if ap.GetTargetRef() != nil {
			t.Errorf("%s: targetRef (singular) is deprecated; use targetRefs", name)
		}
		if hasSel == hasRefs {
			t.Errorf("%s: want exactly one of selector and targetRefs (neither would apply it to every workload in its namespace)", name)
		}
		if hasSel {
			bySelector++
		}
		for _, ref := range ap.GetTargetRefs() {
			switch {
			case ref.GetKind() == "Gateway" && ref.GetGroup() == "gateway.networking.k8s.io":
				byGateway++
			case ref.GetKind() == "Service" && ref.GetGroup() == "":
				byService++
			default:
				t.Errorf("%s: targetRef %v: want a Gateway API Gateway or a Service", name, ref)
			}
		}
		// CUSTOM only calls the provider when a rule matches. An empty rule
		// matches every request, so no path or method skips the CORS check.
		if !slices.ContainsFunc(ap.GetRules(), func(r *istiosecurityv1beta1.Rule) bool {
			return proto.Equal(r, &istiosecurityv1beta1.Rule{})
		}) {
			t.Errorf("%s: rules %v: want an empty rule (match every request)", name, ap.GetRules())
		}
	}
	// Sidecars and istio/gateway gateways (selector), Gateway API gateways
	// and waypoints (targetRefs Gateway), a waypoint's Service (targetRefs Service).
	if bySelector < 2 || byGateway < 2 || byService < 1 {
		t.Errorf("examples: %d by selector, %d by Gateway, %d by Service; want the ingress gateway and sidecars, a Gateway API gateway and a waypoint, and a Service", bySelector, byGateway, byService)
	}
}

// TestIstioStripsAppHeadersCentrally: the EnvoyFilter removes every CORS
// response header on all routes of the gateway the AuthorizationPolicy
// selects, so no VirtualService needs its own copy.
func TestIstioStripsAppHeadersCentrally(t *testing.T) {
	ef := findSpec[*istionetworkingv1alpha3.EnvoyFilter](t)
	var gatewayAP *istiosecurityv1beta1.AuthorizationPolicy
	for name, ap := range specsOf[*istiosecurityv1beta1.AuthorizationPolicy](t) {
		if strings.HasPrefix(name, istioDir+"/authorization-policy.yaml:") {
			gatewayAP = ap
		}
	}
	if gatewayAP == nil {
		t.Fatal("no AuthorizationPolicy in authorization-policy.yaml")
	}
	if !maps.Equal(ef.GetWorkloadSelector().GetLabels(), gatewayAP.GetSelector().GetMatchLabels()) {
		t.Errorf("EnvoyFilter selects %v, the AuthorizationPolicy %v: both must be the same gateway", ef.GetWorkloadSelector().GetLabels(), gatewayAP.GetSelector().GetMatchLabels())
	}
	if len(ef.GetConfigPatches()) != 1 {
		t.Fatalf("%d config patches, want 1", len(ef.GetConfigPatches()))
	}
	p := ef.GetConfigPatches()[0]
	if p.GetApplyTo() != istionetworkingv1alpha3.EnvoyFilter_ROUTE_CONFIGURATION ||
		p.GetMatch().GetContext() != istionetworkingv1alpha3.EnvoyFilter_GATEWAY ||
		p.GetMatch().GetRouteConfiguration() != nil ||
		p.GetPatch().GetOperation() != istionetworkingv1alpha3.EnvoyFilter_Patch_MERGE {
		t.Errorf("patch %v: want MERGE into every gateway ROUTE_CONFIGURATION", p)
	}
	fields := p.GetPatch().GetValue().GetFields()
	if len(fields) != 1 {
		t.Errorf("patch value sets %d fields, want only response_headers_to_remove", len(fields))
	}
	var removed []string
	for _, v := range fields["response_headers_to_remove"].GetListValue().GetValues() {
		removed = append(removed, v.GetStringValue())
	}
	for _, h := range corsResponseHeaders {
		if !containsFold(removed, h) {
			t.Errorf("EnvoyFilter does not remove %s", h)
		}
	}
}

func TestIstioGatewayAPIRouteStripsCORS(t *testing.T) {
	r := find[*gwapiv1.HTTPRoute](t, istioDir)
	for i, rule := range r.Spec.Rules {
		checkRuleStripsCORS(t, fmt.Sprintf("%s/httproute-gateway-api.yaml rule %d", istioDir, i), rule)
	}
}

func TestIstioExtensionProviderReachesService(t *testing.T) {
	g := grpcProvider(t, "cors-authz")
	svc := find[*corev1.Service](t, k8sDir)
	wantHost := svc.Name + "." + "cors-authz" + ".svc.cluster.local"
	if g.GetService() != wantHost {
		t.Errorf("provider service = %q, want %q (Service %s deployed into namespace cors-authz, as docs/deploy.md says)", g.GetService(), wantHost, svc.Name)
	}
	var grpcSvcPort int32
	for _, p := range svc.Spec.Ports {
		if p.AppProtocol != nil && *p.AppProtocol == "grpc" {
			grpcSvcPort = p.Port
		}
	}
	if int32(g.GetPort()) != grpcSvcPort {
		t.Errorf("provider port = %d, Service gRPC port = %d", g.GetPort(), grpcSvcPort)
	}
	if d := g.GetTimeout().AsDuration(); g.GetTimeout() == nil || d <= 0 || d > time.Second {
		t.Errorf("provider timeout = %v, want explicit and at most 1s (Istio's default is 600s)", d)
	}
	code, err := strconv.Atoi(g.GetStatusOnError())
	if err != nil || code < 500 || code > 599 {
		t.Errorf("statusOnError = %q, want a 5xx", g.GetStatusOnError())
	}
	// Both deployment paths make the same failure-mode choice.
	for _, h := range hcmConfigs(t, loadBootstrap(t)) {
		_, ea := extAuthzOf(t, h)
		if ea.GetFailureModeAllow() != g.GetFailOpen() {
			t.Errorf("Istio failOpen = %v, Envoy failure_mode_allow = %v", g.GetFailOpen(), ea.GetFailureModeAllow())
		}
	}
}

func TestIstioPathNormalisation(t *testing.T) {
	mesh := findSpec[*istiomeshv1alpha1.MeshConfig](t)
	safe := []istiomeshv1alpha1.MeshConfig_ProxyPathNormalization_NormalizationType{
		istiomeshv1alpha1.MeshConfig_ProxyPathNormalization_MERGE_SLASHES,
		istiomeshv1alpha1.MeshConfig_ProxyPathNormalization_DECODE_AND_MERGE_SLASHES,
	}
	if n := mesh.GetPathNormalization().GetNormalization(); !slices.Contains(safe, n) {
		t.Errorf("pathNormalization = %v, want one of %v", n, safe)
	}
}

func TestIstioVirtualServiceStripsCORSResponseHeaders(t *testing.T) {
	vs := findSpec[*istionetworkingv1alpha3.VirtualService](t)
	if len(vs.GetHttp()) == 0 {
		t.Fatalf("VirtualService has no http routes")
	}
	for i, r := range vs.GetHttp() {
		removed := r.GetHeaders().GetResponse().GetRemove()
		for _, hdr := range corsResponseHeaders {
			if !containsFold(removed, hdr) {
				t.Errorf("http[%d] (%s) does not remove %s", i, r.GetName(), hdr)
			}
		}
		for _, hdr := range corsResponseHeaders {
			if _, ok := r.GetHeaders().GetResponse().GetSet()[hdr]; ok {
				t.Errorf("http[%d] sets %s itself", i, hdr)
			}
			if _, ok := r.GetHeaders().GetResponse().GetAdd()[hdr]; ok {
				t.Errorf("http[%d] adds %s itself", i, hdr)
			}
		}
	}
}
