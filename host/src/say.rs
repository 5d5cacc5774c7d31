//! What the binary prints besides its answer: warnings on stderr, register's progress
//! lines on stdout. Every line is checked for the etcd password once settings named one
//! (whatever an endpoint sent back), and its control characters escaped, so that it stays
//! one line and drives no terminal.

use std::io::Write as _;
use std::sync::OnceLock;

use etcd_inventory::error;

/// The password, once settings named one: no line this process prints may show it.
static PASSWORD: OnceLock<String> = OnceLock::new();

/// From now on, `password` is redacted from every line printed.
pub fn redact_from_now_on(password: &str) {
    let _ = PASSWORD.set(password.to_string());
}

/// A line as it may be printed: the password redacted and control characters escaped.
pub fn printable_line(message: &str) -> String {
    let redacted = match PASSWORD.get() {
        Some(password) => error::redact(message, password),
        None => message.into(),
    };
    error::printable(&redacted).into_owned()
}

/// A warning on stderr.
pub fn warn(message: &str) {
    eprintln!("etcd-inventory: warning: {}", printable_line(message));
}

/// A line on stdout at once (a supervisor may wait for it).
pub fn line(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", printable_line(text)).and_then(|()| out.flush());
}

/// The one line that says why a command failed, on stderr.
pub fn failure(message: &str) {
    eprintln!("etcd-inventory: {}", printable_line(message));
}
