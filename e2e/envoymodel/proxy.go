package envoymodel

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
)

// Proxy is the model of one Envoy listener with the ext_authz filter in
// front of the router. It is an http.Handler; Start serves it on a port.
type Proxy struct {
	cfg       *compiled
	conn      *grpc.ClientConn
	authz     authv3.AuthorizationClient
	transport *http.Transport
	streamID  atomic.Uint64
	logMu     sync.Mutex // one access log line at a time
}

// New validates cfg and prepares the ext_authz client (the connection is
// made lazily, as Envoy's cluster does).
func New(cfg Config) (*Proxy, error) {
	c, err := compile(cfg)
	if err != nil {
		return nil, fmt.Errorf("envoymodel: %w", err)
	}
	conn, err := grpc.NewClient(c.AuthzTarget, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, fmt.Errorf("envoymodel: ext_authz client: %w", err)
	}
	return &Proxy{
		cfg:   c,
		conn:  conn,
		authz: authv3.NewAuthorizationClient(conn),
		transport: &http.Transport{
			Proxy:              nil, // never an HTTP proxy from the environment
			DisableCompression: true,
			MaxIdleConns:       16,
			IdleConnTimeout:    30 * time.Second,
		},
	}, nil
}

// Close releases the ext_authz connection and idle upstream connections.
func (p *Proxy) Close() error {
	p.transport.CloseIdleConnections()
	return p.conn.Close()
}

// ServeHTTP handles one downstream request as Envoy would, and logs it
// when an access log is configured.
func (p *Proxy) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	start := time.Now()
	target := r.RequestURI
	if r.URL.IsAbs() || target == "" || target[0] != '/' {
		target = r.URL.RequestURI()
	}
	w := &statusWriter{ResponseWriter: rw}
	si := &streamInfo{start: start, method: r.Method, path: target, protocol: protocolString(r), reqHdr: r.Header, respHdr: w.Header()}
	if p.cfg.logOps != nil {
		defer p.logAccess(w, si)
	}

	// HCM: path handling happens before routing and before any filter.
	path, action := p.cfg.path.normalizePath(target)
	switch action {
	case pathReject:
		p.localReply(w, r, nil, http.StatusBadRequest, "", nil)
		return
	case pathRedirect:
		w.Header().Set("location", path)
		p.localReply(w, r, nil, http.StatusTemporaryRedirect, "", nil)
		return
	}
	si.path = path

	// Router: no route is a 404, and ext_authz skips the check.
	rt := p.cfg.route(path)
	if rt == nil {
		si.flags, si.details = "NR", "route_not_found"
		p.localReply(w, r, nil, http.StatusNotFound, "", nil)
		return
	}

	d := &downstream{
		method:    r.Method,
		path:      path,
		authority: r.Host,
		scheme:    "http",
		protocol:  protocolString(r),
		header:    r.Header.Clone(),
		remote:    r.RemoteAddr,
		start:     start,
	}
	if r.TLS != nil {
		d.scheme = "https"
	}
	si.d, si.reqHdr = d, d.header
	if la, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		d.local = la.String()
	}
	// HCM request header mutation before the filters.
	stripHopByHop(d.header)
	mergeInline(d.header, inlineRequest)
	if d.header.Get("x-forwarded-proto") == "" {
		d.header.Set("x-forwarded-proto", d.scheme)
	}
	if d.header.Get("x-request-id") == "" {
		d.header.Set("x-request-id", newUUID())
	}

	// Filters ahead of ext_authz decode first; their local replies never
	// see a check.
	if f := p.cfg.firstRejecting(d, true); f != nil {
		p.filterReply(w, r, rt, f, nil)
		return
	}

	var respAdd []*corev3.HeaderValueOption
	if !rt.DisableExtAuthz {
		ev := p.check(r.Context(), d, rt)
		// Filter::onComplete: the dynamic metadata of an answer (OK or
		// denied) goes to the ext_authz namespace; a transport error
		// carries none.
		if ev.Outcome == OutcomeOK || ev.Outcome == OutcomeDenied {
			si.setMetadata(extAuthzMetadataNamespace, ev.Response.GetDynamicMetadata())
		}
		switch ev.Outcome {
		case OutcomeDenied:
			si.flags, si.details = "UAEX", "ext_authz_denied"
			dr := ev.Response.GetDeniedResponse()
			p.localReply(w, r, rt, ev.Status, dr.GetBody(), dr.GetHeaders())
			return
		case OutcomeError:
			si.flags, si.details = "UAEX", "ext_authz_error"
			er := ev.Response.GetErrorResponse() // nil unless the service sent one
			p.localReply(w, r, rt, ev.Status, er.GetBody(), er.GetHeaders())
			return
		case OutcomeFailureMode:
			if p.cfg.FailureModeAllowHeaderAdd {
				d.header.Add("x-envoy-auth-failure-mode-allowed", "true")
			}
		case OutcomeOK:
			ok := ev.Response.GetOkResponse()
			applyRequestHeaderMutations(r, d.header, ok.GetHeaders(), ok.GetHeadersToRemove())
			d.authority = r.Host
			respAdd = ok.GetResponseHeadersToAdd()
		}
	}
	// Filters after ext_authz: their local replies run through ext_authz's
	// encodeHeaders too, with what the check stored.
	if f := p.cfg.firstRejecting(d, false); f != nil {
		p.filterReply(w, r, rt, f, respAdd)
		return
	}
	p.forward(w, r, d, rt, respAdd, si)
}

