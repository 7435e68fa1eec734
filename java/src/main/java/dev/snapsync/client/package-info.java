/**
 * A Java client of the snapsync sidecar's local API, for a Raft node such as the Apache Ozone
 * Manager.
 *
 * <p>A follower installs a peer's checkpoint through {@link dev.snapsync.client.SnapsyncInstaller}
 * (Prepare, Commit, then Finalize or Rollback); a leader that makes checkpoints on request answers
 * its sidecar through {@link dev.snapsync.client.SnapsyncCheckpoints}. Every failure is a {@link
 * dev.snapsync.client.SnapsyncException} carrying the gRPC code and the sidecar's {@link
 * dev.snapsync.client.Reason}. The message and service classes the calls use are generated from
 * {@code proto/snapsync/v1} into the package {@code dev.snapsync.v1}.
 */
package dev.snapsync.client;
