//! Counting: the cardinality an HLL's registers estimate, by Ertl's improved estimator as
//! Redis computes it, and the count Redis caches in the header.

use super::{Bad, DENSE, HEADER, Q, REGISTERS, sparse_registers};

const ALPHA_INF: f64 = 0.721_347_520_444_481_7;

/// The cached count, when the header's cache is valid.
pub fn cached_count(v: &[u8]) -> Option<u64> {
    (v[15] & 0x80 == 0).then(|| u64::from_le_bytes(v[8..16].try_into().expect("8 bytes")))
}

fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let mut y = 1.0;
    let mut z = x;
    loop {
        x *= x;
        let before = z;
        z += x * y;
        y += y;
        if before == z {
            return z;
        }
    }
}

fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let mut y = 1.0;
    let mut z = 1.0 - x;
    loop {
        x = x.sqrt();
        let before = z;
        y *= 0.5;
        z -= (1.0 - x).powi(2) * y;
        if before == z {
            return z / 3.0;
        }
    }
}

/// The estimate (Ertl's improved estimator, as Redis computes it) from the registers'
/// histogram.
fn estimate(histo: &[u32; 64]) -> u64 {
    let m = REGISTERS as f64;
    let mut z = m * tau((m - f64::from(histo[Q as usize + 1])) / m);
    for j in (1..=Q as usize).rev() {
        z += f64::from(histo[j]);
        z *= 0.5;
    }
    z += m * sigma(f64::from(histo[0]) / m);
    (ALPHA_INF * m * m / z).round() as u64
}

/// The estimated count of an HLL string.
pub fn count(v: &[u8]) -> Result<u64, Bad> {
    let mut histo = [0u32; 64];
    if v[4] == DENSE {
        // Four registers in every three bytes.
        for b in v[HEADER..].chunks_exact(3) {
            let w = u32::from(b[0]) | (u32::from(b[1]) << 8) | (u32::from(b[2]) << 16);
            for shift in [0, 6, 12, 18] {
                histo[((w >> shift) & 63) as usize] += 1;
            }
        }
    } else {
        return sparse_registers(v)
            .map(|regs| count_registers(&regs))
            .ok_or(Bad::Corrupt);
    }
    Ok(estimate(&histo))
}

/// The estimated count of registers merged from several HLLs.
pub fn count_registers(regs: &[u8]) -> u64 {
    let mut histo = [0u32; 64];
    for r in regs {
        histo[usize::from(*r)] += 1;
    }
    estimate(&histo)
}