// logAccess writes the access log line of a finished request.
func (p *Proxy) logAccess(w *statusWriter, si *streamInfo) {
	si.end = time.Now()
	si.code = w.code
	line := formatLine(p.cfg.logOps, si)
	p.logMu.Lock()
	defer p.logMu.Unlock()
	_, _ = io.WriteString(p.cfg.AccessLog, line)
}

// check calls the ext_authz service and classifies the result
// (GrpcClientImpl::onSuccess/onFailure).
func (p *Proxy) check(ctx context.Context, d *downstream, rt *Route) CheckEvent {
	req := p.cfg.buildCheckRequest(d, p.streamID.Add(1), rt)
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	resp, err := p.authz.Check(ctx, req)
	cancel()
	ev := CheckEvent{Request: req, Response: resp, Err: err}
	switch {
	case err != nil:
		ev.Response = nil
		ev.Outcome = OutcomeError
	case resp.GetStatus().GetCode() == int32(codes.OK):
		ev.Outcome = OutcomeOK
	case resp.GetErrorResponse() != nil: // Envoy ≥1.37
		ev.Outcome = OutcomeError
	default:
		ev.Outcome = OutcomeDenied
		ev.Status = http.StatusForbidden
		if code := int(resp.GetDeniedResponse().GetStatus().GetCode()); code > 0 {
			ev.Status = code
		}
	}
	if ev.Outcome == OutcomeError {
		ev.Status = p.cfg.StatusOnError
		if code := int(resp.GetErrorResponse().GetStatus().GetCode()); code > 0 {
			ev.Status = code
		}
		if p.cfg.FailureModeAllow {
			ev.Outcome, ev.Status = OutcomeFailureMode, 0
		}
	}
	if p.cfg.OnCheck != nil {
		p.cfg.OnCheck(ev)
	}
	return ev
}

