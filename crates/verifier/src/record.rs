//! The exported record file (`spec/export.md`).
//!
//! ```text
//! "tallyboard-record/v1 " ‖ N (decimal) ‖ "\n"          header line
//! N × ( u32 BE length L, 1 ≤ L ≤ 262144 ‖ L entry bytes ) entries, log order
//! u32 BE length C, 1 ≤ C ≤ 65536 ‖ C bytes               latest signed checkpoint
//! (end of file)
//! ```

use std::io::{self, Read, Write};

use tallyboard_protocol::MAX_ENTRY_BYTES;

/// The header line's prefix.
pub const MAGIC: &[u8] = b"tallyboard-record/v1 ";

/// Largest signed checkpoint note in a record file.
pub const MAX_CHECKPOINT_BYTES: usize = 65_536;

/// Longest header line (magic, 20 digits, newline).
const MAX_HEADER: usize = 21 + 20 + 1;

/// Why a record file does not decode (check V1.4).
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// Reading failed.
    #[error("reading the record: {0}")]
    Io(#[from] io::Error),
    /// The file does not start with the header line.
    #[error("not a tallyboard record file (bad header line)")]
    BadHeader,
    /// The file ends inside an entry or before all entries.
    #[error("record truncated in entry {index} (at byte {offset}): {detail}")]
    Truncated {
        /// Index of the incomplete entry.
        index: u64,
        /// Byte offset where the entry starts.
        offset: u64,
        /// What was missing.
        detail: &'static str,
    },
    /// An entry length outside 1..=262144.
    #[error("entry {index} (at byte {offset}) has length {len}, outside 1..=262144")]
    BadLength {
        /// Entry index.
        index: u64,
        /// Byte offset.
        offset: u64,
        /// The length read.
        len: u32,
    },
    /// The checkpoint section is missing, truncated or too large.
    #[error("record checkpoint section: {0}")]
    BadCheckpoint(&'static str),
    /// Bytes after the checkpoint.
    #[error("trailing bytes after the checkpoint")]
    TrailingBytes,
}

/// Writes a record file: [`RecordWriter::new`] with the entry count, then
/// exactly that many [`RecordWriter::entry`] calls, then
/// [`RecordWriter::finish`] with the signed checkpoint.
pub struct RecordWriter<W: Write> {
    out: W,
    expected: u64,
    written: u64,
}

impl<W: Write> RecordWriter<W> {
    /// Writes the header for `entries` entries.
    pub fn new(mut out: W, entries: u64) -> io::Result<Self> {
        out.write_all(MAGIC)?;
        out.write_all(format!("{entries}\n").as_bytes())?;
        Ok(Self {
            out,
            expected: entries,
            written: 0,
        })
    }

    /// Appends one entry.
    pub fn entry(&mut self, bytes: &[u8]) -> io::Result<()> {
        if bytes.is_empty() || bytes.len() > MAX_ENTRY_BYTES || self.written >= self.expected {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "entry empty, too large, or more entries than announced",
            ));
        }
        let len = u32::try_from(bytes.len()).map_err(io::Error::other)?;
        self.out.write_all(&len.to_be_bytes())?;
        self.out.write_all(bytes)?;
        self.written += 1;
        Ok(())
    }

    /// Writes the signed checkpoint and returns the writer.
    pub fn finish(mut self, checkpoint: &[u8]) -> io::Result<W> {
        if self.written != self.expected
            || checkpoint.is_empty()
            || checkpoint.len() > MAX_CHECKPOINT_BYTES
        {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "entry count differs from the header, or bad checkpoint size",
            ));
        }
        let len = u32::try_from(checkpoint.len()).map_err(io::Error::other)?;
        self.out.write_all(&len.to_be_bytes())?;
        self.out.write_all(checkpoint)?;
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Reads a record file sequentially, never holding more than one entry.
pub struct RecordReader<R: Read> {
    input: R,
    entries: u64,
    next: u64,
    offset: u64,
}

/// One entry read from a record file.
#[derive(Debug, Clone)]
pub struct RawEntry {
    /// Log index.
    pub index: u64,
    /// Byte offset of the entry bytes in the file (after the length).
    pub offset: u64,
    /// The exact entry bytes.
    pub bytes: Vec<u8>,
}

fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

impl<R: Read> RecordReader<R> {
    /// Reads the header line.
    pub fn new(mut input: R) -> Result<Self, RecordError> {
        let mut header = Vec::with_capacity(MAX_HEADER);
        let mut byte = [0u8; 1];
        loop {
            if read_full(&mut input, &mut byte)? == 0 || header.len() >= MAX_HEADER {
                return Err(RecordError::BadHeader);
            }
            if byte[0] == b'\n' {
                break;
            }
            header.push(byte[0]);
        }
        let digits = header.strip_prefix(MAGIC).ok_or(RecordError::BadHeader)?;
        let text = std::str::from_utf8(digits).map_err(|_| RecordError::BadHeader)?;
        if text.is_empty()
            || !text.bytes().all(|b| b.is_ascii_digit())
            || (text.len() > 1 && text.starts_with('0'))
        {
            return Err(RecordError::BadHeader);
        }
        let entries = text.parse().map_err(|_| RecordError::BadHeader)?;
        Ok(Self {
            input,
            entries,
            next: 0,
            offset: header.len() as u64 + 1,
        })
    }

    /// The number of entries the header announces.
    pub fn announced(&self) -> u64 {
        self.entries
    }

