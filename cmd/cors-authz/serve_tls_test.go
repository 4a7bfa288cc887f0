package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// testCA issues certificates for the TLS tests.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

var serial int64

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial++
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(serial),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue returns a PEM certificate and key for name; server certificates
// are valid for 127.0.0.1.
func (ca *testCA) issue(t *testing.T, name string, server bool) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial++
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

func writeBytes(t *testing.T, path string, data []byte) string {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// checkErr calls Check once and returns its error.
func checkErr(c *grpc.ClientConn) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := authv3.NewAuthorizationClient(c).Check(ctx, envoyRequest("GET", "/", ""))
	return err
}

func TestServeTLS(t *testing.T) {
	dir := t.TempDir()
	ca, rogue := newTestCA(t, "test CA"), newTestCA(t, "rogue CA")
	srvCert, srvKey := ca.issue(t, "cors-authz", true)
	cliCert, cliKey := ca.issue(t, "envoy", false)
	rogueCert, rogueKey := rogue.issue(t, "envoy", false)
	certFile := writeBytes(t, filepath.Join(dir, "tls.crt"), srvCert)
	keyFile := writeBytes(t, filepath.Join(dir, "tls.key"), srvKey)
	caFile := writeBytes(t, filepath.Join(dir, "ca.crt"), ca.pem)

	roots := x509.NewCertPool()
	roots.AddCert(ca.cert)
	pair := func(c, k []byte) []tls.Certificate {
		kp, err := tls.X509KeyPair(c, k)
		if err != nil {
			t.Fatal(err)
		}
		return []tls.Certificate{kp}
	}
	tlsClient := func(certs []tls.Certificate) grpc.DialOption {
		return grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: roots, Certificates: certs}))
	}
	plaintext := grpc.WithTransportCredentials(insecure.NewCredentials())

	tests := []struct {
		name    string
		args    []string
		client  grpc.DialOption
		wantErr bool
	}{
		{"tls", nil, tlsClient(nil), false},
		{"tls, plaintext client", nil, plaintext, true},
		{"mtls, client certificate", []string{"--tls-client-ca", caFile}, tlsClient(pair(cliCert, cliKey)), false},
		{"mtls, no client certificate", []string{"--tls-client-ca", caFile}, tlsClient(nil), true},
		{"mtls, certificate from another CA", []string{"--tls-client-ca", caFile}, tlsClient(pair(rogueCert, rogueKey)), true},
		{"mtls, plaintext client", []string{"--tls-client-ca", caFile}, plaintext, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"--tls-cert", certFile, "--tls-key", keyFile, "--admin-addr="}, tt.args...)
			p := startServe(t, args...)
			err := checkErr(p.conn(tt.client))
			if tt.wantErr && status.Code(err) != codes.Unavailable {
				t.Fatalf("Check = %v, want refused (Unavailable)", err)
			}
			if !tt.wantErr && err != nil {
				t.Fatalf("Check: %v", err)
			}
		})
	}
}

// A renewed certificate written over the files is served from the next
// handshake on.
func TestServeTLSCertificateReload(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t, "test CA")
	c1, k1 := ca.issue(t, "first", true)
	certFile := writeBytes(t, filepath.Join(dir, "tls.crt"), c1)
	keyFile := writeBytes(t, filepath.Join(dir, "tls.key"), k1)
	p := startServe(t, "--tls-cert", certFile, "--tls-key", keyFile, "--admin-addr=")
	addr := p.grpcAddr

	servedName := func() string {
		roots := x509.NewCertPool()
		roots.AddCert(ca.cert)
		conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots, NextProtos: []string{"h2"}})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].Subject.CommonName
	}
	if got := servedName(); got != "first" {
		t.Fatalf("served %q, want first", got)
	}
	c2, k2 := ca.issue(t, "second", true)
	// Key first, then certificate: mid-rotation the old pair keeps serving.
	writeBytes(t, keyFile, k2)
	if got := servedName(); got != "first" {
		t.Errorf("mid-rotation served %q, want the old pair", got)
	}
	writeBytes(t, certFile, c2)
	if got := servedName(); got != "second" {
		t.Errorf("after rotation served %q, want second", got)
	}
	if !strings.Contains(p.logs.String(), "tls: certificate reloaded") {
		t.Error("no reload log")
	}
}
