//! Tracepoint format files (`events/SYSTEM/NAME/format`): a tracepoint's id, and where each
//! field of its binary record lies. Offsets are read from the running kernel, never hard-coded,
//! because they change between kernel versions (`tcp_receive_reset` gained `sock_cookie` in 6.x).

use std::fmt;

/// One field of a record: `field:__u16 sport; offset:24; size:2; signed:0;` (tab-separated).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    /// The field's name without its array suffix (`saddr` for `__u8 saddr[4]`).
    pub name: String,
    /// The C type as declared, array suffix dropped (`__u8`, `const void *`).
    pub ty: String,
    pub offset: usize,
    pub size: usize,
    pub signed: bool,
}

/// A tracepoint's format: its name, its numeric id (the record's `common_type`) and its fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Format {
    pub name: String,
    pub id: u16,
    pub fields: Vec<Field>,
}

/// A format file that does not say what socktrace needs it to say.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FormatError {
    /// A `field:` line that does not read `field:TYPE NAME; offset:N; size:N; signed:N;`.
    Malformed { line: usize, text: String },
    /// The `name:` or `ID:` line is missing or unreadable.
    MissingHeader { key: &'static str },
    /// A field socktrace reads is absent.
    MissingField { field: &'static str },
    /// A field has another size than the record layout socktrace reads.
    FieldSize { field: &'static str, expected: usize, found: usize },
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FormatError::Malformed { line, text } => write!(f, "format line {line} is `{text}`, expected `field:TYPE NAME; offset:N; size:N; signed:N;`"),
            FormatError::MissingHeader { key } => write!(f, "the format has no `{key}` line"),
            FormatError::MissingField { field } => write!(f, "expected a field `{field}`, found none"),
            FormatError::FieldSize { field, expected, found } => {
                write!(f, "expected field `{field}` of {expected} bytes, found {found} bytes")
            }
        }
    }
}

impl std::error::Error for FormatError {}

impl Format {
    /// Parses a tracepoint's `format` file.
    pub fn parse(text: &str) -> Result<Format, FormatError> {
        let header = |key: &'static str| text.lines().find_map(|l| l.strip_prefix(key)).map(str::trim).ok_or(FormatError::MissingHeader { key });
        let name = header("name:")?.to_string();
        let id = header("ID:")?.parse().map_err(|_| FormatError::MissingHeader { key: "ID:" })?;
        Ok(Format { name, id, fields: parse_fields(text)? })
    }

    #[cfg(test)]
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// The offset of `name`, which must be `size` bytes long: the decoder reads it so.
    pub fn offset_of(&self, name: &'static str, size: usize) -> Result<usize, FormatError> {
        offset_of(&self.fields, name, size)
    }
}

/// The offset of field `name` among `fields`, which must be `size` bytes long.
fn offset_of(fields: &[Field], name: &'static str, size: usize) -> Result<usize, FormatError> {
    let field = fields.iter().find(|f| f.name == name).ok_or(FormatError::MissingField { field: name })?;
    if field.size != size {
        return Err(FormatError::FieldSize { field: name, expected: size, found: field.size });
    }
    Ok(field.offset)
}

/// Parses every `field:` line of a format file.
fn parse_fields(text: &str) -> Result<Vec<Field>, FormatError> {
    let mut fields = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("field:") {
            let malformed = || FormatError::Malformed { line: i + 1, text: line.to_string() };
            fields.push(parse_field(rest).ok_or_else(malformed)?);
        }
    }
    Ok(fields)
}

