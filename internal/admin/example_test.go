package admin_test

import (
	"errors"
	"fmt"
	"net/http/httptest"
	"sync/atomic"

	"github.com/cors-authz/cors-authz/internal/admin"
)

// The serve command wires readiness to its lifecycle: not ready until a
// policy is loaded and the gRPC listener is up, and again once shutdown
// begins.
func ExampleNew() {
	var stopping atomic.Bool
	h := admin.New(admin.Options{
		Gatherer: admin.NewRegistry(),
		Ready: func() error {
			if stopping.Load() {
				return errors.New("shutting down")
			}
			return nil
		},
	})
	probe := func() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
		fmt.Print(rec.Code, " ", rec.Body.String())
	}
	probe()
	stopping.Store(true)
	probe()
	// Output:
	// 200 ready
	// 503 not ready: shutting down
}
