//! The one error type of the core and the component, and the one place that renders it as
//! the line a user reads. The WIT `error` variant mirrors it case by case.

use std::borrow::Cow;
use std::fmt;

use crate::etcd::{EtcdError, Refusal, code};
use crate::inventory::{LayoutError, MAX_NESTING};

/// Why no inventory was produced.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A setting is malformed or out of range; the text names it and where it came from.
    InvalidOptions(String),
    /// Reading etcd failed.
    Etcd(EtcdError),
    /// The data under the prefix cannot become a correct inventory.
    Layout(LayoutError),
}

impl From<LayoutError> for Error {
    fn from(e: LayoutError) -> Self {
        Error::Layout(e)
    }
}

impl From<EtcdError> for Error {
    fn from(e: EtcdError) -> Self {
        Error::Etcd(e)
    }
}

impl std::error::Error for Error {}
impl std::error::Error for EtcdError {}

impl fmt::Display for EtcdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EtcdError::Unreachable(failures) => {
                match failures.as_slice() {
                    [one] => write!(f, "cannot reach etcd at {}: {}", one.endpoint, reason_text(&one.reason))?,
                    many => {
                        write!(f, "cannot reach etcd at any of {} endpoints: ", many.len())?;
                        for (i, one) in many.iter().enumerate() {
                            let sep = if i == 0 { "" } else { "; " };
                            write!(f, "{sep}{}: {}", one.endpoint, reason_text(&one.reason))?;
                        }
                    }
                }
                f.write_str(" (check that etcd runs there, or set --endpoints, ETCDCTL_ENDPOINTS or etcd.ini)")
            }
            EtcdError::Refused(r) => {
                refusal(f, r)?;
                match (r.http_status, r.code) {
                    (_, Some(code::PERMISSION_DENIED)) | (Some(403), _) => {
                        f.write_str(" (the user may not read this prefix)")
                    }
                    (_, Some(code::UNAUTHENTICATED)) | (Some(401), _) => {
                        f.write_str(" (this etcd requires authentication)")
                    }
                    (Some(404 | 405), _) => f.write_str(" (is this etcd 3.3 or later with its v3 JSON gateway?)"),
                    _ => Ok(()),
                }
            }
            EtcdError::Compacted(r) => {
                refusal(f, r)?;
                f.write_str(" (the revision was compacted twice during one read; try again)")
            }
            EtcdError::TooLarge(r) => {
                refusal(f, r)?;
                f.write_str(" (an answer was too large even at one key a page: is a value larger than etcd allows?)")
            }
            EtcdError::AuthFailed { user, endpoint } => write!(
                f,
                "etcd at {endpoint} refused the password of user {user:?} (check ETCDCTL_USER and ETCDCTL_PASSWORD, \
                 --user and --password-file, or username and password in etcd.ini)"
            ),
            EtcdError::AuthRequired { endpoint } => write!(
                f,
                "etcd at {endpoint} requires authentication and no user is set (set ETCDCTL_USER and \
                 ETCDCTL_PASSWORD, --user and --password-file, or username and password in etcd.ini)"
            ),
            EtcdError::PermissionDenied { user: Some(user), keys } => write!(
                f,
                "etcd user {user:?} may not read the keys under {keys} (grant one of its roles read on that prefix, \
                 or set --prefix to one it may read)"
            ),
            EtcdError::PermissionDenied { user: None, keys } => write!(
                f,
                "etcd denies reading the keys under {keys} without a user (set a user whose role may read that \
                 prefix: ETCDCTL_USER, --user or username in etcd.ini)"
            ),
            EtcdError::Malformed(m) => write!(
                f,
                "etcd at {} sent an invalid range response: {} (is this an etcd v3 endpoint?)",
                m.endpoint,
                reason_text(&m.reason)
            ),
        }
    }
}

