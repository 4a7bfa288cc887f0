package deployconfig

import (
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// netClient is a pod that may open a connection to cors-authz: where
// proxies actually run, with the labels their installers put on them
// (docs/deploy.md, "NetworkPolicy").
type netClient struct {
	name      string
	namespace string
	nsLabels  map[string]string // besides kubernetes.io/metadata.name
	podLabels map[string]string
}

// Proxies that call the gRPC port, and pods that must not.
var (
	istioctlGateway = netClient{"istioctl ingress gateway", "istio-system", nil,
		map[string]string{"app": "istio-ingressgateway", "istio": "ingressgateway"}}
	helmGateway = netClient{"istio/gateway Helm chart gateway", "istio-ingress", nil,
		map[string]string{"app": "istio-ingress", "istio": "ingress"}}
	gatewayAPIGateway = netClient{"Istio Gateway API gateway", "edge", nil,
		map[string]string{"gateway.networking.k8s.io/gateway-name": "public", "gateway.istio.io/managed": "istio.io-gateway-controller"}}
	waypoint = netClient{"ambient waypoint", "shop", map[string]string{"istio.io/dataplane-mode": "ambient"},
		map[string]string{"gateway.networking.k8s.io/gateway-name": "waypoint", "gateway.istio.io/managed": "istio.io-mesh-controller"}}
	sidecarInjectionNS = netClient{"sidecar, namespace istio-injection=enabled", "legacy", map[string]string{"istio-injection": "enabled"},
		map[string]string{"app": "shop"}}
	sidecarRevisionNS = netClient{"sidecar, namespace istio.io/rev=canary", "canary", map[string]string{"istio.io/rev": "canary"},
		map[string]string{"app": "shop"}}
	sidecarPodLabel = netClient{"sidecar, pod sidecar.istio.io/inject=true", "misc", nil,
		map[string]string{"app": "shop", "sidecar.istio.io/inject": "true"}}
	sidecarPodRevision = netClient{"sidecar, pod istio.io/rev=stable", "misc", nil,
		map[string]string{"app": "shop", "istio.io/rev": "stable"}}
	sidecarTLSMode = netClient{"sidecar, injected pod (security.istio.io/tlsMode=istio)", "webhook", nil,
		map[string]string{"app": "shop", "security.istio.io/tlsMode": "istio", "service.istio.io/canonical-name": "shop"}}
	envoyGatewayProxy = netClient{"Envoy Gateway proxy", "envoy-gateway-system", nil,
		map[string]string{"app.kubernetes.io/managed-by": "envoy-gateway", "app.kubernetes.io/component": "proxy", "app.kubernetes.io/name": "envoy"}}
	istiod = netClient{"istiod", "istio-system", nil,
		map[string]string{"app": "istiod", "istio": "pilot"}}
	plainPod = netClient{"plain pod", "default", nil, map[string]string{"app": "web"}}
	// prometheus reads the admin port only.
	prometheus = netClient{"prometheus", "monitoring", nil,
		map[string]string{"app.kubernetes.io/name": "prometheus"}}
)

// istioProxies are every place an Istio proxy that runs ext_authz lives.
var istioProxies = []netClient{istioctlGateway, helmGateway, gatewayAPIGateway, waypoint,
	sidecarInjectionNS, sidecarRevisionNS, sidecarPodLabel, sidecarPodRevision, sidecarTLSMode}

// admits reports whether the NetworkPolicy (in namespace policyNS) lets c
// open a TCP connection to port, following the NetworkPolicy semantics: a
// rule admits when one of its ports and one of its peers match; a peer with
// only a podSelector means the policy's own namespace.
func admits(t *testing.T, np *networkingv1.NetworkPolicy, policyNS string, c netClient, port int32) bool {
	t.Helper()
	nsLabels := labels.Set{"kubernetes.io/metadata.name": c.namespace}
	for k, v := range c.nsLabels {
		nsLabels[k] = v
	}
	matches := func(sel *metav1.LabelSelector, set labels.Set) bool {
		s, err := metav1.LabelSelectorAsSelector(sel)
		if err != nil {
			t.Fatalf("NetworkPolicy %s: selector %v: %v", np.Name, sel, err)
		}
		return s.Matches(set)
	}
	for _, rule := range np.Spec.Ingress {
		portOK := len(rule.Ports) == 0
		for _, p := range rule.Ports {
			if p.Port == nil || (p.Port.Type == intstr.Int && p.Port.IntVal == port) {
				portOK = true
			}
		}
		if !portOK {
			continue
		}
		if len(rule.From) == 0 {
			return true
		}
		for _, peer := range rule.From {
			switch {
			case peer.NamespaceSelector == nil && peer.PodSelector == nil:
				continue // ipBlock: not a pod
			case peer.NamespaceSelector == nil:
				if c.namespace == policyNS && matches(peer.PodSelector, labels.Set(c.podLabels)) {
					return true
				}
			default:
				if matches(peer.NamespaceSelector, nsLabels) &&
					(peer.PodSelector == nil || matches(peer.PodSelector, labels.Set(c.podLabels))) {
					return true
				}
			}
		}
	}
	return false
}

// checkAdmits asserts which clients reach which port.
func checkAdmits(t *testing.T, np *networkingv1.NetworkPolicy, policyNS string, port int32, admitted, refused []netClient) {
	t.Helper()
	for _, c := range admitted {
		if !admits(t, np, policyNS, c, port) {
			t.Errorf("NetworkPolicy %s refuses %s (%s) on port %d", np.Name, c.name, c.namespace, port)
		}
	}
	for _, c := range refused {
		if admits(t, np, policyNS, c, port) {
			t.Errorf("NetworkPolicy %s admits %s (%s) on port %d", np.Name, c.name, c.namespace, port)
		}
	}
}

// TestAdmitsSemantics pins the evaluator itself on hand-made policies.
func TestAdmitsSemantics(t *testing.T) {
	port := intstr.FromInt32(grpcPort)
	rule := func(peers ...networkingv1.NetworkPolicyPeer) *networkingv1.NetworkPolicy {
		return &networkingv1.NetworkPolicy{Spec: networkingv1.NetworkPolicySpec{Ingress: []networkingv1.NetworkPolicyIngressRule{{
			From: peers, Ports: []networkingv1.NetworkPolicyPort{{Port: &port}},
		}}}}
	}
	byNS := func(ns string) *metav1.LabelSelector {
		return &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": ns}}
	}
	tests := []struct {
		name string
		np   *networkingv1.NetworkPolicy
		c    netClient
		port int32
		want bool
	}{
		{"namespace and pod match", rule(networkingv1.NetworkPolicyPeer{NamespaceSelector: byNS("istio-system"), PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"istio": "ingressgateway"}}}), istioctlGateway, grpcPort, true},
		{"pod labels differ", rule(networkingv1.NetworkPolicyPeer{NamespaceSelector: byNS("istio-system"), PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"istio": "ingressgateway"}}}), istiod, grpcPort, false},
		{"other namespace", rule(networkingv1.NetworkPolicyPeer{NamespaceSelector: byNS("istio-system")}), helmGateway, grpcPort, false},
		{"other port", rule(networkingv1.NetworkPolicyPeer{NamespaceSelector: byNS("istio-ingress")}), helmGateway, adminPort, false},
		{"podSelector alone is the policy's namespace", rule(networkingv1.NetworkPolicyPeer{PodSelector: &metav1.LabelSelector{}}), plainPod, grpcPort, false},
		{"empty namespaceSelector is every namespace", rule(networkingv1.NetworkPolicyPeer{NamespaceSelector: &metav1.LabelSelector{}}), plainPod, grpcPort, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := admits(t, tc.np, "cors-authz", tc.c, tc.port); got != tc.want {
				t.Errorf("admits = %v, want %v", got, tc.want)
			}
		})
	}
}
