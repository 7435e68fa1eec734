package main

import (
	"archive/tar"
	"bytes"
	"fmt"
	"os"
	"time"
)

// The image's user: the uid and gid distroless calls nonroot.
const (
	uid = 65532
	gid = 65532
)

// binaryPath is where the layer puts the snapsync binary.
const binaryPath = "usr/local/bin/snapsync"

// epoch is every timestamp of the image, so builds are reproducible.
var epoch = time.Unix(0, 0).UTC()

// layerTar is the image's only layer: the directories, the passwd and group
// files naming uid 65532 (so tools that look a user up find one), and the
// binary, each owned by root and dated at the epoch.
func layerTar(binary []byte) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := []struct {
		name string
		mode int64
	}{{"etc/", 0o755}, {"tmp/", 0o1777}, {"usr/", 0o755}, {"usr/local/", 0o755}, {"usr/local/bin/", 0o755}}
	for _, d := range dirs {
		if err := tw.WriteHeader(header(d.name, tar.TypeDir, d.mode, 0)); err != nil {
			return nil, err
		}
	}
	files := []struct {
		name string
		mode int64
		data []byte
	}{
		{"etc/group", 0o644, fmt.Appendf(nil, "root:x:0:\nnonroot:x:%d:\n", gid)},
		{"etc/passwd", 0o644, fmt.Appendf(nil, "root:x:0:0:root:/root:/sbin/nologin\n"+
			"nonroot:x:%d:%d:nonroot:/nonexistent:/sbin/nologin\n", uid, gid)},
		{binaryPath, 0o755, binary},
	}
	for _, f := range files {
		if err := tw.WriteHeader(header(f.name, tar.TypeReg, f.mode, int64(len(f.data)))); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func header(name string, typ byte, mode, size int64) *tar.Header {
	return &tar.Header{
		Typeflag: typ, Name: name, Mode: mode, Size: size,
		ModTime: epoch, Uname: "root", Gname: "root", Format: tar.FormatUSTAR,
	}
}

// readBinary reads the binary to put in the image and refuses anything that
// is not a regular file.
func readBinary(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	return os.ReadFile(path)
}
