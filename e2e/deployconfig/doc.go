// Package deployconfig holds the "configuration is real" tests for the
// shipped deployment files (issue 4, e2e item 1). Envoy, Kubernetes and
// Istio cannot run here, so each file is decoded into the Go types their
// control planes use, validated the way they validate it, and checked for
// the intent the comments in the files promise:
//
//   - deploy/envoy.yaml decodes into envoy.config.bootstrap.v3.Bootstrap,
//     every typed_config resolves to a registered message, and the
//     generated validators (ValidateAll) accept the bootstrap and every
//     message packed in it. The filter order, the HTTP/2 ext_authz cluster,
//     the Access-Control-* stripping on every route, path normalisation,
//     allowed_headers and the cors_class of every route are asserted, and
//     every cors_class exists in the shipped policies.
//   - every manifest under deploy/k8s decodes strictly (unknown, duplicate
//     or miscased fields fail) into k8s.io/api types; Istio resources decode
//     strictly into the istio.io/api protobuf messages; each kustomization
//     builds with kustomize's own library and names only files that exist;
//     the Deployment's security settings and probes are asserted; the
//     ConfigMap's policy passes policy.Parse and `cors-authz validate`.
//   - the Helm chart deploy/helm/cors-authz passes `helm lint --strict`
//     and renders with `helm template` (helm v4 pinned as a tool in
//     e2e/go.mod) for each documented values combination (ci/*.yaml);
//     every rendered object decodes strictly into its Kubernetes, Istio,
//     Envoy Gateway, Gateway API or Prometheus Operator type, the
//     NetworkPolicy admits exactly the intended proxies, the pods carry no
//     checksum annotation, and `cors-authz validate` accepts the rendered
//     stream; bad values fail the schema.
//
// Run with: cd e2e && go test ./deployconfig/
package deployconfig
