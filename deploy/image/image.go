package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Meta is what the image's labels say about the binary.
type Meta struct {
	Version  string // org.opencontainers.image.version
	Revision string // org.opencontainers.image.revision: the git commit
	Source   string // org.opencontainers.image.source: the repository URL
}

// Labels are the image's OCI annotations-as-labels; created is the epoch.
func (m Meta) Labels() map[string]string {
	return map[string]string{
		"org.opencontainers.image.title":    "snapsync",
		"org.opencontainers.image.version":  m.Version,
		"org.opencontainers.image.revision": m.Revision,
		"org.opencontainers.image.source":   m.Source,
		"org.opencontainers.image.created":  epoch.Format("2006-01-02T15:04:05Z"),
		"org.opencontainers.image.licenses": "Apache-2.0",
	}
}

// Build makes the image around binary: one layer on an empty OCI image, run
// as 65532:65532 with snapsync as its entrypoint.
func Build(binary []byte, m Meta) (v1.Image, error) {
	tarBytes, err := layerTar(binary)
	if err != nil {
		return nil, fmt.Errorf("layer: %w", err)
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(tarBytes)), nil
	}, tarball.WithMediaType(types.OCILayer), tarball.WithCompressedCaching)
	if err != nil {
		return nil, fmt.Errorf("layer: %w", err)
	}
	base := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	base = mutate.ConfigMediaType(base, types.OCIConfigJSON)
	img, err := mutate.Append(base, mutate.Addendum{
		Layer:   layer,
		History: v1.History{Created: v1.Time{Time: epoch}, CreatedBy: "snapsync deploy/image", Comment: m.Version},
	})
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Created = v1.Time{Time: epoch}
	cf.Architecture, cf.OS = "amd64", "linux"
	cf.Config = v1.Config{
		User:       fmt.Sprintf("%d:%d", uid, gid),
		Entrypoint: []string{"/" + binaryPath},
		Cmd:        []string{"--help"},
		Env:        []string{"PATH=/usr/local/bin"},
		WorkingDir: "/",
		Labels:     m.Labels(),
	}
	return mutate.ConfigFile(img, cf)
}

// Write puts img into an OCI layout at ociDir (replacing it) and into a
// docker archive at tarPath tagged ref, and returns the image digest.
func Write(img v1.Image, ociDir, tarPath, ref string) (v1.Hash, error) {
	digest, err := img.Digest()
	if err != nil {
		return v1.Hash{}, err
	}
	if err := os.RemoveAll(ociDir); err != nil {
		return v1.Hash{}, err
	}
	p, err := layout.Write(ociDir, empty.Index)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("oci layout: %w", err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{
		"org.opencontainers.image.ref.name": "latest",
	})); err != nil {
		return v1.Hash{}, fmt.Errorf("oci layout: %w", err)
	}
	tag, err := name.NewTag(ref)
	if err != nil {
		return v1.Hash{}, err
	}
	if err := os.MkdirAll(filepath.Dir(tarPath), 0o755); err != nil {
		return v1.Hash{}, err
	}
	if err := tarball.WriteToFile(tarPath, tag, img); err != nil {
		return v1.Hash{}, fmt.Errorf("docker archive: %w", err)
	}
	return digest, nil
}
