package envoymodel

import (
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
)

// extAuthzMetadataNamespace is where Envoy's ext_authz filter puts a
// CheckResponse's dynamic_metadata, whatever the filter's own name
// (ext_authz.cc: the namespace is hard-coded).
const extAuthzMetadataNamespace = "envoy.filters.http.ext_authz"

// The access log: Envoy's file access logger with a text format
// (envoy.access_loggers.file, log_format.text_format_source), for the
// command operators below (docs: configuration/observability/access_log/
// usage, "Command operators"). Any other operator is a configuration
// error, so the model never prints a line Envoy would print differently:
//
//	%START_TIME%                  request start, UTC, Envoy's default %Y-%m-%dT%H:%M:%E3SZ
//	%REQ(H?ALT):N%, %RESP(H):N%   a request (response) header, or ALT if H is absent;
//	                              :method, :path, :authority, :scheme for the request line
//	%PROTOCOL%                    HTTP/1.1 or HTTP/1.0
//	%DURATION%                    milliseconds from start to the end of the response
//	%RESPONSE_CODE%               the status sent downstream
//	%RESPONSE_FLAGS%              UAEX (ext_authz denied, or failed without failure_mode_allow),
//	                              NR (no route); "-" when none
//	%RESPONSE_CODE_DETAILS%       via_upstream, ext_authz_denied, ext_authz_error, route_not_found;
//	                              "-" for the replies whose details the model does not know
//	                              (path normalisation, upstream failures)
//	%DYNAMIC_METADATA(NS:K:...):N% a dynamic metadata value: strings as they are, other values
//	                              as JSON; "-" when absent
//
// ":N" truncates the value to N bytes. Absent values print "-".

// logOp is one piece of a parsed format: literal text, or an operator.
type logOp struct {
	text   string // literal, when op is ""
	op     string // START_TIME, REQ, ...
	args   []string
	maxLen int // 0: no truncation
}

// operatorRE matches one command operator at the start of a string.
var operatorRE = regexp.MustCompile(`^%([A-Z_]+)(?:\(([^)]*)\))?(?::(\d+))?%`)

// parseLogFormat splits a text format into literals and operators.
func parseLogFormat(format string) ([]logOp, error) {
	var ops []logOp
	lit := func(s string) {
		if s == "" {
			return
		}
		if n := len(ops); n > 0 && ops[n-1].op == "" {
			ops[n-1].text += s
			return
		}
		ops = append(ops, logOp{text: s})
	}
	for format != "" {
		i := strings.IndexByte(format, '%')
		if i < 0 {
			lit(format)
			break
		}
		lit(format[:i])
		format = format[i:]
		m := operatorRE.FindStringSubmatch(format)
		if m == nil {
			return nil, fmt.Errorf("access log format: %.40q is not a command operator the model knows", format)
		}
		op := logOp{op: m[1]}
		if m[2] != "" {
			op.args = []string{m[2]}
		}
		if m[3] != "" {
			op.maxLen, _ = strconv.Atoi(m[3])
		}
		switch op.op {
		case "START_TIME", "PROTOCOL", "DURATION", "RESPONSE_CODE", "RESPONSE_FLAGS", "RESPONSE_CODE_DETAILS":
			if m[2] != "" {
				return nil, fmt.Errorf("access log format: %%%s%% takes no argument (date formats are not modelled)", op.op)
			}
		case "REQ", "RESP":
			if m[2] == "" {
				return nil, fmt.Errorf("access log format: %%%s(...)%% needs a header name", op.op)
			}
			op.args = strings.SplitN(m[2], "?", 2)
		case "DYNAMIC_METADATA":
			op.args = strings.Split(m[2], ":")
			if len(op.args) < 2 || op.args[0] == "" {
				return nil, fmt.Errorf("access log format: %%DYNAMIC_METADATA(%s)%% needs NAMESPACE:KEY", m[2])
			}
		default:
			return nil, fmt.Errorf("access log format: %%%s%% is not modelled", op.op)
		}
		ops = append(ops, op)
		format = format[len(m[0]):]
	}
	return ops, nil
}

