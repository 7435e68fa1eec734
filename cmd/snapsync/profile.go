package main

import (
	"fmt"
	"os"
	"runtime/pprof"
)

// startProfile starts the CPU profile --cpu-profile asks for.
func (g *globals) startProfile() error {
	if g.cpuProfile == "" {
		return nil
	}
	f, err := os.Create(g.cpuProfile)
	if err != nil {
		return fmt.Errorf("--cpu-profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close() // the start error is the one to report
		return fmt.Errorf("--cpu-profile: %w", err)
	}
	g.profile = f
	return nil
}

// stopProfile ends the CPU profile, if any, and closes its file.
func (g *globals) stopProfile() {
	if g.profile == nil {
		return
	}
	pprof.StopCPUProfile()
	if err := g.profile.Close(); err != nil {
		fmt.Fprintf(g.stderr, "snapsync: --cpu-profile: %v\n", err)
	}
	g.profile = nil
}
