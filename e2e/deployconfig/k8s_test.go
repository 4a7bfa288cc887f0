package deployconfig

import (
	"path"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/cors-authz/cors-authz/pkg/policy"
)

const (
	// configMapFile is the policy file kustomize's configMapGenerator turns
	// into the ConfigMap (deploy/k8s/kustomization.yaml).
	configMapFile = "deploy/k8s/policy.yaml"
	grpcPort      = 9001
	adminPort     = 9002
)

// configMapPolicyFile returns the ConfigMap kustomize builds and the policy
// file name the Deployment's --config points into it.
func configMapPolicyFile(t *testing.T) (*corev1.ConfigMap, string) {
	t.Helper()
	cm := builtConfigMap(t)
	return cm, path.Base(configFlag(t, mainContainer(t)))
}

// configMapPolicyYAML is the policy file the ConfigMap holds.
func configMapPolicyYAML(t *testing.T) []byte {
	t.Helper()
	cm, key := configMapPolicyFile(t)
	data, ok := cm.Data[key]
	if !ok {
		t.Fatalf("ConfigMap %s has no key %q (the file --config names)", cm.Name, key)
	}
	return []byte(data)
}

func configMapPolicy(t *testing.T) *policy.Policy {
	t.Helper()
	return parsePolicy(t, configMapFile, configMapPolicyYAML(t))
}

func deployment(t *testing.T) *appsv1.Deployment {
	t.Helper()
	return find[*appsv1.Deployment](t, k8sDir)
}

// mainContainer is the Deployment's only container.
func mainContainer(t *testing.T) *corev1.Container {
	t.Helper()
	d := deployment(t)
	if n := len(d.Spec.Template.Spec.Containers); n != 1 {
		t.Fatalf("Deployment %s has %d containers, want 1", d.Name, n)
	}
	return &d.Spec.Template.Spec.Containers[0]
}

// configFlag is the value of the container's --config flag.
func configFlag(t *testing.T, c *corev1.Container) string {
	t.Helper()
	args := slices.Concat(c.Command, c.Args)
	for i, a := range args {
		if v, ok := strings.CutPrefix(a, "--config="); ok {
			return v
		}
		if a == "--config" && i+1 < len(args) {
			return args[i+1]
		}
	}
	t.Fatalf("container %s has no --config flag: %q", c.Name, args)
	return ""
}

func TestDeploymentAvailability(t *testing.T) {
	d := deployment(t)
	if d.Spec.Replicas == nil || *d.Spec.Replicas < 2 {
		t.Errorf("replicas = %v, want at least 2", d.Spec.Replicas)
	}
	if ru := d.Spec.Strategy.RollingUpdate; ru == nil || ru.MaxUnavailable == nil || ru.MaxUnavailable.IntValue() != 0 {
		t.Errorf("rolling update must keep every replica until its replacement is ready (maxUnavailable: 0)")
	}
	podLabels := labels.Set(d.Spec.Template.Labels)
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil || !sel.Matches(podLabels) {
		t.Fatalf("Deployment selector %v does not select its pods %v (%v)", d.Spec.Selector, podLabels, err)
	}
	spec := d.Spec.Template.Spec
	spread := false
	for _, c := range spec.TopologySpreadConstraints {
		s, err := metav1.LabelSelectorAsSelector(c.LabelSelector)
		if err == nil && c.TopologyKey == corev1.LabelHostname && c.WhenUnsatisfiable == corev1.DoNotSchedule && s.Matches(podLabels) {
			spread = true
		}
	}
	if a := spec.Affinity; a != nil && a.PodAntiAffinity != nil {
		for _, term := range a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution {
			s, err := metav1.LabelSelectorAsSelector(term.LabelSelector)
			if err == nil && term.TopologyKey == corev1.LabelHostname && s.Matches(podLabels) {
				spread = true
			}
		}
	}
	if !spread {
		t.Errorf("replicas are not forced onto different nodes (topologySpreadConstraints or required anti-affinity on %s)", corev1.LabelHostname)
	}
}

