//! The three AWS wire protocols the exporter's clients speak, as far as the fake needs them:
//! JSON 1.1 with `X-Amz-Target` (ECR, Organizations, Resource Groups Tagging), rest-json
//! (Account `POST /listRegions`) and query with XML answers (STS).
//!
//! Who calls is read from the SigV4 `Authorization` header (`Credential=AKID/date/region/
//! service/aws4_request`); signatures are not checked. Access keys handed out by AssumeRole
//! encode the target account (see [`session_key`]), any other key is the management account.

use bytes::Bytes;
use serde_json::Value;

/// How a service expects its answers and errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Json11,
    RestJson,
    Query,
}

/// One decoded AWS request.
#[derive(Debug, Clone)]
pub struct Call {
    /// Signing name from the credential scope: `ecr`, `sts`, `organizations`, `account`, `tagging`.
    pub service: String,
    pub operation: String,
    pub region: String,
    pub access_key: String,
    pub protocol: Protocol,
    /// JSON body, or the query form as a JSON object of strings.
    pub params: Value,
}

impl Call {
    /// `service:Operation`, the counters' key.
    pub fn key(&self) -> String {
        format!("{}:{}", self.service, self.operation)
    }
}

/// An answer ready to send.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub error_type: Option<String>,
    pub body: Bytes,
}

/// The access key AssumeRole hands out for `account`: `ASIA` + the 12 digits + `FAKE`.
pub fn session_key(account: &str) -> String {
    format!("ASIA{account}FAKE")
}

/// The account a session key was issued for, if it is one of ours.
pub fn key_account(key: &str) -> Option<&str> {
    let digits = key.strip_prefix("ASIA")?.strip_suffix("FAKE")?;
    (digits.len() == 12 && digits.bytes().all(|b| b.is_ascii_digit())).then_some(digits)
}

/// (access key, region, service) from a SigV4 `Authorization` header.
pub fn credential_scope(auth: &str) -> Option<(&str, &str, &str)> {
    let rest = &auth[auth.find("Credential=")? + "Credential=".len()..];
    let scope = rest.split([',', ' ']).next()?;
    let mut parts = scope.split('/');
    let key = parts.next()?;
    let _date = parts.next()?;
    let region = parts.next()?;
    let service = parts.next()?;
    Some((key, region, service))
}

/// Decode a request from its headers, path and body; `None` if it is not a signed AWS call.
pub fn decode(auth: Option<&str>, target: Option<&str>, path: &str, body: &[u8]) -> Option<Call> {
    let (key, region, service) = credential_scope(auth?)?;
    let (operation, protocol, params) = if let Some(t) = target {
        let op = t.rsplit('.').next().unwrap_or(t).to_string();
        (op, Protocol::Json11, json_body(body))
    } else if service == "account" {
        let name = path.trim_end_matches('/').rsplit('/').next().unwrap_or("");
        let mut op = String::with_capacity(name.len());
        let mut chars = name.chars();
        if let Some(c) = chars.next() {
            op.extend(c.to_uppercase());
            op.extend(chars);
        }
        (op, Protocol::RestJson, json_body(body))
    } else {
        let form = parse_form(body);
        let op = form["Action"].as_str().unwrap_or("Unknown").to_string();
        (op, Protocol::Query, form)
    };
    Some(Call {
        service: service.to_string(),
        operation,
        region: region.to_string(),
        access_key: key.to_string(),
        protocol,
        params,
    })
}

fn json_body(body: &[u8]) -> Value {
    if body.is_empty() {
        return Value::Object(Default::default());
    }
    serde_json::from_slice(body).unwrap_or(Value::Null)
}

/// `application/x-www-form-urlencoded` into a JSON object of strings (last value wins).
pub fn parse_form(body: &[u8]) -> Value {
    let mut map = serde_json::Map::new();
    for pair in body.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
        let mut kv = pair.splitn(2, |&b| b == b'=');
        let k = percent_decode(kv.next().unwrap_or_default());
        let v = percent_decode(kv.next().unwrap_or_default());
        map.insert(k, Value::String(v));
    }
    Value::Object(map)
}

