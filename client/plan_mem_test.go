package client

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"testing"

	"github.com/snapsync/snapsync/verify"
)

// synthManifest is a valid manifest of files files of per distinct chunks
// each, of the smallest chunk size.
func synthManifest(files, per int) *verify.Manifest {
	m := &verify.Manifest{ChunkSize: verify.MinChunkSize, Dirs: []verify.Dir{{Path: "db", Mode: 0o755}}}
	m.Files = make([]verify.File, files)
	n := uint64(0)
	for i := range m.Files {
		f := &m.Files[i]
		*f = verify.File{Path: fmt.Sprintf("db/%07d.sst", i), Size: int64(per) * verify.MinChunkSize, Mode: 0o644, LinkTo: -1,
			Chunks: make([]verify.Chunk, per)}
		for j := range f.Chunks {
			n++
			binary.BigEndian.PutUint64(f.Chunks[j].Digest[:], n*0x9E3779B97F4A7C15)
			f.Chunks[j].Length = verify.MinChunkSize
		}
	}
	return m
}

// heapInUse returns the live heap after a full collection.
func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// planMemory returns the live bytes per chunk of what planning a fresh
// install of m keeps: the set of needed digests (while local trees are
// indexed) and the plan.
func planMemory(m *verify.Manifest) (need, plan float64) {
	chunks := 0
	for i := range m.Files {
		chunks += len(m.Files[i].Chunks)
	}
	done, complete := make([][]bool, len(m.Files)), make([]bool, len(m.Files))
	base := heapInUse()
	needed := neededDigests(m, done, complete)
	afterNeed := heapInUse()
	runtime.KeepAlive(needed)
	needed = nil
	base = heapInUse()
	idx := &localIndex{byDigest: map[verify.Digest]chunkLoc{}, byContent: map[contentKey][]*localFile{}}
	p := makePlan(m, done, complete, idx, func(string) bool { return false }, DefaultFileModeMask, func(int) string { return "" })
	afterPlan := heapInUse()
	runtime.KeepAlive(p)
	return float64(afterNeed-base) / float64(chunks), float64(afterPlan-base) / float64(chunks)
}

// Bounds of the plan's memory, as plan's doc states them (rounded up).
const (
	maxPlanPerChunk = 96 // a distinct chunk: job, target, index key, list entry
	maxNeedPerChunk = 48 // a needed digest's key while local trees are indexed
	maxPlanPerFile  = 48 // a file's remaining counter and list entries
)

// TestPlanMemory measures what planning keeps per distinct chunk (2^18 of
// them) and per file (2^16 one-chunk files).
func TestPlanMemory(t *testing.T) {
	need, plan := planMemory(synthManifest(64, 4096))
	t.Logf("per chunk: needed digests %.0f bytes, plan %.0f bytes", need, plan)
	if need > maxNeedPerChunk || plan > maxPlanPerChunk {
		t.Errorf("per chunk: need %.0f (at most %d), plan %.0f (at most %d)", need, maxNeedPerChunk, plan, maxPlanPerChunk)
	}
	_, perFile := planMemory(synthManifest(1<<16, 1))
	t.Logf("per one-chunk file, its chunk included: plan %.0f bytes", perFile)
	if perFile > maxPlanPerChunk+maxPlanPerFile {
		t.Errorf("per one-chunk file: %.0f bytes, at most %d", perFile, maxPlanPerChunk+maxPlanPerFile)
	}
}

// BenchmarkPlan plans a fresh install of 2^20 distinct chunks in 256 files
// and reports the bytes kept per chunk.
func BenchmarkPlan(b *testing.B) {
	m := synthManifest(256, 4096)
	b.ReportAllocs()
	var perChunk float64
	for b.Loop() {
		_, perChunk = planMemory(m)
	}
	b.ReportMetric(perChunk, "B/chunk")
}
