package sidecar

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"slices"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectv1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
	reflectv1alpha "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	grpcstatus "google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/snapsync/snapsync/internal/testdb"
	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
	"github.com/snapsync/snapsync/server"
	"github.com/snapsync/snapsync/verify"
)

// Full method names, as a plain gRPC client without generated stubs uses them.
const (
	methodCreate   = "/snapsync.v1.SnapshotService/CreateSnapshot"
	methodManifest = "/snapsync.v1.SnapshotService/GetManifest"
	methodFetch    = "/snapsync.v1.SnapshotService/FetchChunks"
	methodRelease  = "/snapsync.v1.SnapshotService/ReleaseLease"
	methodPrepare  = "/snapsync.v1.InstallService/Prepare"
	methodStatus   = "/snapsync.v1.InstallService/Status"
	methodCommit   = "/snapsync.v1.InstallService/Commit"
)

// dialGRPC connects a stock grpc-go client (insecure, h2c) to target.
func dialGRPC(tb testing.TB, target string) *grpc.ClientConn {
	tb.Helper()
	conn, err := grpc.NewClient(target, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close() })
	return conn
}

// serverStream calls a server-streaming method and returns every message.
func serverStream[T any, PT interface {
	*T
	proto.Message
}](ctx context.Context, conn *grpc.ClientConn, method string, req proto.Message) ([]PT, error) {
	cs, err := conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, method)
	if err != nil {
		return nil, err
	}
	if err := cs.SendMsg(req); err != nil {
		return nil, err
	}
	if err := cs.CloseSend(); err != nil {
		return nil, err
	}
	var out []PT
	for {
		m := PT(new(T))
		if err := cs.RecvMsg(m); errors.Is(err, io.EOF) {
			return out, nil
		} else if err != nil {
			return out, err
		}
		out = append(out, m)
	}
}

// describe asks reflection for the file that defines service name and checks
// it does, as grpcurl describe does.
func describe(t *testing.T, v1 reflectv1.ServerReflection_ServerReflectionInfoClient, name string) {
	t.Helper()
	req := &reflectv1.ServerReflectionRequest{MessageRequest: &reflectv1.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: name}}
	if err := v1.Send(req); err != nil {
		t.Fatal(err)
	}
	resp, err := v1.Recv()
	if err != nil {
		t.Fatal(err)
	}
	for _, raw := range resp.GetFileDescriptorResponse().GetFileDescriptorProto() {
		var fd descriptorpb.FileDescriptorProto
		if err := proto.Unmarshal(raw, &fd); err != nil {
			t.Fatal(err)
		}
		for _, s := range fd.GetService() {
			if fd.GetPackage()+"."+s.GetName() == name {
				return
			}
		}
	}
	t.Fatalf("reflection does not describe %s: %v", name, resp.GetErrorResponse())
}

