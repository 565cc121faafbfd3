// Package store is sitegate's embedded database: the only package that
// touches bbolt. It is generic and knows no domain types — callers hand it
// opaque bytes and names.
//
// # Contents
//
// One bbolt file, DATA/sitegate.db, holds:
//
//   - versioned config documents with a bounded history (PutConfig, Config,
//     ConfigHistory); the revision counter is monotonic per store, so a
//     revision number identifies one change across all documents;
//   - user records (storage only: an id, a unique name and opaque data);
//   - the audit chain: every event is hashed over the previous hash and its
//     own canonical JSON, so editing, removing or reordering an event is
//     detected by VerifyAudit, which names the first bad sequence number;
//   - the outbox: records on named streams with a gateway-wide, strictly
//     increasing sequence number that survives restarts, removed only when
//     acknowledged, bounded in records and in bytes (SetOutboxMaxBytes),
//     evicting oldest first and counting evictions, records and the items
//     they held (EnqueueBlock: a group commit says how many readings its
//     record holds). A record is stored as a head and parts of at most half
//     a page (blocks.go), so that appending rewrites one partly filled page
//     whatever the payload's size;
//   - shared values that records refer to instead of carrying them (the
//     names dictionary of telemetry frames), kept while a record that may
//     need them is queued (PutShared, Shared);
//   - small metadata values for callers (Meta, PutMeta).
//
// # Transactions
//
// Update runs a function in one read-write transaction: everything it does
// commits together or not at all. A config change, its audit event and its
// outbox record therefore belong in one Update. Single-purpose helpers on
// Store (Enqueue, AppendAudit, ...) are each one transaction. View runs a
// read-only transaction. Byte slices returned by this package are copies and
// stay valid after the transaction ends.
//
// Commits are durable: bbolt fsyncs on every commit, which costs about a
// millisecond or more. Throughput comes from putting many records in one
// transaction (Enqueue takes any number of payloads), not from weakening
// durability.
//
// # Caveats
//
//   - Only one process may open a data directory; a second Open fails within
//     a second with ErrInUse.
//   - Open checks the file's structure (bbolt's consistency check) before it
//     returns, so opening a large store takes time proportional to its size.
//   - A damaged file is reported with ErrCorrupt and never repaired
//     automatically: the operator decides between a backup and a fresh start.
//   - The outbox's byte bound counts the keys and values of its records,
//     not bbolt's page overhead: the file holds somewhat more (about 1.4
//     times for one 4–5 KB telemetry frame a second), and pages freed by
//     acknowledgements are reused, never given back to the file system.
package store
