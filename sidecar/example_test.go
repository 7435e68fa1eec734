package sidecar_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"

	"connectrpc.com/connect"

	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
	"github.com/snapsync/snapsync/proto/gen/snapsync/v1/snapsyncv1connect"
	"github.com/snapsync/snapsync/server"
	"github.com/snapsync/snapsync/sidecar"
)

// Example wires a follower sidecar's local API, as `snapsync serve` does,
// and asks it where a destination stands. A leader also serves its
// server.Server with sidecar.PeerHandler(srv.Handler()) on a second listener
// from sidecar.Listen(addr, true).
func Example() {
	dataDir, err := os.MkdirTemp("", "node")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dataDir)
	install, err := sidecar.NewInstallService(sidecar.InstallConfig{AllowedRoots: []string{dataDir}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer install.Close()
	ln, err := sidecar.Listen("127.0.0.1:0", false) // the local API stays on loopback
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- server.Serve(ctx, ln, sidecar.LocalHandler(install, nil)) }()
	defer func() { stop(); <-served }()

	c := snapsyncv1connect.NewInstallServiceClient(http.DefaultClient, "http://"+ln.Addr().String())
	resp, err := c.Status(ctx, connect.NewRequest(&snapsyncv1.StatusRequest{Dest: filepath.Join(dataDir, "db")}))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(resp.Msg.GetProgress().GetState())
	_, err = c.Status(ctx, connect.NewRequest(&snapsyncv1.StatusRequest{Dest: "/etc/db"}))
	fmt.Println(connect.CodeOf(err))
	// Output:
	// INSTALL_STATE_IDLE
	// permission_denied
}