func TestDeploymentSecurity(t *testing.T) {
	d := deployment(t)
	pod := d.Spec.Template.Spec
	c := mainContainer(t)
	psc := pod.SecurityContext
	if psc == nil {
		psc = &corev1.PodSecurityContext{}
	}
	csc := c.SecurityContext
	if csc == nil {
		t.Fatalf("container %s has no securityContext", c.Name)
	}
	isTrue := func(b *bool) bool { return b != nil && *b }
	isFalse := func(b *bool) bool { return b != nil && !*b }

	if !isTrue(csc.RunAsNonRoot) && !isTrue(psc.RunAsNonRoot) {
		t.Errorf("runAsNonRoot is not set")
	}
	uid := csc.RunAsUser
	if uid == nil {
		uid = psc.RunAsUser
	}
	if uid == nil || *uid == 0 {
		t.Errorf("runAsUser = %v, want a numeric non-root uid", uid)
	}
	if !isTrue(csc.ReadOnlyRootFilesystem) {
		t.Errorf("readOnlyRootFilesystem is not true")
	}
	if !isFalse(csc.AllowPrivilegeEscalation) {
		t.Errorf("allowPrivilegeEscalation is not false")
	}
	if isTrue(csc.Privileged) {
		t.Errorf("container is privileged")
	}
	if csc.Capabilities == nil || !slices.Contains(csc.Capabilities.Drop, "ALL") || len(csc.Capabilities.Add) > 0 {
		t.Errorf("capabilities = %+v, want drop [ALL] and nothing added", csc.Capabilities)
	}
	seccomp := csc.SeccompProfile
	if seccomp == nil {
		seccomp = psc.SeccompProfile
	}
	if seccomp == nil || seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("seccompProfile = %+v, want RuntimeDefault", seccomp)
	}
	if pod.HostNetwork || pod.HostPID || pod.HostIPC {
		t.Errorf("pod shares host namespaces")
	}
	if !isFalse(pod.AutomountServiceAccountToken) {
		t.Errorf("automountServiceAccountToken is not false; the service calls no Kubernetes API")
	}
}

func TestDeploymentProbesAndResources(t *testing.T) {
	c := mainContainer(t)
	for name, p := range map[string]*corev1.Probe{"readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
		if p == nil {
			t.Errorf("no %s probe", name)
			continue
		}
		if p.GRPC == nil || p.GRPC.Port != grpcPort {
			t.Errorf("%s probe = %+v, want a native gRPC probe on port %d", name, p.ProbeHandler, grpcPort)
		}
		if p.GRPC != nil && p.GRPC.Service != nil && *p.GRPC.Service != "" {
			t.Errorf("%s probe asks for service %q; cors-authz reports the server's health under \"\"", name, *p.GRPC.Service)
		}
	}
	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	if ports["grpc"] != grpcPort || ports["admin"] != adminPort {
		t.Errorf("container ports = %v, want grpc %d and admin %d", ports, grpcPort, adminPort)
	}
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, hasReq := c.Resources.Requests[r]
		lim, hasLim := c.Resources.Limits[r]
		if !hasReq || !hasLim {
			t.Errorf("%s: request set %v, limit set %v; want both", r, hasReq, hasLim)
			continue
		}
		if req.Cmp(lim) > 0 {
			t.Errorf("%s request %s exceeds limit %s", r, req.String(), lim.String())
		}
	}
	args := strings.Join(slices.Concat(c.Command, c.Args), " ")
	for _, want := range []string{"serve", ":" + strconv.Itoa(grpcPort), ":" + strconv.Itoa(adminPort)} {
		if !strings.Contains(args, want) {
			t.Errorf("container args %q lack %q", args, want)
		}
	}
}

// TestPolicyMountedAsDirectory checks the live-reload path: the policy file
// --config names lives in a directory where the ConfigMap is mounted whole
// (a subPath mount never sees the kubelet's updates).
func TestPolicyMountedAsDirectory(t *testing.T) {
	d := deployment(t)
	c := mainContainer(t)
	cm, key := configMapPolicyFile(t)
	cfg := configFlag(t, c)
	var mount *corev1.VolumeMount
	for i := range c.VolumeMounts {
		if c.VolumeMounts[i].MountPath == path.Dir(cfg) {
			mount = &c.VolumeMounts[i]
		}
	}
	if mount == nil {
		t.Fatalf("no volume is mounted at %s, the directory of --config %s", path.Dir(cfg), cfg)
	}
	if mount.SubPath != "" || mount.SubPathExpr != "" {
		t.Errorf("policy mounted with subPath %q: ConfigMap updates would never reach the pod", mount.SubPath+mount.SubPathExpr)
	}
	if !mount.ReadOnly {
		t.Errorf("policy volume is writable")
	}
	var vol *corev1.Volume
	for i := range d.Spec.Template.Spec.Volumes {
		if d.Spec.Template.Spec.Volumes[i].Name == mount.Name {
			vol = &d.Spec.Template.Spec.Volumes[i]
		}
	}
	if vol == nil || vol.ConfigMap == nil {
		t.Fatalf("volume %s is not a ConfigMap volume: %+v", mount.Name, vol)
	}
	if vol.ConfigMap.Name != cm.Name {
		t.Errorf("volume mounts ConfigMap %q, but the shipped ConfigMap is %q", vol.ConfigMap.Name, cm.Name)
	}
	if len(vol.ConfigMap.Items) > 0 {
		t.Errorf("volume projects only some keys (items); mount the whole ConfigMap")
	}
	if _, ok := cm.Data[key]; !ok {
		t.Errorf("ConfigMap %s has no %q", cm.Name, key)
	}
}