/// Who refused and how: `etcd at E answered HTTP 403: ...` through the JSON gateway,
/// `etcd at E refused the request (gRPC status 7): ...` over gRPC.
fn refusal(f: &mut fmt::Formatter<'_>, r: &Refusal) -> fmt::Result {
    let message = endpoint_text(&r.message);
    match (r.http_status, r.code) {
        (Some(status), _) => write!(f, "etcd at {} answered HTTP {status}: {message}", r.endpoint),
        (None, Some(code)) => write!(
            f,
            "etcd at {} refused the request (gRPC status {code}): {message}",
            r.endpoint
        ),
        (None, None) => write!(f, "etcd at {} refused the request: {message}", r.endpoint),
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidOptions(text) => f.write_str(text),
            Error::Etcd(e) => e.fmt(f),
            Error::Layout(LayoutError::ChildrenCycle(groups)) => {
                let path: Vec<Cow<str>> = groups.iter().map(|g| printable(g)).collect();
                write!(
                    f,
                    "group children form a loop: {} (remove one of the groups/{{parent}}/{{child}} keys along it)",
                    path.join(" -> ")
                )
            }
            Error::Layout(LayoutError::AllAsChild { parent }) => write!(
                f,
                "group {parent:?} names \"all\" as a child, but all contains every group (remove the key \
                 groups/{}/all)",
                printable(parent)
            ),
            Error::Layout(LayoutError::MarkerName { key, name }) => write!(
                f,
                "key {key:?} names a host, group or variable {name:?}, which Ansible's JSON reads as a type marker: \
                 Ansible would reject the whole inventory (rename it)"
            ),
            Error::Layout(LayoutError::NestedTooDeep { key }) => write!(
                f,
                "key {key:?} nests variables more than {MAX_NESTING} levels deep, more than Ansible reads (flatten it)"
            ),
            Error::Layout(LayoutError::ReservedGroupName { group }) => write!(
                f,
                "a group is named {group:?}, which Ansible's inventory format reserves (rename it)"
            ),
            Error::Layout(LayoutError::NonUtf8Key { key }) => {
                write!(f, "key {key:?} is not valid UTF-8 (inventory keys must be text)")
            }
            Error::Layout(LayoutError::NestedClash { value_key, map_key }) => write!(
                f,
                "key {value_key:?} holds a value, but key {map_key:?} needs it to be a map of nested variables (remove or rename one of them)"
            ),
            Error::Layout(LayoutError::NonUtf8Value { key }) => {
                write!(
                    f,
                    "the value of key {key:?} is not valid UTF-8 (inventory values must be text)"
                )
            }
        }
    }
}

/// `inventory_error_from_wit!(name, from_etcd, path::to::binding)` defines `fn name(e:
/// Error) -> crate::error::Error` for the module of a WIT binding of the `inventory`
/// interface (`from_etcd` converts its `etcd` case, see `etcd_error_conversions!`): the core's
/// `describe-error` and the native host read a WIT error back the same way.
#[macro_export]
macro_rules! inventory_error_from_wit {
    ($name:ident, $from_etcd:ident, $($wit:ident)::+) => {
        /// The WIT error back into the core's, whose `Display` is the one rendering of errors.
        fn $name(e: $($wit)::+::Error) -> $crate::error::Error {
            use $crate::error::Error;
            use $crate::inventory::LayoutError;
            use $($wit)::+ as wit;
            match e {
                wit::Error::InvalidOptions(text) => Error::InvalidOptions(text),
                wit::Error::Etcd(e) => Error::Etcd($from_etcd(e)),
                wit::Error::ChildrenCycle(groups) => LayoutError::ChildrenCycle(groups).into(),
                wit::Error::AllAsChild(parent) => LayoutError::AllAsChild { parent }.into(),
                wit::Error::ReservedGroupName(group) => LayoutError::ReservedGroupName { group }.into(),
                wit::Error::MarkerName(m) => LayoutError::MarkerName {
                    key: m.key,
                    name: m.name,
                }
                .into(),
                wit::Error::NestedTooDeep(key) => LayoutError::NestedTooDeep { key }.into(),
                wit::Error::NonUtf8Key(key) => LayoutError::NonUtf8Key { key }.into(),
                wit::Error::NonUtf8Value(key) => LayoutError::NonUtf8Value { key }.into(),
                wit::Error::NestedClash(c) => LayoutError::NestedClash {
                    value_key: c.value_key,
                    map_key: c.map_key,
                }
                .into(),
            }
        }
    };
}