/// `unsigned short common_type; offset:0; size:2; signed:0;` (after `field:`, tab-separated).
fn parse_field(rest: &str) -> Option<Field> {
    let mut parts = rest.split(';').map(str::trim);
    let decl = parts.next()?;
    let (mut offset, mut size, mut signed) = (None, None, None);
    for part in parts {
        if let Some((key, value)) = part.split_once(':') {
            let value = value.trim().parse::<usize>().ok();
            match key.trim() {
                "offset" => offset = value,
                "size" => size = value,
                "signed" => signed = value.map(|v| v != 0),
                _ => {}
            }
        }
    }
    // The name is the declaration's last word, e.g. `saddr[4]` in `__u8 saddr[4]`.
    let (ty, name) = decl.rsplit_once(char::is_whitespace)?;
    let name = name.split('[').next()?.to_string();
    if name.is_empty() {
        return None;
    }
    Some(Field { name, ty: ty.trim().to_string(), offset: offset?, size: size?, signed: signed.unwrap_or(false) })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// `events/sock/inet_sock_set_state/format` of Linux 6.18 (print fmt shortened).
    pub(crate) const INET_SOCK_SET_STATE: &str = "name: inet_sock_set_state
ID: 2287
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:const void * skaddr;\toffset:8;\tsize:8;\tsigned:0;
\tfield:int oldstate;\toffset:16;\tsize:4;\tsigned:1;
\tfield:int newstate;\toffset:20;\tsize:4;\tsigned:1;
\tfield:__u16 sport;\toffset:24;\tsize:2;\tsigned:0;
\tfield:__u16 dport;\toffset:26;\tsize:2;\tsigned:0;
\tfield:__u16 family;\toffset:28;\tsize:2;\tsigned:0;
\tfield:__u16 protocol;\toffset:30;\tsize:2;\tsigned:0;
\tfield:__u8 saddr[4];\toffset:32;\tsize:4;\tsigned:0;
\tfield:__u8 daddr[4];\toffset:36;\tsize:4;\tsigned:0;
\tfield:__u8 saddr_v6[16];\toffset:40;\tsize:16;\tsigned:0;
\tfield:__u8 daddr_v6[16];\toffset:56;\tsize:16;\tsigned:0;

print fmt: \"family=%s protocol=%s sport=%hu dport=%hu\", REC->family, REC->protocol, REC->sport, REC->dport
";

    /// `events/tcp/tcp_send_reset/format` of Linux 6.18: addresses are `struct sockaddr_in6`.
    pub(crate) const TCP_SEND_RESET: &str = "name: tcp_send_reset
ID: 2280
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:const void * skbaddr;\toffset:8;\tsize:8;\tsigned:0;
\tfield:const void * skaddr;\toffset:16;\tsize:8;\tsigned:0;
\tfield:int state;\toffset:24;\tsize:4;\tsigned:1;
\tfield:enum sk_rst_reason reason;\toffset:28;\tsize:4;\tsigned:0;
\tfield:__u8 saddr[28];\toffset:32;\tsize:28;\tsigned:0;
\tfield:__u8 daddr[28];\toffset:60;\tsize:28;\tsigned:0;

print fmt: \"skbaddr=%p skaddr=%p src=%pISpc dest=%pISpc\", REC->skbaddr, REC->skaddr, REC->saddr, REC->daddr
";

    /// `events/tcp/tcp_receive_reset/format` of Linux 6.18.
    pub(crate) const TCP_RECEIVE_RESET: &str = "name: tcp_receive_reset
ID: 2279
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:const void * skaddr;\toffset:8;\tsize:8;\tsigned:0;
\tfield:__u16 sport;\toffset:16;\tsize:2;\tsigned:0;
\tfield:__u16 dport;\toffset:18;\tsize:2;\tsigned:0;
\tfield:__u16 family;\toffset:20;\tsize:2;\tsigned:0;
\tfield:__u8 saddr[4];\toffset:22;\tsize:4;\tsigned:0;
\tfield:__u8 daddr[4];\toffset:26;\tsize:4;\tsigned:0;
\tfield:__u8 saddr_v6[16];\toffset:30;\tsize:16;\tsigned:0;
\tfield:__u8 daddr_v6[16];\toffset:46;\tsize:16;\tsigned:0;
\tfield:__u64 sock_cookie;\toffset:64;\tsize:8;\tsigned:0;

print fmt: \"family=%s sport=%hu dport=%hu\", REC->family, REC->sport, REC->dport
";

    /// `events/tcp/tcp_retransmit_skb/format` of Linux 6.18.
    pub(crate) const TCP_RETRANSMIT_SKB: &str = "name: tcp_retransmit_skb
ID: 2281
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:const void * skbaddr;\toffset:8;\tsize:8;\tsigned:0;
\tfield:const void * skaddr;\toffset:16;\tsize:8;\tsigned:0;
\tfield:int state;\toffset:24;\tsize:4;\tsigned:1;
\tfield:__u16 sport;\toffset:28;\tsize:2;\tsigned:0;
\tfield:__u16 dport;\toffset:30;\tsize:2;\tsigned:0;
\tfield:__u16 family;\toffset:32;\tsize:2;\tsigned:0;
\tfield:__u8 saddr[4];\toffset:34;\tsize:4;\tsigned:0;
\tfield:__u8 daddr[4];\toffset:38;\tsize:4;\tsigned:0;
\tfield:__u8 saddr_v6[16];\toffset:42;\tsize:16;\tsigned:0;
\tfield:__u8 daddr_v6[16];\toffset:58;\tsize:16;\tsigned:0;
\tfield:int err;\toffset:76;\tsize:4;\tsigned:1;

print fmt: \"skbaddr=%p skaddr=%p state=%s err=%d\", REC->skbaddr, REC->skaddr, REC->state, REC->err
";

    #[test]
    fn state_format_fields_with_offsets_sizes_and_array_names() {
        let f = Format::parse(INET_SOCK_SET_STATE).unwrap();
        assert_eq!(f.name, "inet_sock_set_state");
        assert_eq!(f.id, 2287);
        assert_eq!(f.fields.len(), 15);
        let skaddr = f.field("skaddr").unwrap();
        assert_eq!((skaddr.ty.as_str(), skaddr.offset, skaddr.size, skaddr.signed), ("const void *", 8, 8, false));
        assert_eq!(f.field("common_pid").map(|p| (p.offset, p.size, p.signed)), Some((4, 4, true)));
        assert_eq!(f.offset_of("saddr_v6", 16), Ok(40));
        assert_eq!(f.field("daddr").map(|d| d.ty.as_str()), Some("__u8"));
    }

    #[test]
    fn reset_and_retransmit_formats_parse() {
        let send = Format::parse(TCP_SEND_RESET).unwrap();
        assert_eq!((send.id, send.offset_of("saddr", 28)), (2280, Ok(32)));
        assert_eq!(send.field("reason").map(|r| r.ty.as_str()), Some("enum sk_rst_reason"));
        let recv = Format::parse(TCP_RECEIVE_RESET).unwrap();
        assert_eq!(recv.offset_of("sock_cookie", 8), Ok(64));
        let retx = Format::parse(TCP_RETRANSMIT_SKB).unwrap();
        assert_eq!(retx.offset_of("err", 4), Ok(76));
    }

    #[test]
    fn unexpected_field_size_names_field_and_both_sizes() {
        let f = Format::parse(INET_SOCK_SET_STATE).unwrap();
        let err = f.offset_of("sport", 4).unwrap_err();
        assert_eq!(err, FormatError::FieldSize { field: "sport", expected: 4, found: 2 });
        assert_eq!(err.to_string(), "expected field `sport` of 4 bytes, found 2 bytes");
        assert_eq!(f.offset_of("sk_cookie", 8), Err(FormatError::MissingField { field: "sk_cookie" }));
    }

    #[test]
    fn malformed_field_line_is_an_error_with_its_line() {
        let text = "name: x\nID: 1\nformat:\n\tfield:int common_pid;\toffset:four;\tsize:4;\tsigned:1;\n";
        assert!(matches!(Format::parse(text), Err(FormatError::Malformed { line: 4, .. })));
        assert_eq!(Format::parse("ID: 1\n"), Err(FormatError::MissingHeader { key: "name:" }));
        assert_eq!(Format::parse("name: x\nID: 70000\n"), Err(FormatError::MissingHeader { key: "ID:" }));
    }
}