func TestServiceSelectsPodsWithGRPCPort(t *testing.T) {
	d := deployment(t)
	svc := find[*corev1.Service](t, k8sDir)
	if !labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(d.Spec.Template.Labels)) || len(svc.Spec.Selector) == 0 {
		t.Errorf("Service selector %v does not select the Deployment's pods %v", svc.Spec.Selector, d.Spec.Template.Labels)
	}
	c := mainContainer(t)
	byPort := map[int32]corev1.ServicePort{}
	for _, p := range svc.Spec.Ports {
		byPort[p.Port] = p
	}
	for _, want := range []struct {
		port  int32
		proto string
	}{{grpcPort, "grpc"}, {adminPort, "http"}} {
		p, ok := byPort[want.port]
		if !ok {
			t.Errorf("Service has no port %d", want.port)
			continue
		}
		if p.AppProtocol == nil || *p.AppProtocol != want.proto {
			t.Errorf("Service port %d appProtocol = %v, want %q", want.port, p.AppProtocol, want.proto)
		}
		if target := resolveTargetPort(c, p.TargetPort); target != want.port {
			t.Errorf("Service port %d targets container port %d", want.port, target)
		}
	}
}

func resolveTargetPort(c *corev1.Container, tp intstr.IntOrString) int32 {
	if tp.Type == intstr.Int {
		return tp.IntVal
	}
	for _, p := range c.Ports {
		if p.Name == tp.StrVal {
			return p.ContainerPort
		}
	}
	return 0
}

func TestPodDisruptionBudget(t *testing.T) {
	d := deployment(t)
	pdb := find[*policyv1.PodDisruptionBudget](t, k8sDir)
	sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
	if err != nil || !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
		t.Errorf("PDB selector %v does not select the Deployment's pods", pdb.Spec.Selector)
	}
	if pdb.Spec.MinAvailable == nil || pdb.Spec.MinAvailable.Type != intstr.Int {
		t.Fatalf("PDB minAvailable = %v, want an integer", pdb.Spec.MinAvailable)
	}
	minAvail := pdb.Spec.MinAvailable.IntVal
	if minAvail < 1 || d.Spec.Replicas == nil || minAvail >= *d.Spec.Replicas {
		t.Errorf("PDB minAvailable %d with %v replicas: want at least 1 and fewer than replicas, so drains can proceed", minAvail, d.Spec.Replicas)
	}
}

func TestNetworkPolicy(t *testing.T) {
	d := deployment(t)
	np := find[*networkingv1.NetworkPolicy](t, k8sDir)
	sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
	if err != nil || sel.Empty() || !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
		t.Errorf("NetworkPolicy podSelector %v does not select (only) the cors-authz pods", np.Spec.PodSelector)
	}
	if !slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress) {
		t.Errorf("policyTypes %v lack Ingress", np.Spec.PolicyTypes)
	}
	opened := map[int32]int{}
	for i, rule := range np.Spec.Ingress {
		if len(rule.From) == 0 {
			t.Errorf("ingress rule %d admits every source", i)
		}
		if len(rule.Ports) == 0 {
			t.Errorf("ingress rule %d opens every port", i)
		}
		for _, p := range rule.Ports {
			if p.Port == nil || p.Port.Type != intstr.Int {
				t.Errorf("ingress rule %d: port %v, want a number", i, p.Port)
				continue
			}
			opened[p.Port.IntVal]++
			for _, peer := range rule.From {
				if peer.IPBlock != nil {
					t.Errorf("ingress rule %d admits an ipBlock; select pods or namespaces", i)
				}
			}
		}
	}
	for _, want := range []int32{grpcPort, adminPort} {
		if opened[want] == 0 {
			t.Errorf("no ingress rule opens port %d", want)
		}
	}
	for p := range opened {
		if p != grpcPort && p != adminPort {
			t.Errorf("ingress opens port %d, which cors-authz does not serve", p)
		}
	}
	// Every place a proxy runs ext_authz reaches the gRPC port; nothing
	// else does, and only monitoring reaches the admin port.
	checkAdmits(t, np, "cors-authz", grpcPort, append(slices.Clone(istioProxies), envoyGatewayProxy), []netClient{istiod, plainPod, prometheus})
	checkAdmits(t, np, "cors-authz", adminPort, []netClient{prometheus}, append(slices.Clone(istioProxies), envoyGatewayProxy, plainPod))
	// The proxies and monitoring are different peers: the admin port is not
	// opened to the proxies' peers in the same rule.
	for i, rule := range np.Spec.Ingress {
		var has9001, has9002 bool
		for _, p := range rule.Ports {
			has9001 = has9001 || (p.Port != nil && p.Port.IntVal == grpcPort)
			has9002 = has9002 || (p.Port != nil && p.Port.IntVal == adminPort)
		}
		if has9001 && has9002 {
			t.Errorf("ingress rule %d opens the gRPC and admin ports to the same peers", i)
		}
	}
}

