// Package envoymodel is a small HTTP reverse proxy that behaves like Envoy's
// HTTP connection manager, ext_authz filter (gRPC, transport v3) and router,
// closely enough to prove cors-authz end to end where Envoy itself cannot be
// installed. It is for tests only.
//
// What it models (Envoy 1.31–1.36 unless noted; the Envoy functions each
// behaviour comes from are named in parentheses):
//
//   - HCM path handling before routing: path_with_escaped_slashes_action,
//     normalize_path (RFC 3986 dot segments, Chromium's URL path
//     canonicaliser) and merge_slashes, in that order; the query is kept.
//
//   - Routing: ordered prefix routes, first match wins; no route is a 404
//     local reply and no check. A route can disable ext_authz
//     (ExtAuthzPerRoute.disabled) and carries check_settings
//     .context_extensions and response_headers_to_remove.
//
//   - The CheckRequest (CheckRequestUtils::createHttpCheck): method, path
//     with query, host (= :authority), scheme, protocol, id (a stream
//     counter, not x-request-id); headers with lower-case keys including the
//     pseudo-headers, repeated headers joined with "," and values sanitised
//     to UTF-8; or header_map (not joined, raw_value) with
//     encode_raw_headers; allowed_headers filtering; context_extensions of
//     the route; source and destination socket addresses.
//
//   - The CheckResponse (GrpcClientImpl::onSuccess, Filter::onComplete):
//     OK applies request header mutations (append true: comma-append to an
//     existing header, else set) and headers_to_remove, then forwards; on
//     the upstream response the route's response_headers_to_remove run
//     first (router finalizeResponseHeaders), then response_headers_to_add
//     grouped as Envoy does: every APPEND_IF_EXISTS_OR_ADD (or append:true)
//     first, then OVERWRITE_IF_EXISTS_OR_ADD (or append:false), then
//     ADD_IF_ABSENT, then OVERWRITE_IF_EXISTS. Appending to an inline header
//     (Access-Control-Allow-* among them) comma-joins onto the existing
//     value; appending any other header adds a second line.
//
//   - A non-OK status is a denial: a local reply with
//     denied_response.status (unset or 0: 403), the route's
//     response_headers_to_remove, then the denied headers (each name
//     removed, then added; entries with append:true are dropped as in
//     1.31–1.36), and the body (content-type text/plain when non-empty).
//
//   - A transport error, a deadline, a Go error returned by the service, or
//     (Envoy ≥1.37) an error_response is an error: failure_mode_allow
//     forwards the request (optionally marked with
//     x-envoy-auth-failure-mode-allowed), otherwise status_on_error (default
//     403; outside 100..511 also 403).
//
//   - Local replies of other filters (LocalReplyFilter: jwt_authn 401, rbac
//     403, local_ratelimit 429) and the router's 503 pass through every
//     encoder filter (sendLocalReplyViaFilterChain), so ext_authz adds the
//     response_headers_to_add stored by an OK check to them; a filter ahead
//     of ext_authz, a route with ext_authz disabled, or a failed check
//     (failure_mode_allow) leaves them without.
//
//   - The CheckResponse's dynamic_metadata (OK and denied answers; none on
//     errors) is merged into the stream's metadata namespace
//     envoy.filters.http.ext_authz (Filter::onComplete), top-level keys
//     replaced.
//
//   - The HCM's file access log with a text format, for the command
//     operators listed in accesslog.go (others are a configuration error):
//     one line per request, after the response.
//
// It does not model HTTP/2 downstreams, request bodies in the check, query
// parameter mutations, other access loggers or formats, or the native CORS
// filter.
package envoymodel
