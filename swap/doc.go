// Package swap durably and atomically replaces a destination directory with a
// fully staged one, so that the destination is at every instant either the old
// tree or the new one, whole (docs/DESIGN.md invariant 2). On Linux the swap is one
// renameat2(RENAME_EXCHANGE); elsewhere, or when Options.Journaled is set, it is
// a pair of renames, and in every mode a fsynced journal written before the swap
// lets Recover roll an interrupted replace forward or back by inode identity.
//
// # Layout
//
// dest's parent directory is the root of a replace: staged and the journal must
// lie below it (the staging area beside dest, on the same filesystem), and the
// journal must sit in the root itself or one directory below it. The journal
// names every path relative to that root, so a journal that names a path
// outside it is refused, never acted on.
//
// # Sets of entries
//
// ReplaceSet replaces a list of top-level entries of a directory as one unit
// (an Ozone Manager's om.db and db.snapshots beside its VERSION and Ratis
// log, which stay). Its journal (version 2) records the list and each
// entry's old and new identity before anything moves; Recover rolls the set
// forward only when every entry is in its new place, and back otherwise.
//
// # Hook points
//
// Options.Hook is called at these stable points; an error returned there aborts
// the operation at that point, exactly like a crash would (crash tests may also
// kill the process inside the hook):
//
//	before-swap             Replace: the journal is durable; nothing has moved.
//	mid-swap                Replace, journaled pair only: dest has moved to the
//	                        old path; staged is not yet at dest (dest is missing).
//	entry-moved             ReplaceSet: one more entry is in its new place (once
//	                        per entry; mid-swap also comes between the renames
//	                        of a journaled pair).
//	after-swap              Replace: the new tree is at dest; parents not yet fsynced.
//	before-cleanup          Replace: parents fsynced; the journal is still present.
//	after-cleanup           Replace: the journal is removed and that removal fsynced.
//	before-recover          Recover: the journal is read and a decision made;
//	                        nothing has been done yet.
//	before-recover-cleanup  Recover: trees are in their final place and fsynced;
//	                        the journal is still present.
//
// Replace never cleans up after an error once the journal is durable: the error
// wraps ErrInterrupted and the caller runs Recover, which is idempotent.
package swap
