//go:build !wasip1

package main

func logAs(uint64, string) {}
