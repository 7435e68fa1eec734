package server

import (
	"encoding/binary"
	"runtime"
	"testing"

	"github.com/snapsync/snapsync/internal/digestkey"
	"github.com/snapsync/snapsync/verify"
)

// BenchmarkIndexMemory measures the heap an index of chunks by digest
// costs a chunk: a checkpoint's (chunkRef) and the installed database's
// (fileChunk), at a million chunks (1 TiB of 1 MiB chunks), and the staged
// registry's (its ring included).
func BenchmarkIndexMemory(b *testing.B) {
	const n = 1 << 20
	key := digestkey.New()
	digest := func(i int) verify.Digest {
		var d verify.Digest
		binary.LittleEndian.PutUint64(d[:], uint64(i))
		return d
	}
	perChunk := func(build func() any) float64 {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		keep := build()
		runtime.GC()
		runtime.ReadMemStats(&after)
		runtime.KeepAlive(keep)
		return float64(after.HeapAlloc-before.HeapAlloc) / n
	}
	for range b.N {
		b.ReportMetric(perChunk(func() any {
			return indexOf(n, key, digest, func(i int) chunkRef { return chunkRef{fi: uint32(i >> 8), j: uint32(i & 255)} })
		}), "checkpoint-B/chunk")
		b.ReportMetric(perChunk(func() any {
			return indexOf(n, key, digest, func(i int) fileChunk { return fileChunk{file: uint32(i >> 8), j: uint32(i & 255)} })
		}), "installed-B/chunk")
		b.ReportMetric(perChunk(func() any {
			r := NewStagedChunks(n)
			for i := range n {
				r.Add(digest(i), "/stage/000001.sst", int64(i)<<20, 1<<20)
			}
			return r
		}), "staged-B/chunk")
	}
}

// indexOf is an index of n chunks as the server builds one: digest i's key
// to place(i).
func indexOf[V any](n int, key digestkey.Key, digest func(int) verify.Digest, place func(int) V) map[uint64]V {
	m := make(map[uint64]V)
	for i := range n {
		d := digest(i)
		m[key.Of(&d)] = place(i)
	}
	return m
}