func TestConfigMapPolicyParses(t *testing.T) {
	p := configMapPolicy(t)
	var external int
	for _, c := range p.Classes() {
		if c.HasOrigins() {
			external++
		}
	}
	if external == 0 {
		t.Errorf("the ConfigMap policy grants no origin to any class")
	}
	// Istio sends no cors_class: the match rules alone must separate the
	// public API from everything else.
	tests := []struct {
		path, class string
	}{
		{"/api/v1/users?page=2", "public-api"},
		{"/api/v1", "public-api"},
		{"/", "internal"},
		{"/admin/users", "internal"},
		{"/api/v2/users", "internal"},
	}
	for _, tc := range tests {
		rt := p.Classify(&policy.Request{Method: "GET", Scheme: "https", Host: "app.example.com", Path: tc.path})
		if rt.Class == nil || rt.Class.Name != tc.class || rt.Selection != policy.ByMatch {
			t.Errorf("Classify(%s) = %q by %v, want %s by match", tc.path, className(rt.Class), rt.Selection, tc.class)
		}
	}
}

// TestDockerfileAgreesWithDeployment checks the image's user and ports
// against the Deployment (Docker cannot run here, so the Dockerfile is read
// as text).
func TestDockerfileAgreesWithDeployment(t *testing.T) {
	var user string
	var exposed []string
	var stages []string
	var buildLines []string
	for line := range strings.SplitSeq(string(repoFile(t, "Dockerfile")), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		switch strings.ToUpper(fields[0]) {
		case "FROM":
			stages = append(stages, fields[1])
		case "USER":
			user = fields[1]
		case "EXPOSE":
			exposed = append(exposed, fields[1:]...)
		case "RUN":
			buildLines = append(buildLines, line)
		default:
			if len(buildLines) > 0 && strings.HasSuffix(strings.TrimSpace(buildLines[len(buildLines)-1]), "\\") {
				buildLines[len(buildLines)-1] += " " + line
			}
		}
	}
	if len(stages) < 2 {
		t.Fatalf("Dockerfile has %d stages, want a build stage and a runtime stage", len(stages))
	}
	final := stages[len(stages)-1]
	if !strings.Contains(final, "distroless/static") && final != "scratch" {
		t.Errorf("final stage is %s, want distroless/static or scratch", final)
	}
	build := strings.Join(buildLines, "\n")
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "./cmd/cors-authz"} {
		if !strings.Contains(build, want) {
			t.Errorf("Dockerfile build lacks %q", want)
		}
	}
	uid, _, _ := strings.Cut(user, ":")
	n, err := strconv.ParseInt(uid, 10, 64)
	if err != nil || n == 0 {
		t.Errorf("Dockerfile USER %q: want a numeric non-root uid", user)
	}
	d := deployment(t)
	c := mainContainer(t)
	runAs := c.SecurityContext.RunAsUser
	if runAs == nil {
		runAs = d.Spec.Template.Spec.SecurityContext.RunAsUser
	}
	if runAs == nil || *runAs != n {
		t.Errorf("Deployment runs as %v, the image as %d", runAs, n)
	}
	for _, p := range c.Ports {
		if !slices.Contains(exposed, strconv.Itoa(int(p.ContainerPort))) {
			t.Errorf("Dockerfile does not EXPOSE container port %d", p.ContainerPort)
		}
	}
}

func className(c *policy.Class) string {
	if c == nil {
		return "<nil>"
	}
	return c.Name
}