// forward sends the request upstream and relays the response, with the
// route's header removal and then ext_authz's response_headers_to_add.
func (p *Proxy) forward(w http.ResponseWriter, r *http.Request, d *downstream, rt *Route, respAdd []*corev3.HeaderValueOption, si *streamInfo) {
	u := *p.cfg.upstream
	u.Path, u.RawPath, u.RawQuery = "", "", ""
	out, err := http.NewRequestWithContext(r.Context(), d.method, u.String(), r.Body)
	if err != nil {
		p.localReply(w, r, rt, http.StatusBadGateway, "", nil)
		return
	}
	out.URL.Opaque = d.path // the normalised :path, sent as is
	if i := strings.IndexByte(d.path, '?'); i >= 0 {
		out.URL.Opaque, out.URL.RawQuery = d.path[:i], d.path[i+1:]
	}
	out.Host = d.authority
	out.Header = d.header
	out.ContentLength = r.ContentLength
	if r.ContentLength == 0 {
		out.Body = nil
	}
	resp, err := p.transport.RoundTrip(out)
	if err != nil {
		// The router's local reply goes through every encoder filter,
		// ext_authz's included (see filterReply).
		p.filterReply(w, r, rt, &LocalReplyFilter{Name: "router", Status: http.StatusServiceUnavailable,
			Body: "upstream connect error or disconnect/reset before headers"}, respAdd)
		return
	}
	defer resp.Body.Close()

	h := w.Header()
	for k, vs := range resp.Header {
		h[k] = append([]string(nil), vs...)
	}
	stripHopByHop(h)
	mergeInline(h, inlineResponse)
	// Router::Filter::onUpstreamHeaders → finalizeResponseHeaders: the
	// route's removals run before the encoder filters (ext_authz) see the
	// response.
	for _, name := range rt.ResponseHeadersToRemove {
		h.Del(name)
	}
	applyResponseHeadersToAdd(h, respAdd)
	h.Set("server", "envoy")
	si.details = "via_upstream"
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}

// localReply sends a response generated by the proxy itself
// (sendLocalReply): the route's header rules first, then the filter's
// headers, then the body with content-type text/plain when non-empty.
func (p *Proxy) localReply(w http.ResponseWriter, r *http.Request, rt *Route, status int, body string, hdrs []*corev3.HeaderValueOption) {
	h := w.Header()
	if rt != nil {
		for _, name := range rt.ResponseHeadersToRemove {
			h.Del(name)
		}
	}
	applyDeniedHeaders(h, hdrs)
	if body != "" {
		h.Set("content-length", fmt.Sprint(len(body)))
		if h.Get("content-type") == "" {
			h.Set("content-type", "text/plain")
		}
	} else {
		h.Del("content-type")
		h.Del("content-length")
	}
	h.Set("server", "envoy")
	w.WriteHeader(status)
	if body != "" && r.Method != http.MethodHead {
		_, _ = io.WriteString(w, body)
	}
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// Server is a Proxy listening on a TCP port.
type Server struct {
	*Proxy
	// URL is http://host:port of the listener.
	URL string
	// Addr is the bound listen address.
	Addr net.Addr

	srv  *http.Server
	done chan struct{}
}

// Start listens on cfg.Addr (127.0.0.1:0 when empty) and serves a new
// Proxy until Close.
func Start(cfg Config) (*Server, error) {
	addr := cfg.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("envoymodel: listen: %w", err)
	}
	return Serve(ln, cfg)
}

// Serve serves a new Proxy on ln (which it then owns) until Close. Use it
// when the listener's port must be known before the proxy is configured.
func Serve(ln net.Listener, cfg Config) (*Server, error) {
	p, err := New(cfg)
	if err != nil {
		_ = ln.Close()
		return nil, err
	}
	s := &Server{
		Proxy: p,
		URL:   "http://" + ln.Addr().String(),
		Addr:  ln.Addr(),
		srv:   &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second},
		done:  make(chan struct{}),
	}
	go func() {
		defer close(s.done)
		_ = s.srv.Serve(ln)
	}()
	return s, nil
}

// Close stops the listener, closes open connections and the ext_authz
// client, and waits for the serving goroutine.
func (s *Server) Close() error {
	err := s.srv.Close()
	<-s.done
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return errors.Join(err, s.Proxy.Close())
}
