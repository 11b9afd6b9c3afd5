//go:build darwin || freebsd

package engine

const mmapNoReserve = 0
