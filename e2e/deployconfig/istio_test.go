package deployconfig

import (
	"slices"
	"strconv"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	istiomeshv1alpha1 "istio.io/api/mesh/v1alpha1"
	istionetworkingv1alpha3 "istio.io/api/networking/v1alpha3"
	istiosecurityv1beta1 "istio.io/api/security/v1beta1"
	corev1 "k8s.io/api/core/v1"
)

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

func TestIstioAuthorizationPolicy(t *testing.T) {
	ap := findSpec[*istiosecurityv1beta1.AuthorizationPolicy](t)
	if ap.GetAction() != istiosecurityv1beta1.AuthorizationPolicy_CUSTOM {
		t.Errorf("action = %v, want CUSTOM", ap.GetAction())
	}
	if ap.GetProvider().GetName() == "" {
		t.Fatalf("no provider named")
	}
	grpcProvider(t, ap.GetProvider().GetName()) // must exist
	if len(ap.GetSelector().GetMatchLabels()) == 0 && len(ap.GetTargetRefs()) == 0 && ap.GetTargetRef() == nil {
		t.Errorf("policy selects no workload: it would apply to every workload in its namespace")
	}
	// CUSTOM only calls the provider when a rule matches. An empty rule
	// matches every request, so no path or method skips the CORS check.
	if !slices.ContainsFunc(ap.GetRules(), func(r *istiosecurityv1beta1.Rule) bool {
		return proto.Equal(r, &istiosecurityv1beta1.Rule{})
	}) {
		t.Errorf("rules %v: want an empty rule (match every request)", ap.GetRules())
	}
}

func TestIstioExtensionProviderReachesService(t *testing.T) {
	ap := findSpec[*istiosecurityv1beta1.AuthorizationPolicy](t)
	g := grpcProvider(t, ap.GetProvider().GetName())
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
