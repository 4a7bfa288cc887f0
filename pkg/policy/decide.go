package policy

// Route is the first half of a decision: which class applies to a request
// and what kind of request it is. It is cheap (no origin lookup), and with
// the request it determines the verdict; see AppendCacheKey.
type Route struct {
	Class     *Class
	Selection Selection
	Kind      Kind
	Hint      string // the cors_class the request named, if any
}

// Decide returns the verdict for r.
func (p *Policy) Decide(r *Request) Verdict {
	return p.DecideRoute(r, p.Classify(r))
}
