package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// newTLSConfig returns the gRPC listener's TLS configuration, or nil when
// TLS is off. The certificate and key are re-read when either file changes
// (cert-manager and Kubernetes Secret volumes replace them in place), so a
// renewed certificate is used from the next handshake on without a restart;
// a pair that fails to load keeps the previous one. The client CA bundle
// is read once, at start.
func newTLSConfig(c serveConfig, log *slog.Logger) (*tls.Config, error) {
	if c.tlsCert == "" {
		return nil, nil
	}
	ks := &keyPairSource{certFile: c.tlsCert, keyFile: c.tlsKey, log: log}
	if _, err := ks.GetCertificate(nil); err != nil {
		return nil, err
	}
	conf := &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: ks.GetCertificate,
	}
	if c.tlsClientCA != "" {
		pem, err := os.ReadFile(c.tlsClientCA)
		if err != nil {
			return nil, fmt.Errorf("read --tls-client-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--tls-client-ca %s: no PEM certificate found", c.tlsClientCA)
		}
		conf.ClientCAs = pool
		conf.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return conf, nil
}

// keyPairSource serves the certificate in certFile/keyFile, loading it
// again when either file's size or modification time changes.
type keyPairSource struct {
	certFile, keyFile string
	log               *slog.Logger

	mu    sync.Mutex
	cert  *tls.Certificate
	stamp [2]fileStamp
}

type fileStamp struct {
	size int64
	mod  time.Time
}

func stampOf(path string) (fileStamp, error) {
	fi, err := os.Stat(path) // follows symlinks: a swapped Secret is a new file
	if err != nil {
		return fileStamp{}, err
	}
	return fileStamp{fi.Size(), fi.ModTime()}, nil
}

// GetCertificate implements tls.Config.GetCertificate. Handshakes are rare
// (Envoy keeps connections open), so two stat calls each are cheap.
func (s *keyPairSource) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cs, err1 := stampOf(s.certFile)
	ks, err2 := stampOf(s.keyFile)
	if err := errors.Join(err1, err2); err != nil {
		if s.cert != nil {
			s.log.Warn("tls: cannot stat certificate files; keeping the loaded certificate", "error", err.Error())
			return s.cert, nil
		}
		return nil, fmt.Errorf("tls certificate: %w", err)
	}
	if s.cert != nil && cs == s.stamp[0] && ks == s.stamp[1] {
		return s.cert, nil
	}
	cert, err := tls.LoadX509KeyPair(s.certFile, s.keyFile)
	if err != nil {
		if s.cert != nil {
			// Mid-rotation, one file may be new and the other old.
			s.log.Warn("tls: cannot load the changed certificate; keeping the loaded one", "error", err.Error())
			return s.cert, nil
		}
		return nil, fmt.Errorf("tls certificate: %w", err)
	}
	if s.cert != nil {
		s.log.Info("tls: certificate reloaded", "cert", s.certFile)
	}
	s.cert, s.stamp = &cert, [2]fileStamp{cs, ks}
	return s.cert, nil
}
