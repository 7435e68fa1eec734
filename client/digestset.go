package client

import (
	"slices"

	"github.com/snapsync/snapsync/internal/digestkey"
	"github.com/snapsync/snapsync/verify"
)

// digestSet is a set of digests that may answer yes for a digest it does not
// hold (a 64-bit keyed collision): its users confirm by the full digest, so
// a false yes costs at most a local chunk indexed for nothing.
type digestSet struct {
	key digestkey.Key
	set map[uint64]struct{}
	// sorted, if not nil, is the set's keys in order, and set is unused: 8
	// bytes a digest, for a set built once and then only asked
	// (sortedDigestSet).
	sorted []uint64
}

// sortedDigestSet is the set of the keys keys (sorted, distinct) of key.
func sortedDigestSet(key digestkey.Key, keys []uint64) *digestSet {
	if keys == nil {
		keys = []uint64{}
	}
	return &digestSet{key: key, sorted: keys}
}

func newDigestSet() *digestSet {
	return &digestSet{key: digestkey.New(), set: make(map[uint64]struct{})}
}

func (s *digestSet) add(d *verify.Digest) { s.set[s.key.Of(d)] = struct{}{} }

// has reports whether d may be in the set; a nil set holds everything.
func (s *digestSet) has(d *verify.Digest) bool {
	if s == nil {
		return true
	}
	if s.sorted != nil {
		_, ok := slices.BinarySearch(s.sorted, s.key.Of(d))
		return ok
	}
	_, ok := s.set[s.key.Of(d)]
	return ok
}

// jobIndex finds the job of a digest: by its 64-bit key, confirmed against
// the job's digest, with the full digest as key for the (practically never
// seen) digests whose keys collide.
type jobIndex struct {
	key     digestkey.Key
	byKey   map[uint64]*job
	collide map[verify.Digest]*job
}

func newJobIndex() *jobIndex {
	return &jobIndex{key: digestkey.New(), byKey: make(map[uint64]*job), collide: make(map[verify.Digest]*job)}
}

func (x *jobIndex) get(d *verify.Digest) *job {
	j := x.byKey[x.key.Of(d)]
	if j == nil || *j.digest == *d {
		return j
	}
	return x.collide[*d]
}

func (x *jobIndex) put(j *job) {
	k := x.key.Of(j.digest)
	if _, taken := x.byKey[k]; taken {
		x.collide[*j.digest] = j
		return
	}
	x.byKey[k] = j
}
