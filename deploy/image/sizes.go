package main

import (
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

type layerSizes struct{ compressed, uncompressed int64 }

// sizes adds up the image's layers, compressed and not.
func sizes(img v1.Image) (layerSizes, error) {
	var s layerSizes
	layers, err := img.Layers()
	if err != nil {
		return s, err
	}
	for _, l := range layers {
		n, err := l.Size()
		if err != nil {
			return s, err
		}
		s.compressed += n
		rc, err := l.Uncompressed()
		if err != nil {
			return s, err
		}
		u, err := io.Copy(io.Discard, rc)
		if cerr := rc.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return s, err
		}
		s.uncompressed += u
	}
	return s, nil
}
