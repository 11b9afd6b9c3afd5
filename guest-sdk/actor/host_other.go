//go:build !wasip1

package actor

// newHost returns the stub: outside a wasip1 build there are no imports to
// call. Tests in this package install a fake host instead.
func newHost() hostAPI { return stubHost{} }
