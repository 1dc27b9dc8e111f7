//! LZF, the compression of long strings in Redis's serialization format.
//!
//! A compressed stream is a sequence of
//! - literal runs: a control byte `000LLLLL`, then `L + 1` bytes (1 to 32) copied as they are;
//! - back references: `LLLooooo oooooooo` copies `L + 2` bytes (3 to 8) starting `o + 1`
//!   bytes back in the output, and `111ooooo LLLLLLLL oooooooo` copies `L + 9` (9 to 264).
//!
//! The compressor finds repeats the way liblzf (which Redis uses, with its default settings)
//! does — a table of the last position of each hashed 3-byte sequence, greedy matches — so
//! that the bytes it writes are normally the ones redis-server writes for the same string.

/// Literal bytes in one run, at most.
const LITERALS_MAX: usize = 1 << 5;
/// How far back a reference reaches, at most.
const OFFSET_MAX: usize = 1 << 13;
/// Bytes one reference copies, at most.
const REF_BYTES_MAX: usize = (1 << 8) + (1 << 3);
/// log2 of the number of slots in the table of earlier positions.
const TABLE_BITS: u32 = 16;
/// How much one back reference can expand to, per byte of it (264 bytes from 3): a declared
/// length beyond this ratio cannot be honest, and is refused before anything is allocated.
pub const EXPANSION_MAX: usize = 88;

/// The hash of three bytes, from the rolling value `v` holding them in its low 24 bits.
fn slot(v: u32) -> usize {
    ((v >> (24 - TABLE_BITS)).wrapping_sub(v.wrapping_mul(5)) & ((1 << TABLE_BITS) - 1)) as usize
}

/// A compressor: the table of earlier positions, kept between strings so that one DUMP
/// allocates it once. It starts each string empty (only the slots a string used are
/// cleared after it), so the output depends on the string alone.
#[derive(Debug)]
pub struct Compressor {
    /// Each slot holds 1 + the position last seen with that hash; 0 when none was.
    table: Vec<u32>,
    /// The slots written since the table was last cleared.
    used: Vec<usize>,
}

impl Default for Compressor {
    fn default() -> Self {
        Compressor {
            table: vec![0; 1 << TABLE_BITS],
            used: Vec::new(),
        }
    }
}

impl Compressor {
    fn note(&mut self, slot: usize, ip: usize) {
        self.table[slot] = ip as u32 + 1;
        self.used.push(slot);
    }

    /// `input` compressed into at most `out_bytes_max` bytes, or `None` when it does not
    /// fit (or is shorter than 3 bytes).
    pub fn compress(&mut self, input: &[u8], out_bytes_max: usize) -> Option<Vec<u8>> {
        let out = self.run(input, out_bytes_max);
        for &slot in &self.used {
            self.table[slot] = 0;
        }
        self.used.clear();
        out
    }

    fn run(&mut self, input: &[u8], out_bytes_max: usize) -> Option<Vec<u8>> {
        let n = input.len();
        if n < 3 || out_bytes_max == 0 || n >= u32::MAX as usize {
            return None;
        }
        let mut out = Vec::with_capacity(out_bytes_max + 1);
        let mut lit = 0usize;
        out.push(0); // the control byte of the literal run being written
        let mut ip = 0usize;
        let mut hval = (u32::from(input[0]) << 8) | u32::from(input[1]);
        while ip + 2 < n {
            hval = (hval << 8) | u32::from(input[ip + 2]);
            let s = slot(hval);
            let seen = self.table[s] as usize;
            self.note(s, ip);
            let reference = seen.checked_sub(1).filter(|&r| {
                r > 0 && ip - r - 1 < OFFSET_MAX && input[r..r + 3] == input[ip..ip + 3]
            });
            let Some(r) = reference else {
                if out.len() >= out_bytes_max {
                    return None;
                }
                lit += 1;
                out.push(input[ip]);
                ip += 1;
                if lit == LITERALS_MAX {
                    let run = out.len() - lit - 1;
                    out[run] = (lit - 1) as u8;
                    lit = 0;
                    out.push(0);
                }
                continue;
            };
            if out.len() + 4 >= out_bytes_max
                && out.len() - usize::from(lit == 0) + 4 >= out_bytes_max
            {
                return None;
            }
            end_run(&mut out, lit);
            let len = match_len(input, r, ip);
            let off = ip - r - 1;
            let l = len - 2;
            if l < 7 {
                out.push(((off >> 8) + (l << 5)) as u8);
            } else {
                out.push(((off >> 8) + (7 << 5)) as u8);
                out.push((l - 7) as u8);
            }
            out.push(off as u8);
            lit = 0;
            out.push(0);
            ip += len;
            if ip + 2 >= n {
                break;
            }
            // Note the two positions just before the new one, as liblzf's fast mode does.
            ip -= 2;
            hval = (u32::from(input[ip]) << 8) | u32::from(input[ip + 1]);
            for _ in 0..2 {
                hval = (hval << 8) | u32::from(input[ip + 2]);
                self.note(slot(hval), ip);
                ip += 1;
            }
        }
        if out.len() + 3 > out_bytes_max {
            return None;
        }
        for &b in &input[ip..] {
            lit += 1;
            out.push(b);
            if lit == LITERALS_MAX {
                let run = out.len() - lit - 1;
                out[run] = (lit - 1) as u8;
                lit = 0;
                out.push(0);
            }
        }
        end_run(&mut out, lit);
        Some(out)
    }
}

