package noop

import (
	"go/ast"
	"go/parser"
	"go/printer"
	"go/token"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestServerOptionsMatchServe reads cors-authz serve's gRPC settings from
// its source and fails when they differ from ServerOptions', so the ceiling
// keeps measuring the same gRPC server as the service.
func TestServerOptionsMatchServe(t *testing.T) {
	const file = "../../cmd/cors-authz/serve_grpc.go"
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, file, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	consts := map[string]string{}
	var options []string
	var body string
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.ValueSpec:
			for i, name := range n.Names {
				if i < len(n.Values) {
					var b strings.Builder
					printer.Fprint(&b, fset, n.Values[i])
					consts[name.Name] = b.String()
				}
			}
		case *ast.FuncDecl:
			if n.Name.Name != "grpcServerOptions" {
				return false
			}
			var b strings.Builder
			printer.Fprint(&b, fset, n.Body)
			body = b.String()
			ast.Inspect(n.Body, func(n ast.Node) bool {
				if sel, ok := n.(*ast.SelectorExpr); ok {
					if id, ok := sel.X.(*ast.Ident); ok && id.Name == "grpc" {
						options = append(options, sel.Sel.Name)
					}
				}
				return true
			})
			return false
		}
		return true
	})
	want := map[string]string{
		"maxRecvMsgSize":   "4 << 20",
		"keepaliveTime":    "time.Minute",
		"keepaliveTimeout": "20 * time.Second",
		"keepaliveMinTime": "5 * time.Second",
	}
	for name, v := range want {
		if consts[name] != v {
			t.Errorf("serve's %s = %q, noop.ServerOptions assumes %q: update ServerOptions", name, consts[name], v)
		}
	}
	slices.Sort(options)
	options = slices.Compact(options)
	// Creds is only used with TLS; the benchmarks run plaintext.
	wantOpts := []string{"Creds", "ForceServerCodecV2", "KeepaliveEnforcementPolicy", "KeepaliveParams", "MaxRecvMsgSize", "ServerOption"}
	if !slices.Equal(options, wantOpts) {
		t.Errorf("grpcServerOptions uses grpc.%v, noop.ServerOptions assumes %v: update ServerOptions", options, wantOpts)
	}
	if !regexp.MustCompile(`PermitWithoutStream:\s*true`).MatchString(body) {
		t.Error("serve no longer sets PermitWithoutStream: true: update ServerOptions")
	}
	if !regexp.MustCompile(`grpc\.ForceServerCodecV2\(envoyauth\.NewCodec\(\)\)`).MatchString(body) {
		t.Error("serve no longer forces envoyauth.NewCodec(): update ServerOptions and Server.Register")
	}
}
