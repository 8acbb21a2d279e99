//go:build tools

// Records the real Pulumi CLI as a dependency of this wrapper module, so `go build
// github.com/pulumi/pulumi/pkg/v3/cmd/pulumi` builds it at the version go.mod requires.
package tools

import _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
