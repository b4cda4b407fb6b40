//! CSV in and out (docs/csv.md): streaming readers for the three import formats, whose rows
//! become the same checked commands the JSON API makes, and the writer of billing export
//! batches. Row/column-positioned errors; no cell is ever read as a float.

pub mod export;
pub mod import;

use sha2::{Digest, Sha256};

pub use crate::domain::ids::hex;

/// The SHA-256 (hex) of everything a reader yields, read in blocks.
pub fn sha256_hex(mut r: impl std::io::Read) -> std::io::Result<String> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            return Ok(hex(&h.finalize()));
        }
        h.update(buf.get(..n).unwrap_or_default());
    }
}
