package ui

// privacyNotice is shown at first login and whenever acceptance was
// withdrawn. It describes what this gateway records about its users.
const privacyNotice = `Privacy notice

This gateway records who does what on it, to keep the building's systems
safe and to investigate incidents:

  • your user name, role and an opaque account id;
  • when you log in or fail to, and from which network address;
  • the commands you run and the configuration changes you make.

The audit log stores your account id, never your name, e-mail address or
phone number. It is kept on the gateway and copied to the operator's cloud
service, protected by a hash chain against alteration, and removed when the
gateway is disposed of.

You can withdraw your acceptance at any time on the Profile screen. Your
session then ends and you cannot use the gateway until you accept again.`
