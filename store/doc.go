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
//   - signed checkpoints of the chain head (see Audit key and checkpoints);
//   - the secret store: named credentials, encrypted (see Secrets);
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
// # Audit key and checkpoints
//
// Whoever holds the database file can recompute a hash chain. The chain is
// therefore keyed and anchored outside the database: an ed25519 audit key
// lives in DIR/AuditKeyFile (0600, created on first open; AuditSigner is the
// seam for a TPM later). Every event carries a MAC (HMAC-SHA-256 under a key
// derived from it) over its seq and hash, kept in the store only, and
// RunCheckpoints signs a Checkpoint of the chain head — seq, hash, eviction
// count, first retained seq, capacity, time — every CheckpointEvery events,
// every CheckpointInterval while events arrive, at start and at a clean stop.
// A checkpoint is signed only after the events since the previous one
// verify, so an altered database is never vouched for. Checkpoints are
// stored and published with the audit stream, so that the cloud holds them.
// VerifyAuditWith checks all of it and says what it could not prove.
//
// # Secrets
//
// PutSecret, Secret and DeleteSecret keep credentials (Wi-Fi passphrase, SIM
// PINs, TOTP seeds) encrypted with AES-256-GCM under a key kept in
// DIR/SecretKeyFile, never in the database. Every transaction that changes a
// secret rotates that key and destroys the old one after the commit, which
// makes old ciphertext left in bbolt's freed pages unreadable. Compact
// rewrites the file without its freed pages, for data that was once stored
// in clear (a migration from an older sitegate).
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
//   - The keys beside the database protect against a copy of the database,
//     not against someone who can read the whole data directory: such a
//     person holds the keys too (a TPM would keep the audit key out of
//     reach). Losing DIR/SecretKeyFile loses the stored secrets; losing the
//     audit key makes the older MACs uncheckable (an audit.key event says so).
//   - Events after the last checkpoint carry valid MACs, but that none was
//     removed from the end rests on the database until the next checkpoint
//     reaches the cloud.
//   - bbolt never overwrites a page in place: replaced values stay in freed
//     pages until reused. For secrets the key rotation makes them
//     unreadable; Compact removes them.
package store
