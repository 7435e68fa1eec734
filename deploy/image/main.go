package main

import (
	"flag"
	"fmt"
	"io"
	"os"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

// run builds the image from the flags and prints its digest and sizes.
func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("image", flag.ContinueOnError)
	binary := fs.String("binary", "bin/image-build/snapsync", "static snapsync binary to put in the image")
	oci := fs.String("oci", "bin/image", "OCI layout directory to write (replaced)")
	archive := fs.String("tar", "bin/snapsync-image.tar", "docker archive to write (docker load, podman load)")
	ref := fs.String("tag", "snapsync:latest", "tag of the image in the docker archive")
	var m Meta
	fs.StringVar(&m.Version, "version", "dev", "version label")
	fs.StringVar(&m.Revision, "revision", "", "git commit label")
	fs.StringVar(&m.Source, "source", "https://github.com/snapsync/snapsync", "source repository label")
	if err := fs.Parse(args); err != nil {
		return err
	}
	bin, err := readBinary(*binary)
	if err != nil {
		return err
	}
	img, err := Build(bin, m)
	if err != nil {
		return err
	}
	digest, err := Write(img, *oci, *archive, *ref)
	if err != nil {
		return err
	}
	s, err := sizes(img)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "%s %s\ndigest %s\nlayer %d bytes compressed, %d uncompressed\n",
		*ref, *oci, digest, s.compressed, s.uncompressed)
	return err
}