/// `text` with control characters escaped (`\n`, `\u{1b}`), for names printed bare in a
/// message: the message stays one line, and nothing in etcd can drive the terminal.
pub fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return Cow::Borrowed(text);
    }
    let escaped = text.chars().map(|c| match c.is_control() {
        true => c.escape_default().to_string(),
        false => c.to_string(),
    });
    Cow::Owned(escaped.collect())
}

/// The most characters of an endpoint's own message (an error body) in a line.
pub const MAX_ENDPOINT_TEXT: usize = 200;
/// The most characters of a reason an endpoint could not be used: the host's words and
/// advice around what the endpoint or a network library said, so longer.
pub const MAX_REASON_TEXT: usize = 600;

/// Text that came from an endpoint (an error body, a proxy's HTML page), as it goes on the
/// one error line: runs of white space (line breaks included) become one space, other
/// control characters are escaped as [`printable`] does, and it is cut to
/// [`MAX_ENDPOINT_TEXT`] characters. Whatever the endpoint sends, the line stays one short
/// line and nothing reaches the terminal (or Ansible's log) as a control sequence.
pub fn endpoint_text(text: &str) -> String {
    one_line_within(text, MAX_ENDPOINT_TEXT)
}

/// A reason an endpoint could not be used, rendered as [`endpoint_text`] but cut to
/// [`MAX_REASON_TEXT`] characters: part of it may be the endpoint's (a gRPC status, an
/// unavailable member's message).
pub fn reason_text(text: &str) -> String {
    one_line_within(text, MAX_REASON_TEXT)
}

fn one_line_within(text: &str, max_chars: usize) -> String {
    let mut out = String::new();
    let mut words = text.split(char::is_whitespace).filter(|w| !w.is_empty()).peekable();
    let mut kept = 0;
    while let Some(word) = words.next() {
        for c in word.chars() {
            if kept == max_chars {
                out.push_str("...");
                return out;
            }
            match c.is_control() {
                true => out.extend(c.escape_default()),
                false => out.push(c),
            }
            kept += 1;
        }
        if words.peek().is_some() {
            out.push(' ');
            kept += 1;
        }
    }
    out
}

/// Shown in place of a password found in a message.
pub const REDACTED: &str = "<redacted>";

/// `text` with every occurrence of `secret` replaced by [`REDACTED`]: as it is, and as
/// JSON writes it inside a string (an endpoint that echoes the authenticate request sends
/// it back that way). For text that may carry a password whatever its source says, such
/// as an endpoint's answer; an empty secret changes nothing.
pub fn redact<'a>(text: &'a str, secret: &str) -> Cow<'a, str> {
    if secret.is_empty() {
        return Cow::Borrowed(text);
    }
    let json = serde_json::to_string(secret).expect("a string serialises");
    let json = &json[1..json.len() - 1];
    let mut text = Cow::Borrowed(text);
    for form in [secret, json] {
        if text.contains(form) {
            text = Cow::Owned(text.replace(form, REDACTED));
        }
    }
    text
}

