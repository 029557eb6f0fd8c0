//! A verifier's saved state: the byte encoding that
//! [`crate::RecordState::write_snapshot`] and the verifier's incremental
//! mode (`spec/checks.md` §13) write and read back.
//!
//! A snapshot is a private file of the party that verified the record, not
//! a protocol artifact: nobody else has to read it, and its layout may
//! change between versions (the file says which). Everything in it is
//! length-prefixed, and reading it never trusts a length: a truncated,
//! corrupted or hostile file is a [`SnapshotError`], not a panic or an
//! allocation of the size it claims.

/// Why a snapshot does not read back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    /// The bytes end before the field.
    #[error("the saved state ends inside {0}")]
    Truncated(&'static str),
    /// A field holds a value it cannot hold.
    #[error("the saved state has an invalid {what}: {detail}")]
    Invalid {
        /// The field.
        what: &'static str,
        /// What is wrong with it.
        detail: String,
    },
    /// The state cannot be saved in this form.
    #[error("this state cannot be saved: {0}")]
    Unsupported(&'static str),
}

impl SnapshotError {
    /// An invalid field.
    pub fn invalid(what: &'static str, detail: impl Into<String>) -> Self {
        Self::Invalid {
            what,
            detail: detail.into(),
        }
    }
}

/// Appends fields to a snapshot.
#[derive(Debug, Default)]
pub struct SnapWriter {
    out: Vec<u8>,
}

impl SnapWriter {
    /// An empty snapshot.
    pub fn new() -> Self {
        Self::default()
    }
    /// The bytes written.
    pub fn into_bytes(self) -> Vec<u8> {
        self.out
    }
    /// One byte.
    pub fn u8(&mut self, v: u8) {
        self.out.push(v);
    }
    /// A boolean as one byte.
    pub fn bool(&mut self, v: bool) {
        self.u8(u8::from(v));
    }
    /// u32, little-endian.
    pub fn u32(&mut self, v: u32) {
        self.out.extend_from_slice(&v.to_le_bytes());
    }
    /// u64, little-endian.
    pub fn u64(&mut self, v: u64) {
        self.out.extend_from_slice(&v.to_le_bytes());
    }
    /// A `usize` as u64.
    pub fn usize(&mut self, v: usize) {
        self.u64(v as u64);
    }
    /// Fixed-size bytes, without a length.
    pub fn fixed(&mut self, v: &[u8]) {
        self.out.extend_from_slice(v);
    }
    /// Bytes with a u64 length.
    pub fn bytes(&mut self, v: &[u8]) {
        self.usize(v.len());
        self.fixed(v);
    }
    /// A UTF-8 string with a u64 length.
    pub fn str(&mut self, v: &str) {
        self.bytes(v.as_bytes());
    }
    /// A count of items that follow.
    pub fn len(&mut self, n: usize) {
        self.usize(n);
    }
}

/// Reads fields back, in the order [`SnapWriter`] wrote them.
#[derive(Debug)]
pub struct SnapReader<'a> {
    input: &'a [u8],
}

impl<'a> SnapReader<'a> {
    /// Reads `input`.
    pub fn new(input: &'a [u8]) -> Self {
        Self { input }
    }
    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.input.len()
    }
    /// Fails unless every byte was read.
    pub fn finish(&self) -> Result<(), SnapshotError> {
        if self.input.is_empty() {
            Ok(())
        } else {
            Err(SnapshotError::invalid(
                "end",
                format!("{} bytes after the last field", self.input.len()),
            ))
        }
    }
    /// `n` bytes.
    pub fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], SnapshotError> {
        if self.input.len() < n {
            return Err(SnapshotError::Truncated(what));
        }
        let (head, tail) = self.input.split_at(n);
        self.input = tail;
        Ok(head)
    }
    /// One byte.
    pub fn u8(&mut self, what: &'static str) -> Result<u8, SnapshotError> {
        Ok(self.take(1, what)?[0])
    }
    /// A boolean.
    pub fn bool(&mut self, what: &'static str) -> Result<bool, SnapshotError> {
        match self.u8(what)? {
            0 => Ok(false),
            1 => Ok(true),
            b => Err(SnapshotError::invalid(what, format!("boolean byte {b}"))),
        }
    }
    /// u32.
    pub fn u32(&mut self, what: &'static str) -> Result<u32, SnapshotError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }
    /// u64.
    pub fn u64(&mut self, what: &'static str) -> Result<u64, SnapshotError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }
    /// A `usize` written as u64.
    pub fn usize(&mut self, what: &'static str) -> Result<usize, SnapshotError> {
        let v = self.u64(what)?;
        usize::try_from(v).map_err(|_| SnapshotError::invalid(what, format!("{v} is too large")))
    }
    /// A fixed-size array.
    pub fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], SnapshotError> {
        let b = self.take(N, what)?;
        let mut out = [0u8; N];
        out.copy_from_slice(b);
        Ok(out)
    }
    /// Bytes with a length.
    pub fn bytes(&mut self, what: &'static str) -> Result<&'a [u8], SnapshotError> {
        let n = self.usize(what)?;
        self.take(n, what)
    }
    /// A UTF-8 string.
    pub fn str(&mut self, what: &'static str) -> Result<String, SnapshotError> {
        let b = self.bytes(what)?;
        String::from_utf8(b.to_vec()).map_err(|_| SnapshotError::invalid(what, "not UTF-8"))
    }
    /// A count of items of at least `min_item` bytes each that follow: at
    /// most what the remaining bytes can hold, so a hostile count cannot
    /// make the reader reserve memory the file does not back.
    pub fn len(&mut self, min_item: usize, what: &'static str) -> Result<usize, SnapshotError> {
        let n = self.usize(what)?;
        if n.saturating_mul(min_item.max(1)) > self.input.len() {
            return Err(SnapshotError::Truncated(what));
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn fields_read_back_and_lengths_are_not_trusted() {
        let mut w = SnapWriter::new();
        w.u8(7);
        w.bool(true);
        w.u32(0xdead_beef);
        w.u64(u64::MAX - 1);
        w.str("é");
        w.len(2);
        w.fixed(&[1, 2]);
        let bytes = w.into_bytes();
        let mut r = SnapReader::new(&bytes);
        assert_eq!(r.u8("a").unwrap(), 7);
        assert!(r.bool("b").unwrap());
        assert_eq!(r.u32("c").unwrap(), 0xdead_beef);
        assert_eq!(r.u64("d").unwrap(), u64::MAX - 1);
        assert_eq!(r.str("e").unwrap(), "é");
        assert_eq!(r.len(1, "f").unwrap(), 2);
        assert_eq!(r.take(2, "g").unwrap(), &[1, 2]);
        r.finish().unwrap();

        // A count larger than the bytes left is refused before any allocation.
        let mut w = SnapWriter::new();
        w.len(1 << 40);
        let bytes = w.into_bytes();
        assert_eq!(
            SnapReader::new(&bytes).len(32, "set"),
            Err(SnapshotError::Truncated("set"))
        );
        // Every prefix of a snapshot fails cleanly.
        let mut w = SnapWriter::new();
        w.str("hello");
        let bytes = w.into_bytes();
        for n in 0..bytes.len() {
            assert!(SnapReader::new(&bytes[..n]).str("s").is_err());
        }
        assert!(SnapReader::new(&[2]).bool("b").is_err());
    }
}
