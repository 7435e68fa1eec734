package main

import (
	"fmt"
	"os"
	"runtime"
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

// stopProfile ends the CPU profile, if any, and closes its file, then
// writes the heap profile --mem-profile asks for.
func (g *globals) stopProfile() {
	if g.memProfile != "" {
		if err := writeHeapProfile(g.memProfile); err != nil {
			fmt.Fprintf(g.stderr, "snapsync: --mem-profile: %v\n", err)
		}
	}
	if g.profile == nil {
		return
	}
	pprof.StopCPUProfile()
	if err := g.profile.Close(); err != nil {
		fmt.Fprintf(g.stderr, "snapsync: --cpu-profile: %v\n", err)
	}
	g.profile = nil
}

// writeHeapProfile writes the heap profile (what is allocated, and what
// is live after a collection) to path.
func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	runtime.GC() // the live figures are as of the last collection
	err = pprof.Lookup("heap").WriteTo(f, 0)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
