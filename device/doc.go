// Package device holds the gateway's own side of sitegate. This part is the
// site configuration model: the Site aggregate that a site file describes,
// its defaults and validation, YAML import and export, register profiles
// (built-in and the site's own, CSV import and export), bulk device edits
// and signed commissioning reports.
//
// # Site files
//
// A site file is the whole commissioning state of a site in one YAML
// document, with the sections site, access, clock, wan, cellular, wifi,
// lora, modbus, store and uplink; the README ("Site file") has the binding field names.
// The same Site struct carries both yaml and json tags with the same names,
// so the store keeps it as JSON and `config export` writes it as YAML.
// Durations are Go durations ("500ms", "3m"); enums are written by name.
//
// Import is three steps, kept apart so that callers control each:
//
//	s, err := device.DecodeSiteYAML(data) // strict: unknown fields, wrong types; defaults applied
//	err = s.KeepSecrets(stored)           // "<set>" keeps the stored secret
//	err = s.Validate()                    // every problem, each with its path
//
// ImportSiteYAML does all three in one call and reports the problems of all
// three together, in file order and with line numbers; ParseSite does the
// same without KeepSecrets, for files that stand alone. EncodeSiteYAML
// exports; its output decodes back to a site that encodes to the same bytes.
//
// # Validation
//
// Validate never stops at the first problem: it returns a *ValidationError
// whose Problems each carry a YAML path and a message saying what is wrong
// and what is allowed, printed one per line as
//
//	modbus.devices[1].unit_id: 0 is outside 1..247
//
// Names that refer to something else (a device's bus, its profile) and
// unknown fields come with a did-you-mean suggestion when one is close.
//
// # Defaults
//
// ApplyDefaults fills unset fields (password_max_length 15, idle_timeout 15m,
// WAN priority cellular > ethernet > wifi, bus timeout 1s, poll interval
// 10s, and so on; see the Default constants) and is idempotent. Decoding
// applies it, so an exported file shows the values in force. Two point
// settings stay unset to keep point lists short: a nil Point.ScaleFactor
// means 1 (read it with Point.Scale), and the zero Point.Order is ABCD.
//
// # Secrets
//
// SIM PINs and the Wi-Fi passphrase are of type Secret, which prints and logs
// as "<set>" and gives its value only through Reveal. Redacted replaces every
// secret by SecretPlaceholder, and EncodeSiteYAML always exports the redacted
// site; KeepSecrets puts the stored values back when such a file is imported.
//
// At rest no site revision holds a secret: ApplySite seals the site in the
// transaction that stores it (SealSite), each secret going to the store's
// encrypted secret store and the revision holding a reference,
// "secret:site/wifi.passphrase@VERSION". Loading opens the references
// (OpenSite). Data directories of older sitegate versions, whose revisions
// held secrets in clear, migrate once when a Gateway first opens them.
//
// # Bounds
//
// A site file is at most MaxSiteFileSize bytes and MaxSiteNodes YAML nodes,
// sized above the largest plausible site (300 devices of 100 points). The
// node count is bounded before the parser builds anything, from the bytes
// alone, because the parser keeps every node in memory. Heavy operations
// (site-file diff and import, scans, firmware) take slots of the
// Gateway's Limiter: one per user at a time, two slots in all, a site-file
// operation taking both.
//
// # Profiles
//
// Profiles are register maps of kinds of devices: the built-in ones,
// embedded from profiles/*.yaml (read-only; each names the published map
// it follows in `source:`), and the site's own under `profiles:` in the
// site file, synced and exported like the rest. A device names one with
// `profile:` and may list its own points, which override profile points of
// the same name and add to them; Site.EffectivePoints gives the result.
// ParseProfileCSV reads a map from CSV (columns in any order, the address
// notations of ParseAddress, every bad row at once with its line and
// column) and EncodeProfileCSV writes one; Site.GuessProfile suggests a
// profile from what a device says in its identification.
//
// # Bulk edits
//
// Site.AddDevice, CloneDevice and RemoveDevice check what an installer
// needs in words before validation does (a name taken anywhere in the
// site, a unit id already answering on the same line, an unknown bus or
// profile), and change nothing when they refuse.
//
// # Commissioning reports
//
// Gateway.CommissioningReport samples the site for the customer; Render
// writes it as text, Markdown or JSON and ReportKey.Sign signs it with the
// gateway's ed25519 report key (LoadReportKey: created once, 0600, in the
// data directory). VerifyReport fails on any changed byte, the signature
// included, and needs only the public key.
//
// # Readings
//
// Every driver's cycle lands in the field hub (Gateway.Field), which keeps
// the latest value of every point and hands the readings to the Committer
// (Gateway.Committer): the group commit. It queues all devices' readings of
// one store.commit_interval (default 1 s) as one telemetry frame (package
// device/telemetry, about 2–3 bytes per reading) in one transaction of the
// outbox, with the frame's names dictionary stored once beside it
// (FrameReader reads them back). The daemon runs the Committer before the
// drivers, so that it stops after them and commits what they reported
// last. Configuration, audit and account writes do not wait for it: they
// are durable when their call returns. At most one commit interval of
// readings can be lost on power loss; nothing acknowledged is ever lost.
//
// A point with deadband or heartbeat reports by exception: a reading is
// queued when it moved more than deadband (any change for 0) from the last
// one queued, when its quality or error changes, or heartbeat after the
// last one; the others are counted in health (outbox.suppressed). The
// latest value and the console see every reading.
//
// # Caveats
//
// Secret redacts only through fmt, slog and its own methods. encoding/json
// and YAML encoding write the clear value on purpose, so a Site (or a SIM or
// WiFi value) handed to a JSON log handler or any other encoder leaks its
// secrets: log and send Redacted copies only.
//
// A secret that the secret store can no longer give (its key file lost)
// loads empty, audited secret.lost: the gateway starts, and the secret has
// to be set again.
//
// Validate accepts SecretPlaceholder as a secret, because an exported file
// must validate; the placeholder is resolved only by KeepSecrets. Storing a
// site without calling KeepSecrets stores "<set>" as the secret
// (HasPlaceholders tells).
//
// An absent require_2fa means admin and installer (the secure default); an
// explicit empty list means no role. JSON keeps the difference as null and
// [], so code that builds a Site by hand must use an empty non-nil slice to
// turn 2FA off.
//
// A zero in a field that has a default means "use the default": down_after: 0
// becomes 3 rather than an error. Fields where zero is a valid setting
// (max_gap) are pointers, so that absent and 0 stay apart. Validate expects
// defaults to be applied: a field left at zero where a default exists is
// reported as out of range.
//
// Validate checks one site on its own. Rules about changes, such as "only
// the local CLI may clear permanently_disabled", compare the stored site
// with the new one and belong to the caller.
//
// Importing this package embeds the IANA time zone database (time/tzdata),
// so that timezone checks do not depend on the files of the host.
package device
