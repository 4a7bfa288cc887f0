package main

import (
	"fmt"
	"log/slog"
	"os"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cors-authz/cors-authz/internal/reload"
	"github.com/cors-authz/cors-authz/pkg/check"
	"github.com/cors-authz/cors-authz/pkg/policy"
)

// shadowTarget makes a reload.Watcher install what it loads as the shadow
// policy instead of the enforced one.
type shadowTarget struct{ s *check.Service }

func (t shadowTarget) SetPolicy(p *policy.Policy) uint64 { return t.s.SetShadow(p) }

// metricShadowReloadFailed mirrors cors_authz_policy_last_reload_failed
// for the shadow file. (The reload metrics belong to one watcher per
// registry; the shadow watcher reports through this gauge and /shadow.)
const metricShadowReloadFailed = "cors_authz_shadow_policy_last_reload_failed"

// startShadow loads --shadow-config (refusing to start on an invalid
// file, as with --config) and watches it; signals triggers reloads.
func (s *server) startShadow(reg prometheus.Registerer, signals <-chan os.Signal) error {
	cfg := s.cfg
	w, err := reload.New(reload.Options{
		Path:     cfg.shadowConfig,
		Target:   shadowTarget{s.checks},
		Logger:   s.log.With("role", "shadow"),
		Debounce: cfg.reloadDebounce,
		Poll:     cfg.reloadPoll,
		Signals:  signals,
	})
	if err != nil {
		return err
	}
	if err := w.Load(); err != nil {
		return fmt.Errorf("shadow policy %s refused (see the errors above)", cfg.shadowConfig)
	}
	if err := w.Start(); err != nil {
		return err
	}
	s.shadowWatcher = w
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: metricShadowReloadFailed,
		Help: "1 while the shadow policy file (--shadow-config) on disk is refused (the shadow policy in use is older than the file), else 0.",
	}, func() float64 {
		if w.Status().LastError != nil {
			return 1
		}
		return 0
	}))
	return nil
}

// shadowState is the shadow policy with its file's reload status.
func (s *server) shadowState() policy.Shadow {
	st := s.checks.Shadow()
	st.Reload = s.shadowWatcher.Status() // nil without --shadow-config
	return st
}

// fanOut copies every signal from in to each of n buffered outputs (a
// slow reader misses a signal only while it still has one pending, which
// already means "reload"). stop ends the copying and waits for it.
func fanOut(in <-chan os.Signal, n int) (outs []<-chan os.Signal, stop func()) {
	chans := make([]chan os.Signal, n)
	for i := range chans {
		chans[i] = make(chan os.Signal, 1)
		outs = append(outs, chans[i])
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case sig := <-in:
				for _, c := range chans {
					select {
					case c <- sig:
					default:
					}
				}
			case <-done:
				return
			}
		}
	})
	var once sync.Once
	return outs, func() {
		once.Do(func() {
			close(done)
			wg.Wait()
		})
	}
}

// logShadowFlags notes, at start, what the shadow settings mean.
func logShadowFlags(log *slog.Logger, cfg serveConfig) {
	if cfg.shadowConfig == "" {
		return
	}
	log.Info("shadow policy enabled: decided on every Check, never enforced",
		"shadow_config", cfg.shadowConfig, "shadow_log_rate", cfg.shadowLogRate)
}