fn percent_decode(s: &[u8]) -> String {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < s.len() => {
                let hex = std::str::from_utf8(&s[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A successful JSON answer (JSON 1.1 and rest-json alike).
pub fn json_ok(protocol: Protocol, value: &Value) -> Reply {
    Reply {
        status: 200,
        content_type: match protocol {
            Protocol::RestJson => "application/json",
            _ => "application/x-amz-json-1.1",
        },
        error_type: None,
        body: Bytes::from(value.to_string()),
    }
}

/// A successful query-protocol answer: `<{Op}Response><{Op}Result>inner</..>`.
pub fn xml_ok(operation: &str, inner: &str) -> Reply {
    let body = format!(
        "<{operation}Response xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\
         <{operation}Result>{inner}</{operation}Result>\
         <ResponseMetadata><RequestId>fake-request</RequestId></ResponseMetadata>\
         </{operation}Response>"
    );
    Reply {
        status: 200,
        content_type: "text/xml",
        error_type: None,
        body: Bytes::from(body),
    }
}

/// An error in the shape the protocol's clients parse (code and message).
pub fn error(protocol: Protocol, status: u16, code: &str, message: &str) -> Reply {
    match protocol {
        Protocol::Query => {
            let kind = if status >= 500 { "Receiver" } else { "Sender" };
            let body = format!(
                "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\
                 <Error><Type>{kind}</Type><Code>{code}</Code><Message>{}</Message></Error>\
                 <RequestId>fake-request</RequestId></ErrorResponse>",
                xml_escape(message)
            );
            Reply {
                status,
                content_type: "text/xml",
                error_type: None,
                body: Bytes::from(body),
            }
        }
        Protocol::Json11 | Protocol::RestJson => {
            let mut reply = json_ok(
                protocol,
                &serde_json::json!({"__type": code, "message": message}),
            );
            reply.status = status;
            reply.error_type = Some(code.to_string());
            reply
        }
    }
}

/// The throttling error each service really sends, so the SDK classifies it as throttling
/// (and retries it with backoff).
pub fn throttled(call: &Call) -> Reply {
    match (call.protocol, call.service.as_str()) {
        (Protocol::Query, _) => error(Protocol::Query, 400, "Throttling", "Rate exceeded"),
        (_, "organizations") => error(
            call.protocol,
            400,
            "TooManyRequestsException",
            "AWS Organizations can't complete your request because another request is already in progress.",
        ),
        (Protocol::RestJson, _) => {
            error(call.protocol, 429, "ThrottlingException", "Rate exceeded")
        }
        _ => error(call.protocol, 400, "ThrottlingException", "Rate exceeded"),
    }
}

/// A transient server-side failure (retried by the SDK as a 5xx).
pub fn internal(call: &Call) -> Reply {
    error(
        call.protocol,
        500,
        "InternalFailure",
        "injected internal failure",
    )
}

pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_caller_from_sigv4() {
        let auth = "AWS4-HMAC-SHA256 Credential=ASIA111122223333FAKE/20260101/eu-west-1/ecr/aws4_request, SignedHeaders=host, Signature=00";
        let call = decode(
            Some(auth),
            Some("AmazonEC2ContainerRegistry_V20150921.GetRepositoryPolicy"),
            "/",
            br#"{"repositoryName":"svc-00001"}"#,
        )
        .expect("decoded");
        assert_eq!(call.key(), "ecr:GetRepositoryPolicy");
        assert_eq!(call.region, "eu-west-1");
        assert_eq!(key_account(&call.access_key), Some("111122223333"));
        assert_eq!(key_account("testing"), None);
    }

    #[test]
    fn decodes_query_forms() {
        let form =
            parse_form(b"Action=AssumeRole&RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fr&X=a+b%2");
        assert_eq!(form["Action"], "AssumeRole");
        assert_eq!(form["RoleArn"], "arn:aws:iam::1:role/r");
        assert_eq!(form["X"], "a b%2");
    }
}
