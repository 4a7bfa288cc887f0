package browser

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/cors-authz/cors-authz/internal/servetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, goleak.Cleanup(servetest.Exit)) }
