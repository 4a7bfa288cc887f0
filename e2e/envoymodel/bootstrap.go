package envoymodel

import (
	"errors"
	"fmt"
	"time"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	filelogv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/file/v3"
	extauthzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"sigs.k8s.io/yaml"

	// Types that deploy/envoy.yaml names in typed_config, registered so
	// that protojson can resolve them.
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
)

const extAuthzFilter = "envoy.filters.http.ext_authz"

// FromBootstrapYAML reads an Envoy static bootstrap (such as
// deploy/envoy.yaml) and returns the model's Config for its first listener:
// the HCM's path options, the first virtual host's routes (prefix and path
// matches, ExtAuthzPerRoute, response_headers_to_remove) and the ext_authz
// filter's settings. Cluster addresses are not read: upstream and
// authzTarget name where the application and cors-authz really listen.
//
// The HCM's file access log, if any, becomes AccessLogFormat (the caller
// sets AccessLog, the writer its lines go to).
//
// Settings the model cannot honour (other route matchers, virtual-host
// level per-filter config, non-exact allowed_headers patterns, access logs
// other than one unfiltered file logger with a text format) are errors,
// so the model never silently differs from the file.
func FromBootstrapYAML(data []byte, upstream, authzTarget string) (Config, error) {
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return Config{}, fmt.Errorf("envoymodel: bootstrap YAML: %w", err)
	}
	var bs bootstrapv3.Bootstrap
	if err := protojson.Unmarshal(js, &bs); err != nil {
		return Config{}, fmt.Errorf("envoymodel: bootstrap: %w", err)
	}
	ls := bs.GetStaticResources().GetListeners()
	if len(ls) == 0 || len(ls[0].GetFilterChains()) == 0 || len(ls[0].GetFilterChains()[0].GetFilters()) == 0 {
		return Config{}, errors.New("envoymodel: bootstrap has no listener with a filter chain")
	}
	var hcm hcmv3.HttpConnectionManager
	if err := ls[0].GetFilterChains()[0].GetFilters()[0].GetTypedConfig().UnmarshalTo(&hcm); err != nil {
		return Config{}, fmt.Errorf("envoymodel: first network filter is not an HttpConnectionManager: %w", err)
	}
	cfg := Config{Upstream: upstream, AuthzTarget: authzTarget}

	path := PathOptions{NormalizePath: hcm.GetNormalizePath().GetValue(), MergeSlashes: hcm.GetMergeSlashes()}
	switch hcm.GetPathWithEscapedSlashesAction() {
	case hcmv3.HttpConnectionManager_REJECT_REQUEST:
		path.EscapedSlashes = RejectRequest
	case hcmv3.HttpConnectionManager_UNESCAPE_AND_REDIRECT:
		path.EscapedSlashes = UnescapeAndRedirect
	case hcmv3.HttpConnectionManager_UNESCAPE_AND_FORWARD:
		path.EscapedSlashes = UnescapeAndForward
	}
	cfg.Path = &path

	var authz *extauthzv3.ExtAuthz
	for _, f := range hcm.GetHttpFilters() {
		if f.GetName() != extAuthzFilter {
			continue
		}
		authz = &extauthzv3.ExtAuthz{}
		if err := f.GetTypedConfig().UnmarshalTo(authz); err != nil {
			return Config{}, fmt.Errorf("envoymodel: %s: %w", extAuthzFilter, err)
		}
		break
	}
	if authz == nil {
		return Config{}, fmt.Errorf("envoymodel: no %s filter in the HCM", extAuthzFilter)
	}
	cfg.FailureModeAllow = authz.GetFailureModeAllow()
	cfg.FailureModeAllowHeaderAdd = authz.GetFailureModeAllowHeaderAdd()
	cfg.StatusOnError = int(authz.GetStatusOnError().GetCode())
	cfg.EncodeRawHeaders = authz.GetEncodeRawHeaders()
	if d := authz.GetGrpcService().GetTimeout(); d != nil {
		cfg.Timeout = d.AsDuration()
	} else {
		cfg.Timeout = 200 * time.Millisecond // Envoy's default
	}
	if ah := authz.GetAllowedHeaders(); ah != nil {
		cfg.AllowedHeaders = []string{}
		for _, m := range ah.GetPatterns() {
			if m.GetExact() == "" {
				return Config{}, fmt.Errorf("envoymodel: allowed_headers pattern %v: only exact is modelled", m)
			}
			cfg.AllowedHeaders = append(cfg.AllowedHeaders, m.GetExact())
		}
	}

	if err := accessLogFrom(&hcm, &cfg); err != nil {
		return Config{}, err
	}

	vhs := hcm.GetRouteConfig().GetVirtualHosts()
	if len(vhs) == 0 {
		return Config{}, errors.New("envoymodel: HCM has no inline route_config virtual host")
	}
	if _, ok := vhs[0].GetTypedPerFilterConfig()[extAuthzFilter]; ok {
		return Config{}, errors.New("envoymodel: virtual-host level ExtAuthzPerRoute is not modelled")
	}
	for _, r := range vhs[0].GetRoutes() {
		rt, err := routeFrom(r)
		if err != nil {
			return Config{}, err
		}
		cfg.Routes = append(cfg.Routes, rt)
	}
	return cfg, nil
}