// streamInfo is what the access log reads about one downstream request.
type streamInfo struct {
	start    time.Time
	end      time.Time
	method   string
	path     string
	protocol string
	d        *downstream // the request as the filters saw it; nil before routing
	reqHdr   http.Header
	respHdr  http.Header
	code     int
	flags    string
	details  string
	metadata map[string]*structpb.Struct
}

// setMetadata merges m into namespace ns as Envoy's setDynamicMetadata
// does (protobuf MergeFrom of a Struct: top-level keys replaced).
func (si *streamInfo) setMetadata(ns string, m *structpb.Struct) {
	if len(m.GetFields()) == 0 {
		return
	}
	if si.metadata == nil {
		si.metadata = map[string]*structpb.Struct{}
	}
	cur := si.metadata[ns]
	if cur == nil {
		cur = &structpb.Struct{Fields: map[string]*structpb.Value{}}
		si.metadata[ns] = cur
	}
	for k, v := range m.GetFields() {
		cur.Fields[k] = v
	}
}

// format renders one access log line.
func formatLine(ops []logOp, si *streamInfo) string {
	var b strings.Builder
	for _, op := range ops {
		if op.op == "" {
			b.WriteString(op.text)
			continue
		}
		v, ok := si.value(op)
		if !ok || v == "" {
			v = "-"
		} else if op.maxLen > 0 && len(v) > op.maxLen {
			v = v[:op.maxLen]
		}
		b.WriteString(v)
	}
	return b.String()
}

func (si *streamInfo) value(op logOp) (string, bool) {
	switch op.op {
	case "START_TIME":
		return si.start.UTC().Format("2006-01-02T15:04:05.000Z"), true
	case "PROTOCOL":
		return si.protocol, true
	case "DURATION":
		return strconv.FormatInt(si.end.Sub(si.start).Milliseconds(), 10), true
	case "RESPONSE_CODE":
		return strconv.Itoa(si.code), si.code != 0
	case "RESPONSE_FLAGS":
		return si.flags, si.flags != ""
	case "RESPONSE_CODE_DETAILS":
		return si.details, si.details != ""
	case "REQ":
		for _, name := range op.args {
			if v, ok := si.reqHeader(name); ok {
				return v, true
			}
		}
	case "RESP":
		for _, name := range op.args {
			if v := si.respHdr.Get(name); v != "" {
				return v, true
			}
		}
	case "DYNAMIC_METADATA":
		return si.metadataValue(op.args[0], op.args[1:])
	}
	return "", false
}

// reqHeader reads a request header, the pseudo-headers from the request
// line as the filters saw it.
func (si *streamInfo) reqHeader(name string) (string, bool) {
	switch strings.ToLower(name) {
	case ":method":
		return si.method, si.method != ""
	case ":path":
		return si.path, si.path != ""
	case ":authority":
		if si.d != nil {
			return si.d.authority, si.d.authority != ""
		}
		return "", false
	case ":scheme":
		if si.d != nil {
			return si.d.scheme, true
		}
		return "", false
	}
	vs := si.reqHdr.Values(name)
	if len(vs) == 0 {
		return "", false
	}
	return vs[0], true
}

// metadataValue walks ns, then keys through nested structs.
func (si *streamInfo) metadataValue(ns string, keys []string) (string, bool) {
	s := si.metadata[ns]
	if s == nil {
		return "", false
	}
	var v *structpb.Value
	for i, k := range keys {
		v = s.GetFields()[k]
		if v == nil {
			return "", false
		}
		if i < len(keys)-1 {
			if s = v.GetStructValue(); s == nil {
				return "", false
			}
		}
	}
	if sv, ok := v.GetKind().(*structpb.Value_StringValue); ok {
		return sv.StringValue, true
	}
	b, err := protojson.Marshal(v)
	if err != nil {
		return "", false
	}
	return string(b), true
}

// statusWriter records the status and headers a handler sends.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}
