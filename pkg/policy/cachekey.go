package policy

import (
	"encoding/binary"

	"github.com/cors-authz/cors-authz/internal/origin"
)

// AppendCacheKey appends to dst the bytes that, with rt.Class and
// rt.Selection, determine r's verdict, and reports whether the verdict is
// worth caching: only Actual and Preflight requests with bounded inputs.
func (rt Route) AppendCacheKey(dst []byte, r *Request) ([]byte, bool) {
	if rt.Kind != Actual && rt.Kind != Preflight {
		return dst, false
	}
	if len(r.Origin) > origin.MaxLen || len(r.ACRM) > 32 || len(r.ACRH) > maxCachedACRH {
		return dst, false
	}
	// The method is not part of the key (an actual request's verdict does
	// not depend on it, and a preflight's is OPTIONS), except that a
	// request without one gets no grant: it is decided afresh each time.
	if r.Method == "" {
		return dst, false
	}
	// A path whose meaning depends on decoding gets no grant from the class
	// its normal form selects, which other paths share: decided afresh.
	if rt.pathAmbiguous {
		return dst, false
	}
	// Fields are length-prefixed so that no two requests share a key.
	dst = append(dst, byte(rt.Kind), byte(rt.Selection))
	dst = appendField(dst, r.Origin)
	if rt.Kind == Actual {
		if rt.Class.denyAction == DenySelfOrigin {
			dst = appendField(dst, r.Host)
		}
		return dst, true
	}
	dst = appendField(dst, r.ACRM)
	dst = appendField(dst, r.ACRH)
	if r.ACRPN == "true" {
		dst = append(dst, 1)
	}
	return dst, true
}

func appendField(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// maxCachedACRH bounds the Access-Control-Request-Headers a cache key
// carries; longer lists are decided afresh each time.
const maxCachedACRH = 512