// checkIntrospection checks gRPC health and both reflection versions on
// conn: every name in want is served and listed, none in absent is.
func checkIntrospection(t *testing.T, conn *grpc.ClientConn, want, absent []string) {
	t.Helper()
	ctx := context.Background()
	health := healthpb.NewHealthClient(conn)
	for _, name := range append([]string{""}, want...) {
		resp, err := health.Check(ctx, &healthpb.HealthCheckRequest{Service: name})
		if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Fatalf("health of %q: %v, %v", name, resp, err)
		}
	}
	for _, name := range absent {
		if _, err := health.Check(ctx, &healthpb.HealthCheckRequest{Service: name}); grpcstatus.Code(err) != codes.NotFound {
			t.Fatalf("health of %q, which is not mounted: %v", name, err)
		}
	}
	v1, err := reflectv1.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := v1.Send(&reflectv1.ServerReflectionRequest{MessageRequest: &reflectv1.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	r1, err := v1.Recv()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range r1.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	alpha, err := reflectv1alpha.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := alpha.Send(&reflectv1alpha.ServerReflectionRequest{MessageRequest: &reflectv1alpha.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	r2, err := alpha.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if got := len(r2.GetListServicesResponse().GetService()); got != len(names) {
		t.Fatalf("reflection v1alpha lists %d services, v1 %v", got, names)
	}
	for _, name := range append([]string{"grpc.health.v1.Health"}, want...) {
		if !slices.Contains(names, name) {
			t.Fatalf("reflection lists %v, missing %s", names, name)
		}
		describe(t, v1, name)
	}
	for _, name := range absent {
		if slices.Contains(names, name) {
			t.Fatalf("reflection lists %s, which is not mounted", name)
		}
	}
}

// TestGRPCInterop drives both listeners with a plain grpc-go client, as a
// Java node would: the peer's SnapshotService (create, manifest, chunks) over
// TCP, and the local InstallService (Prepare, Status, Commit) over a unix
// socket; health and reflection on both; neither serves the other's API.
func TestGRPCInterop(t *testing.T) {
	t.Parallel()
	leader := openLeader(t, 2<<20)
	p := startPeer(t, server.Config{Source: leader})
	l := startLocal(t, InstallConfig{}, nil)
	sock := socketPath(t)
	ln, err := Listen("unix:"+sock, false)
	if err != nil {
		t.Fatal(err)
	}
	serve(t, ln, LocalHandler(l.install, nil))
	peerConn, localConn := dialGRPC(t, p.addr), dialGRPC(t, "unix://"+sock)

	t.Run("peer", func(t *testing.T) {
		checkIntrospection(t, peerConn, []string{"snapsync.v1.SnapshotService"},
			[]string{"snapsync.v1.InstallService", "snapsync.v1.RegistryService"})
		fetchOverGRPC(t, peerConn)
		err := peerConn.Invoke(context.Background(), methodStatus, &snapsyncv1.StatusRequest{Dest: "/x"}, &snapsyncv1.StatusResponse{})
		if grpcstatus.Code(err) != codes.Unimplemented {
			t.Fatalf("InstallService on the peer listener: %v", err)
		}
	})
	t.Run("local", func(t *testing.T) {
		checkIntrospection(t, localConn, []string{"snapsync.v1.InstallService"},
			[]string{"snapsync.v1.SnapshotService", "snapsync.v1.RegistryService"})
		installOverGRPC(t, localConn, p.url, filepath.Join(l.root, "db"))
		testdb.CheckSameDB(t, leader.DB(), filepath.Join(l.root, "db"))
		err := localConn.Invoke(context.Background(), methodCreate, &snapsyncv1.CreateSnapshotRequest{}, &snapsyncv1.CreateSnapshotResponse{})
		if grpcstatus.Code(err) != codes.Unimplemented {
			t.Fatalf("SnapshotService on the local listener: %v", err)
		}
	})
}

// fetchOverGRPC leases a snapshot, reads and verifies its manifest, and
// fetches and verifies a few chunks.
func fetchOverGRPC(t *testing.T, conn *grpc.ClientConn) {
	t.Helper()
	ctx := context.Background()
	var created snapsyncv1.CreateSnapshotResponse
	if err := conn.Invoke(ctx, methodCreate, &snapsyncv1.CreateSnapshotRequest{MinIndex: 40, Client: "grpc-go"}, &created); err != nil {
		t.Fatal(err)
	}
	id, err := verify.DigestFromBytes(created.GetSnapshot().GetSnapshotId())
	if err != nil {
		t.Fatal(err)
	}
	pages, err := serverStream[snapsyncv1.GetManifestResponse](ctx, conn, methodManifest, &snapsyncv1.GetManifestRequest{SnapshotId: id[:]})
	if err != nil {
		t.Fatal(err)
	}
	var enc []byte
	for _, pg := range pages {
		enc = append(enc, pg.GetData()...)
	}
	m, err := verify.DecodeVerified(id, enc)
	if err != nil {
		t.Fatalf("manifest over gRPC: %v", err)
	}
	i := slices.IndexFunc(m.Files, func(f verify.File) bool { return len(f.Chunks) >= 2 })
	if i < 0 {
		t.Fatal("no file of two chunks")
	}
	req := &snapsyncv1.FetchChunksRequest{SnapshotId: id[:], LeaseId: created.GetLease().GetLeaseId(),
		Compression: snapsyncv1.Compression_COMPRESSION_NONE,
		Ranges:      []*snapsyncv1.ChunkRange{{FileIndex: uint32(i), FirstChunk: 0, ChunkCount: 2}}}
	chunks, err := serverStream[snapsyncv1.FetchChunksResponse](ctx, conn, methodFetch, req)
	if err != nil || len(chunks) != 2 {
		t.Fatalf("fetch over gRPC: %d chunks, %v", len(chunks), err)
	}
	for _, c := range chunks {
		want := m.Files[i].Chunks[c.GetChunkIndex()].Digest
		if c.GetEncoding() != snapsyncv1.Encoding_ENCODING_RAW || verify.Sum(c.GetData()) != want {
			t.Fatalf("chunk %d of file %d does not match the manifest", c.GetChunkIndex(), i)
		}
	}
	if err := conn.Invoke(ctx, methodRelease, &snapsyncv1.ReleaseLeaseRequest{LeaseId: created.GetLease().GetLeaseId()}, &snapsyncv1.ReleaseLeaseResponse{}); err != nil {
		t.Fatal(err)
	}
}

// installOverGRPC runs Prepare (a server stream), Status and Commit.
func installOverGRPC(t *testing.T, conn *grpc.ClientConn, source, dest string) {
	t.Helper()
	ctx := context.Background()
	msgs, err := serverStream[snapsyncv1.PrepareResponse](ctx, conn, methodPrepare,
		&snapsyncv1.PrepareRequest{SourceUrl: source, MinIndex: 40, Dest: dest})
	if err != nil || len(msgs) == 0 || msgs[len(msgs)-1].GetPrepared() == nil {
		t.Fatalf("prepare over gRPC: %d messages, %v", len(msgs), err)
	}
	prepared := msgs[len(msgs)-1].GetPrepared()
	var st snapsyncv1.StatusResponse
	if err := conn.Invoke(ctx, methodStatus, &snapsyncv1.StatusRequest{Dest: dest}, &st); err != nil {
		t.Fatal(err)
	}
	if st.GetProgress().GetState() != snapsyncv1.InstallState_INSTALL_STATE_PREPARED {
		t.Fatalf("status over gRPC: %v", &st)
	}
	var resp snapsyncv1.CommitResponse
	if err := conn.Invoke(ctx, methodCommit, &snapsyncv1.CommitRequest{Dest: dest, SnapshotId: prepared.GetSnapshotId()}, &resp); err != nil {
		t.Fatal(err)
	}
	if resp.GetSnapshot().GetIndex() != 42 || resp.GetSnapshot().GetTerm() != 3 {
		t.Fatalf("commit over gRPC returned %v", resp.GetSnapshot())
	}
	err = conn.Invoke(ctx, methodCommit, &snapsyncv1.CommitRequest{Dest: dest, SnapshotId: []byte{1}}, &resp)
	if grpcstatus.Code(err) != codes.InvalidArgument {
		t.Fatalf("commit with a bad ID over gRPC: %v", err)
	}
}
