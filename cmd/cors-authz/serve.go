package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	"github.com/cors-authz/cors-authz/internal/admin"
	"github.com/cors-authz/cors-authz/internal/buildinfo"
	"github.com/cors-authz/cors-authz/internal/reload"
	"github.com/cors-authz/cors-authz/pkg/check"
	"github.com/cors-authz/cors-authz/pkg/policy"
)

// serveCmd runs the Check service until ctx is cancelled (SIGINT/SIGTERM),
// then shuts down gracefully and returns 0. SIGHUP reloads the policy.
// Usage errors return 2; failing to start (bad policy, busy port) 1.
func serveCmd(ctx context.Context, args []string, _, stderr io.Writer) int {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	return serve(ctx, args, os.LookupEnv, hup, stderr)
}

// serve is serveCmd with its environment passed in, for tests: lookupEnv
// reads CORS_AUTHZ_* variables and hup triggers reloads. Nothing is
// written to stdout; logs go to stderr.
func serve(ctx context.Context, args []string, lookupEnv func(string) (string, bool), hup <-chan os.Signal, stderr io.Writer) int {
	cfg, err := parseServeConfig(args, lookupEnv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "cors-authz serve: %v\nRun 'cors-authz serve -h' for usage.\n", err)
		return 2
	}
	log := newLogger(stderr, cfg)
	s, err := newServer(cfg, log, hup)
	if err != nil {
		log.Error("cannot start", "error", err.Error())
		return 1
	}
	return s.run(ctx)
}

// authzServiceName is the health service name of the Check service.
const authzServiceName = "envoy.service.auth.v3.Authorization"

// server is one running serve process: its parts and its lifecycle.
type server struct {
	cfg     serveConfig
	log     *slog.Logger
	checks  *check.Service
	watcher *reload.Watcher  // nil for the embedded policy
	idleHUP <-chan os.Signal // SIGHUP when there is no file to reload

	shadowWatcher *reload.Watcher // nil without --shadow-config
	stopFanOut    func()          // stops copying SIGHUP to both watchers; nil if not copying
	health        *healthService

	grpc    *grpc.Server
	grpcLn  net.Listener
	admin   *http.Server // nil when --admin-addr is empty
	adminLn net.Listener

	serving  atomic.Bool // the gRPC server is accepting
	stopping atomic.Bool // shutdown has begun
}

// newServer loads the policy and binds the listeners; nothing is served
// until run. On error everything opened is closed again.
func newServer(cfg serveConfig, log *slog.Logger, hup <-chan os.Signal) (s *server, err error) {
	s = &server{cfg: cfg, log: log, health: newHealthService()}
	// The closers use srv: an error return sets s to nil before they run.
	srv := s
	var closers []func()
	defer func() {
		if err != nil {
			for i := len(closers) - 1; i >= 0; i-- {
				closers[i]()
			}
		}
	}()

	reg := admin.NewRegistry()
	reg.MustRegister(buildinfo.Read(version).Collector())
	s.checks = check.New(check.Options{
		CacheSize:      cfg.cacheSize,
		Logger:         log,
		Registerer:     reg,
		ShadowLogRate:  cfg.shadowLogRate,
		RefusalLogRate: cfg.refusalLogRate,
	})

	// SIGHUP reloads every policy file: with a shadow policy file next to
	// the enforced one, each watcher gets its own copy of the signal.
	mainHUP, shadowHUP := hup, (<-chan os.Signal)(nil)
	switch {
	case cfg.shadowConfig != "" && cfg.configFile == "":
		mainHUP, shadowHUP = nil, hup
	case cfg.shadowConfig != "" && hup != nil:
		outs, stop := fanOut(hup, 2)
		mainHUP, shadowHUP, s.stopFanOut = outs[0], outs[1], stop
		closers = append(closers, stop)
	}

	if cfg.configFile == "" {
		log.Info("no --config: serving the embedded example policy")
		pol, _, err := policy.Parse(policy.DefaultName, policy.DefaultYAML)
		if err != nil {
			return nil, fmt.Errorf("embedded policy: %w", err)
		}
		s.checks.SetPolicy(pol)
		s.idleHUP = mainHUP
	} else {
		s.watcher, err = reload.New(reload.Options{
			Path:       cfg.configFile,
			Target:     s.checks,
			Logger:     log,
			Registerer: reg,
			Debounce:   cfg.reloadDebounce,
			Poll:       cfg.reloadPoll,
			Signals:    mainHUP,
		})
		if err != nil {
			return nil, err
		}
		if err := s.watcher.Load(); err != nil {
			return nil, fmt.Errorf("policy %s refused (see the errors above)", cfg.configFile)
		}
		if err := s.watcher.Start(); err != nil {
			return nil, err
		}
		closers = append(closers, func() { srv.watcher.Close() })
	}
	if cfg.shadowConfig != "" {
		logShadowFlags(log, cfg)
		if err := s.startShadow(reg, shadowHUP); err != nil {
			return nil, err
		}
		closers = append(closers, func() { srv.shadowWatcher.Close() })
	}

	tlsConf, err := newTLSConfig(cfg, log)
	if err != nil {
		return nil, err
	}
	s.grpc = grpc.NewServer(grpcServerOptions(tlsConf)...)
	s.checks.Register(s.grpc)
	s.health.register(s.grpc)
	if cfg.grpcReflection {
		reflection.Register(s.grpc)
	}
	s.health.set(healthpb.HealthCheckResponse_SERVING, "", authzServiceName)

	if s.grpcLn, err = listen(cfg.grpcAddr); err != nil {
		return nil, err
	}
	closers = append(closers, func() { srv.grpcLn.Close() })
	if cfg.adminAddr != "" {
		if s.adminLn, err = net.Listen("tcp", cfg.adminAddr); err != nil {
			return nil, err
		}
		s.admin = &http.Server{
			Handler: admin.New(admin.Options{
				Gatherer:  reg,
				Policy:    s.policyState,
				Shadow:    s.shadowState,
				Ready:     s.ready,
				Logger:    log,
				DisableUI: !cfg.adminUI,
			}),
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       10 * time.Second,
			WriteTimeout:      30 * time.Second,
			IdleTimeout:       2 * time.Minute,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		}
	}
	return s, nil
}

