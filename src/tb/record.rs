//! The TFRecord framing of TensorBoard event files: each record is its length (u64, little
//! endian), the masked CRC-32C of those 8 bytes (u32 LE), the data, and the masked CRC-32C of
//! the data (u32 LE). Masking rotates the CRC right by 15 bits and adds 0xa282ead8, so a
//! record that holds CRCs does not checksum to a fixed value.
use std::io::Read;

/// The masked CRC-32C (Castagnoli) of `data`, as TFRecord stores it.
pub fn masked_crc(data: &[u8]) -> u32 {
    let crc = crc32c::crc32c(data);
    crc.rotate_right(15).wrapping_add(0xa282_ead8)
}

/// `data` framed as one record.
pub fn frame(data: &[u8]) -> Vec<u8> {
    let len = (data.len() as u64).to_le_bytes();
    let mut out = Vec::with_capacity(data.len() + 16);
    out.extend_from_slice(&len);
    out.extend_from_slice(&masked_crc(&len).to_le_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(&masked_crc(data).to_le_bytes());
    out
}

/// The records of `bytes` in order, up to the first one that is cut short or fails its
/// checksums (a file whose writer died mid-record: what follows cannot be trusted).
pub fn records(mut bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let mut head = [0u8; 12];
        if bytes.read_exact(&mut head).is_err() {
            return out;
        }
        let (len, len_crc) = head.split_at(8);
        if masked_crc(len) != u32::from_le_bytes(len_crc.try_into().expect("4 bytes")) {
            return out;
        }
        let n = u64::from_le_bytes(len.try_into().expect("8 bytes"));
        if n > bytes.len() as u64 {
            return out;
        }
        let mut data = vec![0u8; n as usize];
        let mut crc = [0u8; 4];
        if bytes.read_exact(&mut data).is_err() || bytes.read_exact(&mut crc).is_err() {
            return out;
        }
        if masked_crc(&data) != u32::from_le_bytes(crc) {
            return out;
        }
        out.push(data);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_check_value() {
        // The CRC-32C check value of the ASCII digits (RFC 3720, appendix B.4).
        assert_eq!(crc32c::crc32c(b"123456789"), 0xe306_9283);
    }

    /// Records of b"hello" and b"" as the `tensorboard` package's RecordWriter (2.21.0)
    /// writes them (`RecordWriter(io.BytesIO()).write(...)`), hex.
    const HELLO: &str = "0500000000000000eab2043e68656c6c6fbb1f1c19";
    const EMPTY: &str = "000000000000000029039807d8ea82a2";

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn framing_matches_tensorboards_record_writer() {
        assert_eq!(hex(&frame(b"hello")), HELLO);
        assert_eq!(hex(&frame(b"")), EMPTY);
        assert_eq!(hex(&masked_crc(b"hello").to_le_bytes()), "bb1f1c19");
    }

    #[test]
    fn reading_stops_at_a_torn_or_corrupt_record() {
        let mut file = frame(b"hello");
        file.extend(frame(b""));
        file.extend(frame(b"world"));
        assert_eq!(
            records(&file),
            vec![b"hello".to_vec(), vec![], b"world".to_vec()]
        );
        // cut inside the last record
        assert_eq!(records(&file[..file.len() - 3]).len(), 2);
        // a flipped data byte in the first record: nothing after it is trusted
        let mut bad = file.clone();
        bad[13] ^= 1;
        assert!(records(&bad).is_empty());
    }
}
