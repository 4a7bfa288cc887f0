package servetest

import "context"

// TB is the part of testing.TB Run uses.
type TB interface {
	Helper()
	Cleanup(func())
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
}

// raceReport is how a race-built binary's report on stderr begins.
const raceReport = "WARNING: DATA RACE"

// Run starts serve as o says (see Start) and fails the test if it cannot.
// When the test ends, the cleanup closes the server's connections, kills
// it if it is still running (bounded wait), and fails the test if its log
// reports a data race.
func Run(t TB, o Options) *Server {
	t.Helper()
	s := launch(t, o)
	if o.NoWait {
		return s
	}
	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
	defer cancel()
	if err := s.wait(ctx, o); err != nil {
		t.Fatalf("%v", err)
	}
	return s
}

// RunN starts n servers as o says, e.g. replicas watching one policy file
// (each on its own loopback ports unless o.Args fix them), and waits for
// all of them, which start concurrently.
func RunN(t TB, n int, o Options) []*Server {
	t.Helper()
	ss := make([]*Server, n)
	for i := range ss {
		ss[i] = launch(t, Options{Bin: o.Bin, Args: o.Args, Env: o.Env, Prefix: o.Prefix, Log: o.Log, NoWait: true})
	}
	if o.NoWait {
		return ss
	}
	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
	defer cancel()
	for i, s := range ss {
		if err := s.wait(ctx, o); err != nil {
			t.Fatalf("replica %d of %d: %v", i+1, n, err)
		}
	}
	return ss
}

// launch starts the process with its cleanup registered, without waiting.
func launch(t TB, o Options) *Server {
	t.Helper()
	o.NoWait = true
	s, err := Start(context.Background(), o)
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(func() {
		s.Close()
		if err := s.Kill(); err != nil {
			t.Errorf("servetest: pid %d: %v", s.PID(), err)
		}
		if s.Log.Contains(raceReport) {
			t.Errorf("the server reported a data race:\n%s", s.Log)
		}
	})
	return s
}

// wait waits for what Start would: the listening addresses, and /readyz
// with o.Ready.
func (s *Server) wait(ctx context.Context, o Options) error {
	if err := s.WaitListening(ctx); err != nil {
		return err
	}
	if o.Ready {
		return s.WaitReady(ctx)
	}
	return nil
}
