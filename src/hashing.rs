//! SHA-256 as lowercase hex: the identity of a file's bytes (ingest, `tally run`'s
//! skip detection, the S3 mirror) and short stable ids (run ids, finding ids).

use std::path::Path;

use sha2::{Digest, Sha256};

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(2 * bytes.len()), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

/// The SHA-256 of a file's bytes, and how many there were.
pub fn sha256_file_len(path: &Path) -> std::io::Result<(String, u64)> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let bytes = std::io::copy(&mut file, &mut hasher)?;
    Ok((hex(&hasher.finalize()), bytes))
}

/// The SHA-256 of a file's bytes.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    sha256_file_len(path).map(|(sha, _)| sha)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_of_known_digests() {
        assert_eq!(hex(&[0x00, 0xab, 0x0f]), "00ab0f");
        // sha256("abc"), FIPS 180-2 appendix B.1.
        assert_eq!(hex(&Sha256::digest(b"abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