/// Close the literal run of `lit` bytes at the end of `out` (drop its control byte if empty).
fn end_run(out: &mut Vec<u8>, lit: usize) {
    if lit == 0 {
        out.pop();
    } else {
        let run = out.len() - lit - 1;
        out[run] = (lit - 1) as u8;
    }
}

/// How many bytes at `ip` repeat those at `r` (the first 3 do), capped as liblzf caps it.
fn match_len(input: &[u8], r: usize, ip: usize) -> usize {
    let cap = (input.len() - ip - 2).min(REF_BYTES_MAX);
    let same = |k: usize| input[r + k] == input[ip + k];
    let mut len = 3;
    if cap > 16 {
        // liblzf compares 16 bytes unchecked first: a run of them all equal counts one byte
        // past the cap near the end of the input (still inside it).
        while len < 19 {
            if !same(len) {
                return len;
            }
            len += 1;
        }
    }
    while len < cap && same(len) {
        len += 1;
    }
    len
}

/// Decompress `input`, which must expand to exactly `len` bytes.
pub fn decompress(input: &[u8], len: usize) -> Option<Vec<u8>> {
    if len > input.len().saturating_mul(EXPANSION_MAX) {
        return None;
    }
    let mut out: Vec<u8> = Vec::with_capacity(len);
    let mut ip = 0;
    while ip < input.len() {
        let ctrl = usize::from(input[ip]);
        ip += 1;
        if ctrl < LITERALS_MAX {
            let run = input.get(ip..ip + ctrl + 1)?;
            if out.len() + run.len() > len {
                return None;
            }
            out.extend_from_slice(run);
            ip += run.len();
            continue;
        }
        let mut n = ctrl >> 5;
        if n == 7 {
            n += usize::from(*input.get(ip)?);
            ip += 1;
        }
        let back = ((ctrl & 0x1f) << 8) + usize::from(*input.get(ip)?) + 1;
        ip += 1;
        let n = n + 2;
        if out.len() + n > len || back > out.len() {
            return None;
        }
        let from = out.len() - back;
        // The source may overlap what is being written (a run): copy byte by byte.
        for k in 0..n {
            out.push(out[from + k]);
        }
    }
    (out.len() == len).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compresses_a_run_as_redis_server_does() {
        // DUMP of a 40-byte string of 'a' from redis-server 7.0.15 holds these 9 bytes.
        let data = [b'a'; 40];
        let packed = Compressor::default()
            .compress(&data, 36)
            .expect("compressible");
        assert_eq!(
            packed,
            [0x01, 0x61, 0x61, 0xe0, 0x1b, 0x00, 0x01, 0x61, 0x61]
        );
        assert_eq!(decompress(&packed, 40).expect("valid"), data);
    }

    #[test]
    fn round_trips_and_refuses_what_does_not_fit() {
        let mut c = Compressor::default();
        let text: Vec<u8> = (0..5000u32)
            .flat_map(|i| format!("item:{} ", i % 300).into_bytes())
            .collect();
        let packed = c.compress(&text, text.len() - 4).expect("compressible");
        assert!(packed.len() < text.len() / 2);
        assert_eq!(decompress(&packed, text.len()).expect("valid"), text);
        let noise: Vec<u8> = (0..64u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        assert_eq!(c.compress(&noise, noise.len() - 4), None);
        // What came before leaves nothing behind: the same string, the same bytes.
        let again = Compressor::default().compress(&text, text.len() - 4);
        assert_eq!(c.compress(&text, text.len() - 4), again);
    }

    #[test]
    fn refuses_a_corrupt_stream() {
        // A reference before the start, a literal run past the end, a wrong length.
        assert_eq!(decompress(&[0x20, 0x05], 3), None);
        assert_eq!(decompress(&[0x05, b'a'], 6), None);
        assert_eq!(decompress(&[0x00, b'a'], 2), None);
        assert_eq!(decompress(&[0x00, b'a'], 1).as_deref(), Some(&b"a"[..]));
        // A claimed length no stream of this size can reach is refused before allocating.
        assert_eq!(decompress(&[0x00, b'a'], usize::MAX), None);
    }
}