// ready is the admin /readyz check.
func (s *server) ready() error {
	switch {
	case s.stopping.Load():
		return errors.New("shutting down")
	case !s.checks.Ready():
		return errors.New("no policy loaded")
	case !s.serving.Load():
		return errors.New("gRPC listener not serving")
	}
	return nil
}

// policyState is the policy being served with its file's reload status.
func (s *server) policyState() policy.Snapshot {
	st := s.checks.Current()
	st.Reload = s.watcher.Status() // nil for the embedded policy
	return st
}

// run serves until ctx is done or a server fails, then shuts down.
func (s *server) run(ctx context.Context) int {
	var wg sync.WaitGroup
	failed := make(chan error, 2)
	wg.Go(func() {
		if err := s.grpc.Serve(s.grpcLn); err != nil {
			failed <- fmt.Errorf("grpc server: %w", err)
		}
	})
	s.serving.Store(true)
	s.log.Info("grpc listening", "addr", s.grpcLn.Addr().String(), "tls", s.cfg.tlsCert != "",
		"mtls", s.cfg.tlsClientCA != "", "reflection", s.cfg.grpcReflection)
	if s.admin != nil {
		wg.Go(func() {
			if err := s.admin.Serve(s.adminLn); !errors.Is(err, http.ErrServerClosed) {
				failed <- fmt.Errorf("admin server: %w", err)
			}
		})
		s.log.Info("admin listening", "addr", s.adminLn.Addr().String())
	}

	code := -1
	for code < 0 {
		select {
		case <-ctx.Done():
			s.log.Info("shutdown requested")
			code = 0
		case err := <-failed:
			s.log.Error("server failed; shutting down", "error", err.Error())
			code = 1
		case <-s.idleHUP:
			s.log.Info("SIGHUP ignored: serving the embedded policy, which has no file to reload")
		}
	}
	s.shutdown()
	wg.Wait()
	s.log.Info("stopped", "exit_code", code)
	return code
}

// shutdown stops taking traffic in the order load balancers need: first
// say so (health NOT_SERVING, /readyz 503), optionally keep serving while
// they notice, then stop accepting and let in-flight Checks finish, bounded
// by --shutdown-timeout.
func (s *server) shutdown() {
	s.stopping.Store(true)
	s.health.Shutdown()
	s.log.Info("shutdown: health NOT_SERVING, /readyz failing")

	if d := s.cfg.drainDelay; d > 0 {
		s.log.Info("shutdown: draining before closing the listener", "drain_delay", d.String())
		time.Sleep(d)
	}

	stopped := make(chan struct{})
	go func() {
		s.grpc.GracefulStop()
		close(stopped)
	}()
	timer := time.NewTimer(s.cfg.shutdownTimeout)
	select {
	case <-stopped:
		s.log.Info("shutdown: gRPC server stopped; in-flight Checks finished")
	case <-timer.C:
		s.log.Warn("shutdown: in-flight Checks still running at --shutdown-timeout; closing connections",
			"shutdown_timeout", s.cfg.shutdownTimeout.String())
		s.grpc.Stop()
		<-stopped
	}
	timer.Stop()
	s.serving.Store(false)

	if s.admin != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := s.admin.Shutdown(ctx); err != nil {
			s.log.Warn("shutdown: admin server", "error", err.Error())
			s.admin.Close()
		}
		cancel()
		s.log.Info("shutdown: admin server stopped")
	}
	if s.watcher != nil {
		s.watcher.Close()
		s.log.Info("shutdown: policy watcher stopped")
	}
	if s.shadowWatcher != nil {
		s.shadowWatcher.Close()
		s.log.Info("shutdown: shadow policy watcher stopped")
	}
	if s.stopFanOut != nil {
		s.stopFanOut()
	}
}