/// [`redact`] for bytes (an answer's body, before anything reads it as text).
pub fn redact_bytes(bytes: &mut Vec<u8>, secret: &str) {
    if secret.is_empty() {
        return;
    }
    let json = serde_json::to_string(secret).expect("a string serialises");
    for form in [secret.as_bytes(), &json.as_bytes()[1..json.len() - 1]] {
        if form.is_empty() || !bytes.windows(form.len()).any(|w| w == form) {
            continue;
        }
        let mut out = Vec::with_capacity(bytes.len());
        let mut rest = bytes.as_slice();
        while !rest.is_empty() {
            if rest.starts_with(form) {
                out.extend_from_slice(REDACTED.as_bytes());
                rest = &rest[form.len()..];
            } else {
                out.push(rest[0]);
                rest = &rest[1..];
            }
        }
        *bytes = out;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_unreachable_endpoint_reads_as_one_line() {
        let e = Error::Etcd(EtcdError::Unreachable(vec![crate::etcd::EndpointFailure {
            endpoint: "http://127.0.0.1:2379".into(),
            reason: "connection refused".into(),
        }]));
        let text = e.to_string();
        assert!(
            text.starts_with("cannot reach etcd at http://127.0.0.1:2379: connection refused"),
            "{text}"
        );
        assert!(!text.contains('\n'));
    }

    #[test]
    fn names_in_messages_keep_the_line_and_the_terminal_intact() {
        assert_eq!(printable("web \u{e9}\u{1f680}"), "web \u{e9}\u{1f680}");
        assert_eq!(printable("a\nb\r\u{1b}[2J"), "a\\nb\\r\\u{1b}[2J");
        let e = Error::from(LayoutError::ChildrenCycle(vec![
            "a\nb".into(),
            "c".into(),
            "a\nb".into(),
        ]));
        assert!(!e.to_string().contains('\n'), "{e}");
        let e = Error::from(LayoutError::AllAsChild { parent: "p\r\n".into() });
        assert!(!e.to_string().contains(['\r', '\n']), "{e}");
    }

    #[test]
    fn endpoint_text_is_one_short_escaped_line() {
        let page = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n</body>\r\n</html>\r\n";
        assert_eq!(
            endpoint_text(page),
            "<html> <head><title>502 Bad Gateway</title></head> <body> </body> </html>"
        );
        assert_eq!(
            endpoint_text("\u{1b}[2J\u{1b}]0;x\u{7}boom"),
            "\\u{1b}[2J\\u{1b}]0;x\\u{7}boom"
        );
        let long = endpoint_text(&"x".repeat(10_000));
        assert_eq!(long, format!("{}...", "x".repeat(MAX_ENDPOINT_TEXT)));
        let reason = reason_text(&format!("a\n{}", "x".repeat(10_000)));
        assert_eq!(reason.chars().count(), MAX_REASON_TEXT + 3, "{reason}");
        let e = Error::Etcd(EtcdError::Refused(Refusal {
            endpoint: "http://a:1".into(),
            http_status: Some(502),
            code: None,
            message: format!("{page}\u{1b}[31m{}", "y".repeat(5000)),
        }));
        let line = e.to_string();
        assert!(!line.contains(['\n', '\r', '\u{1b}']) && line.len() < 400, "{line}");
    }

    #[test]
    fn a_secret_is_redacted_as_it_is_and_as_json_writes_it() {
        assert_eq!(
            redact(r#"{"name":"alice","password":"pa\"ss"} pa"ss"#, "pa\"ss"),
            r#"{"name":"alice","password":"<redacted>"} <redacted>"#
        );
        assert_eq!(redact("nothing here", "hunter2"), "nothing here");
        assert_eq!(redact("kept", ""), "kept");
        let mut body = br#"echo {"password":"hunter2"} hunter2!"#.to_vec();
        redact_bytes(&mut body, "hunter2");
        assert_eq!(body, br#"echo {"password":"<redacted>"} <redacted>!"#);
    }

    #[test]
    fn a_loop_is_shown_as_a_path() {
        let e = Error::from(LayoutError::ChildrenCycle(vec!["a".into(), "b".into(), "a".into()]));
        assert!(e.to_string().contains("a -> b -> a"), "{e}");
    }
}
