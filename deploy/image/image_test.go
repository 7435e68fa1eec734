package main

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/snapsync/snapsync/deploy/internal/snapbin"
)

const testVersion = "v0.0.0-imagetest"

// TestImage builds the image twice from two builds of the binary, checks
// that every output byte is the same, and runs the binary taken back out of
// the image's layer as the image's user.
func TestImage(t *testing.T) {
	dir := t.TempDir()
	meta := Meta{Version: testVersion, Revision: "0123456789abcdef", Source: "https://github.com/snapsync/snapsync"}
	var digests []v1.Hash
	var archives [][]byte
	for i, name := range []string{"a", "b"} {
		bin := filepath.Join(dir, name, "snapsync")
		snapbin.Build(t, testVersion, bin)
		var out bytes.Buffer
		oci, tarPath := filepath.Join(dir, name, "oci"), filepath.Join(dir, name, "image.tar")
		if err := run([]string{"-binary", bin, "-oci", oci, "-tar", tarPath, "-version", meta.Version,
			"-revision", meta.Revision, "-tag", "snapsync:test"}, &out); err != nil {
			t.Fatalf("build %d: %v", i, err)
		}
		t.Logf("build %d: %s", i, out.String())
		img := readLayout(t, oci)
		d, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		digests = append(digests, d)
		b, err := os.ReadFile(tarPath)
		if err != nil {
			t.Fatal(err)
		}
		archives = append(archives, b)
	}
	if digests[0] != digests[1] {
		t.Fatalf("two builds, two digests: %s, %s", digests[0], digests[1])
	}
	if !bytes.Equal(archives[0], archives[1]) {
		t.Fatal("two builds, two different docker archives")
	}
	img := readLayout(t, filepath.Join(dir, "a", "oci"))
	checkConfig(t, img, meta)
	bin := extractBinary(t, img)
	runAsImageUser(t, bin)
}

func readLayout(t *testing.T, dir string) v1.Image {
	t.Helper()
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Manifests) != 1 {
		t.Fatalf("%d manifests in the layout, want 1", len(m.Manifests))
	}
	img, err := idx.Image(m.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func checkConfig(t *testing.T, img v1.Image, m Meta) {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cf.Config
	if c.User != "65532:65532" || len(c.Entrypoint) != 1 || c.Entrypoint[0] != "/usr/local/bin/snapsync" {
		t.Errorf("user %q, entrypoint %q", c.User, c.Entrypoint)
	}
	if !cf.Created.Time.Equal(epoch) {
		t.Errorf("created %v, want the epoch", cf.Created)
	}
	want := map[string]string{
		"org.opencontainers.image.version":  m.Version,
		"org.opencontainers.image.revision": m.Revision,
		"org.opencontainers.image.source":   m.Source,
		"org.opencontainers.image.created":  "1970-01-01T00:00:00Z",
	}
	for k, v := range want {
		if c.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, c.Labels[k], v)
		}
	}
	for _, e := range c.Env {
		if len(e) > 5 && e[:5] == "HOME=" {
			t.Errorf("env sets %s", e)
		}
	}
}

// extractBinary copies usr/local/bin/snapsync out of the image's layer into
// a directory the image's user can read and returns its path.
func extractBinary(t *testing.T, img v1.Image) string {
	t.Helper()
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("layers: %d, %v", len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			t.Fatal("no usr/local/bin/snapsync in the layer")
		}
		if err != nil {
			t.Fatal(err)
		}
		if !h.ModTime.Equal(epoch) || h.Uid != 0 || h.Gid != 0 {
			t.Errorf("%s: mtime %v, owner %d:%d", h.Name, h.ModTime, h.Uid, h.Gid)
		}
		if h.Name != binaryPath {
			continue
		}
		dir := sharedDir(t)
		path := filepath.Join(dir, "snapsync")
		f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o755)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(f, tr); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		return path
	}
}

// sharedDir is a fresh directory, 0755 all the way down from /tmp, so that
// the image's uid can read what it holds but write nothing in it.
func sharedDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "snapsync-image-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := os.RemoveAll(dir); err != nil {
			t.Error(err)
		}
	})
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
