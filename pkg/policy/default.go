package policy

import _ "embed"

// DefaultYAML is the example policy embedded in the binary, served when no
// policy file is given. It is the policy shown in the README.
//
//go:embed default.yaml
var DefaultYAML []byte

// DefaultName is the source name of the embedded policy.
const DefaultName = "<embedded default policy>"

// Default parses the embedded policy.
func Default() *Policy {
	p, _, err := Parse(DefaultName, DefaultYAML)
	if err != nil {
		panic("embedded default policy is invalid: " + err.Error())
	}
	return p
}