func routeFrom(r *routev3.Route) (Route, error) {
	var rt Route
	switch m := r.GetMatch().GetPathSpecifier().(type) {
	case *routev3.RouteMatch_Prefix:
		rt.Prefix = m.Prefix
	case *routev3.RouteMatch_Path:
		rt.Path = m.Path
	default:
		return rt, fmt.Errorf("envoymodel: route %q: only prefix and path matches are modelled", r.GetName())
	}
	if len(r.GetMatch().GetHeaders()) > 0 || len(r.GetMatch().GetQueryParameters()) > 0 ||
		r.GetMatch().GetCaseSensitive() != nil {
		return rt, fmt.Errorf("envoymodel: route %q: header, query and case matching are not modelled", r.GetName())
	}
	rt.ResponseHeadersToRemove = r.GetResponseHeadersToRemove()
	if len(r.GetResponseHeadersToAdd()) > 0 {
		return rt, fmt.Errorf("envoymodel: route %q: response_headers_to_add is not modelled", r.GetName())
	}
	if a, ok := r.GetTypedPerFilterConfig()[extAuthzFilter]; ok {
		var per extauthzv3.ExtAuthzPerRoute
		if err := a.UnmarshalTo(&per); err != nil {
			return rt, fmt.Errorf("envoymodel: route %q: %w", r.GetName(), err)
		}
		rt.DisableExtAuthz = per.GetDisabled()
		if ce := per.GetCheckSettings().GetContextExtensions(); len(ce) > 0 {
			rt.ContextExtensions = make(map[string]string, len(ce))
			for k, v := range ce {
				rt.ContextExtensions[k] = v
			}
		}
	}
	return rt, nil
}

// accessLogFrom reads the HCM's access log: one envoy.access_loggers.file
// with log_format.text_format_source.inline_string (the deprecated
// text_format is refused).
func accessLogFrom(hcm *hcmv3.HttpConnectionManager, cfg *Config) error {
	logs := hcm.GetAccessLog()
	switch {
	case len(logs) == 0:
		return nil
	case len(logs) > 1:
		return errors.New("envoymodel: only one access log is modelled")
	case logs[0].GetFilter() != nil:
		return errors.New("envoymodel: access log filters are not modelled")
	}
	var fl filelogv3.FileAccessLog
	if err := logs[0].GetTypedConfig().UnmarshalTo(&fl); err != nil {
		return fmt.Errorf("envoymodel: access log %q: only the file access logger is modelled: %w", logs[0].GetName(), err)
	}
	lf := fl.GetLogFormat()
	format := lf.GetTextFormatSource().GetInlineString()
	if format == "" || lf.GetOmitEmptyValues() || len(lf.GetFormatters()) > 0 {
		return fmt.Errorf("envoymodel: access log %q: only log_format.text_format_source.inline_string, without omit_empty_values or formatters, is modelled", logs[0].GetName())
	}
	if _, err := parseLogFormat(format); err != nil {
		return fmt.Errorf("envoymodel: access log %q: %w", logs[0].GetName(), err)
	}
	cfg.AccessLogFormat = format
	return nil
}
