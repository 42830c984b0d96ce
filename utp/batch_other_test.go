//go:build !linux

package utp

// errGSORefused stands for a refused GSO send.
var errGSORefused = errNoGSO
