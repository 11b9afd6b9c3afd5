//go:build !(linux || darwin || freebsd)

package engine

import "errors"

const mmapSupported = false

func mmapReserve(uint64) ([]byte, error)      { return nil, errors.ErrUnsupported }
func mmapCommit([]byte, uint64, uint64) error { return errors.ErrUnsupported }
func mmapRelease([]byte)                      {}
