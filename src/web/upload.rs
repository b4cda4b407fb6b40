//! Reading a `multipart/form-data` body from the console's upload form (RFC 7578): the
//! request is read up to a limit, then split into its named parts. Only what a browser's
//! form sends is understood (a boundary, `Content-Disposition: form-data; name=…`).

use actix_web::http::header;
use actix_web::{web, HttpRequest};
use futures_util::StreamExt;

use crate::wire::Error;

use super::render::Fail;

/// One part of a form: its field name, the file name a browser gave (for a file), its bytes.
#[derive(Debug, Clone)]
pub struct Part {
    pub name: String,
    pub filename: Option<String>,
    pub data: web::Bytes,
}

/// Reads the whole body, refusing more than `limit` bytes (a page saying so, not a 500).
pub async fn read_limited(mut payload: web::Payload, limit: usize) -> Result<web::Bytes, Fail> {
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| Fail::Wire(Error::unparseable("file", e.to_string())))?;
        if body.len() + chunk.len() > limit {
            return Err(Fail::Wire(Error::unparseable(
                "file",
                format!(
                    "is larger than the console accepts ({} MiB); use POST /v1/imports",
                    limit / (1024 * 1024)
                ),
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + from)
}

/// The value of `key="…"` (or `key=…`) in a `Content-Disposition` line.
fn param(line: &str, key: &str) -> Option<String> {
    line.split(';').skip(1).find_map(|p| {
        let (k, v) = p.trim().split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case(key)
            .then(|| v.trim().trim_matches('"').to_string())
    })
}

/// The parts of a `multipart/form-data` body.
pub fn parts(req: &HttpRequest, body: &web::Bytes) -> Result<Vec<Part>, Fail> {
    let bad = |m: &str| Fail::Wire(Error::unparseable("form", m.to_string()));
    let ct = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = ct.split(';').next().unwrap_or("").trim();
    if !mime.eq_ignore_ascii_case("multipart/form-data") {
        return Err(bad("must be sent as multipart/form-data (the upload form)"));
    }
    let boundary = ct
        .split(';')
        .filter_map(|p| p.trim().split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("boundary"))
        .map(|(_, v)| v.trim().trim_matches('"').to_string())
        .filter(|b| !b.is_empty())
        .ok_or_else(|| bad("multipart/form-data without a boundary"))?;
    let delimiter = format!("--{boundary}");
    let next_part = format!("\r\n--{boundary}");
    let mut at =
        find(body, delimiter.as_bytes(), 0).ok_or_else(|| bad("multipart body without parts"))?;
    let mut out = Vec::new();
    loop {
        let head_start = at + delimiter.len();
        if body.get(head_start..head_start + 2) == Some(b"--") {
            return Ok(out);
        }
        let head_end =
            find(body, b"\r\n\r\n", head_start).ok_or_else(|| bad("malformed multipart part"))?;
        let head = String::from_utf8_lossy(body.get(head_start..head_end).unwrap_or_default())
            .into_owned();
        let content = head_end + 4;
        let end = find(body, next_part.as_bytes(), content)
            .ok_or_else(|| bad("unterminated multipart part"))?;
        let disposition = head.lines().find(|l| {
            l.trim_start()
                .to_ascii_lowercase()
                .starts_with("content-disposition:")
        });
        if let Some(line) = disposition {
            if let Some(name) = param(line, "name") {
                out.push(Part {
                    name,
                    filename: param(line, "filename"),
                    data: body.slice(content..end),
                });
            }
        }
        at = end + 2;
    }
}

/// The text of a plain field (not a file), if the form has it.
pub fn field(parts: &[Part], name: &str) -> Option<String> {
    parts
        .iter()
        .find(|p| p.name == name && p.filename.is_none())
        .map(|p| String::from_utf8_lossy(&p.data).into_owned())
}
