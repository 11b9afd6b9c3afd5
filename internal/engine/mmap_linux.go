package engine

import "syscall"

const mmapNoReserve = syscall.MAP_NORESERVE
