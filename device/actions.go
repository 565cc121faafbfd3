package device

// Action is an audit action: dotted, binding names (the README's list plus
// the ones the README adds). Every audit event the gateway writes names
// one of these.
type Action string

// Audit actions.
const (
	ActionGatewayCreate   Action = "gateway.create"
	ActionLoginSuccess    Action = "login.success"
	ActionLoginFailure    Action = "login.failure"
	ActionAccountLocked   Action = "account.locked"
	ActionAccountUnlocked Action = "account.unlocked"
	ActionUserCreate      Action = "user.create"
	ActionUserDelete      Action = "user.delete"
	ActionUserRole        Action = "user.role"
	ActionUserPasswd      Action = "user.passwd"
	ActionUserTOTP        Action = "user.totp"
	ActionUserTheme       Action = "user.theme"
	ActionUserPubkey      Action = "user.pubkey"
	ActionUserReset2FA    Action = "user.reset_2fa"
	ActionConfigChange    Action = "config.change"
	ActionConfigImport    Action = "config.import"
	ActionConfigProbation Action = "config.probation"
	ActionConfigConfirm   Action = "config.confirm"
	ActionConfigRollback  Action = "config.rollback"
	ActionCommandExec     Action = "command.exec"
	ActionCommandDenied   Action = "command.denied"
	ActionPrivacyAccept   Action = "privacy.accept"
	ActionPrivacyWithdraw Action = "privacy.withdraw"
	ActionFirmwareApply   Action = "firmware.apply"
	ActionFirmwareReject  Action = "firmware.reject"
	ActionFirmwareTrust   Action = "firmware.trust"
	ActionSyncApplied     Action = "sync.applied"
	ActionSyncConflict    Action = "sync.conflict"
	ActionSyncInvalid     Action = "sync.invalid"
	ActionSyncKeepLocal   Action = "sync.keep_local"
	ActionUplinkCut       Action = "uplink.cut"
	ActionUplinkRestore   Action = "uplink.restore"
	ActionRadioDisable    Action = "radio.disable"
	ActionRadioEnable     Action = "radio.enable"
	ActionNetworkChanged  Action = "network.changed"
	ActionSimLink         Action = "sim.link"
	ActionClockStep       Action = "clock.step"
	ActionFieldScan       Action = "field.scan"
	ActionFieldWrite      Action = "field.write"
	ActionWipe            Action = "wipe"
	ActionSecretLost      Action = "secret.lost"
	ActionAuditKey        Action = "audit.key"
)

// ActionReportCommissioning is a signed commissioning report made (a
// block of its own, so that the list above keeps its alignment).
const ActionReportCommissioning Action = "report.commissioning"

// Result is an audit event's outcome.
type Result string

// Audit results.
const (
	ResultOK        Result = "ok"
	ResultDenied    Result = "denied"
	ResultFailed    Result = "failed"
	ResultUnchanged Result = "unchanged"
	ResultUnknown   Result = "unknown" // an exec command that does not exist
	ResultRefused   Result = "refused" // refused before it ran (too long a command line)
)

// Stream is an outbox stream: the MQTT topic (under
// sitegate/v1/{gateway_id}/) its records are published on.
type Stream string

// Outbox streams.
const (
	StreamTelemetry      Stream = "telemetry"
	StreamHealth         Stream = "health"
	StreamAlerts         Stream = "alerts"
	StreamAudit          Stream = "audit"
	StreamConfigReported Stream = "config/reported"
	StreamConfigResult   Stream = "config/result"
)