    /// The next entry, or `None` after the last one.
    pub fn next_entry(&mut self) -> Result<Option<RawEntry>, RecordError> {
        if self.next == self.entries {
            return Ok(None);
        }
        let index = self.next;
        let start = self.offset;
        let mut len = [0u8; 4];
        let got = read_full(&mut self.input, &mut len)?;
        if got < 4 {
            return Err(RecordError::Truncated {
                index,
                offset: start,
                detail: if got == 0 {
                    "the file ends before the announced number of entries"
                } else {
                    "the file ends inside an entry's length"
                },
            });
        }
        let len = u32::from_be_bytes(len);
        if len == 0 || len as usize > MAX_ENTRY_BYTES {
            return Err(RecordError::BadLength {
                index,
                offset: start,
                len,
            });
        }
        let mut bytes = vec![0u8; len as usize];
        if read_full(&mut self.input, &mut bytes)? < bytes.len() {
            return Err(RecordError::Truncated {
                index,
                offset: start,
                detail: "the file ends inside the entry",
            });
        }
        self.offset += 4 + u64::from(len);
        self.next += 1;
        Ok(Some(RawEntry {
            index,
            offset: start + 4,
            bytes,
        }))
    }

    /// Reads past the next entry without keeping it: what
    /// [`Self::next_entry`] checks (framing, length) and returns, without
    /// the bytes (`Ok(false)` after the last entry). A part of a split
    /// verification reads the entries outside its range this way
    /// (`spec/checks.md` §14).
    pub fn skip_entry(&mut self) -> Result<bool, RecordError> {
        if self.next == self.entries {
            return Ok(false);
        }
        let index = self.next;
        let start = self.offset;
        let mut len = [0u8; 4];
        let got = read_full(&mut self.input, &mut len)?;
        if got < 4 {
            return Err(RecordError::Truncated {
                index,
                offset: start,
                detail: if got == 0 {
                    "the file ends before the announced number of entries"
                } else {
                    "the file ends inside an entry's length"
                },
            });
        }
        let len = u32::from_be_bytes(len);
        if len == 0 || len as usize > MAX_ENTRY_BYTES {
            return Err(RecordError::BadLength {
                index,
                offset: start,
                len,
            });
        }
        let skipped = io::copy(&mut (&mut self.input).take(u64::from(len)), &mut io::sink())?;
        if skipped < u64::from(len) {
            return Err(RecordError::Truncated {
                index,
                offset: start,
                detail: "the file ends inside the entry",
            });
        }
        self.offset += 4 + u64::from(len);
        self.next += 1;
        Ok(true)
    }

    /// The index of the next entry [`Self::next_entry`] reads.
    pub fn next_index(&self) -> u64 {
        self.next
    }

    /// After the last entry: the signed checkpoint, checking that nothing
    /// follows it.
    pub fn checkpoint(mut self) -> Result<Vec<u8>, RecordError> {
        if self.next != self.entries {
            return Err(RecordError::BadCheckpoint("entries left unread"));
        }
        let mut len = [0u8; 4];
        if read_full(&mut self.input, &mut len)? < 4 {
            return Err(RecordError::BadCheckpoint("missing"));
        }
        let len = u32::from_be_bytes(len) as usize;
        if len == 0 || len > MAX_CHECKPOINT_BYTES {
            return Err(RecordError::BadCheckpoint("length outside 1..=65536"));
        }
        let mut note = vec![0u8; len];
        if read_full(&mut self.input, &mut note)? < len {
            return Err(RecordError::BadCheckpoint("truncated"));
        }
        let mut extra = [0u8; 1];
        if read_full(&mut self.input, &mut extra)? != 0 {
            return Err(RecordError::TrailingBytes);
        }
        Ok(note)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_truncation() {
        let mut w = RecordWriter::new(Vec::new(), 2).unwrap();
        w.entry(b"first").unwrap();
        w.entry(b"second entry").unwrap();
        let file = w.finish(b"checkpoint note\n").unwrap();
        assert!(file.starts_with(b"tallyboard-record/v1 2\n"));
        let mut r = RecordReader::new(file.as_slice()).unwrap();
        assert_eq!(r.announced(), 2);
        let a = r.next_entry().unwrap().unwrap();
        assert_eq!(
            (a.index, a.offset, a.bytes.as_slice()),
            (0, 27, &b"first"[..])
        );
        let b = r.next_entry().unwrap().unwrap();
        assert_eq!(b.bytes, b"second entry");
        assert!(r.next_entry().unwrap().is_none());
        assert_eq!(r.checkpoint().unwrap(), b"checkpoint note\n");
        // Truncated anywhere inside the second entry.
        for cut in 33..45 {
            let mut r = RecordReader::new(&file[..cut]).unwrap();
            r.next_entry().unwrap();
            assert!(matches!(
                r.next_entry(),
                Err(RecordError::Truncated { index: 1, .. })
            ));
        }
        // Skipping checks the framing alike and stops at the same entry.
        for cut in 0..file.len() {
            let (mut a, mut b) = match (
                RecordReader::new(&file[..cut]),
                RecordReader::new(&file[..cut]),
            ) {
                (Ok(a), Ok(b)) => (a, b),
                _ => continue,
            };
            loop {
                let x = a
                    .next_entry()
                    .map(|e| e.is_some())
                    .map_err(|e| e.to_string());
                let y = b.skip_entry().map_err(|e| e.to_string());
                assert_eq!(x, y, "cut at {cut}");
                assert_eq!(a.next_index(), b.next_index());
                if x != Ok(true) {
                    break;
                }
            }
        }
        let mut long = file.clone();
        long.push(0);
        let mut r = RecordReader::new(long.as_slice()).unwrap();
        while r.next_entry().unwrap().is_some() {}
        assert!(matches!(r.checkpoint(), Err(RecordError::TrailingBytes)));
        assert!(RecordReader::new(&b"tallyboard-record/v1 01\n"[..]).is_err());
        assert!(RecordReader::new(&b"something else\n"[..]).is_err());
    }
}
