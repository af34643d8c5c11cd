//go:build !linux

package main

// evict does nothing off Linux: local downloads read whatever is cached.
func (b *bench) evict(string) error { return nil }
