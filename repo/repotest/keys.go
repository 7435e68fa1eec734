package repotest

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/snapsync/snapsync/repo"
	"github.com/snapsync/snapsync/verify"
)

// testKeys opens a repository with the wrong key, none, or one it does not
// need: each is refused with its own error, and nothing is written.
func testKeys(t *testing.T, h Harness) {
	ctx := context.Background()
	b := h.New(t)
	r := open(t, h, b, t0)
	id := backup(t, r, makeSnap(t, files(20, 128<<10, 4<<10), 100, t0))
	before := allKeys(t, b)
	other := NewKey(t)
	if h.Key == nil {
		if _, err := repo.Open(ctx, b, &repo.Options{Key: other}); !errors.Is(err, repo.ErrNotEncrypted) {
			t.Fatalf("Open of a plaintext repository with a key = %v, want ErrNotEncrypted", err)
		}
		return
	}
	testCases := []struct {
		name string
		key  *repo.Key
		want error
	}{
		{"no key", nil, repo.ErrKeyNeeded},
		{"wrong key", other, repo.ErrWrongKey},
		{"right key", h.Key, nil},
	}
	for _, tc := range testCases {
		for _, openFn := range []func(context.Context, repo.Backend, *repo.Options) (*repo.Repo, error){repo.Open, repo.OpenOrCreate} {
			got, err := openFn(ctx, b, &repo.Options{Key: tc.key})
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("%s: Open = %v, want %v", tc.name, err, tc.want)
			}
			if tc.want == repo.ErrWrongKey && errors.Is(err, repo.ErrKeyNeeded) {
				t.Fatalf("%s: %v is ErrKeyNeeded too", tc.name, err)
			}
			if err != nil {
				continue
			}
			if rep, err := got.Verify(ctx, id); err != nil || !rep.OK() || !got.Encrypted() {
				t.Fatalf("%s: Verify = %+v, %v", tc.name, rep, err)
			}
		}
	}
	if after := allKeys(t, b); !slices.Equal(before, after) {
		t.Fatalf("refused opens changed the repository: %q, was %q", after, before)
	}
}

// testNamesRevealNothing backs up a snapshot and looks for the digest of
// each of its chunks, and its snapshot ID, in every key and every object
// of the repository, in hexadecimal and raw: an encrypted repository holds
// none of them (a plaintext one holds them all, which shows the search
// finds what is there).
func testNamesRevealNothing(t *testing.T, h Harness) {
	b := h.New(t)
	r := open(t, h, b, t0)
	s := makeSnap(t, files(21, 256<<10, 64<<10), 100, t0)
	id := backup(t, r, s)
	secrets := []verify.Digest{id}
	for d := range s.chunks {
		secrets = append(secrets, d)
	}
	found := 0
	for _, key := range allKeys(t, b) {
		data := read(t, b, key)
		for _, d := range secrets {
			if strings.Contains(key, d.String()) || bytes.Contains(data, []byte(d.String())) || bytes.Contains(data, d[:]) {
				found++
				if h.Key != nil {
					t.Errorf("%s reveals digest %s", key, d)
				}
			}
		}
	}
	if h.Key == nil && found < len(secrets) {
		t.Fatalf("a plaintext repository names %d of %d digests: the search misses them", found, len(secrets))
	}
}

// testRotateKey rotates the key of an encrypted repository: the new key
// opens it and reads every snapshot, the old one is refused, and nothing
// but the config object changed.
func testRotateKey(t *testing.T, h Harness) {
	ctx := context.Background()
	b := h.New(t)
	r := open(t, h, b, t0)
	newKey := NewKey(t)
	if h.Key == nil {
		if err := r.RotateKey(ctx, newKey); !errors.Is(err, repo.ErrNotEncrypted) {
			t.Fatalf("RotateKey of a plaintext repository = %v, want ErrNotEncrypted", err)
		}
		return
	}
	first := backup(t, r, makeSnap(t, files(22, 128<<10, 4<<10), 100, t0))
	objects := func() map[string][]byte {
		out := make(map[string][]byte)
		for _, key := range allKeys(t, b) {
			if key != "config" {
				out[key] = read(t, b, key)
			}
		}
		return out
	}
	before := objects()
	if err := r.RotateKey(ctx, newKey); err != nil {
		t.Fatal(err)
	}
	after := objects()
	if len(after) != len(before) {
		t.Fatalf("rotation changed the objects: %d, were %d", len(after), len(before))
	}
	for key, data := range before {
		if !bytes.Equal(after[key], data) {
			t.Fatalf("rotation rewrote %s", key)
		}
	}
	if _, err := repo.Open(ctx, b, &repo.Options{Key: h.Key}); !errors.Is(err, repo.ErrWrongKey) {
		t.Fatalf("Open with the old key after rotation = %v, want ErrWrongKey", err)
	}
	// The rotating Repo keeps working: it backs up a second snapshot.
	second := backup(t, r, makeSnap(t, files(23, 128<<10, 4<<10), 200, t0.Add(time.Minute)))
	again, err := repo.Open(ctx, b, &repo.Options{Key: newKey})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := again.Verify(ctx, verify.Digest{})
	if err != nil || !rep.OK() || rep.Snapshots != 2 {
		t.Fatalf("Verify with the new key = %+v, %v", rep, err)
	}
	if l, err := listed(ctx, again); err != nil || !slices.Equal(ids(l), []verify.Digest{first, second}) {
		t.Fatalf("List with the new key = %v, %v", ids(l), err)
	}
}
